"""Answering during an admin rebuild (issue 24): HTTP latency with N clients idle vs while the server rebuilds a
synthetic corpus in its build process, in one run; then the build process's peak memory on hostile documents
beside the idle server's. `python -m bench.rebuild [--clients 8] [--seconds 40] [--clauses 100k]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.corpus import generate, parse_size
from bench.hostile import LINES, _tiny_huge_pdf
from bench.load import HOST, free_port, load, server_env, wait_ready
from bench.report import ROOT, append
from bench.scale import QUESTIONS
from tests.ofds import page_bomb

ADMIN = {"Authorization": "Bearer bench-admin"}


def _status_kb(pid: int, field: str) -> float:
    """Return a /proc/<pid>/status memory field in MiB (0 when the process is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return int(next(line for line in status.splitlines() if line.startswith(field)).split()[1]) / 1024


def _build_children(parent: int) -> list[int]:
    """Return the ids of the build processes whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent
                    and b"qa.service.builder" in (entry / "cmdline").read_bytes()):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


class Rebuild:
    """An admin rebuild started over HTTP, watched from another thread: its end and its process's peak memory."""

    def __init__(self, url: str, server: int) -> None:
        self.url, self.server = url, server
        self.peak_mb = 0.0
        self.seconds = 0.0
        self.state: dict = {}
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> Rebuild:
        """Ask the server to rebuild and start watching; return self."""
        response = httpx.post(f"{self.url}/admin/rebuild", headers=ADMIN, timeout=30)
        response.raise_for_status()
        self._started = time.monotonic()
        self._thread.start()
        return self

    def _watch(self) -> None:
        while True:
            for pid in _build_children(self.server):
                self.peak_mb = max(self.peak_mb, _status_kb(pid, "VmHWM"))
            state = httpx.get(f"{self.url}/admin/rebuild", headers=ADMIN, timeout=30).json()
            if state["status"] != "running" and not state["running"]:
                self.seconds, self.state = time.monotonic() - self._started, state
                return
            time.sleep(0.1)

    def wait(self) -> Rebuild:
        """Block until the rebuild ends; return self."""
        self._thread.join()
        return self

    @property
    def running(self) -> bool:
        """Return True while the rebuild has not ended."""
        return self._thread.is_alive()


def _hostile(corpus: Path) -> None:
    """Write the files bench.hostile measures one by one into the corpus, for one build to read them all."""
    import io
    import random
    import zipfile

    (corpus / "no-sentence-end.txt").write_text("政" * 200_000, encoding="utf-8")
    (corpus / "rare-characters.txt").write_text("".join(chr(0x4E00 + (i * 7919) % 20_000) for i in range(200_000)),
                                                encoding="utf-8")
    (corpus / "page-bomb.ofd").write_bytes(page_bomb(14, 15_000, LINES))
    (corpus / "huge-page.pdf").write_bytes(_tiny_huge_pdf())
    rng = random.Random(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(12):
            archive.writestr(f"{i}.txt", "".join(chr(0x4E00 + rng.randrange(3000)) for _ in range(333_333)))
    (corpus / "members.zip").write_bytes(buf.getvalue())


def _row(name: str, r: dict) -> str:
    errors = sum(r["errors"].values())
    return (f"| {name} | {r['clients']} | {r['seconds']:.0f} | {r['requests']} | {errors} "
            f"{json.dumps(r['errors']) if r['errors'] else ''}| {r['throughput']:.1f} | {r['p50']:.0f} "
            f"| {r['p95']:.0f} | {r['p99']:.0f} |")


def main() -> None:
    """Start a server over the bundled corpus, load it idle, then while it rebuilds a large corpus; append both."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=40)
    p.add_argument("--clauses", default="100k", help="size of the synthetic corpus the rebuild adds")
    p.add_argument("--backend", default="none", help="embedding backend of the server (and so of the build)")
    p.add_argument("--no-hostile", action="store_true", help="skip the hostile-documents rebuild")
    args = p.parse_args()
    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")]
    port = free_port()
    url = f"http://{HOST}:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        corpus, synth = Path(tmp) / "corpus", Path(tmp) / "synth"
        shutil.copytree(ROOT / "data" / "policies", corpus)
        files, units = generate(synth, parse_size(args.clauses))
        env = server_env(tmp, corpus, args.backend, QA_ADMIN_TOKEN="bench-admin")
        server = subprocess.Popen([sys.executable, "-m", "bench.load", "--serve", str(port)], cwd=ROOT, env=env)
        try:
            wait_ready(url, server)
            asyncio.run(load(url, 1, 3, questions))  # warm-up
            idle = asyncio.run(load(url, args.clients, args.seconds, questions))
            idle_rss = _status_kb(server.pid, "VmRSS")
            shutil.copytree(synth, corpus / "synth")
            rebuild = Rebuild(url, server.pid).start()
            during = asyncio.run(load(url, args.clients, args.seconds, questions))
            covered = rebuild.running
            rebuild.wait()
            hostile = None
            if not args.no_hostile:
                shutil.rmtree(corpus / "synth")
                _hostile(corpus)
                hostile_rss = _status_kb(server.pid, "VmRSS")
                hostile = Rebuild(url, server.pid).start().wait()
            server_peak = _status_kb(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait(30)
    rows = ["| phase | clients | seconds | requests | errors | requests/s | p50 ms | p95 ms | p99 ms |",
            "|---|---|---|---|---|---|---|---|---|", _row("idle", idle), _row("during an admin rebuild", during)]
    body = ("\n".join(rows)
            + f"\n\n- the rebuild added {files} synthetic documents ({units} clauses, `bench.corpus`) to the bundled "
            f"corpus and took {rebuild.seconds:.0f} s ({rebuild.state.get('status')}); "
            + ("it was still running when the load ended, so every request above was answered during it"
               if covered else "it ended before the load did: the last requests were answered after it")
            + f"\n- during vs idle: p50 x{during['p50'] / idle['p50']:.2f}, p95 x{during['p95'] / idle['p95']:.2f}, "
            f"throughput x{during['throughput'] / idle['throughput']:.2f}"
            + f"\n- memory: server {idle_rss:.0f} MB resident when idle, peak {server_peak:.0f} MB over the run; "
            f"the build process peaked at {rebuild.peak_mb:.0f} MB (its own process, not the server's)")
    if hostile is not None:
        summary = hostile.state.get("summary", "").splitlines()
        reasons = "; ".join(line.strip()[:90] for line in summary[1:]) or "none skipped"
        body += (f"\n- hostile documents (the files of `bench.hostile`: 200,000 characters without a sentence end, "
                 f"200,000 rare characters, the OFD listing 210,000 pages, the 7200 pt PDF page, 12 × 1 MB zip) "
                 f"added to the corpus: rebuild {hostile.state.get('status')} in {hostile.seconds:.0f} s, build "
                 f"process peak {hostile.peak_mb:.0f} MB resident vs the server's {hostile_rss:.0f} MB idle "
                 f"(difference {hostile.peak_mb - hostile_rss:+.0f} MB); the server itself peaked at "
                 f"{server_peak:.0f} MB. Reported: {reasons}")
    body += f"\n- load average at the end {os.getloadavg()[0]:.1f} (other sessions share the cores)"
    append(f"Answering during an admin rebuild ({args.clients} clients x {args.seconds:.0f} s, backend "
           f"{args.backend}, {args.clauses} clauses)", body)


if __name__ == "__main__":
    main()
