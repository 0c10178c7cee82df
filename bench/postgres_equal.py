"""The PostgreSQL backend ranks as the embedded one on STARD: the same top clauses for every question, and the same
BM25 score for every chunk a question's tokens match (lexical backend: BM25 is what the backends compute apart).

Too slow for a unit test (a lexical build of STARD's 66 laws, every chunk's score for 346 questions);
tests/test_postgres.py checks the same on the bundled corpus and the dev set.
`python -m bench.postgres_equal [--corpus DIR --questions FILE ...]`; with `--index DIR` (an embedded index with
vectors, e.g. bench/out/idx/stard-e5-onnx) both backends rank with the dense leg on.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.indexes import STARD
from bench.report import append
from index.build import build_index
from index.embedding import PolicyEmbeddings, load_embeddings
from index.knowledge import KnowledgeBase
from index.lang.tokens import tokenize
from index.postgres.store import open_database
from index.postgres.writer import publish, write_generation
from index.store import open_index
from qa.assistant import Assistant
from qa.retrieve.hybrid import CANDIDATES
from qa.settings import Settings
from qa.understand.query import parse_query
from tests.postgres import running_server

TOP = 5


def _top(assistant: Assistant, question: str) -> list[str]:
    query = parse_query(question, assistant.speller, assistant.abbreviations)
    return [s.clause.clause_id for s in assistant.retriever.search(query)[:TOP]]


def compare(embedded: KnowledgeBase, database: KnowledgeBase, settings: Settings,
            questions: list[str], embeddings: PolicyEmbeddings | None = None) -> dict[str, object]:
    """Return how many questions differ in their top clauses and in their BM25 scores, and the largest score gap."""
    one, other = Assistant(settings, embedded, embeddings), Assistant(settings, database, embeddings)
    differ, scores_differ, candidates_differ, gap = [], 0, 0, 0.0
    every = embedded.lexical.size
    for question in questions:
        if _top(one, question) != _top(other, question):
            differ.append(question)
        tokens = tokenize(question)
        # The candidates retrieval asks for (where a query may skip summing its common terms' postings): the same
        # chunks but for ties at the cut, which bm25s orders arbitrarily.
        head, top = embedded.lexical.search(tokens, CANDIDATES), database.lexical.search(tokens, CANDIDATES)
        cut = head[-1][1] * (1 + 1e-5) if head else 0.0
        candidates_differ += {c for c, v in head if v > cut} != {c for c, v in top if v > cut}
        want, got = dict(embedded.lexical.search(tokens, every)), dict(database.lexical.search(tokens, every))
        if want.keys() != got.keys():
            scores_differ += 1
            continue
        gap = max([gap, *(abs(got[c] - want[c]) / want[c] for c in want)])
    return {"questions": len(questions), "top_differ": differ, "score_sets_differ": scores_differ,
            "candidates_differ": candidates_differ, "max_relative_gap": gap}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=STARD / "docs")
    p.add_argument("--questions", type=Path, nargs="+", default=[STARD / "gold.jsonl", STARD / "oos.jsonl"])
    p.add_argument("--index", type=Path, help="an embedded index with vectors of the corpus: rank with them too")
    args = p.parse_args()
    questions = [json.loads(line)["question"] for f in args.questions for line in f.open(encoding="utf-8")
                 if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(corpus_dir=args.corpus, index_dir=args.index or Path(tmp),
                            embedding_backend="auto" if args.index else "none")
        embeddings = load_embeddings(settings.embedder_config) if args.index else None
        if not args.index:
            build_index(settings.build_config, None, progress=False)
        embedded = open_index(settings.index_dir, embeddings)
        with running_server() as server:
            publish(server.url, write_generation(server.url, embedded))
            database = open_database(server.url, embeddings)
            started = time.perf_counter()
            result = compare(embedded, database, settings, questions, embeddings)
            seconds = time.perf_counter() - started
            database.close()
        embedded.close()
    m = embedded.manifest
    ranking = f"BM25 + dense ({m.embedding_model})" if args.index else "lexical backend"
    differ = result["top_differ"]
    assert isinstance(differ, list)
    body = (f"Corpus {args.corpus.name} ({m.documents} documents, {m.clauses:,} clauses, {m.chunks:,} chunks), "
            f"{ranking}, {result['questions']} questions ({', '.join(f.name for f in args.questions)}); "
            f"{seconds:.0f} s.\n\n"
            f"- questions whose top {TOP} clauses differ between the backends: {len(differ)}"
            + "".join(f"\n  - {q}" for q in differ[:10]) + "\n"
            f"- questions whose {CANDIDATES} lexical candidates differ (but for ties at the cut): "
            f"{result['candidates_differ']}\n"
            f"- questions whose set of BM25-matched chunks differs: {result['score_sets_differ']}\n"
            f"- largest relative gap between a chunk's BM25 score in SQL and in bm25s: "
            f"{result['max_relative_gap']:.1e} (float8 sums of the float32 weights vs bm25s's float32 sums)")
    name = "STARD" if args.corpus == STARD / "docs" else str(args.corpus)
    append(f"PostgreSQL backend: same ranking on {name}" + (", dense leg on" if args.index else ""), body)


if __name__ == "__main__":
    main()
