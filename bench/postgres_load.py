"""Several app processes on one PostgreSQL under HTTP load: the 100k-clause corpus of bench.postgres published into a
throwaway PostgreSQL 18 with pgvector, N uvicorn processes started with QA_DATABASE_URL (each opens the serving
generation; feedback, conversations and the question log go to the same database), and C clients spread over them
round robin for T seconds; one client on one process for a few seconds first, as the baseline.
`python -m bench.postgres_load [--clauses 100k] [--work DIR] [--processes 2] [--clients 20] [--seconds 60]
[--backend static|none]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.corpus import parse_size
from bench.load import HOST, free_port, load, peak_rss_mb, server_env, wait_ready
from bench.postgres import SERVER, Backend, static_index
from bench.report import ROOT, append
from bench.scale import QUESTIONS
from index.postgres.writer import publish, write_generation
from tests.postgres import running_server


def _published(url: str, clauses: int, work: Path, backend: Backend) -> Path:
    """Build (or reuse) bench.postgres's corpus and index, write it into the database and publish it; return the
    corpus folder."""
    settings, _, embedded = static_index(clauses, work, backend)
    try:
        publish(url, write_generation(url, embedded))
    finally:
        embedded.close()
    return settings.corpus_dir


def serve_and_load(url: str, corpus: Path, backend: str, processes: int, clients: int, seconds: float,
                   baseline: float, warm_up: float = 3) -> str:
    """Return the report of app processes serving the generation `url` publishes: one client on one process, then
    every client over every process, and the processes' peak RSS."""
    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")]
    with tempfile.TemporaryDirectory() as tmp:
        ports = [free_port() for _ in range(processes)]
        urls = [f"http://{HOST}:{port}" for port in ports]
        servers = []
        try:
            for n, port in enumerate(ports):
                env = server_env(f"{tmp}/{n}", corpus, backend, QA_DATABASE_URL=url)
                Path(f"{tmp}/{n}").mkdir()
                servers.append(subprocess.Popen([sys.executable, "-m", "bench.load", "--serve", str(port)], cwd=ROOT,
                                                env=env))
            for address, server in zip(urls, servers, strict=True):
                wait_ready(address, server)
            opened = [peak_rss_mb(server.pid) for server in servers]
            asyncio.run(load(urls, len(urls), warm_up, questions))  # warm-up, every process
            single = asyncio.run(load(urls[0], 1, baseline, questions))
            many = asyncio.run(load(urls, clients, seconds, questions))
            rss = [peak_rss_mb(server.pid) for server in servers]
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(30)
    rows = ["| clients | processes | seconds | requests | errors | answers/s | p50 ms | p95 ms | p99 ms |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r, n in ((single, 1), (many, processes)):
        rows.append(f"| {r['clients']} | {n} | {r['seconds']:.0f} | {r['requests']} | {sum(r['errors'].values())} "
                    f"{json.dumps(r['errors']) if r['errors'] else ''} | {r['throughput']:.1f} | "
                    + " | ".join(f"{r[p]:.0f}" if p in r else "–" for p in ("p50", "p95", "p99")) + " |")
    configured = ", ".join(f"{k}={v}" for k, v in SERVER.items())
    embedder = "static embedder" if backend == "static" else "lexical only (QA_EMBEDDING_BACKEND=none)"
    return (f"{embedder}, published into PostgreSQL 18 + pgvector on 127.0.0.1 ({configured}); "
            f"{processes} uvicorn processes with QA_DATABASE_URL, POST /api/ask with the {len(questions)} questions "
            "of tests/data/calibration.jsonl in turn; the question log goes to the same database. The clients, the "
            "processes and PostgreSQL share the 2 cores.\n\n" + "\n".join(rows)
            + f"\n\n- app processes' peak RSS: {', '.join(f'{m:.0f} MB' for m in rss)} (once open and ready, before "
            f"any question: {', '.join(f'{m:.0f} MB' for m in opened)})")


def run(clauses: int, work: Path, processes: int, clients: int, seconds: float, baseline: float,
        backend: Backend, warm_up: float = 3) -> str:
    """Return the report: one client on one process, then every client over every process."""
    with running_server(SERVER) as database:
        corpus = _published(database.url, clauses, work, backend)
        body = serve_and_load(database.url, corpus, backend, processes, clients, seconds, baseline, warm_up)
    return f"Corpus: bench.corpus, {clauses:,} clauses requested (the index of \"PostgreSQL backend\"); " + body


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clauses", default="100k")
    p.add_argument("--work", type=Path, help="keep the corpus and index here (shared with bench.postgres)")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--baseline-seconds", type=float, default=10)
    p.add_argument("--backend", default="static", choices=["static", "none"])
    p.add_argument("--warm-up", type=float, default=3, help="seconds of questions to every process first")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        body = run(parse_size(args.clauses), args.work or Path(tmp), args.processes, args.clients, args.seconds,
                   args.baseline_seconds, args.backend, args.warm_up)
    append(f"PostgreSQL backend: {args.processes} app processes under HTTP load ({args.clients} clients x "
           f"{args.seconds:.0f} s, {args.clauses} clauses)", body)


if __name__ == "__main__":
    main()
