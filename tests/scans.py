"""Scanned policy pages made offline: policy text set in Noto Serif CJK on an A4 page (GB/T 9704-like layout),
with a running header, a "— n —" page number and a red round seal, then blurred, tilted, noisy and JPEG-compressed
like a scanner's output, and packed into an image-only PDF."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from tests.system import NOTO_DIR

A4_MM = (210, 297)


def cjk_font(size_px: int, serif: bool = True, bold: bool = False) -> ImageFont.FreeTypeFont:
    """Return the Simplified Chinese face of a Noto CJK collection (found by name, not by guessing its index)."""
    path = NOTO_DIR / f"Noto{'Serif' if serif else 'Sans'}CJK-{'Bold' if bold else 'Regular'}.ttc"
    for index in range(10):
        font = ImageFont.truetype(str(path), size_px, index=index)
        if " SC" in (font.getname()[0] or ""):
            return font
    raise LookupError(f"no SC face in {path}")


@dataclass(frozen=True)
class Scan:
    """How a page is printed and scanned."""

    dpi: int = 200
    chars_per_line: int = 28  # GB/T 9704: 28 characters x 22 lines on a 156 x 225 mm text block
    lines_per_page: int = 22
    header: str = ""  # a running header on every page
    blur: float = 1.2
    rotate: float = 1.5
    noise: float = 8.0
    jpeg_quality: int = 60
    grayscale: bool = False


def _mm(scan: Scan, value: float) -> int:
    return round(value / 25.4 * scan.dpi)


def layout(paragraphs: list[str], scan: Scan) -> list[str]:
    """Return the printed lines: each paragraph indented two characters and wrapped by character count."""
    lines = []
    for paragraph in paragraphs:
        text = "\u3000\u3000" + paragraph
        while text:
            lines.append(text[: scan.chars_per_line])
            text = text[scan.chars_per_line:]
    return lines


def _seal(img: Image.Image, cx: int, cy: int, r: int, text: str) -> None:
    """Draw a red round official seal: ring, star and the organisation's name along the ring, like ink."""
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    red = (220, 30, 40, 170)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=red, width=max(3, r // 18))
    star = [(cx + 0.38 * r * math.cos(math.radians(-90 + k * 36)) * (1 if k % 2 == 0 else 0.4),
             cy + 0.38 * r * math.sin(math.radians(-90 + k * 36)) * (1 if k % 2 == 0 else 0.4)) for k in range(10)]
    draw.polygon(star, fill=red)
    font = cjk_font(int(r * 0.28), serif=False, bold=True)
    for i, ch in enumerate(text):
        angle = -90 - 120 + 240 * (i + 0.5) / len(text)
        glyph = Image.new("RGBA", (int(r * 0.4), int(r * 0.4)), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((glyph.width / 2, glyph.height / 2), ch, font=font, fill=red, anchor="mm")
        glyph = glyph.rotate(-(angle + 90), resample=Image.Resampling.BICUBIC)
        gx = cx + 0.72 * r * math.cos(math.radians(angle)) - glyph.width / 2
        gy = cy + 0.72 * r * math.sin(math.radians(angle)) - glyph.height / 2
        layer.alpha_composite(glyph, (int(gx), int(gy)))
    img.alpha_composite(layer)


def page_image(lines: list[str], number: int, scan: Scan, title: str = "", signature: tuple[str, ...] = (),
               seal: str = "") -> Image.Image:
    """Return one scanned page: header, title, body lines, signature with a seal over it, page number."""
    w, h = _mm(scan, A4_MM[0]), _mm(scan, A4_MM[1])
    img = Image.new("RGBA", (w, h), (255, 255, 255, 255))
    draw = ImageDraw.Draw(img)
    left, y = _mm(scan, 28), float(_mm(scan, 37))
    body = cjk_font(_mm(scan, 156) // scan.chars_per_line)
    pitch = _mm(scan, 225) / scan.lines_per_page
    if scan.header:
        draw.text((left, _mm(scan, 18)), scan.header, font=cjk_font(_mm(scan, 4.2), serif=False), fill=(90, 90, 90))
    if title:
        draw.text((w / 2, y), title, font=cjk_font(int(_mm(scan, 156) / 22), bold=True), fill=(0, 0, 0), anchor="mt")
        y += pitch * 2
    for line in lines:
        draw.text((left, y), line, font=body, fill=(0, 0, 0))
        y += pitch
    if signature:
        y += pitch
        for text in signature:
            draw.text((w - _mm(scan, 30), y), text, font=body, fill=(0, 0, 0), anchor="ra")
            y += pitch
        if seal:
            _seal(img, int(w - _mm(scan, 60)), int(y - pitch * 1.3), _mm(scan, 21), seal)
    draw.text((w / 2, h - _mm(scan, 22)), f"— {number} —", font=cjk_font(_mm(scan, 5), serif=False),
              fill=(0, 0, 0), anchor="mt")
    return _degrade(img, scan, number)


def _degrade(img: Image.Image, scan: Scan, seed: int) -> Image.Image:
    out = img.convert("RGB")
    if scan.rotate:
        out = out.rotate(scan.rotate, resample=Image.Resampling.BICUBIC, fillcolor=(255, 255, 255))
    if scan.blur:
        out = out.filter(ImageFilter.GaussianBlur(scan.blur))
    if scan.noise:
        pixels = np.asarray(out).astype(np.float32)
        pixels += np.random.default_rng(seed).normal(0, scan.noise, pixels.shape)
        out = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    if scan.grayscale:
        out = out.convert("L")
    if scan.jpeg_quality:
        buf = io.BytesIO()
        out.save(buf, "JPEG", quality=scan.jpeg_quality)
        out = Image.open(io.BytesIO(buf.getvalue()))
        out.load()
    return out


def images_pdf(images: list[Image.Image], dpi: int) -> bytes:
    """Return an image-only PDF (no text layer), one image a page."""
    buf = io.BytesIO()
    first, *rest = [im if im.mode in ("RGB", "L") else im.convert("RGB") for im in images]
    first.save(buf, "PDF", save_all=True, append_images=rest, resolution=float(dpi))
    return buf.getvalue()


def scanned_pdf(paragraphs: list[str], scan: Scan = Scan(), title: str = "", signature: tuple[str, ...] = (),
                seal: str = "") -> tuple[bytes, list[str]]:
    """Return a scanned PDF of the paragraphs and, per page, the text printed on it (header, number, seal aside)."""
    lines = layout(paragraphs, scan)
    first = scan.lines_per_page - (2 if title else 0)
    pages = [lines[:first]] + [lines[i:i + scan.lines_per_page] for i in range(first, len(lines), scan.lines_per_page)]
    images, truth = [], []
    for n, page in enumerate(pages, 1):
        last = n == len(pages)
        images.append(page_image(page, n, scan, title if n == 1 else "", signature if last else (),
                                 seal if last else ""))
        printed = ([title] if n == 1 and title else []) + page + (list(signature) if last else [])
        truth.append("\n".join(x.replace("\u3000", "") for x in printed))
    return images_pdf(images, scan.dpi), truth


def char_accuracy(read: str, truth: str) -> float:
    """Return 1 - the edit distance between the texts (whitespace aside) over the truth's length."""
    a, b = "".join(read.split()), "".join(truth.split())
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return 1 - previous[-1] / max(1, len(b))
