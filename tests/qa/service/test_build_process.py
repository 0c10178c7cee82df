"""Builds run in a child process: answers keep coming during an admin rebuild, a killed build fails alone, and the
first start still reports its progress."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from index.build import BuildReport, build_index
from index.recordfile import DELTA_FILE, RECORDS_FILE, is_current
from index.store import current_generation, manifest_of, records_outdated, seal
from qa.assistant import Assistant
from qa.errors import BuildFailed
from qa.service import Service
from qa.service.builder import _result
from qa.settings import Settings
from qa.surfaces.http.app import create_app
from tests.conftest import CORPUS, ROOT, ready_service, serve_http
from tests.formats import unindex_measures

ADMIN = {"Authorization": "Bearer admin-secret"}
QUESTION, FUND = "江苏有哪些文化产业基金可以用？", "紫金文化产业基金"
NEW_DOC = ("某市动漫产业扶持办法\n一、资金扶持\n对原创动漫作品给予每部30万元奖励。\n"
           "二、人才支持\n动漫人才可申请入住星河人才公寓。\n")
# Copies of the corpus, each tagged so none is found in the parse cache: a build of some seconds.
COPIES = 12


def build_children(parent: int) -> list[int]:
    """Return the ids of the build processes (python -m qa.service.builder) whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # it ended while we looked
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"qa.service.builder" in cmdline:
            found.append(int(entry.name))
    return found


def niceness(pid: int) -> int:
    """Return a process's nice value, from /proc/<pid>/stat."""
    return int((Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split())[16])


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Settings, Service]]:
    """A server over a private corpus with an admin token, lexical-only."""
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", embedding_backend="none",
                        admin_token="admin-secret", log_db=tmp_path / "questions.sqlite")  # type: ignore[arg-type]
    service: Service = ready_service(settings)
    with serve_http(create_app(settings, service)) as url:
        yield url, settings, service
    service.stop()


def _grow(corpus: Path) -> None:
    """Add tagged copies of the corpus documents, for a rebuild that takes a while."""
    for n in range(COPIES):
        for doc in CORPUS.glob("*.txt"):
            (corpus / f"{doc.stem}-{n}.txt").write_text(doc.read_text(encoding="utf-8") + f"\n（副本{n}）\n",
                                                         encoding="utf-8")


def _state(url: str) -> dict:
    return httpx.get(f"{url}/admin/rebuild", headers=ADMIN, timeout=10).json()


def _wait_finished(url: str) -> dict:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        state = _state(url)
        if state["status"] in ("done", "failed") and not state["running"]:
            return state
        time.sleep(0.2)
    raise AssertionError("rebuild did not finish")


def _wait_child() -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if children := build_children(os.getpid()):
            return children[0]
        time.sleep(0.05)
    raise AssertionError("no build process started")


@pytest.mark.server
def test_answers_keep_coming_from_a_server_while_a_child_process_rebuilds(
        server: tuple[str, Settings, Service]) -> None:
    """During an admin rebuild the build is another, lower-priority process, and every question is answered."""
    url, settings, _ = server
    _grow(settings.corpus_dir)
    assert httpx.post(f"{url}/admin/rebuild", headers=ADMIN).status_code == 202
    child = _wait_child()
    deadline = time.monotonic() + 60  # it lowers its priority once its imports are done
    while niceness(child) <= niceness(os.getpid()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert niceness(child) > niceness(os.getpid())
    answered_during = 0
    while _state(url)["status"] == "running":
        response = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=60)
        assert response.status_code == 200 and FUND in response.json()["answer"]
        answered_during += _state(url)["status"] == "running"
    assert answered_during > 0
    assert _wait_finished(url)["status"] == "done"


@pytest.mark.server
def test_a_killed_build_fails_alone_and_the_next_rebuild_works(
        server: tuple[str, Settings, Service]) -> None:
    """SIGKILL to the build process (as the OOM killer sends): the rebuild fails with a message naming it, the
    old generation keeps answering, and the next rebuild publishes the new document."""
    url, settings, service = server
    serving = service.serving().folder
    _grow(settings.corpus_dir)
    (settings.corpus_dir / "dongman.txt").write_text(NEW_DOC, encoding="utf-8")
    assert httpx.post(f"{url}/admin/rebuild", headers=ADMIN).status_code == 202
    os.kill(_wait_child(), signal.SIGKILL)
    state = _wait_finished(url)
    assert state["status"] == "failed" and "SIGKILL" in state["summary"] and "当前索引继续使用" in state["summary"]
    assert service.serving().folder == serving
    assert FUND in httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=60).json()["answer"]
    assert httpx.post(f"{url}/admin/rebuild", headers=ADMIN).status_code == 202
    assert _wait_finished(url)["status"] == "done"
    answer = httpx.post(f"{url}/api/ask", json={"question": "原创动漫作品奖励多少？"}, timeout=60).json()["answer"]
    assert "30万元" in answer


