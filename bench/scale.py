"""Scale: index build throughput, incremental rebuilds, query latency, memory and cold start per corpus size.

Each size is a synthetic corpus from bench.corpus (or the bundled one, "bundled"); every build and every
serving run is a fresh subprocess, so its peak RSS (VmHWM) is its own. The tokenizer alone, timed on the
same chunks in the same run, is the baseline the pipeline's throughput is compared with.
`python -m bench.scale --sizes bundled,1k,10k,100k [--backends none,static] [--e5-sizes bundled,1k]`
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.corpus import change, generate, parse_size
from bench.report import ROOT, append
from index.embedding import PolicyEmbeddings
from qa.settings import Settings

BUNDLED = ROOT / "data" / "policies"
QUESTIONS = ROOT / "tests" / "data" / "calibration.jsonl"
TOKENIZER_SAMPLE = 5000
CHANGED = 0.01


def memory_mb() -> dict[str, float]:
    """Return this process's current and peak resident memory in MiB."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {k: int(status[key].split()[0]) / 1024 for k, key in (("rss_mb", "VmRSS"), ("peak_rss_mb", "VmHWM"))}


def percentiles(ms: list[float]) -> dict[str, float]:
    """Return p50, p95 and p99 of latencies in milliseconds."""
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


class TimedEmbeddings(PolicyEmbeddings):
    """Wraps an embedder and adds up the seconds spent inside it."""

    def __init__(self, inner: PolicyEmbeddings) -> None:
        self.inner = inner
        self.seconds = 0.0

    @property
    def model_id(self) -> str:
        """Return the wrapped embedder's id, so caches and manifests are unchanged."""
        return self.inner.model_id

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Return the wrapped embedder's vectors, timing the call."""
        started = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - started

    def embed_query(self, text: str) -> list[float]:
        """Return the wrapped embedder's query vector."""
        return self.inner.embed_query(text)


def _settings(corpus: Path, index: Path, backend: str) -> Settings:
    return Settings(corpus_dir=corpus, index_dir=index, embedding_backend=backend)  # type: ignore[arg-type]


