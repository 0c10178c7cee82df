"""Chroma client/server mode: an index built against `chroma run` retrieves exactly what the embedded store does."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.build import build_index
from index.embedding.static_table import StaticTableEmbeddings
from index.store import current_generation, open_index, read_manifest
from qa.assistant import Assistant
from qa.settings import Settings
from qa.understand.query import parse_query
from tests.conftest import ROOT

pytestmark = [pytest.mark.subprocess, pytest.mark.server]

CORPUS = ROOT / "data" / "policies"
CHROMA = Path(sys.executable).parent / "chroma"
QUESTIONS = [
    "江苏有哪些文化产业基金可以用？",
    "广东对水下文化遗产保护有什么安排？",
    "深圳文化创意产业总产出目标是多少？",
    "文化科技企业上市有什么支持？",
    "上海对动漫企业有什么奖励？",
]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `chroma run` on 127.0.0.1, wait for its heartbeat, yield its URL and stop it."""
    if not CHROMA.exists():
        pytest.fail(f"the chroma CLI ships with chromadb: {CHROMA} is missing")
    port = free_port()
    log = (tmp_path_factory.mktemp("chroma-log") / "server.log").open("w")
    server = subprocess.Popen([str(CHROMA), "run", "--path", str(tmp_path_factory.mktemp("chroma-data")),
                               "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"chroma run did not start: {Path(log.name).read_text()}")
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def embedder() -> StaticTableEmbeddings:
    """Return the static table embedder: real vectors, fast enough to build the corpus twice."""
    return StaticTableEmbeddings()


def ranking(index_dir: Path, embedder: StaticTableEmbeddings, url: str = "") -> list[list[tuple[str, float]]]:
    """Return, per question, the retrieved clause ids and scores from an index opened in the given mode."""
    settings = Settings(corpus_dir=CORPUS, index_dir=index_dir, chroma_url=url)
    kb = open_index(index_dir, embedder, url)
    assert kb.dense is not None
    assistant = Assistant(settings, kb, embedder)
    return [[(s.clause.clause_id, s.score) for s in assistant.retriever.search(parse_query(q))] for q in QUESTIONS]


def test_server_mode_retrieves_like_embedded_mode(chroma_url: str, embedder: StaticTableEmbeddings,
                                                  tmp_path: Path) -> None:
    """Same clause ids in the same order, same scores, with the vectors on the server instead of on disk."""
    build_index(Settings(corpus_dir=CORPUS, index_dir=tmp_path / "embedded").build_config, embedder, progress=False)
    report = build_index(Settings(corpus_dir=CORPUS, index_dir=tmp_path / "server", chroma_url=chroma_url).build_config,
                         embedder, progress=False)
    manifest = read_manifest(tmp_path / "server")
    assert manifest and manifest.chroma_collection == report.generation
    assert not (tmp_path / "server" / report.generation / "chroma").exists(), "server mode writes nothing local"

    embedded = ranking(tmp_path / "embedded", embedder)
    served = ranking(tmp_path / "server", embedder, chroma_url)
    assert all(embedded), "every question retrieves something"
    for local, remote in zip(embedded, served, strict=True):
        assert [c for c, _ in remote] == [c for c, _ in local]
        assert [s for _, s in remote] == pytest.approx([s for _, s in local], abs=1e-6)
    dense = open_index(tmp_path / "server", embedder, chroma_url).dense
    assert dense is not None and dense.search(QUESTIONS[0], 5), "dense hits come from the server"


def test_server_generations_switch_atomically(chroma_url: str, embedder: StaticTableEmbeddings,
                                              tmp_path: Path) -> None:
    """Each build writes its own collection; publishing keeps the previous one and deletes older ones."""
    import chromadb

    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(corpus_dir=corpus, index_dir=index_dir, chroma_url=chroma_url)
    names = []
    for edit in range(3):
        (corpus / "extra.txt").write_text(f"关于促进会展业发展的若干措施\n一、总体要求\n支持会展企业第{edit}批项目。\n",
                                          encoding="utf-8")
        names.append(build_index(settings.build_config, embedder, progress=False).generation)
    client = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_url.rsplit(":", 1)[1]))
    on_server = {c.name for c in client.list_collections()}
    assert {names[1], names[2]} <= on_server and names[0] not in on_server
    assert current_generation(index_dir) == index_dir / names[2]


def test_server_index_without_url_falls_back_to_lexical(chroma_url: str, embedder: StaticTableEmbeddings,
                                                        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Opening a server-built index without QA_CHROMA_URL answers lexical-only with one warning naming it."""
    settings = Settings(corpus_dir=CORPUS, index_dir=tmp_path, chroma_url=chroma_url)
    build_index(settings.build_config, embedder, progress=False)
    kb = open_index(tmp_path, embedder)
    assert kb.dense is None
    assert any("QA_CHROMA_URL" in r.getMessage() for r in caplog.records)