@pytest.mark.subprocess
def test_a_rebuild_is_answered_from_as_soon_as_it_serves_then_from_its_compacted_copy(tmp_path: Path) -> None:
    """An admin rebuild whose records' delta passes a tenth of their base (a new file among three): the server swaps
    to the generation the build child switched to while the child still compacts it (the base shared, a delta
    beside it), the new document answered from it; then to the compacted generation, without a delta."""
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", embedding_backend="none",
                        log_db=tmp_path / "questions.sqlite")
    service = ready_service(settings)
    swapped: list[tuple[str, bool, bool]] = []
    swap = service.loader.swap

    def recorded(fresh: Assistant) -> None:
        has_doc = any("星河人才公寓" in c.text for c in fresh.kb.clauses.values())
        swapped.append((fresh.kb.folder.name, (fresh.kb.folder / DELTA_FILE).exists(), has_doc))
        swap(fresh)

    service.loader.swap = recorded  # type: ignore[method-assign]
    try:
        (corpus / "dongman.txt").write_text(NEW_DOC, encoding="utf-8")
        report = service.rebuild()
    finally:
        service.stop()
    assert report.compaction_seconds > 0 and not report.compaction_failed
    [(served, delta, found), (compacted, no_delta, still)] = swapped
    assert delta and found, "swapped to the generation with the delta first"
    assert compacted == report.generation != served and not no_delta and still
    assert service.serving().folder.name == report.generation


@pytest.mark.subprocess
def test_first_start_progress_crosses_from_the_build_process(tmp_path: Path) -> None:
    """The first start builds in a child process, and its progress reaches the service the page reads."""
    settings = Settings(corpus_dir=CORPUS, index_dir=tmp_path / "index", embedding_backend="none",
                        log_db=tmp_path / "questions.sqlite")
    service = Service(settings).start()
    service.wait(300)
    assert service.ready, service.status
    assert service.progress is not None and service.progress.total > 0
    assert service.progress.done == service.progress.total
    assert build_children(os.getpid()) == []
    service.stop()


@pytest.mark.subprocess
def test_a_generation_of_the_older_format_is_served_and_rewritten_in_the_background(tmp_path: Path) -> None:
    """A start over a generation whose records file is of the older format serves it at once, rewrites it in the
    current format in a child process and switches to that."""
    settings = Settings(corpus_dir=CORPUS, index_dir=tmp_path / "index", embedding_backend="none",
                        log_db=tmp_path / "questions.sqlite")
    build_index(settings.build_config, None, progress=False)
    old = current_generation(settings.index_dir)
    assert old is not None
    unindex_measures(old / RECORDS_FILE)
    seal(old, manifest_of(old))
    assert records_outdated(settings.index_dir)
    service = Service(settings).start()
    service.wait(300)
    assert service.ready and service.serving().folder == old, service.status
    deadline = time.monotonic() + 300
    while service.serving().folder == old and time.monotonic() < deadline:
        time.sleep(0.1)
    new = service.serving().folder
    assert new != old and is_current(new / RECORDS_FILE) and not records_outdated(settings.index_dir)
    service.stop()


@pytest.mark.subprocess
def test_a_build_whose_server_is_gone_stops_without_a_traceback(tmp_path: Path) -> None:
    """The server that started a build dies, closing its end of the pipe: the build stops at its next report with
    one log line, no traceback, and leaves no half-written generation."""
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    _grow(corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", embedding_backend="none")
    child = subprocess.Popen([sys.executable, "-m", "qa.service.builder"], env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None
    child.stdin.write(pickle.dumps(settings))
    child.stdin.close()
    assert "progress" in json.loads(child.stdout.readline())
    child.stdout.close()
    log = child.stderr.read().decode("utf-8")
    assert child.wait(timeout=300) == 1
    assert "Traceback" not in log and "停止建立索引" in log, log
    assert current_generation(settings.index_dir) is None and not list(settings.index_dir.glob("gen-*"))


def test_a_build_child_that_dies_after_its_generation_served_did_not_fail_the_rebuild() -> None:
    """The child reports `served`, then dies while compacting (SIGKILL, OOM): the generation it switched to serves,
    so the rebuild succeeded and its compaction failed (the next build compacts), where the admin page said that the
    rebuild had failed. A child that dies before it served failed the rebuild, as before."""
    served = BuildReport(documents=4, clauses=80, generation="gen-20261208-010000-abcdef", served_seconds=3.2)
    events = json.loads(json.dumps({"progress": ["embed", 1, 1], "served": dataclasses.asdict(served)}))
    report = _result(events, -signal.SIGKILL, 2048)
    assert report.generation == served.generation and report.documents == 4
    assert "SIGKILL" in report.compaction_failed
    assert "合并记录增量失败" in report.summary() and "新索引在 3.2 秒时开始使用" in report.summary()
    with pytest.raises(BuildFailed, match="SIGKILL"):
        _result({"progress": ["embed", 1, 1]}, -signal.SIGKILL, 2048)
    finished = dataclasses.replace(served, compaction_seconds=1.5, generation="gen-20261208-010003-fedcba")
    assert _result({**events, "report": json.loads(json.dumps(dataclasses.asdict(finished)))}, 0, 2048) == finished
