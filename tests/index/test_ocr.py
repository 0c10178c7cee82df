"""Scanned and mixed PDFs read by offline OCR: real page images of policy text, recognised by rapidocr."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from index.build import build_index
from index.config import BuildConfig, DocumentLimits
from index.errors import DocumentError
from index.loading import load_file
from index.parsed import parse_documents
from index.readers import ocr
from index.readers.base import ReadContext
from index.readers.ocr import OcrCache
from index.store import open_index
from qa.render.markdown import clause_panel_html
from tests.pdfs import text_pdf
from tests.system import needs_cjk_fonts

pytestmark = [needs_cjk_fonts, pytest.mark.ocr]
MAX = 10_000_000
TITLE = "广东省文化和科技融合示范基地奖励办法"
PARAGRAPHS = [
    "第一条　为促进文化和科技深度融合，推动文化产业高质量发展，根据有关规定，结合本省实际，制定本办法。",
    "第二条　对新认定的省级文化和科技融合示范基地，省财政给予一次性奖励200万元，用于平台建设和人才培养。",
    "第三条　本办法由省科学技术厅负责解释，自印发之日起施行，有效期五年。",
]
SIGNATURE = ("广东省科学技术厅", "2021年6月1日")


@pytest.fixture(scope="module")
def scan() -> tuple[bytes, str]:
    """Return a one-page scan (tilted, blurred, JPEG, a red seal over the signature) and the text printed on it."""
    from tests.scans import scanned_pdf

    data, truth = scanned_pdf(PARAGRAPHS, title=TITLE, signature=SIGNATURE, seal="广东省科学技术厅")
    return data, truth[0]


@pytest.fixture(scope="module")
def read_once(scan: tuple[bytes, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Return the scan read once with an OCR cache, the pages reported, and the cache's path."""
    folder = tmp_path_factory.mktemp("scan")
    (folder / "scan.pdf").write_bytes(scan[0])
    pages: list[tuple[int, int]] = []
    with OcrCache(folder / "ocr_cache.sqlite") as cache:
        source = load_file(folder / "scan.pdf", MAX, ReadContext(cache, lambda d, t: pages.append((d, t))))
    return {"source": source, "pages": pages, "folder": folder}


def test_scanned_page_is_read_in_order_without_seal_or_page_number(scan: tuple[bytes, str],
                                                                   read_once: dict[str, object]) -> None:
    """A scanned page reads as its printed text: accurate, in order, the seal's ring and the page number left out."""
    from tests.scans import char_accuracy

    source = read_once["source"]
    assert source.fmt == "pdf" and source.ocr_pages == (1,) and source.low_confidence == ()  # type: ignore[attr-defined]
    text: str = source.text  # type: ignore[attr-defined]
    assert char_accuracy(text, scan[1]) > 0.97, text
    assert text.index("第一条") < text.index("第二条") < text.index("第三条")
    assert "— 1 —" not in text and "-1-" not in text
    # The signature once; the seal's ring repeats the same name and must not be read as text.
    assert text.count("广东省科学技术厅") == 1, text
    assert read_once["pages"] == [(1, 1)]


def test_recognised_text_keeps_the_clause_tree(read_once: dict[str, object]) -> None:
    """OCR drops the space after 第X条; restoring it keeps the articles as clauses, with the figures intact."""
    doc, clauses = parse_documents("scan", read_once["source"])[0]  # type: ignore[arg-type]
    labels = {c.label: c.text for c in clauses}
    assert {"第一条", "第二条", "第三条"} <= set(labels), labels
    assert "一次性奖励200万元" in labels["第二条"]
    assert doc.title == TITLE and doc.ocr_pages == (1,)


