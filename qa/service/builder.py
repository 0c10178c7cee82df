"""An index build in a child process, so a heavy or hostile build cannot starve or kill the serving one.

A subprocess (`python -m qa.service.builder`) rather than multiprocessing: spawn and forkserver both import the
parent's `__main__` again in the child (app.py: Gradio, hundreds of MB, before any work), and fork would copy a
threaded server. The child gets the settings pickled on stdin and writes one JSON line per event on its own
copy of stdout: {"progress": [stage, done, total]}, {"served": {...}} once the new generation serves (before a
compaction of its records, index.build.build_index), then {"report": {...}} or {"error": "..."}.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pickle
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from index.build import BuildReport, build_index
from index.embedding import load_embeddings
from qa.errors import BuildFailed
from qa.service.backend import publish_build
from qa.settings import Settings

log = logging.getLogger(__name__)
# Added to the child's nice value: when the build and the answers want the same cores, the answers get them.
BUILD_NICENESS = 10
# The folder holding the `qa` package: the child imports the same code as the server, wherever it was started.
CODE_ROOT = Path(__file__).resolve().parents[2]


class BuildProcess:
    """One build in a child process; `run` blocks until it ends, `kill` ends it from another thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._killed = False

    def run(self, on_progress: Callable[[str, int, int], None] | None = None,
            on_served: Callable[[BuildReport], None] | None = None) -> BuildReport:
        """Return the child's build report; raise BuildFailed with its message when it fails or dies. `on_served`
        gets the report as it was when the new generation started serving, while the child compacts it."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(CODE_ROOT),
                                                                         os.environ.get("PYTHONPATH")]))}
        with self._lock:
            if self._killed:
                raise BuildFailed("重建已取消：服务正在停止")
            # stderr is inherited: the child's log lines go where the server's go.
            child = self._child = subprocess.Popen([sys.executable, "-m", "qa.service.builder"], env=env,
                                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert child.stdin is not None and child.stdout is not None
        try:
            child.stdin.write(pickle.dumps(self.settings))
            child.stdin.close()
        except BrokenPipeError:  # it died at start-up; its exit status says how
            pass
        outcome: dict[str, Any] = {}
        for line in child.stdout:
            event = json.loads(line)
            if "progress" in event and on_progress is not None:
                on_progress(*event["progress"])
            if "served" in event and on_served is not None:
                on_served(_report(event["served"]))
            outcome.update(event)
        return _result(outcome, child.wait(), self.settings.build_max_memory_mb)

    def kill(self) -> None:
        """End the child, if one runs, and refuse to start one after this."""
        with self._lock:
            self._killed = True
            if self._child is not None and self._child.poll() is None:
                self._child.kill()


def _report(fields: dict[str, Any]) -> BuildReport:
    """Return a build report sent as JSON (its lists of pairs arrive as lists of lists)."""
    return BuildReport(**{**fields, "skipped": [tuple(s) for s in fields["skipped"]],
                          "notes": [tuple(n) for n in fields["notes"]]})


def _result(outcome: dict[str, Any], code: int, limit_mb: int) -> BuildReport:
    """Return the build's report from the child's events and exit status, or raise BuildFailed. A child that failed or
    died after its generation served leaves that generation serving: its compaction failed, not the rebuild."""
    if "report" in outcome and code == 0:
        return _report(outcome["report"])
    failure = outcome.get("error") or _death(code, limit_mb)
    if "served" in outcome:
        return dataclasses.replace(_report(outcome["served"]), compaction_failed=failure)
    raise BuildFailed(failure)


def _death(code: int, limit_mb: int) -> str:
    """Return, in Chinese, why a build child ended without a report: killed by a signal, or another exit."""
    if code < 0:
        name = signal.Signals(-code).name
        cause = ("可能是内存不足被系统结束（OOM）" if -code == signal.SIGKILL else "被外部终止")
        return (f"建立索引的进程被信号 {name} 终止，{cause}；当前索引继续使用，可稍后再次重建。"
                f"若是文件过大，请拆分或删除该文件（进程内存上限 {limit_mb} MB，QA_BUILD_MAX_MEMORY_MB）")
    return f"建立索引的进程异常退出（退出码 {code}），详见服务器日志；当前索引继续使用，可稍后再次重建"


def _child_main() -> None:
    """Build as the settings on stdin say, reporting on the stdout this process had when it started."""
    out: IO[str] = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # a library printing to stdout must not break the protocol
    settings: Settings = pickle.loads(sys.stdin.buffer.read())  # from our own parent
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [build] %(name)s: %(message)s")
    os.nice(BUILD_NICENESS)
    limit = settings.build_max_memory_mb
    if limit > 0:
        # Address space, not resident memory: a cap the kernel enforces per allocation, so a hostile file ends
        # in this process's MemoryError (or its death) and never in the server's.
        resource.setrlimit(resource.RLIMIT_AS, (limit * 2**20, limit * 2**20))

    def send(event: dict[str, Any]) -> None:
        try:
            out.write(json.dumps(event, ensure_ascii=False) + "\n")
            out.flush()
        except BrokenPipeError:
            # The server that started this build is gone (stopped or killed): nobody waits for the build, so it
            # ends here (its half-written generation removed on the way out), without a traceback in the log.
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())  # the buffered line is flushed at exit
            log.warning("启动本次建立索引的服务进程已退出，停止建立索引")
            raise SystemExit(1) from None

    try:
        embeddings = load_embeddings(settings.embedder_config)
        # With a database, a generation serves once exported there (publish_build), after the build.
        served = None if settings.database_url.get_secret_value() else \
            (lambda report: send({"served": dataclasses.asdict(report)}))
        report = build_index(settings.build_config, embeddings, progress=False,
                             on_progress=lambda stage, done, total: send({"progress": [stage, done, total]}),
                             on_served=served)
        publish_build(settings, embeddings)
    except MemoryError:
        log.exception("建立索引时内存不足")
        send({"error": f"建立索引时内存超过上限 {limit} MB（QA_BUILD_MAX_MEMORY_MB）；请找出并拆分过大的文件，"
                       "或调高上限。当前索引继续使用"})
        sys.exit(1)
    except Exception as exc:  # the parent shows the message; the traceback goes to the log here
        log.exception("建立索引失败")
        send({"error": str(exc)})
        sys.exit(1)
    send({"report": dataclasses.asdict(report)})


if __name__ == "__main__":
    _child_main()
