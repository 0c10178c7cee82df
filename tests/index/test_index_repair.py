"""Damaged index generations and builds beside a running server, with real corrupt files and real processes:
a damaged generation is detected at open, the previous one is served, `build` repairs it; a server switches to
a generation the command line published, and no generation in use is deleted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from index.build import build_index
from index.embedding import load_embeddings
from index.store import PUBLISHED, current_generation, open_generation, open_index
from qa.assistant import Assistant
from qa.render.plain import plain_text
from qa.settings import Settings
from qa.surfaces.http.app import create_app
from tests.conftest import CORPUS, ROOT, ready_service, serve_http

QUESTION = "江苏有哪些文化产业基金可以用？"
FUND = "紫金文化产业基金"
JIANGSU = "jiangsu-culture-tech-2020.txt"


def _settings(corpus: Path, index: Path, **overrides: object) -> Settings:
    # The static embedder: a real Chroma store in every generation, built in seconds.
    return Settings(corpus_dir=corpus, index_dir=index, embedding_backend="static", **overrides)  # type: ignore[arg-type]


def _retag(corpus: Path, tag: str) -> None:
    """Rename the Jiangsu fund in the corpus so answers show which generation they come from."""
    path = corpus / JIANGSU
    path.write_text((CORPUS / JIANGSU).read_text(encoding="utf-8").replace(FUND, FUND + tag, 1), encoding="utf-8")


def _cli_build(corpus: Path, index: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8", QA_EMBEDDING_BACKEND="static")
    return subprocess.run([sys.executable, "-m", "qa", "build", "--corpus", str(corpus), "--index", str(index),
                           "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def two_generations(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An index whose previous generation names the fund ...（旧版） and whose current one is the corpus."""
    folder = tmp_path_factory.mktemp("gens")
    corpus, index = folder / "corpus", folder / "index"
    shutil.copytree(CORPUS, corpus)
    settings = _settings(corpus, index)
    embeddings = load_embeddings(settings.embedder_config)
    _retag(corpus, "（旧版）")
    build_index(settings.build_config, embeddings, progress=False)
    _retag(corpus, "")
    build_index(settings.build_config, embeddings, progress=False)
    return corpus, index