def test_cached_result_is_used_without_recognising_again(read_once: dict[str, object],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A second read of the same file takes the cached pages: no rendering, no OCR, no page progress."""
    def refuse(_: object) -> list[ocr.Line]:
        raise AssertionError("OCR ran again on a cached file")

    monkeypatch.setattr(ocr, "recognise", refuse)
    folder: Path = read_once["folder"]  # type: ignore[assignment]
    pages: list[tuple[int, int]] = []
    with OcrCache(folder / "ocr_cache.sqlite") as cache:
        again = load_file(folder / "scan.pdf", MAX, ReadContext(cache, lambda d, t: pages.append((d, t))))
    assert again.text == read_once["source"].text and again.ocr_pages == (1,)  # type: ignore[attr-defined]
    assert pages == []


def test_mixed_pdf_recognises_only_its_scanned_page(scan: tuple[bytes, str], tmp_path: Path) -> None:
    """A PDF with a text page and a scanned page keeps the text layer and recognises only the scan."""
    writer = PdfWriter()
    for part in (text_pdf([["关于印发示范基地奖励办法的通知", "现将奖励办法印发给你们，请认真贯彻执行。"]]), scan[0]):
        for page in PdfReader(io.BytesIO(part)).pages:
            writer.add_page(page)
    buf = io.BytesIO()
    writer.write(buf)
    (tmp_path / "mixed.pdf").write_bytes(buf.getvalue())
    source = load_file(tmp_path / "mixed.pdf", MAX)
    assert source.ocr_pages == (2,)
    assert "现将奖励办法印发给你们，请认真贯彻执行。" in source.text
    assert source.text.index("印发给你们") < source.text.index("一次性奖励200万元")


def test_build_reports_pages_flags_doubtful_ones_and_never_recognises_twice(scan: tuple[bytes, str],
                                                                             tmp_path: Path) -> None:
    """A build shows OCR progress page by page, lists low-confidence pages for checking, keeps the OCR results
    beside the parse cache, and a rebuild recognises nothing again; the viewer says the text came from a scan."""
    from tests.scans import Scan, scanned_pdf

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "scan.pdf").write_bytes(scan[0])
    # A hopeless copy: 100 dpi, heavy blur and JPEG artefacts.
    bad, _ = scanned_pdf(PARAGRAPHS, Scan(dpi=100, blur=2.5, jpeg_quality=20, rotate=3.0), title=TITLE)
    (corpus / "bad.pdf").write_bytes(bad)
    stages: list[tuple[str, int, int]] = []
    report = build_index(BuildConfig(corpus, index), None, progress=False,
                         on_progress=lambda stage, done, total: stages.append((stage, done, total)))
    assert ("识别扫描件 scan.pdf", 1, 1) in stages and ("识别扫描件 bad.pdf", 1, 1) in stages
    assert report.ocr_pages == 2 and (index / "ocr_cache.sqlite").exists()
    assert [path for path, _ in report.notes] == ["bad.pdf"], report.summary()
    assert "bad.pdf" in report.summary() and "第 1 页" in report.summary() and "置信度" in report.summary()
    assert not report.skipped

    (corpus / "notice.txt").write_text("一、总体要求\n（一）加强组织领导。", encoding="utf-8")
    again = build_index(BuildConfig(corpus, index), None, progress=False)
    assert again.ocr_pages == 0 and again.documents == 3
    assert [path for path, _ in again.notes] == ["bad.pdf"]

    kb = open_index(index, None)
    doc = kb.docs["scan"]
    clause = next(c for c in kb.clauses_of("scan") if c.label == "第二条")
    assert doc.ocr_pages == (1,)
    assert "扫描件识别" in clause_panel_html(clause, doc)
    assert "扫描件识别" not in clause_panel_html(kb.clauses_of("notice")[0], kb.docs["notice"])



def test_a_scan_without_text_is_skipped_once_and_not_recognised_again(tmp_path: Path) -> None:
    """A scanned page OCR finds nothing on is reported and skipped; its empty result is kept, so a rebuild does
    not spend seconds recognising it again."""
    from PIL import Image, ImageDraw

    from tests.scans import images_pdf

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    page = Image.new("RGB", (1240, 1754), "white")
    ImageDraw.Draw(page).rectangle((100, 100, 300, 300), outline="black", width=4)
    (corpus / "blank.pdf").write_bytes(images_pdf([page], 150))
    (corpus / "notice.txt").write_text("一、总体要求\n（一）加强组织领导。", encoding="utf-8")
    first = build_index(BuildConfig(corpus, index), None, progress=False)
    assert first.ocr_pages == 1 and first.documents == 1
    assert first.skipped == [("blank.pdf", "PDF 共 1 页但没有文字层，OCR 也未识别出文字")]
    again = build_index(BuildConfig(corpus, index), None, progress=False)
    assert again.ocr_pages == 0 and again.skipped == first.skipped


PROBE = """
import numpy as np
from index.readers import ocr
from tests.conftest import ROOT
ocr.recognise(np.full((400, 600, 3), 255, np.uint8))
"""


@pytest.mark.subprocess
def test_ocr_keeps_to_the_machine(tmp_path: Path) -> None:
    """Recognising a page leaves no trace outside the index: onnxruntime's usage telemetry (a device id and an
    event store under ~/.cache/Microsoft, uploaded to Microsoft) is switched off. A fresh process with its own
    HOME, since the library reads the switch when it loads; its proxies lead nowhere."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")}
    env.update(HOME=str(tmp_path), HTTPS_PROXY="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    subprocess.run([sys.executable, "-c", PROBE], capture_output=True, timeout=120, cwd=ROOT, env=env, check=True)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()], list(tmp_path.rglob("*"))


def _resaved(data: bytes, dpi: float) -> bytes:
    """Return an image-only PDF's pages saved again at another resolution: the same pixels on bigger paper."""
    import pypdfium2 as pdfium

    from tests.scans import images_pdf

    pdf = pdfium.PdfDocument(data)
    images = [pdf[i].render(scale=200 / 72).to_pil().convert("RGB") for i in range(len(pdf))]
    return images_pdf(images, dpi)  # type: ignore[arg-type]


def test_a_page_larger_than_the_pixel_cap_is_scaled_down_and_reported(scan: tuple[bytes, str],
                                                                       tmp_path: Path) -> None:
    """The scan on A2 paper (1191 x 1684 pt, 15.5 million pixels at 200 dpi) is rendered within
    QA_OCR_MAX_PAGE_PIXELS, still read, and the note gives the page, its size, the limit and the fix."""
    (tmp_path / "a2.pdf").write_bytes(_resaved(scan[0], 100))
    source = load_file(tmp_path / "a2.pdf", MAX, ReadContext(limits=DocumentLimits(ocr_page_pixels=12_000_000)))
    assert "一次性奖励200万元" in source.text
    [note] = source.notes
    assert "第 1 页" in note and "×1684 磅" in note and "1200 万像素" in note
    assert "QA_OCR_MAX_PAGE_PIXELS" in note and "调高上限" in note


def test_a_tiny_pdf_declaring_a_huge_page_renders_within_the_cap(tmp_path: Path) -> None:
    """A 1.7 KB PDF with one 7200 x 7200 pt page (5 GB at 200 dpi): rendered at about 35 dpi within the cap; it
    holds no text, so it is skipped, and the reason says what was scaled."""
    from PIL import Image

    from tests.scans import images_pdf

    data = images_pdf([Image.new("L", (100, 100), 200)], 1)
    assert len(data) < 4_000
    (tmp_path / "huge.pdf").write_bytes(data)
    with pytest.raises(DocumentError, match=r"7200×7200 磅.*QA_OCR_MAX_PAGE_PIXELS.*已缩小到 35 dpi"):
        load_file(tmp_path / "huge.pdf", MAX)


def test_scanned_pages_over_the_page_cap_are_reported(tmp_path: Path) -> None:
    """Two scanned pages with QA_OCR_MAX_PAGES=1: the first is read, the second is named in the note."""
    from tests.scans import scanned_pdf

    data, truth = scanned_pdf(PARAGRAPHS * 5, title=TITLE)
    assert len(truth) == 2
    (tmp_path / "two.pdf").write_bytes(data)
    source = load_file(tmp_path / "two.pdf", MAX, ReadContext(limits=DocumentLimits(ocr_pages=1)))
    assert source.ocr_pages == (1,)
    [note] = source.notes
    assert "共 2 页" in note and "上限 1 页" in note and "第 2 页未识别" in note and "QA_OCR_MAX_PAGES" in note


def test_ocr_past_its_time_is_stopped_and_continued_by_the_next_build(scan: tuple[bytes, str],
                                                                     tmp_path: Path) -> None:
    """With no OCR time left the scan is skipped naming QA_OCR_MAX_SECONDS; the next build reads it."""
    (tmp_path / "scan.pdf").write_bytes(scan[0])
    with OcrCache(tmp_path / "ocr.sqlite") as cache:
        with pytest.raises(DocumentError, match=r"用时达到上限 0 秒（QA_OCR_MAX_SECONDS），第 1 页未识别"):
            load_file(tmp_path / "scan.pdf", MAX, ReadContext(cache, limits=DocumentLimits(ocr_seconds=0)))
        assert "一次性奖励200万元" in load_file(tmp_path / "scan.pdf", MAX, ReadContext(cache)).text


def test_a_build_stopped_by_the_ocr_time_limit_is_completed_by_the_next(scan: tuple[bytes, str],
                                                                       tmp_path: Path) -> None:
    """A mixed PDF built with no OCR time is indexed from its text page with a note; the next build, with time,
    recognises the scanned page and indexes its text (the file's bytes did not change, its reading did)."""
    writer = PdfWriter()
    for part in (text_pdf([["关于印发示范基地奖励办法的通知", "现将奖励办法印发给你们，请认真贯彻执行。"]]), scan[0]):
        for page in PdfReader(io.BytesIO(part)).pages:
            writer.add_page(page)
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    with open(corpus / "mixed.pdf", "wb") as f:
        writer.write(f)
    first = build_index(BuildConfig(corpus, index, limits=DocumentLimits(ocr_seconds=0)), None, progress=False)
    assert [path for path, _ in first.notes] == ["mixed.pdf"] and "QA_OCR_MAX_SECONDS" in first.notes[0][1]
    second = build_index(BuildConfig(corpus, index), None, progress=False)
    assert not second.unchanged and not second.notes
    assert "一次性奖励200万元" in open_index(index, None).docs["mixed"].text
