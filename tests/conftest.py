"""Shared fixtures: the network stays off, caches live in tmp, built indexes of the bundled corpus; the test tiers.

Two tiers. The system tier is every test that needs the bundled e5, a child process, a server on 127.0.0.1,
Chromium or the wheel, or runs the OCR models (the markers in pyproject.toml; `system` is added here to each, `e5`
to every test that asks for the e5 index). The fast tier is the rest (`make test-fast`, `pytest -m "not system"`):
it builds its indexes with the hashing stub of tests/stubs.py. In a run of the fast tier, a test that loads e5,
starts a child program or serves HTTP fails and says which marker it lacks, so the fast tier stays fast."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from qa.service import Service
    from qa.settings import Settings
from tests.stubs import HashingEmbeddings

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "tests" / "data"
CORPUS = ROOT / "data" / "policies"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

# What puts a test in the system tier; each of these markers implies `system` (pyproject.toml declares them).
SYSTEM_MARKERS = ("e5", "ocr", "subprocess", "server", "browser", "wheel")
# A test whose fixtures include one of these opens the index built with the bundled e5.
E5_FIXTURES = frozenset({"bundled_index"})
# The test being run, so the guards below can tell which markers it carries.
_running: list[pytest.Item] = []
# The guards watch only a run of the fast tier: in a run with system tests, a server or loader thread a system test
# left running may start work while a fast test is the one running, and that is not the fast test's doing.
GUARDING = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests that use the e5 index `e5`, and every test with a system marker `system`."""
    for item in items:
        if E5_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e5)
        if any(item.get_closest_marker(name) for name in SYSTEM_MARKERS):
            item.add_marker(pytest.mark.system)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Turn the guards on when no test of the system tier was selected."""
    global GUARDING
    GUARDING = not any(item.get_closest_marker("system") for item in session.items)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Remember the running test (its setup, call and teardown) for the tier guards."""
    _running.append(item)
    try:
        yield
    finally:
        _running.pop()


def require_marker(name: str, what: str) -> None:
    """In a run of the fast tier, fail the running test when it does `what` (a system-tier thing) without the
    marker `name`."""
    if GUARDING and _running and not _running[-1].get_closest_marker(name):
        # AssertionError rather than pytest.fail: a loader thread reports an Exception in its status.
        raise AssertionError(f"{_running[-1].nodeid} {what} but is not marked @pytest.mark.{name} (system tier); "
                             "mark it, or use the stub_index / stub_assistant fixtures of the fast tier")


@pytest.fixture(scope="session", autouse=True)
def _system_work_only_when_marked() -> Iterator[None]:
    """Make loading the bundled e5 (either runtime) fail in a test not marked `e5`, and starting a child program
    (the CLI, a build process, LibreOffice) in one not marked `subprocess`."""
    import subprocess

    from index.embedding.e5_bundled import BundledE5Embeddings
    from index.embedding.e5_onnx import OnnxE5Embeddings

    def guarded(init: Callable[..., None]) -> Callable[..., None]:
        def __init__(self: object, *args: object, **kwargs: object) -> None:
            require_marker("e5", f"loads the bundled e5 ({type(self).__name__})")
            init(self, *args, **kwargs)
        return __init__

    def popen(init: Callable[..., None]) -> Callable[..., None]:
        def __init__(self: object, args: object, *rest: object, **kwargs: object) -> None:
            require_marker("subprocess", f"starts a child program ({args!r:.80})")
            init(self, args, *rest, **kwargs)
        return __init__

    with pytest.MonkeyPatch.context() as mp:
        for cls in (BundledE5Embeddings, OnnxE5Embeddings):
            mp.setattr(cls, "__init__", guarded(cls.__init__))
        mp.setattr(subprocess.Popen, "__init__", popen(subprocess.Popen.__init__))
        yield


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
def stub_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return an index folder of the bundled corpus with dense vectors from the hashing stub (built in seconds)."""
    from index.build import build_index
    from qa.settings import Settings

    folder = tmp_path_factory.mktemp("stub-index")
    build_index(Settings(corpus_dir=CORPUS, index_dir=folder).build_config, HashingEmbeddings(), progress=False)
    return folder


@pytest.fixture(scope="session")
def stub_assistant(stub_index: Path):
    """Return an assistant over the stub index: hybrid retrieval with the stub's dense scores, no e5."""
    from index.store import open_index
    from qa.assistant import Assistant
    from qa.settings import Settings

    embedder = HashingEmbeddings()
    settings = Settings(corpus_dir=CORPUS, index_dir=stub_index)
    return Assistant(settings, open_index(stub_index, embedder), embedder)


@pytest.fixture(scope="session")
def assistant(bundled_index: Path):
    """Return an assistant over the bundled corpus index."""
    from qa.service.loader import open_assistant
    from qa.settings import Settings

    return open_assistant(Settings(corpus_dir=CORPUS, index_dir=bundled_index), build_if_missing=False)


@contextmanager
def serve_http(app: object, **options: object) -> Iterator[str]:
    """Run an ASGI app with uvicorn on 127.0.0.1 (a free port) in a thread; yield its base URL.

    `options` go to uvicorn.Config (e.g. the production protocol from qa.surfaces.http.serving)."""
    import socket
    import threading
    import time

    import uvicorn

    require_marker("server", "serves HTTP")
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


def ready_service(settings: Settings) -> Service:
    """Return a service that has finished opening the index (in the background, as a server does)."""
    from qa.service import Service

    service = Service(settings).start()
    assert service.wait(120), service.status
    return service


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
