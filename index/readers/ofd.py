"""OFD (GB/T 33190, the national fixed-layout format) through ofdkit: page text in reading order, within limits
on the pages an OFD may list and the text it may give."""

from __future__ import annotations

from typing import Any

from index.config import DocumentLimits
from index.errors import DocumentError
from index.readers.base import Extracted, FileHints
from index.readers.packages import check_package

# An OFD holds one document (DocBody) as a rule; each may name the same Document.xml, multiplying its pages.
MAX_BODIES = 16
DEFAULT_LIMITS = DocumentLimits()


def _named(element: Any, name: str) -> list[Any]:
    """Return the children of an element with this local name (OFD producers use several namespaces)."""
    return [e for e in element if isinstance(e.tag, str) and e.tag.rsplit("}", 1)[-1] == name]


def _check_pages(data: bytes, max_pages: int) -> None:
    """Raise DocumentError when the OFD lists more bodies or pages than allowed, from its page lists alone: ofdkit
    makes an object per listed page, and 7.7 KB naming one page 2,000,000 times took 39 s and 700 MB."""
    from ofdkit.package import Package

    with Package(data) as package:
        entry = package.find("OFD.xml")
        if entry is None:
            return  # not an OFD: ofdkit says so
        bodies = _named(package.read_xml(entry), "DocBody")
        if len(bodies) > MAX_BODIES:
            raise DocumentError(f"OFD 含 {len(bodies)} 个文档，超过上限 {MAX_BODIES} 个；请拆分文件或转为 PDF")
        pages = 0
        for body in bodies:
            roots = _named(body, "DocRoot")
            document = package.resolve(entry, (roots[0].text or "").strip() if roots else None)
            if document is None:
                continue
            pages += sum(len(_named(holder, "Page")) for holder in _named(package.read_xml(document), "Pages"))
            if pages > max_pages:
                raise DocumentError(f"OFD 列出 {pages} 页，超过上限 {max_pages} 页（QA_OFD_MAX_PAGES）；"
                                    "请拆分文件，或调高上限")


def read_ofd(data: bytes, limits: DocumentLimits = DEFAULT_LIMITS) -> Extracted:
    """Return an OFD file's text, one printed line per line, and its DocInfo title as a hint.

    Text drawn from page templates (running headers, letterheads repeated on every page) is left out; page numbers
    are dropped by cleaning like those of a PDF. Pages past `limits.ofd_chars` characters are left out, noted."""
    import ofdkit
    from ofdkit.errors import OFDError
    from ofdkit.layout import page_text

    check_package(data, "OFD")  # an OFD is a zip of XML, as a .docx is
    notes: list[str] = []
    try:
        _check_pages(data, limits.ofd_pages)
        with ofdkit.open(data) as doc:
            pages: list[str] = []
            chars = 0
            for number, page in enumerate(doc.pages, 1):
                text = page_text([run for run in page.runs if not run.from_template])
                chars += len(text)
                if chars > limits.ofd_chars:
                    notes.append(f"OFD 文字超过上限 {limits.ofd_chars} 字（QA_OFD_MAX_CHARS），第 {number} 页起"
                                 f"（共 {len(doc.pages)} 页）未读取；请拆分文件，或调高上限")
                    break
                pages.append(text)
            title = (doc.info.title or "").strip()
    except OFDError as exc:
        raise DocumentError(f"不是有效的 OFD 文件（{exc}）") from exc
    except (ValueError, KeyError, OSError) as exc:
        raise DocumentError(f"不是有效的 OFD 文件（{exc.__class__.__name__}）") from exc
    text = "\n".join(pages)
    if len("".join(text.split())) < 20:
        empty = f"OFD 共 {len(pages)} 页但没有文字（可能是扫描件）；请提供带文字的 OFD 或 PDF 版本"
        raise DocumentError("；".join([empty, *notes]))
    return Extracted(text, FileHints(title=title), notes=tuple(notes))
