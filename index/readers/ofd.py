"""OFD (GB/T 33190, the national fixed-layout format) through ofdkit: page text in reading order."""

from __future__ import annotations

from index.errors import DocumentError
from index.readers.base import Extracted
from index.readers.packages import check_package


def read_ofd(data: bytes) -> Extracted:
    """Return an OFD file's text, one printed line per line, and its DocInfo title as a hint.

    Text drawn from page templates (running headers, letterheads repeated on every page) is left out; page numbers
    are dropped by cleaning like those of a PDF."""
    import ofdkit
    from ofdkit.errors import OFDError
    from ofdkit.layout import page_text

    check_package(data, "OFD")  # an OFD is a zip of XML, as a .docx is
    try:
        with ofdkit.open(data) as doc:
            pages = [page_text([run for run in page.runs if not run.from_template]) for page in doc.pages]
            title = (doc.info.title or "").strip()
    except OFDError as exc:
        raise DocumentError(f"不是有效的 OFD 文件（{exc}）") from exc
    except (ValueError, KeyError, OSError) as exc:
        raise DocumentError(f"不是有效的 OFD 文件（{exc.__class__.__name__}）") from exc
    text = "\n".join(pages)
    if len("".join(text.split())) < 20:
        raise DocumentError(f"OFD 共 {len(pages)} 页但没有文字（可能是扫描件）；请提供带文字的 OFD 或 PDF 版本")
    return Extracted(text, {"title": title} if title else {})
