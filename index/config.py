"""What ingestion needs to know, as small records: the caller (qa's settings) builds them at the edge."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

EmbeddingBackend = Literal["auto", "e5", "e5-onnx", "e5-onnx-fp32", "sentence-transformers", "static", "none"]


@dataclass(frozen=True)
class EmbedderConfig:
    """Which embedder to load: a backend name, a local model path for sentence-transformers, the batch size, and
    where a backend keeps the models it derives (the index folder's models/, like its other caches)."""

    backend: EmbeddingBackend = "auto"
    model: str = ""
    batch_size: int = 16
    cache_dir: Path | None = None


@dataclass(frozen=True)
class BuildConfig:
    """Where the documents are, where index generations go, and the limits of a build."""

    corpus_dir: Path
    index_dir: Path
    chunk_chars: int = 480
    max_document_bytes: int = 20_000_000
    embedding_batch_size: int = 16
    # A Chroma server (e.g. http://127.0.0.1:8000) shared by several app processes; empty: embedded store.
    chroma_url: str = ""
