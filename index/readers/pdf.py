"""PDF: pypdf's text layer page by page, OCR for the pages that are scans, ruled tables as header rows."""

from __future__ import annotations

import hashlib
import io
import logging
import math
import time
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


def _scale(page: Any, number: int, max_pixels: int) -> tuple[float, str]:
    """Return the scale a page is rendered at for OCR (DPI, or less so that it has at most `max_pixels`), and the
    note for the build summary when it had to be scaled down."""
    width, height = (max(1.0, float(side)) for side in page.get_size())
    full = ocr.DPI / 72
    pixels = width * height * full * full
    if pixels <= max_pixels:
        return full, ""
    scale = full * math.sqrt(max_pixels / pixels)
    return scale, (f"第 {number} 页 {width:.0f}×{height:.0f} 磅，按 {ocr.DPI} dpi 识别需 {pixels / 1e4:.0f} 万像素，"
                   f"超过上限 {max_pixels / 1e4:g} 万像素（QA_OCR_MAX_PAGE_PIXELS），已缩小到 {scale * 72:.0f} dpi "
                   "识别，小字可能识别不全；请提供正常纸张大小的文件，或调高上限")


def _render(page: Any, scale: float) -> np.ndarray:
    # rev_byteorder: RGB, not pdfium's native BGR; the seal detector must know which channel is red.
    bitmap = page.render(scale=scale, rev_byteorder=True)
    return np.ascontiguousarray(bitmap.to_numpy()[..., :3])


def _recognise(pdf: Any, pages: dict[int, float], context: ReadContext) -> list[ocr.PageText]:
    """Return the recognised text of the given pages (index -> render scale) that fit in the file's OCR time,
    reporting each page to the context as it is done."""
    deadline = time.monotonic() + context.limits.ocr_seconds
    found: list[tuple[list[ocr.Line], float]] = []
    for done, (index, scale) in enumerate(pages.items(), 1):
        if time.monotonic() >= deadline:
            break
        page = pdf[index]
        try:
            rgb = _render(page, scale)
        finally:
            page.close()
        found.append((ocr.recognise(rgb), float(rgb.shape[0])))
        context.on_page(done, len(pages))
    kept = ocr.drop_margins(found)
    return [ocr.PageText(index, "\n".join(line.text for line in lines), round(ocr.page_score(all_lines), 4))
            for index, lines, (all_lines, _) in zip(pages, kept, found, strict=False)]


def _ocr_pages(pdf: Any, data: bytes, scanned: dict[int, float], context: ReadContext) -> list[ocr.PageText]:
    """Return the scanned pages' text: from the cache, the rest recognised now (as many as the file's OCR time
    allows) and cached, so a build stopped by the time limit is continued by the next one."""
    file_hash = hashlib.sha256(data).hexdigest()
    cached = context.ocr_cache.get(file_hash) if context.ocr_cache is not None else None
    have = {p.page: p for p in cached or [] if p.page in scanned}
    todo = {index: scale for index, scale in scanned.items() if index not in have}
    if todo:
        recognised = _recognise(pdf, todo, context)
        have.update((p.page, p) for p in recognised)
        if recognised and context.ocr_cache is not None:
            context.ocr_cache.put(file_hash, sorted(have.values(), key=lambda p: p.page))
    return sorted(have.values(), key=lambda p: p.page)


def _pages(numbers: list[int]) -> str:
    """Return 1-based page numbers for a message: "第 3 页", "第 3–7 页" or "第 3、5 页等 9 页"."""
    if len(numbers) == 1:
        return f"第 {numbers[0]} 页"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"第 {numbers[0]}–{numbers[-1]} 页"
    return f"第 {numbers[0]}、{numbers[1]} 页等 {len(numbers)} 页"


def read_pdf(data: bytes, context: ReadContext) -> Extracted:
    """Return a PDF's text: the text layer where there is one, OCR for scanned pages, ruled tables as rows."""
    import pypdfium2 as pdfium

    limits = context.limits
    texts = _page_texts(data)
    thin = [i for i, t in enumerate(texts) if len("".join(t.split())) < MIN_TEXT_CHARS]
    scanned: dict[int, float] = {}  # page index -> render scale
    notes: list[str] = []
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
                        scanned[i], note = _scale(page, i + 1, limits.ocr_page_pixels)
                        notes += [note] if note and len(scanned) <= limits.ocr_pages else []
                    elif i not in thin and _paths(page) >= MIN_PATHS:
                        ruled.append(i)
                finally:
                    page.close()
            if len(scanned) > limits.ocr_pages:
                over = list(scanned)[limits.ocr_pages:]
                notes.append(f"扫描页共 {len(scanned)} 页，超过上限 {limits.ocr_pages} 页（QA_OCR_MAX_PAGES），"
                             f"{_pages([i + 1 for i in over])}未识别；请拆分文件，或调高上限")
                scanned = dict(list(scanned.items())[:limits.ocr_pages])
            if scanned:
                recognised = _ocr_pages(pdf, data, scanned, context)
                if missing := [i + 1 for i in scanned if i not in {p.page for p in recognised}]:
                    notes.append(f"识别扫描页用时达到上限 {limits.ocr_seconds:g} 秒（QA_OCR_MAX_SECONDS），"
                                 f"{_pages(missing)}未识别；下次建立索引时接着识别，或调高上限")
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
        raise DocumentError("；".join([f"PDF 共 {len(texts)} 页但没有文字层，{what}", *notes]))
    low = tuple((p.page + 1, p.score) for p in recognised if p.score < ocr.LOW_CONFIDENCE)
    return Extracted(text, tables=tuple(tables), ocr_pages=tuple(p.page + 1 for p in recognised), low_confidence=low,
                     notes=tuple(notes))