def worker_build(corpus: Path, index: Path, backend: str) -> dict:
    """Build (or rebuild) the index and return what it did, its time, the embedder's share and peak RSS."""
    from index.build import build_index
    from index.embedding import load_embeddings
    from index.lang.tokens import tokenize

    settings = _settings(corpus, index, backend)
    loaded = load_embeddings(settings.embedder_config)
    embeddings = TimedEmbeddings(loaded) if loaded else None
    tokenize("预热")  # the jieba dictionary loads once per process, as in a server; not part of a build
    started = time.perf_counter()
    report = build_index(settings.build_config, embeddings, progress=False)
    seconds = time.perf_counter() - started
    # Until the new generation served, and the compaction after that (a rebuild whose records' delta grew past a
    # tenth of their base): the time a user waits for the changed documents is the first.
    return {"seconds": seconds, "served_seconds": report.served_seconds,
            "compaction_seconds": report.compaction_seconds, "compaction_failed": report.compaction_failed,
            "documents": report.documents, "clauses": report.clauses, "chunks": report.chunks,
            "embedded": report.embedded, "unchanged": report.unchanged, "parsed": report.parsed,
            "vectors_written": report.vectors_written,
            "embed_seconds": embeddings.seconds if embeddings else 0.0, **memory_mb(),
            # The tokenizer's worker processes (large corpora only) have their own peak.
            "workers_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def worker_tokenize(index: Path) -> dict:
    """Return the tokenizer's own throughput on (a sample of) the index's chunks: the same-run baseline."""
    from index.lang.tokens import tokenize
    from index.recordfile import RECORDS_FILE, RecordFile
    from index.store import current_generation

    folder = current_generation(index)
    assert folder is not None
    records = RecordFile(folder / RECORDS_FILE)
    texts = [c.indexed_text for _, c in zip(range(TOKENIZER_SAMPLE), records.chunks.values(), strict=False)]
    records.close()
    tokenize("预热")
    started = time.perf_counter()
    for text in texts:
        tokenize(text)
    return {"chunks_per_s": len(texts) / (time.perf_counter() - started)}


def worker_serve(corpus: Path, index: Path, backend: str, repeat: int) -> dict:
    """Open the index, warm up, and return retrieval and full-answer latencies and the serving RSS."""
    from qa.service.loader import open_assistant
    from qa.understand.query import parse_query

    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")]
    started = time.perf_counter()
    assistant = open_assistant(_settings(corpus, index, backend), build_if_missing=False)
    open_seconds = time.perf_counter() - started
    for q in questions:
        assistant.ask(q)
    retrieval, answer = [], []
    for _ in range(repeat):
        for q in questions:
            t = time.perf_counter()
            assistant.retriever.search(parse_query(q))
            retrieval.append((time.perf_counter() - t) * 1000)
        for q in questions:
            t = time.perf_counter()
            assistant.ask(q)
            answer.append((time.perf_counter() - t) * 1000)
    return {"open_seconds": open_seconds, "dense": assistant.kb.dense is not None, "queries": len(retrieval),
            "retrieval": percentiles(retrieval), "answer": percentiles(answer), **memory_mb()}


def run_worker(*args: str) -> dict:
    """Run a worker in a fresh interpreter and return its JSON result."""
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "ANONYMIZED_TELEMETRY": "False"}
    done = subprocess.run([sys.executable, "-m", "bench.scale", "--worker", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cold_start(corpus: Path, index: Path, backend: str) -> float:
    """Return seconds from starting `python -m qa ask` to its answer, with the index already built."""
    env = {**os.environ, "QA_CORPUS_DIR": str(corpus), "QA_EMBEDDING_BACKEND": backend}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "qa", "ask", "江苏有哪些文化产业基金可以用？", "--index", str(index)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return time.perf_counter() - started


def measure_size(name: str, work: Path, backends: list[str], seed: int, repeat: int, rebuild: bool,
                 reuse: bool = False) -> list[dict]:
    """Return one row per backend for a corpus size: build, rebuilds, latency, memory.

    With `reuse`, a corpus and full builds already in `work` (from an earlier run) are measured again, not rebuilt."""
    if name == "bundled":
        corpus = BUNDLED
    else:
        corpus = work / f"corpus-{name}"
        if not (reuse and corpus.exists()):
            generate(corpus, parse_size(name), seed)
    rows = []
    for backend in backends:
        index = work / f"index-{name}-{backend}"
        saved = work / f"build-{name}-{backend}.json"
        if reuse and saved.exists():
            row = json.loads(saved.read_text(encoding="utf-8"))
        else:
            print(f"[{name} {backend}] full build", flush=True)
            shutil.rmtree(index, ignore_errors=True)  # a full build, never an up-to-date one from an earlier run
            row = {"size": name, "backend": backend, "build": run_worker("build", str(corpus), str(index), backend)}
            if backend == backends[0]:
                row["tokenizer"] = run_worker("tokenize", str(index))
            saved.write_text(json.dumps(row), encoding="utf-8")
        if rebuild:
            print(f"[{name} {backend}] unchanged rebuild", flush=True)
            row["unchanged"] = run_worker("build", str(corpus), str(index), backend)
        rows.append(row)
    if rebuild and name != "bundled":
        change(corpus, CHANGED, seed)
        for row in rows:
            print(f"[{name} {row['backend']}] rebuild after {CHANGED:.0%} changed", flush=True)
            row["changed"] = run_worker("build", str(corpus), str(work / f"index-{name}-{row['backend']}"),
                                        row["backend"])
    for row in rows:
        index = work / f"index-{name}-{row['backend']}"
        print(f"[{name} {row['backend']}] serving", flush=True)
        row["serve"] = run_worker("serve", str(corpus), str(index), row["backend"], str(repeat))
        if name == "bundled":
            row["cold_start"] = statistics.median(cold_start(corpus, index, row["backend"]) for _ in range(3))
    return rows


def _ms(p: dict[str, float]) -> str:
    return f"{p['p50']:.1f} / {p['p95']:.1f} / {p['p99']:.1f}"


def render(rows: list[dict]) -> str:
    """Return the markdown tables of the results."""
    build = ["| size | backend | documents | clauses | chunks | build s | clauses/s | tokenizer alone, chunks/s "
             "| time in embedder | project on top of embedder | peak RSS MB |", "|---|" + "---|" * 10]
    for r in rows:
        b = r["build"]
        share = b["embed_seconds"] / b["seconds"] if b["embed_seconds"] else 0.0
        extra = (b["seconds"] - b["embed_seconds"]) / b["embed_seconds"] if b["embed_seconds"] else None
        workers = f" (workers {b['workers_peak_rss_mb']:.0f})" if b.get("workers_peak_rss_mb") else ""
        base = f"{r['tokenizer']['chunks_per_s']:.0f} (pipeline {b['chunks'] / b['seconds']:.0f})" \
            if "tokenizer" in r else ""
        build.append(f"| {r['size']} | {r['backend']} | {b['documents']} | {b['clauses']} | {b['chunks']} "
                     f"| {b['seconds']:.1f} | {b['clauses'] / b['seconds']:.0f} | {base} | {share:.0%} "
                     f"| {'' if extra is None else f'{extra:.0%}'} | {b['peak_rss_mb']:.0f}{workers} |")
    rebuild = ["| size | backend | full build s | unchanged s (ratio) | 1% docs changed s (ratio) | docs parsed "
               "| re-embedded | vectors written |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "unchanged" not in r:
            continue
        full = r["build"]["seconds"]
        same = f"{r['unchanged']['seconds']:.2f} ({r['unchanged']['seconds'] / full:.2f})"
        ch = r.get("changed")
        changed = f"{ch['seconds']:.1f} ({ch['seconds'] / full:.2f})" if ch else ""
        detail = (f"{ch.get('parsed', '')} of {ch['documents']} | {ch['embedded']} | {ch.get('vectors_written', '')}"
                  if ch else " |  | ")
        rebuild.append(f"| {r['size']} | {r['backend']} | {full:.1f} | {same} | {changed} | {detail} |")
    serve = ["| size | backend | dense | retrieval p50 / p95 / p99 ms | answer p50 / p95 / p99 ms | open s "
             "| serving RSS MB (peak) | cold start s |", "|---|" + "---|" * 7]
    for r in rows:
        s = r["serve"]
        cold = f"{r['cold_start']:.1f}" if "cold_start" in r else ""
        serve.append(f"| {r['size']} | {r['backend']} | {'yes' if s['dense'] else 'no'} | {_ms(s['retrieval'])} "
                     f"| {_ms(s['answer'])} | {s['open_seconds']:.1f} | {s['rss_mb']:.0f} ({s['peak_rss_mb']:.0f}) "
                     f"| {cold} |")
    queries = rows[0]["serve"]["queries"] if rows else 0
    rebuilds = ("\n\nRebuilds of the same index (ratio to the full build):\n\n" + "\n".join(rebuild)
                if len(rebuild) > 2 else "")
    return ("Index build (one process per build; `tokenizer alone` is jieba on the same chunks in the same run):\n\n"
            + "\n".join(build) + rebuilds
            + f"\n\nServing, warm ({queries} timed queries per row: tests/data/calibration.jsonl, in and out of scope; "
            "cold start = `python -m qa ask` from process start to answer, median of 3):\n\n" + "\n".join(serve))


def main() -> None:
    """Measure every requested size and append the results to docs/benchmarks.md."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="bundled,1k,10k,100k")
    p.add_argument("--backends", default="none,static", help="embedding backends built at every size")
    p.add_argument("--e5-sizes", default="bundled,1k", help="sizes also built with the bundled e5 (slow)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeat", type=int, default=2, help="timed passes over the questions")
    p.add_argument("--no-rebuild", action="store_true", help="skip the unchanged and 1%%-changed rebuilds")
    p.add_argument("--work", type=Path, help="keep corpora and indexes here instead of a temp folder")
    p.add_argument("--reuse", action="store_true", help="with --work: measure the corpora and builds left there")
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        kind, *rest = args.worker
        result = {"build": lambda: worker_build(Path(rest[0]), Path(rest[1]), rest[2]),
                  "tokenize": lambda: worker_tokenize(Path(rest[0])),
                  "serve": lambda: worker_serve(Path(rest[0]), Path(rest[1]), rest[2], int(rest[3]))}[kind]()
        print(json.dumps(result))
        return
    e5_sizes = set(args.e5_sizes.split(",")) if args.e5_sizes else set()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        for size in args.sizes.split(","):
            backends = args.backends.split(",") + (["e5"] if size in e5_sizes else [])
            rows += measure_size(size, work, backends, args.seed, args.repeat, not args.no_rebuild, args.reuse)
            print(json.dumps(rows[-len(backends):]), flush=True)
    append(f"Scale ({args.sizes} clauses; backends {args.backends}, e5 at {args.e5_sizes or 'none'})", render(rows))


if __name__ == "__main__":
    main()
