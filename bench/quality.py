"""Dev-set quality of the assistant (hybrid with e5 or the static table, lexical-only) beside a naive baseline,
plus answer latency, and each embedder's dense retrieval alone with its indexing speed."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.report import ROOT, append
from index.build import build_index
from index.embedding import load_embeddings
from index.loading import discover, load_file
from qa.assistant import Assistant
from qa.evaluation.metrics import score
from qa.settings import Settings

METRICS = ["recall@1", "recall@5", "mrr@10", "recall@1200c", "citation_acc", "refusal_acc", "false_refusal",
           "answer_contains"]
BAR = {"recall@1": ">=0.95", "recall@5": "=1.0", "citation_acc": ">=0.95", "refusal_acc": "=1.0",
       "false_refusal": "<=0.05", "answer_contains": ">=0.95"}


def naive_baseline(gold: list[dict], corpus: Path) -> list[dict]:
    """Return answers from 500-character RecursiveCharacterTextSplitter chunks ranked by jieba BM25."""
    import bm25s
    import jieba
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
    chunks = [c for p in discover(corpus) for c in splitter.split_text(load_file(p, 10**8).text)]
    retriever = bm25s.BM25()
    retriever.index([jieba.lcut(c) for c in chunks], show_progress=False)
    out = []
    for g in gold:
        question = " ".join([*(g.get("history") or []), g["question"]])
        scores = retriever.get_scores(jieba.lcut(question))
        top = sorted(range(len(chunks)), key=lambda i: -scores[i])[:10]
        hits = [{"text": chunks[i], "score": float(scores[i])} for i in top]
        out.append({"id": g["id"], "answer": hits[0]["text"], "answerable": True, "citations": hits[:1],
                    "retrieved": hits})
    return out


def run_assistant(assistant: Assistant, gold: list[dict]) -> tuple[list[dict], list[float]]:
    """Return the answers and per-question latencies in milliseconds (after one warm-up pass)."""
    for g in gold:
        assistant.ask(g["question"], g.get("history") or [])
    answers, latencies = [], []
    for g in gold:
        start = time.perf_counter()
        answer = assistant.ask(g["question"], g.get("history") or [])
        latencies.append((time.perf_counter() - start) * 1000)
        answers.append(answer.to_json(g["id"]))
    return answers, latencies


def dense_only(assistant: Assistant, gold: list[dict]) -> dict[str, float | int | None]:
    """Return the retrieval metrics of dense search alone: the clauses of the top chunks, best first."""
    kb, answers = assistant.kb, []
    assert kb.dense is not None
    for g in gold:
        question = " ".join([*(g.get("history") or []), g["question"]])
        clauses = dict.fromkeys(kb.chunks[chunk_id].clause_id for chunk_id, _ in kb.dense.search(question, 30))
        answers.append({"id": g["id"], "retrieved": [{"text": kb.clauses[c].text} for c in list(clauses)[:10]]})
    return score(gold, answers)


def main() -> None:
    """Measure and append the results to docs/benchmarks.md."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--gold", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    p.add_argument("--corpus", type=Path, default=ROOT / "data" / "policies")
    args = p.parse_args()
    gold = [json.loads(line) for line in args.gold.open(encoding="utf-8") if line.strip()]
    rows: dict[str, dict] = {}
    latency: dict[str, list[float]] = {}
    dense: dict[str, tuple[dict, float]] = {}
    systems = (("hybrid (BM25 + bundled e5)", "e5"), ("hybrid (BM25 + static table)", "static"),
               ("lexical only (BM25)", "none"))
    with tempfile.TemporaryDirectory() as tmp:
        for name, backend in systems:
            settings = Settings(corpus_dir=args.corpus, index_dir=Path(tmp) / backend,
                                embedding_backend=backend)  # type: ignore[arg-type]
            embeddings = load_embeddings(settings.embedder_config)
            report = build_index(settings.build_config, embeddings, progress=False)
            assistant = Assistant.open(settings, build_if_missing=False)
            answers, latency[name] = run_assistant(assistant, gold)
            rows[name] = score(gold, answers)
            if embeddings is not None:
                started = time.perf_counter()
                embeddings.embed_documents([c.indexed_text for c in assistant.kb.chunks.values()])
                speed = report.chunks / (time.perf_counter() - started)
                dense[f"{backend} ({embeddings.model_id})"] = (dense_only(assistant, gold), speed)
    rows["naive baseline (500-char chunks + jieba BM25)"] = score(gold, naive_baseline(gold, args.corpus))
    header = "| system | " + " | ".join(METRICS) + " |\n|---|" + "---|" * len(METRICS) + "\n"
    lines = [f"| {name} | " + " | ".join(str(m[k]) for k in METRICS) + " |" for name, m in rows.items()]
    lines.append("| bar | " + " | ".join(BAR.get(k, "") for k in METRICS) + " |")
    timing = "\n".join(
        f"- {name}: extractive answer p50 {statistics.median(v):.1f} ms, "
        f"p95 {sorted(v)[int(0.95 * (len(v) - 1))]:.1f} ms over {len(v)} warm questions"
        for name, v in latency.items()
    )
    alone = ["| dense retrieval alone | recall@1 | recall@5 | recall@10 | mrr@10 | indexing, chunks/s |",
             "|---|---|---|---|---|---|"]
    alone += [f"| {name} | {m['recall@1']} | {m['recall@5']} | {m['recall@10']} | {m['mrr@10']} | {speed:.0f} |"
              for name, (m, speed) in dense.items()]
    append(f"Dev-set quality ({args.gold.name}, {len(gold)} questions)",
           header + "\n".join(lines) + "\n\n" + timing + "\n\n" + "\n".join(alone))


if __name__ == "__main__":
    main()
