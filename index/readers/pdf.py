"""PDF: pypdf's text layer page by page, OCR for the pages that are scans, ruled tables as header rows."""

from __future__ import annotations

import hashlib
import io
import logging
from typing import Any

import numpy as np

from index.errors import DocumentError
from index.readers import ocr
from index.readers.base import Extracted, ReadContext
from index.records import TextTable

log = logging.getLogger(__name__)
MIN_TEXT_CHARS = 20  # a page with fewer non-space characters in its text layer is checked for a scanned image
MIN_IMAGE_COVER = 0.25  # share of the page an image must cover for the page to be a scan
MIN_PATHS = 4  # drawn paths on a page before it is worth looking for a ruled table


def _page_texts(data: bytes) -> list[str]:
    """Return pypdf's text of each page; raise DocumentError for an encrypted or broken file."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("PDF 已加密，无法读取；请提供未加密的版本")
        return [page.extract_text() or "" for page in reader.pages]
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise DocumentError(f"不是有效的 PDF 文件（{exc.__class__.__name__}）") from exc


def _image_cover(page: Any) -> float:
    """Return the share of a pdfium page that its images cover."""
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    covered = 0.0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
        left, bottom, right, top = obj.get_bounds()
        covered += max(0.0, right - left) * max(0.0, top - bottom)
    return covered / max(1.0, width * height)


def _paths(page: Any) -> int:
    import pypdfium2.raw as pdfium_c

    return sum(1 for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=2))


def _render(page: Any) -> np.ndarray:
    # rev_byteorder: RGB, not pdfium's native BGR; the seal detector must know which channel is red.
    bitmap = page.render(scale=ocr.DPI / 72, rev_byteorder=True)
    return np.ascontiguousarray(bitmap.to_numpy()[..., :3])


def _recognise(pdf: Any, pages: list[int], context: ReadContext) -> list[ocr.PageText]:
    """Return the recognised text of the given pages, reporting each page to the context as it is done."""
    found: list[tuple[list[ocr.Line], float]] = []
    for done, index in enumerate(pages, 1):
        page = pdf[index]
        try:
            rgb = _render(page)
        finally:
            page.close()
        found.append((ocr.recognise(rgb), float(rgb.shape[0])))
        context.on_page(done, len(pages))
    kept = ocr.drop_margins(found)
    return [ocr.PageText(index, "\n".join(line.text for line in lines), round(ocr.page_score(all_lines), 4))
            for index, lines, (all_lines, _) in zip(pages, kept, found, strict=True)]


def _ocr_pages(pdf: Any, data: bytes, scanned: list[int], context: ReadContext) -> list[ocr.PageText]:
    """Return the scanned pages' text from the cache, or recognised now and cached."""
    file_hash = hashlib.sha256(data).hexdigest()
    cached = context.ocr_cache.get(file_hash) if context.ocr_cache is not None else None
    if cached is not None and [p.page for p in cached] == scanned:
        return cached
    recognised = _recognise(pdf, scanned, context)
    if context.ocr_cache is not None:
        context.ocr_cache.put(file_hash, recognised)
    return recognised


def read_pdf(data: bytes, context: ReadContext) -> Extracted:
    """Return a PDF's text: the text layer where there is one, OCR for scanned pages, ruled tables as rows."""
    import pypdfium2 as pdfium

    texts = _page_texts(data)
    thin = [i for i, t in enumerate(texts) if len("".join(t.split())) < MIN_TEXT_CHARS]
    scanned: list[int] = []
    ruled: list[int] = []
    recognised: list[ocr.PageText] = []
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        # pypdf read it; pdfium is only needed for scans and tables.
        if len(thin) == len(texts):
            raise DocumentError(f"不是有效的 PDF 文件（{exc}）") from exc
        pdf = None
    if pdf is not None:
        try:
            for i in range(len(pdf)):
                page = pdf[i]
                try:
                    if i in thin and _image_cover(page) >= MIN_IMAGE_COVER:
                        scanned.append(i)
                    elif i not in thin and _paths(page) >= MIN_PATHS:
                        ruled.append(i)
                finally:
                    page.close()
            if scanned:
                recognised = _ocr_pages(pdf, data, scanned, context)
        finally:
            pdf.close()
    for p in recognised:
        texts[p.page] = p.text
    tables: list[TextTable] = []
    if ruled:
        from index.readers.pdf_tables import pages_with_tables

        try:
            with_tables = pages_with_tables(data, ruled)
        except Exception as exc:  # pdfminer raises many types; the text layer is still good
            log.warning("PDF 表格识别失败（%s），按普通文字读取", exc.__class__.__name__)
            with_tables = {}
        for index, (text, found) in with_tables.items():
            texts[index] = text
            tables += found
    text = "\n".join(texts)
    if len("".join(text.split())) < MIN_TEXT_CHARS:
        what = "OCR 也未识别出文字" if scanned else "页面上也没有可供 OCR 识别的扫描图像"
        raise DocumentError(f"PDF 共 {len(texts)} 页但没有文字层，{what}")
    low = tuple((p.page + 1, p.score) for p in recognised if p.score < ocr.LOW_CONFIDENCE)
    return Extracted(text, tables=tuple(tables), ocr_pages=tuple(p.page + 1 for p in recognised), low_confidence=low)
