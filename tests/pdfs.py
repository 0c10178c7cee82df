"""Real PDFs for tests: a CJK text layer (reportlab), encrypted copies and text-less scans (pypdf)."""

from __future__ import annotations

import io

from pypdf import PdfReader, PdfWriter
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

CJK_FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def text_pdf(pages: list[list[str]]) -> bytes:
    """Return a PDF with a real CJK text layer, one list of lines per page."""
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    for lines in pages:
        pdf.setFont(CJK_FONT, 12)
        for i, line in enumerate(lines):
            pdf.drawString(72, 760 - 20 * i, line)
        pdf.showPage()
    pdf.save()
    return buf.getvalue()


def encrypted_pdf(lines: list[str], user_password: str, owner_password: str) -> bytes:
    """Return a one-page text PDF encrypted with the given passwords."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf([lines]))))
    writer.encrypt(user_password=user_password, owner_password=owner_password)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def blank_pdf(pages: int) -> bytes:
    """Return a PDF of blank pages with no text layer, like an unOCRed scan."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()
