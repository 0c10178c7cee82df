"""What a reader returns, and what the loader lends it for slow work (the OCR and conversion caches, page
progress, limits)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from index.config import DocumentLimits
from index.records import TextTable

if TYPE_CHECKING:
    from index.readers.legacy import ConversionCache
    from index.readers.ocr import OcrCache


@dataclass(frozen=True)
class FileHints:
    """What a file says of itself, a guess a sidecar overrides: its title (an HTML <title>, OFD DocInfo) and the
    address it was published at (a saved page's canonical link); "" when it says nothing."""

    title: str = ""
    url: str = ""


@dataclass(frozen=True)
class Extracted:
    """A file's text layer (one printed line or paragraph per line), its tables, and what the file says of itself."""

    text: str
    hints: FileHints = FileHints()
    tables: tuple[TextTable, ...] = ()
    ocr_pages: tuple[int, ...] = ()  # 1-based pages whose text was recognised from an image
    low_confidence: tuple[tuple[int, float], ...] = ()  # (page, mean score) of OCR pages read with doubt
    notes: tuple[str, ...] = ()  # what a limit cut short, for the build summary (请核对)


@dataclass(frozen=True)
class ReadContext:
    """What a build lends the readers: where OCR results and conversions are kept, whom to tell about each page,
    and what one file may cost."""

    ocr_cache: OcrCache | None = None
    # on_page(done, total): called after each page recognised (not for pages the OCR cache already holds).
    on_page: Callable[[int, int], None] = lambda done, total: None
    # A .doc/.wps conversion that takes longer than this is abandoned (a hung LibreOffice must not stall a build).
    convert_timeout: float = 120.0
    conversions: ConversionCache | None = None  # what .doc/.wps files were read as, by file hash
    limits: DocumentLimits = field(default_factory=DocumentLimits)


DEFAULT_CONTEXT = ReadContext()
