"""The embedder interface and the choice of backend from settings."""

from __future__ import annotations

import logging
from abc import abstractmethod

from langchain_core.embeddings import Embeddings

from qa.errors import EmbedderUnavailable
from qa.settings import Settings

log = logging.getLogger(__name__)


class PolicyEmbeddings(Embeddings):
    """A langchain Embeddings with a stable model id, so cached vectors never mix models."""

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Return an id naming the model and its settings."""


def _backend(settings: Settings) -> str:
    """Return the backend to use: an explicit choice, or sentence-transformers when a model is named."""
    if settings.embedding_backend != "auto":
        return settings.embedding_backend
    return "sentence-transformers" if settings.embedding_model else "e5"


def load_embeddings(settings: Settings) -> PolicyEmbeddings | None:
    """Return the configured embedder, or None (lexical-only retrieval) with one warning when it cannot load."""
    backend = _backend(settings)
    if backend == "none":
        return None
    try:
        if backend == "sentence-transformers":
            from index.embedding.sentence_transformers import SentenceTransformerEmbeddings

            return SentenceTransformerEmbeddings(settings.embedding_model, settings.embedding_batch_size)
        if backend == "static":
            from index.embedding.static_table import StaticTableEmbeddings

            return StaticTableEmbeddings()
        from index.embedding.e5_bundled import BundledE5Embeddings

        return BundledE5Embeddings(settings.embedding_batch_size)
    except EmbedderUnavailable as exc:
        log.warning("向量检索不可用，仅使用关键词检索：%s", exc)
        return None
