"""The static embedding table: the embedder contract, its segmentation, and its choice from settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from index.embedding import PolicyEmbeddings, load_embeddings
from index.embedding.static_table import TABLE, StaticTableEmbeddings
from index.errors import EmbedderUnavailable
from qa.settings import Settings
from tests.index.test_embedding import EmbedderContract


class TestStaticTable(EmbedderContract):
    """The table distilled from the bundled e5 and shipped in the repository."""

    @pytest.fixture(scope="class")
    def factory(self) -> Callable[[], PolicyEmbeddings]:
        """Return the static table constructor."""
        return StaticTableEmbeddings

    def test_table_is_small_and_half_precision(self) -> None:
        """The shipped table is float16 and well under 50 MB."""
        assert np.load(TABLE, mmap_mode="r").dtype == np.float16
        assert TABLE.stat().st_size < 30 * 2**20

    def test_longest_known_word_wins(self, embedder: StaticTableEmbeddings) -> None:
        """Segmentation takes the longest word in the table, so 文化产业 is one word, not 文化 + 产业."""
        rows = embedder.words("文化产业")
        assert len(rows) == 1

    def test_unknown_text_still_gets_a_unit_vector(self, embedder: StaticTableEmbeddings) -> None:
        """Text with no word in the table (punctuation only) gets a unit vector, never NaN."""
        (vector,) = embedder.embed_documents(["！？……"])
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-3)


def test_settings_select_the_static_backend() -> None:
    """QA_EMBEDDING_BACKEND=static loads the table."""
    assert isinstance(load_embeddings(Settings(embedding_backend="static").embedder_config), StaticTableEmbeddings)


def test_missing_table_is_an_unavailable_embedder(tmp_path: Path) -> None:
    """A missing table raises EmbedderUnavailable naming the command that makes it."""
    with pytest.raises(EmbedderUnavailable, match="distill_static"):
        StaticTableEmbeddings(tmp_path / "none.npy", tmp_path / "none.tsv")
