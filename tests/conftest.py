"""Shared fixtures: the network stays off, caches live in tmp, one built index of the bundled corpus."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "policies"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture(scope="session", autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point model caches and SQLite stores at a temp folder; drop QA_* settings from the developer's shell.

    Session-scoped so module-scoped servers start inside it too."""
    with pytest.MonkeyPatch.context() as mp:
        base = tmp_path_factory.getbasetemp()
        mp.setenv("HF_HOME", str(base / "hf-cache"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        for key in list(os.environ):
            if key.startswith("QA_") and not key.startswith("QA_TEST_"):
                mp.delenv(key)
        # SQLite stores default to data/ in the checkout; tests write theirs to the temp folder.
        for name in ("LOG_DB", "FEEDBACK_DB", "CONVERSATIONS_DB"):
            mp.setenv(f"QA_{name}", str(base / "stores" / f"{name.lower()}.sqlite"))
        yield


@pytest.fixture(scope="session")
def bundled_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return an index folder of the bundled corpus, built once with the bundled e5 embedder."""
    from index.build import build_index
    from index.embedding import load_embeddings
    from qa.settings import Settings

    folder = tmp_path_factory.mktemp("index")
    settings = Settings(corpus_dir=CORPUS, index_dir=folder)
    build_index(settings.build_config, load_embeddings(settings.embedder_config), progress=False)
    return folder


@pytest.fixture(scope="module")
def lexical_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return an index of the bundled corpus built lexical-only (cheap to build and open), one per test module."""
    from index.build import build_index
    from index.embedding import load_embeddings
    from qa.settings import Settings

    folder = tmp_path_factory.mktemp("lexical-index")
    settings = Settings(corpus_dir=CORPUS, index_dir=folder, embedding_backend="none")
    build_index(settings.build_config, load_embeddings(settings.embedder_config), progress=False)
    return folder


@pytest.fixture(scope="session")
def assistant(bundled_index: Path):
    """Return an assistant over the bundled corpus index."""
    from qa.assistant import Assistant
    from qa.settings import Settings

    return Assistant.open(Settings(corpus_dir=CORPUS, index_dir=bundled_index), build_if_missing=False)


@contextmanager
def serve_http(app: object, **options: object) -> Iterator[str]:
    """Run an ASGI app with uvicorn on 127.0.0.1 (a free port) in a thread; yield its base URL.

    `options` go to uvicorn.Config (e.g. the production protocol from qa.server.serving)."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",  # type: ignore[arg-type]
                                           **options))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def ready_loader(settings: object) -> object:
    """Return an AssistantLoader that has finished opening the index."""
    from qa.server.loader import AssistantLoader

    loader = AssistantLoader(settings).start()  # type: ignore[arg-type]
    loader.wait(120)
    assert loader.ready, loader.status
    return loader


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Return the URL of a PostgreSQL 18 with pgvector started for this session (tests/postgres.py), stopped at
    the end; skip when it cannot start here, except in CI, where `make test` installs it and a skip would hide that."""
    from tests.postgres import ServerUnavailable, running_server

    with ExitStack() as stack:
        try:
            url = stack.enter_context(running_server()).url
        except ServerUnavailable as exc:
            if os.environ.get("CI"):
                raise
            pytest.skip(f"无法启动测试用的 PostgreSQL：{exc}")
        yield url
