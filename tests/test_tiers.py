"""The test tiers themselves: the fast tier's stub index is a real hybrid index, and its guards hold."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.embedding.e5_bundled import BundledE5Embeddings
from index.embedding.e5_onnx import OnnxE5Embeddings
from index.store import open_index
from qa.assistant import Assistant
from tests import conftest
from tests.conftest import serve_http
from tests.stubs import HashingEmbeddings


def test_stub_index_has_dense_vectors(stub_index: Path) -> None:
    """The stub index carries the stub's vectors: a chunk's own text finds that chunk first by dense search."""
    kb = open_index(stub_index, HashingEmbeddings())
    assert kb.dense is not None
    target = next(c for c in kb.chunks.values() if "紫金文化产业基金" in c.text)
    assert kb.dense.search(target.indexed_text, 1)[0][0] == target.chunk_id


def test_stub_assistant_fuses_dense_scores(stub_assistant: Assistant) -> None:
    """The stub assistant retrieves hybrid: dense scores reach the fused ranking, and it answers with a citation."""
    answer = stub_assistant.ask("江苏有哪些文化产业基金可以用？")
    assert any(s.dense != 0.0 for s in answer.retrieved)
    assert answer.answerable and any("紫金文化产业基金" in c.text for c in answer.citations)


def test_tests_of_the_e5_index_are_in_the_system_tier(request: pytest.FixtureRequest) -> None:
    """Every collected test that uses the e5 index carries e5 and system, so a fast run never builds that index."""
    using = [item for item in request.session.items if "bundled_index" in getattr(item, "fixturenames", ())]
    assert all(item.get_closest_marker("e5") and item.get_closest_marker("system") for item in using)


@pytest.fixture
def guarding(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Turn the guards on as a run of the fast tier does (a full run leaves them off)."""
    monkeypatch.setattr(conftest, "GUARDING", True)
    yield


@pytest.mark.usefixtures("guarding")
@pytest.mark.parametrize("embedder", [OnnxE5Embeddings, BundledE5Embeddings])
def test_unmarked_test_cannot_load_e5(embedder: type) -> None:
    """A test not marked e5 that loads e5 fails at once, naming the marker, rather than making the fast tier slow."""
    with pytest.raises(AssertionError, match=r"pytest\.mark\.e5"):
        embedder()


@pytest.mark.usefixtures("guarding")
def test_unmarked_test_cannot_start_a_program() -> None:
    """A test not marked subprocess that starts a child program fails at once, naming the marker."""
    with pytest.raises(AssertionError, match=r"pytest\.mark\.subprocess"):
        subprocess.run(["true"], check=False)


@pytest.mark.usefixtures("guarding")
def test_unmarked_test_cannot_serve() -> None:
    """A test not marked server that starts a server fails at once, naming the marker."""
    with pytest.raises(AssertionError, match=r"pytest\.mark\.server"), serve_http(object()):
        pass


@pytest.mark.server
@pytest.mark.usefixtures("guarding")
def test_marked_test_serves() -> None:
    """The guard lets a test marked server start one (the counterpart of the test above)."""
    with serve_http(object()) as url:
        assert url.startswith("http://127.0.0.1:")
