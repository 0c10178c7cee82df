"""HTTP load: N concurrent clients POST /api/ask to a uvicorn server (a subprocess on 127.0.0.1) for T seconds.

The server is qa.surfaces.create_app over an index of the bundled corpus; one client alone, for a few seconds
in the same run, is the baseline. `python -m bench.load [--clients 20] [--seconds 60] [--backend e5]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench.report import ROOT, append
from bench.scale import QUESTIONS, percentiles

HOST = "127.0.0.1"
# Every client loop stops at the deadline or at this many requests, whichever comes first.
MAX_REQUESTS = 200_000


def serve(port: int) -> None:
    """Run the API with settings from QA_* variables until terminated (the server subprocess)."""
    import uvicorn

    from qa.service import Service
    from qa.settings import load_settings
    from qa.surfaces.http.app import create_app

    settings = load_settings()
    uvicorn.run(create_app(settings, Service(settings).start()), host=HOST, port=port, log_level="warning")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, server: subprocess.Popen, timeout: float = 600) -> None:
    """Block until /healthz says ok (the first start builds the index)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited before it was ready")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).json().get("status") == "ok":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s")


async def load(url: str | Sequence[str], clients: int, seconds: float, questions: list[str]) -> dict:
    """Return requests, errors, throughput and latency percentiles of `clients` looping clients; with several
    server URLs, client n asks the n-th (round robin, as a load balancer spreads connections)."""
    urls = [url] if isinstance(url, str) else list(url)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + seconds

    async def client(n: int, http: httpx.AsyncClient) -> None:
        i = n
        while time.monotonic() < deadline and len(latencies) + sum(errors.values()) < MAX_REQUESTS:
            started = time.perf_counter()
            try:
                response = await http.post(f"{urls[n % len(urls)]}/api/ask",
                                           json={"question": questions[i % len(questions)]})
                if response.status_code == 200 and "answer" in response.json():
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            i += clients

    started = time.monotonic()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        await asyncio.gather(*(client(n, http) for n in range(clients)))
    wall = time.monotonic() - started
    return {"clients": clients, "seconds": wall, "requests": len(latencies), "errors": errors,
            "throughput": len(latencies) / wall, **(percentiles(latencies) if len(latencies) > 1 else {})}


def server_env(tmp: str, corpus: Path, backend: str, **extra: str) -> dict[str, str]:
    """Return the environment of a benchmark server: none of the developer's QA_* settings, stores in `tmp`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("QA_")},
            "QA_CORPUS_DIR": str(corpus), "QA_INDEX_DIR": f"{tmp}/index", "QA_EMBEDDING_BACKEND": backend,
            "QA_FEEDBACK_DB": f"{tmp}/feedback.sqlite", "QA_CONVERSATIONS_DB": f"{tmp}/conversations.sqlite",
            "QA_LOG_DB": f"{tmp}/questions.sqlite", "ANONYMIZED_TELEMETRY": "False", **extra}


def peak_rss_mb(pid: int) -> float:
    """Return a process's peak resident memory in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024


def main() -> None:
    """Start the server, measure one client then N clients, and append the results."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--baseline-seconds", type=float, default=10)
    p.add_argument("--backend", default="auto", help="embedding backend of the served index (auto: the default)")
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve)
        return
    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")]
    port = free_port()
    url = f"http://{HOST}:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = server_env(tmp, ROOT / "data" / "policies", args.backend)
        server = subprocess.Popen([sys.executable, "-m", "bench.load", "--serve", str(port)], cwd=ROOT, env=env)
        try:
            wait_ready(url, server)
            asyncio.run(load(url, 1, 3, questions))  # warm-up
            single = asyncio.run(load(url, 1, args.baseline_seconds, questions))
            many = asyncio.run(load(url, args.clients, args.seconds, questions))
            rss = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(30)
    rows = ["| clients | seconds | requests | errors | requests/s | p50 ms | p95 ms | p99 ms |",
            "|---|---|---|---|---|---|---|---|"]
    for r in (single, many):
        rows.append(f"| {r['clients']} | {r['seconds']:.0f} | {r['requests']} | {sum(r['errors'].values())} "
                    f"{json.dumps(r['errors']) if r['errors'] else ''} | {r['throughput']:.1f} | {r['p50']:.0f} "
                    f"| {r['p95']:.0f} | {r['p99']:.0f} |")
    body = ("\n".join(rows) + f"\n\n- {args.clients} clients vs one client: throughput x"
            f"{many['throughput'] / single['throughput']:.2f}, p50 x{many['p50'] / single['p50']:.1f}"
            f"\n- server peak RSS {rss:.0f} MB (bundled corpus, backend {args.backend})")
    append(f"HTTP load (POST /api/ask, {args.clients} clients x {args.seconds:.0f} s, backend {args.backend})", body)


if __name__ == "__main__":
    main()
