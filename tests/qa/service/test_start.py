"""A new user's first steps: starting on a port that is taken, the build's progress in plain words, and the
README's curl examples pasted as written against a real server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.service.loader import BuildProgress
from tests.conftest import CORPUS, ROOT, ready_service, serve_http

README_PORT = "127.0.0.1:7860"


@pytest.mark.server
@pytest.mark.subprocess
def test_a_taken_port_is_said_in_chinese_before_any_address(tmp_path: Path) -> None:
    """app.py on a port another program listens on: a Chinese message naming QA_PORT, no page address, no
    uvicorn errno line."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "QA_PORT": str(port), "QA_INDEX_DIR": str(tmp_path / "index"),
               "QA_EMBEDDING_BACKEND": "none", "PYTHONIOENCODING": "utf-8"}
        run = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                             encoding="utf-8", timeout=300, check=False)
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"端口 {port} 已被占用" in run.stderr and f"QA_PORT={port + 1}" in run.stderr, run.stderr
    assert "http://" not in run.stdout + run.stderr and "Errno" not in run.stdout + run.stderr
    assert not (tmp_path / "index").exists()  # nothing started: no build behind the message


def test_build_progress_estimates_the_time_left() -> None:
    """The time left is the stage's pace so far applied to what remains; none before there is a pace."""
    progress = BuildProgress("计算向量", done=10, total=70, first_done=0, started=100.0)
    assert progress.remaining(130.0) == pytest.approx(180.0)  # 10 in 30 s, 60 to go
    assert BuildProgress("计算向量", 0, 70, 0, 100.0).remaining(130.0) is None


def readme_curl_lines() -> list[str]:
    """Return the curl command lines of the README's shell blocks, as written."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    return [line for block in blocks for line in block.splitlines() if line.startswith("curl ")]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The HTTP API over a lexical index of the bundled corpus, with the production connection handling."""
    from qa.settings import Settings
    from qa.surfaces.http.app import create_app
    from qa.surfaces.http.serving import uvicorn_options

    settings = Settings(corpus_dir=CORPUS, index_dir=tmp_path_factory.mktemp("index"), embedding_backend="none")
    options = {k: v for k, v in uvicorn_options().items() if k != "timeout_graceful_shutdown"}
    with serve_http(create_app(settings, ready_service(settings)), **options) as url:
        yield url


@pytest.mark.server
@pytest.mark.subprocess
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curl_examples_work_when_pasted(api: str) -> None:
    """Each curl line of the README, run by a shell with only the port changed, gets JSON with results."""
    lines = readme_curl_lines()
    assert any("/api/measures" in line for line in lines) and any("/api/documents" in line for line in lines)
    for line in lines:
        assert README_PORT in line, line
        run = subprocess.run(["bash", "-c", line.replace(f"http://{README_PORT}", api) + " --fail-with-body -sS"],
                             capture_output=True, text=True, encoding="utf-8", timeout=60, check=False)
        assert run.returncode == 0, (line, run.stdout, run.stderr)
        body = json.loads(run.stdout)
        if "/api/measures" in line:
            assert body and all(row["region"] in ("深圳市", "广东省") for row in body), body
            assert all("用地/用房" in row["types"] for row in body), body
        elif "/api/documents" in line:
            assert body and all(doc["region"] in ("广东省", "深圳市") for doc in body), body
        else:
            assert body["answerable"] and "紫金文化产业基金" in body["answer"], body
