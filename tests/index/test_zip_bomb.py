"""A .docx zip bomb is skipped from the sizes its zip declares, before anything is inflated."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import docx
import pytest

from index.errors import DocumentError
from index.loading import load_file


def _docx_with_xml_of(size: int) -> bytes:
    """Return a real .docx (python-docx) whose document.xml is padded to about `size` bytes of paragraphs."""
    document = docx.Document()
    document.add_paragraph("一、总则")
    raw = io.BytesIO()
    document.save(raw)
    source = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    paragraph = b"<w:p><w:r><w:t>" + "政策".encode() * 50 + b"</w:t></w:r></w:p>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/document.xml":
                data = data.replace(b"<w:body>", b"<w:body>" + paragraph * (size // len(paragraph)), 1)
            z.writestr(info.filename, data)
    return out.getvalue()


def test_docx_zip_bomb_is_skipped_at_once(tmp_path: Path) -> None:
    """About 100 KB holding 40 MB of XML: refused in well under a second, naming the part, its ratio and the fix."""
    path = tmp_path / "bomb.docx"
    path.write_bytes(_docx_with_xml_of(40_000_000))
    assert path.stat().st_size < 300_000
    started = time.monotonic()
    with pytest.raises(DocumentError, match=r"word/document\.xml.*压缩比.*重新保存"):
        load_file(path, 20_000_000)
    assert time.monotonic() - started < 2


def test_ordinary_large_docx_is_read(tmp_path: Path) -> None:
    """A real document of a few hundred pages (its XML over 1 MB, packed about 25:1) is not taken for a bomb."""
    path = tmp_path / "long.docx"
    document = docx.Document()
    for i in range(8000):
        document.add_paragraph(f"（{i}）对符合条件的文化科技企业给予不超过{i}万元的一次性奖励，所需资金由市财政统筹安排。")
    document.save(path)
    assert zipfile.ZipFile(path).getinfo("word/document.xml").file_size > 1_000_000
    assert "一次性奖励" in load_file(path, 20_000_000).text


def test_ofd_zip_bomb_is_skipped_at_once(tmp_path: Path) -> None:
    """An OFD is a zip of XML too: a page content part packed 1000:1 is refused before ofdkit inflates it."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("OFD.xml", '<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"/>')
        z.writestr("Doc_0/Pages/Page_0/Content.xml", b"<ofd:Page>" + b" " * 30_000_000 + b"</ofd:Page>")
    path = tmp_path / "bomb.ofd"
    path.write_bytes(out.getvalue())
    with pytest.raises(DocumentError, match=r"OFD 部件 .*Content\.xml.*压缩比"):
        load_file(path, 20_000_000)