def _flip(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert old in data and len(old) == len(new)
    path.write_bytes(data.replace(old, new, 1))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "records-appended": lambda gen: (gen / "records.sqlite").open("ab").write(b"\0" * 4096),
    "records-same-size": lambda gen: _flip(gen / "records.sqlite", b"SQLite format 3", b"SQLite format 9"),
    "chroma": lambda gen: (gen / "chroma" / "chroma.sqlite3").open("r+b").write(os.urandom(4096)),
    "bm25": lambda gen: (gen / "bm25" / "indptr.csc.index.npy").write_bytes(
        (gen / "bm25" / "indptr.csc.index.npy").read_bytes()[:100]),
    "records-empty": lambda gen: (gen / "records.sqlite").write_bytes(b""),
    "manifest": lambda gen: (gen / "manifest.json").write_text('{"signature": "abc", ', encoding="utf-8"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damaged_generation_falls_back_then_build_repairs(two_generations: tuple[Path, Path], tmp_path: Path,
                                                          kind: str) -> None:
    """The previous generation answers while the current one is damaged; the next build (same corpus) repairs,
    where it used to say 索引已是最新 and change nothing."""
    corpus, source = two_generations
    index = tmp_path / "index"
    shutil.copytree(source, index)
    damaged = current_generation(index)
    assert damaged is not None
    DAMAGE[kind](damaged)
    settings = _settings(corpus, index)
    embeddings = load_embeddings(settings.embedder_config)
    kb = open_index(index, embeddings)
    assert kb.folder != damaged and damaged.name in kb.damaged
    assert "（旧版）" in plain_text(Assistant(settings, kb, embeddings).ask(QUESTION))
    kb.close()
    report = build_index(settings.build_config, embeddings, progress=False)
    assert not report.unchanged and report.repaired and "已修复损坏的索引" in report.summary()
    repaired = open_index(index, embeddings)
    assert not repaired.damaged and repaired.dense is not None
    text = plain_text(Assistant(settings, repaired, embeddings).ask(QUESTION))
    assert "（旧版）" not in text and FUND in text
    assert build_index(settings.build_config, embeddings, progress=False).unchanged


def test_leftovers_of_a_killed_build_go_with_the_next_build(two_generations: tuple[Path, Path],
                                                            tmp_path: Path) -> None:
    """A folder without a manifest (a build killed before publishing, or a publish killed while deleting) and a
    complete one sealed after the serving one (a build killed before its switch) are removed by the next build,
    also when the corpus is unchanged and nothing is published; before, a later compaction kept the never-served
    one as its fallback."""
    source_corpus, source = two_generations
    index = tmp_path / "index"
    shutil.copytree(source, index)
    before = {g.name for g in index.glob("gen-*")}
    leftover = index / "gen-20000101-000000-dead00"
    (leftover / "bm25").mkdir(parents=True)
    (leftover / "records.sqlite").write_bytes(b"SQLite format 3\0")
    corpus = tmp_path / "corpus"
    shutil.copytree(source_corpus, corpus)
    _retag(corpus, "（未发布）")
    settings = _settings(corpus, tmp_path / "elsewhere")
    embeddings = load_embeddings(settings.embedder_config)
    sealed = build_index(settings.build_config, embeddings, progress=False).generation
    shutil.copytree(tmp_path / "elsewhere" / sealed, index / sealed)
    # Its publish never began (or the index is older than the note publish writes): the order of sealing decides.
    (index / PUBLISHED).unlink()
    settings = _settings(source_corpus, index)
    assert build_index(settings.build_config, embeddings, progress=False).unchanged
    assert {g.name for g in index.glob("gen-*")} == before


def test_a_publish_killed_after_its_switch_is_finished_by_the_next_build(two_generations: tuple[Path, Path],
                                                                         tmp_path: Path) -> None:
    """A publish killed after the switch, before it deleted the generation older than its fallback, leaves that
    one on disk (4 GB at 1M clauses); the next build deletes it, also when nothing changed, unless a reader holds it."""
    source_corpus, source = two_generations
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(source_corpus, corpus)
    shutil.copytree(source, index)
    serving = current_generation(index)
    assert serving is not None
    oldest = next(g for g in index.glob("gen-*") if g != serving)
    settings = _settings(corpus, index)
    embeddings = load_embeddings(settings.embedder_config)
    _retag(corpus, "（新版）")
    report = build_index(settings.build_config, embeddings, progress=False)
    assert not oldest.exists()
    # The state a kill right after the switch leaves: the publish had not deleted the oldest generation yet.
    shutil.copytree(source / oldest.name, oldest)
    held = open_generation(oldest, embeddings)
    assert build_index(settings.build_config, embeddings, progress=False).unchanged
    assert oldest.exists() and FUND + "（旧版）" in plain_text(Assistant(settings, held, embeddings).ask(QUESTION))
    held.close()
    assert build_index(settings.build_config, embeddings, progress=False).unchanged
    assert {g.name for g in index.glob("gen-*")} == {serving.name, report.generation}


def _wait(condition: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.server
@pytest.mark.subprocess
def test_server_serves_the_fallback_and_a_cli_build_repairs_it(two_generations: tuple[Path, Path],
                                                                tmp_path: Path) -> None:
    """Over HTTP: /healthz says the index is damaged and how to repair it, answers come from the previous
    generation; `python -m qa build` repairs it and the running server switches without a restart."""
    corpus, source = two_generations
    index = tmp_path / "index"
    shutil.copytree(source, index)
    DAMAGE["records-appended"](current_generation(index))  # type: ignore[arg-type]
    settings = _settings(corpus, index, conversations_db=tmp_path / "c.sqlite", log_db=tmp_path / "q.sqlite")
    service = ready_service(settings)
    with serve_http(create_app(settings, service)) as url:
        health = httpx.get(f"{url}/healthz").json()
        assert health["status"] == "ok" and "已损坏" in health["detail"] and "qa build" in health["detail"]
        assert "（旧版）" in httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=30).json()["answer"]
        done = _cli_build(corpus, index)
        assert done.returncode == 0 and "已修复损坏的索引" in done.stdout, done.stderr[-2000:]
        assert _wait(lambda: httpx.get(f"{url}/healthz").json()["detail"] == "就绪")
        answer = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=30).json()["answer"]
        assert FUND in answer and "（旧版）" not in answer
    service.stop()


@pytest.mark.server
@pytest.mark.subprocess
def test_server_switches_to_a_cli_build_and_keeps_what_it_serves(two_generations: tuple[Path, Path],
                                                               tmp_path: Path) -> None:
    """Two CLI builds while a server runs: the server switches to the newest generation, and no generation a
    process has open (the server's, another reader's) is deleted under it."""
    corpus_source, source = two_generations
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(corpus_source, corpus)
    shutil.copytree(source, index)
    settings = _settings(corpus, index, conversations_db=tmp_path / "c.sqlite", log_db=tmp_path / "q.sqlite")
    service = ready_service(settings)
    first = service.serving().folder
    reader = open_index(index, None)  # another process's reader, holding its lease
    with serve_http(create_app(settings, service)) as url:
        for tag in ("（甲）", "（乙）"):
            _retag(corpus, tag)
            done = _cli_build(corpus, index)
            assert done.returncode == 0, done.stderr[-2000:]
            assert first.is_dir() and (first / "manifest.json").exists(), "a generation in use was deleted"
        newest = current_generation(index)
        assert newest is not None and newest != first
        assert _wait(lambda: service.serving().folder == newest)
        assert f"{FUND}（乙）" in httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=30).json()["answer"]
        assert reader.folder.is_dir() and Assistant(settings, reader, None).ask(QUESTION).answerable
    service.stop()
