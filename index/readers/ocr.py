"""OCR of scanned pages, offline: rapidocr's PP-OCR Chinese models (inside its wheel) on onnxruntime.

A page image becomes its printed lines in reading order, one per line, as a text-layer PDF gives them, so cleaning
re-joins them the same way; red seals, running headers and page numbers are left out. Results are cached by the
file's hash, so a rebuild never recognises the same file twice."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import DocumentError
from index.lang.text import CJK_CHARS
from index.sqlite import CacheStore

log = logging.getLogger(__name__)
# A4 at 200 dpi is 1654 x 2339 px, a 3号 body character about 44 px: read at 99.8-100 % on blurred, tilted,
# JPEG-compressed test pages. rapidocr shrinks its detection input to 2,000 px anyway.
DPI = 200
LOW_CONFIDENCE = 0.90  # a page whose mean line score is below this is reported for checking by a person
MARGIN = 0.10  # the top and bottom tenth of a page hold running headers and page numbers
POSTPROCESS_VERSION = "1"  # bump when the line building below changes, so cached results are not reused
PAGE_NUMBER = re.compile(
    r"^[-—－–_~·一\s]*(?:\d{1,4}|第\s*\d+\s*页(?:\s*[/，,]?\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+)[-—－–_~·一\s]*$")
# PP-OCR writes ASCII punctuation inside Chinese text; the documents use the full-width forms.
FULL_WIDTH = {",": "，", ";": "；", ":": "：", "(": "（", ")": "）", "?": "？", "!": "！"}
ASCII_NEAR_CJK = re.compile(rf"(?<=[{CJK_CHARS}》」”）])([,;:()?!])|([,;:()?!])(?=[{CJK_CHARS}《「“（])")
ARTICLE_START = re.compile(r"^(第[一二三四五六七八九十百千零〇两\d]+[条章节])(?=[^\s，。、；：的款项])")


@dataclass
class Line:
    """One printed line found on a page image, with its box in pixels."""

    text: str
    score: float
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class PageText:
    """The recognised text of one page (lines joined by newlines) and its mean confidence."""

    page: int  # 0-based
    text: str
    score: float


@cache
def engine() -> Any:
    """Return the process's OCR engine (its models load once, in about 0.3 s)."""
    # onnxruntime's Linux build keeps a device id and usage events under ~/.cache/Microsoft and uploads them to
    # mobile.events.data.microsoft.com; OCR of policy documents must stay on the machine. The switch is read when
    # the library loads, so it is set before the first import.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        from rapidocr import RapidOCR
    except ImportError as exc:  # a broken install; the package is a dependency
        raise DocumentError("扫描件需要 OCR，但未安装 rapidocr 和 onnxruntime；请运行 pip install rapidocr onnxruntime"
                            ) from exc
    return RapidOCR(params={"Global.log_level": "warning"})


@cache
def config_key() -> str:
    """Return what a result depends on besides the file: the library (its models ship in it), DPI, post-processing."""
    return f"rapidocr={version('rapidocr')};dpi={DPI};post={POSTPROCESS_VERSION}"


