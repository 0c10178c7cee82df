"""Append benchmark results to docs/benchmarks.md with the command, date, machine and git revision."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks.md"


def machine() -> str:
    """Return cores, memory and CPU of this machine."""
    mem = ""
    try:
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration):
        pass
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} cores{mem}, {cpu}, Python {platform.python_version()}"


def revision() -> str:
    """Return the git revision, marked dirty when the tree has uncommitted changes."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def append(title: str, body: str) -> None:
    """Write one section to the report, in place of an earlier run's section of the same title, and print it."""
    command = " ".join(["python -m", f"bench.{Path(sys.argv[0]).stem}", *sys.argv[1:]])
    section = (f"\n## {title}\n\n- command: `{command}`\n- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
               f"- machine: {machine()}\n- revision: {revision()}\n\n{body}\n")
    REPORT.parent.mkdir(exist_ok=True)
    if not REPORT.exists():
        REPORT.write_text("# Benchmarks\n\nEach section is appended by a benchmark in `bench/` (`make bench`).\n",
                          encoding="utf-8")
    # One section per benchmark, the latest run: earlier runs are in the file's git history.
    head, *sections = REPORT.read_text(encoding="utf-8").split("\n## ")
    kept = [s for s in sections if s.split("\n", 1)[0] != title]
    REPORT.write_text("\n## ".join([head, *kept]).rstrip("\n") + "\n" + section, encoding="utf-8")
    print(section)
