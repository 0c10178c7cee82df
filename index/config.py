"""What ingestion needs to know, as small records: the caller (qa's settings) builds them at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
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
class DocumentLimits:
    """How much one file may cost a build, so that a small hostile file cannot take the machine; what a limit
    cuts short is reported in the build summary with the value, the limit and the setting to change."""

    # A page rendered for OCR is scaled down to this many pixels (A4 at 200 dpi is 3.9 million, A3 7.8 million):
    # a 1.7 KB PDF declaring one 7200 x 7200 pt page cost 5 GB at 200 dpi.
    ocr_page_pixels: int = 12_000_000
    ocr_pages: int = 300  # scanned pages recognised per file
    # OCR time per file in one build; the pages done are cached, so the next build goes on from there.
    ocr_seconds: float = 600.0
    # Pages an OFD may list (each listed page is an object, however many times the same page is named), and the
    # characters read from it; the pages past that are left out.
    ofd_pages: int = 2_000
    ofd_chars: int = 5_000_000
    # Bytes inflated from one uploaded .zip, nested zips included (each used to get a budget of its own).
    bundle_bytes: int = 512 * 1024 * 1024
    # Wall-clock seconds to read one file's text (a PDF gets ocr_seconds more for its scanned pages) and to parse
    # it (clause tree, chunks, search tokens): a file past either is skipped and named in the build summary.
    read_seconds: float = 300.0
    parse_seconds: float = 300.0


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
    limits: DocumentLimits = field(default_factory=DocumentLimits)