def remove_seals(rgb: np.ndarray, dpi: int = DPI) -> np.ndarray:
    """Return the image with red round seals bleached; the red 红头 and red rules are kept.

    Only red regions about as wide as tall and 25-65 mm across are seals. Inside one, the page is replaced by its
    stretched red channel: red ink turns white and black text the seal overprints stays dark (whitening red pixels
    instead erased that text too)."""
    import cv2

    r, g, b = (rgb[..., i].astype(np.int16) for i in range(3))
    red = ((r > 120) & (r - g > 50) & (r - b > 40)).astype(np.uint8)
    if red.sum() < 50:
        return rgb
    px_mm = dpi / 25.4
    grown = cv2.dilate(red, np.ones((int(3 * px_mm),) * 2, np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    out = rgb.copy()
    for i in range(1, count):
        x, y, w, h, _ = stats[i]
        if 25 * px_mm <= max(w, h) <= 65 * px_mm and 0.75 <= w / max(h, 1) <= 1.33:
            region = out[y:y + h, x:x + w]
            region[...] = np.clip((region[..., :1].astype(np.int32) - 60) * 255 // 155, 0, 255).astype(np.uint8)
    return out


def grey_seal_circles(rgb: np.ndarray, dpi: int = DPI) -> list[tuple[float, float, float]]:
    """Return round seals (centre x, y, radius in px) of a grey scan, where colour cannot tell them.

    A Hough transform on a quarter-size copy, radius 15-32 mm: about 25 ms a page."""
    import cv2

    small = cv2.medianBlur(cv2.resize(rgb[..., 0], None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA), 3)
    px_mm = dpi / 25.4 * 0.25
    circles = cv2.HoughCircles(small, cv2.HOUGH_GRADIENT, dp=1, minDist=int(40 * px_mm), param1=100, param2=40,
                               minRadius=int(15 * px_mm), maxRadius=int(32 * px_mm))
    return [] if circles is None else [(float(x) * 4, float(y) * 4, float(r) * 4) for x, y, r in circles[0][:3]]


def drop_seal_lines(lines: list[Line], circles: list[tuple[float, float, float]]) -> list[Line]:
    """Return the lines without a seal's ring text: those inside the upper part of a circle (the organisation's
    name runs over the top of the ring; the signature and date cross its middle and stay)."""
    def in_ring(line: Line) -> bool:
        cx, cy = (line.x0 + line.x1) / 2, (line.y0 + line.y1) / 2
        return any((cx - x) ** 2 + (cy - y) ** 2 <= r * r and cy < y - 0.4 * r and line.x0 >= x - r
                   and line.x1 <= x + r for x, y, r in circles)

    return [line for line in lines if not in_ring(line)]


def boxes_to_lines(boxes: Iterable[Any], texts: Iterable[str], scores: Iterable[float]) -> list[Line]:
    """Return printed lines in reading order: boxes grouped by their skew-corrected height, then left to right."""
    quads = [np.asarray(b, dtype=float) for b in boxes]
    items = list(zip(quads, texts, scores, strict=True))
    if not items:
        return []
    # Only long boxes give a reliable skew.
    angles = [math.atan2(q[1][1] - q[0][1], q[1][0] - q[0][0]) for q in quads
              if q[1][0] - q[0][0] > 3 * (q[3][1] - q[0][1])]
    slope = math.tan(statistics.median(angles)) if angles else 0.0
    keyed = sorted(((q[:, 1].mean() - q[:, 0].mean() * slope, q, t, float(s)) for q, t, s in items),
                   key=lambda item: item[0])
    tolerance = 0.5 * statistics.median(float(np.linalg.norm(q[3] - q[0])) for q in quads)
    groups: list[list[tuple[float, np.ndarray, str, float]]] = []
    for item in keyed:
        if groups and abs(item[0] - statistics.fmean(g[0] for g in groups[-1])) <= tolerance:
            groups[-1].append(item)
        else:
            groups.append([item])
    lines = []
    for group in groups:
        group.sort(key=lambda item: item[1][:, 0].min())
        parts: list[str] = []
        right: float | None = None
        for _, q, text, _ in group:
            # A wide gap (table cells, a signature block) stays visible as a space.
            if right is not None and q[:, 0].min() - right > 2 * np.linalg.norm(q[3] - q[0]):
                parts.append(" ")
            parts.append(text)
            right = float(q[:, 0].max())
        corners = np.vstack([item[1] for item in group])
        weights = [len(item[2]) for item in group]
        score = float(np.average([item[3] for item in group], weights=weights)) if sum(weights) else 0.0
        lines.append(Line("".join(parts), score, float(corners[:, 0].min()), float(corners[:, 1].min()),
                          float(corners[:, 0].max()), float(corners[:, 1].max())))
    return lines


def restore_article_space(lines: list[Line]) -> None:
    """Put back the space after 第X条 at the start of an indented line: OCR drops it, and numbering needs it to tell
    a heading from a cross-reference ("第三条规定……"). A wrapped line starting with 第三条 is not indented."""
    if not lines:
        return
    height = sorted(line.y1 - line.y0 for line in lines)[len(lines) // 2]
    margin = sorted(line.x0 for line in lines)[len(lines) // 10]
    for line in lines:
        if line.x0 > margin + 0.8 * height:
            line.text = ARTICLE_START.sub(lambda m: m.group(1) + "\u3000", line.text, count=1)


def fold_punctuation(text: str) -> str:
    """Return OCR text with ASCII punctuation beside Chinese in full width and "〔2019]" closed as "〔2019〕"."""
    text = ASCII_NEAR_CJK.sub(lambda m: FULL_WIDTH[m.group(1) or m.group(2)], text)
    return re.sub(r"〔(\d{4})[\]】）)]", r"〔\1〕", text)


def recognise(rgb: np.ndarray) -> list[Line]:
    """Return the printed lines of one page image (RGB), seals left out."""
    result = engine()(remove_seals(rgb))
    if result.txts is None:
        return []
    lines = boxes_to_lines(result.boxes, result.txts, result.scores)
    r, b = rgb[::8, ::8, 0].astype(np.int16), rgb[::8, ::8, 2].astype(np.int16)
    if np.abs(r - b).mean() < 3:  # a grey scan: seals cannot be told by colour
        lines = drop_seal_lines(lines, grey_seal_circles(rgb))
    for line in lines:
        line.text = fold_punctuation(line.text)
    restore_article_space(lines)
    return lines


def _in_margin(line: Line, height: float) -> bool:
    centre = (line.y0 + line.y1) / 2
    return centre < MARGIN * height or centre > (1 - MARGIN) * height


def drop_margins(pages: list[tuple[list[Line], float]]) -> list[list[Line]]:
    """Return each page's lines without page numbers and running headers or footers.

    A running header is a margin line whose text (digits aside) recurs on at least half of the pages and on at
    least two, so a single scanned page keeps its letterhead."""
    def key(text: str) -> str:
        return re.sub(r"\d+", "#", re.sub(r"\s", "", text))

    counts: dict[str, int] = {}
    for lines, height in pages:
        for k in {key(line.text) for line in lines if _in_margin(line, height)}:
            counts[k] = counts.get(k, 0) + 1
    repeated = {k for k, c in counts.items() if c >= max(2, math.ceil(len(pages) / 2))}
    return [[line for line in lines
             if not (_in_margin(line, height) and (PAGE_NUMBER.match(line.text) or key(line.text) in repeated))]
            for lines, height in pages]


def page_score(lines: list[Line]) -> float:
    """Return a page's mean line score weighted by length; a page where nothing was found counts as certain."""
    if not lines:
        return 1.0
    return float(np.average([line.score for line in lines], weights=[len(line.text) or 1 for line in lines]))


class OcrCache(CacheStore):
    """Recognised pages by file hash and OCR configuration, beside the parse cache in the index folder."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, SCHEMA, "OCR 缓存")
        # Every file read this build asks for its pages, whether its scan then gave text or not.
        self._asked: set[str] = set()

    def get(self, file_hash: str) -> list[PageText] | None:
        """Return the cached pages of a file, or None."""
        self._asked.add(file_hash)
        rows = self.read("SELECT pages FROM ocr WHERE file_hash=? AND config=?", (file_hash, config_key()))
        if not rows:
            return None
        try:
            return [PageText(int(p["page"]), str(p["text"]), float(p["score"])) for p in json.loads(rows[0][0])]
        except (ValueError, KeyError, TypeError):
            return None

    def put(self, file_hash: str, pages: list[PageText]) -> None:
        """Store a file's recognised pages."""
        blob = json.dumps([{"page": p.page, "text": p.text, "score": p.score} for p in pages], ensure_ascii=False)
        with self.write() as conn:
            conn.execute("INSERT OR REPLACE INTO ocr VALUES (?, ?, ?)", (file_hash, config_key(), blob))

    def keep_asked(self) -> None:
        """Delete the results of files this build did not read (and of other OCR configurations):
        files gone from the corpus; a scan that gave no text keeps its result, so it is not recognised again."""
        self.keep_only("ocr", "file_hash", self._asked, " OR config != ?", (config_key(),))


SCHEMA = "CREATE TABLE IF NOT EXISTS ocr (file_hash TEXT, config TEXT, pages TEXT, PRIMARY KEY (file_hash, config))"


