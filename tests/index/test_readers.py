"""One contract for every reader of index/readers/: what a small real document of each format gives, and how an
empty, garbage or truncated file is refused. Each format's class provides the document, written by the real
library (python-docx, reportlab, LibreOffice, the OFD builder of tests/ofds.py)."""

from __future__ import annotations

import dataclasses
import io
import os
import random
import re
import subprocess
import tempfile
import zipfile
from functools import cache
from pathlib import Path, PurePosixPath

import docx
import pytest

from index.errors import DocumentError
from index.loading import DOCUMENTS, META_KEYS, extract, load_corpus
from index.readers import legacy
from index.readers.base import Extracted
from index.readers.bundle import read_zip
from index.records import SourceText
from tests.ofds import make_ofd
from tests.pdfs import text_pdf
from tests.system import needs_libreoffice

MAX = 10_000_000
TITLE = "广东省影视精品扶持办法"
LINES = ("第一条　为促进影视产业发展，繁荣影视创作，制定本办法。",
         "第二条　对在省级卫视首播的优秀电视剧，按每分钟1500元给予奖励。",
         "第三条　本办法自2024年1月1日起施行。")
GARBAGE = random.Random(0).randbytes(4096)
CJK = re.compile(r"[\u4e00-\u9fff]")


def printed(text: str) -> list[str]:
    """Return the non-blank lines of a text with their spacing removed (a reader may print 　 as a space)."""
    return [re.sub(r"\s+", "", line) for line in text.splitlines() if line.strip()]


def docx_document(lines: tuple[str, ...]) -> bytes:
    """Return a .docx with one paragraph per line, written by python-docx."""
    document = docx.Document()
    document.core_properties.title = TITLE
    for line in lines:
        document.add_paragraph(line)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


@cache
def word97_document(lines: tuple[str, ...]) -> bytes:
    """Return a Word 97 file of the lines, written by LibreOffice from a .docx (a Kingsoft .wps is this format)."""
    program = legacy.soffice()
    assert program is not None, "needs_libreoffice lets this run only with LibreOffice"
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "in.docx").write_bytes(docx_document(lines))
        subprocess.run([program, f"-env:UserInstallation={Path(tmp, 'profile').as_uri()}", "--headless",
                        "--norestore", "--convert-to", "doc:MS Word 97", "--outdir", tmp, str(Path(tmp, "in.docx"))],
                       check=True, capture_output=True, timeout=180, env={**os.environ, "HOME": tmp})
        return Path(tmp, "in.doc").read_bytes()


class ReaderContract:
    """What every reader promises the build; a subclass names its suffix and writes a small real document."""

    suffix = ""

    def document(self, lines: tuple[str, ...]) -> bytes:
        """Return a real document of the format that prints `lines`, one per line."""
        raise NotImplementedError

    def prints(self, lines: tuple[str, ...]) -> tuple[str, ...]:
        """Return every line the document of `lines` prints (page numbers too: cleaning drops them, not readers)."""
        return lines

    def extracted(self, data: bytes) -> list[Extracted]:
        """Return what the reader finds in a file of the format (a bundle finds one Extracted per member)."""
        return [extract(data, self.suffix)]

    def test_document_gives_its_lines(self) -> None:
        """A small document gives an Extracted whose text is its printed lines, one per line, in order."""
        found = self.extracted(self.document(LINES))
        assert found and all(isinstance(f, Extracted) for f in found)
        for f in found:
            assert printed(f.text) == printed("\n".join(self.prints(LINES))), f.text

    def test_reading_is_repeatable(self) -> None:
        """The same bytes give the same Extracted, so caches keyed by content hold."""
        data = self.document(LINES)
        assert self.extracted(data) == self.extracted(data)

    def test_hints_are_metadata_fields(self) -> None:
        """What a file says of itself uses the metadata fields a sidecar may set, and nothing else."""
        for f in self.extracted(self.document(LINES)):
            assert {k for k, v in dataclasses.asdict(f.hints).items() if v} <= set(META_KEYS), f.hints

    @pytest.mark.parametrize("kind", ["empty", "garbage"])
    def test_unreadable_file_is_skipped_with_its_reason(self, tmp_path: Path, kind: str) -> None:
        """An empty or garbage file is one DocumentError beside its own path, with a one-line Chinese reason."""
        path = tmp_path / f"{kind}{self.suffix}"
        path.write_bytes(b"" if kind == "empty" else GARBAGE)
        ((where, result),) = list(load_corpus([path], MAX))
        assert where == path
        assert isinstance(result, DocumentError), result
        message = str(result)
        assert CJK.search(message) and "\n" not in message and "Traceback" not in message, message

    def test_file_over_the_size_limit_is_skipped_before_reading(self, tmp_path: Path) -> None:
        """A file larger than the build's limit is refused with its size, the limit and the setting to change."""
        data = self.document(LINES)
        path = tmp_path / f"plan{self.suffix}"
        path.write_bytes(data)
        ((where, result),) = list(load_corpus([path], len(data) - 1))
        assert where == path and isinstance(result, DocumentError), result
        assert str(len(data)) in str(result) and str(len(data) - 1) in str(result)
        assert "QA_MAX_DOCUMENT_BYTES" in str(result)

    def test_truncated_file_raises_nothing_but_document_error(self, tmp_path: Path) -> None:
        """A file cut in half is read as far as it goes or skipped with a DocumentError, never another exception."""
        data = self.document(LINES)
        path = tmp_path / f"half{self.suffix}"
        path.write_bytes(data[: len(data) // 2])
        results = list(load_corpus([path], MAX))
        assert results and all(isinstance(r, SourceText | DocumentError) for _, r in results), results

    def test_inside_a_bundle_reads_the_same(self, tmp_path: Path) -> None:
        """The document zipped in a bundle gives the text it gives as a file of its own (a bundle in a bundle is
        read one level down)."""
        data = self.document(LINES)
        bundle = tmp_path / "bundle.zip"
        with zipfile.ZipFile(bundle, "w") as z:
            z.writestr(f"plan{self.suffix}", data)
        alone = tmp_path / f"plan{self.suffix}"
        alone.write_bytes(data)
        zipped = [r for _, r in load_corpus([bundle], MAX)]
        single = [r for _, r in load_corpus([alone], MAX)]
        assert single and all(isinstance(r, SourceText) for r in single), single
        assert [getattr(r, "text", r) for r in zipped] == [r.text for r in single]  # type: ignore[union-attr]


class TestText(ReaderContract):
    """Plain text (index/readers/text.py), here in GB18030 as older government files are."""

    suffix = ".txt"

    def document(self, lines: tuple[str, ...]) -> bytes:
        """Return the lines in GB18030."""
        return "\n".join(lines).encode("gb18030")


class TestMarkdown(TestText):
    """Markdown goes through the text reader too."""

    suffix = ".md"


class TestDocx(ReaderContract):
    """Word .docx (index/readers/docx.py)."""

    suffix = ".docx"

    def document(self, lines: tuple[str, ...]) -> bytes:
        """Return a .docx written by python-docx."""
        return docx_document(lines)


class TestPdf(ReaderContract):
    """PDF with a text layer (index/readers/pdf.py)."""

    suffix = ".pdf"

    def document(self, lines: tuple[str, ...]) -> bytes:
        """Return a one-page PDF written by reportlab."""
        return text_pdf([list(lines)])


class TestHtml(ReaderContract):
    """A saved government web page (index/readers/html.py)."""

    suffix = ".html"

    def document(self, lines: tuple[str, ...]) -> bytes:
        """Return a page with a title, navigation and the lines as the article's paragraphs."""
        paragraphs = "".join(f"<p>{line}</p>" for line in lines)
        return (f'<html><head><meta charset="utf-8"><title>{TITLE}</title></head><body>'
                f"<article><h1>{TITLE}</h1>{paragraphs}</article></body></html>").encode()

    def test_document_gives_its_lines(self) -> None:
        """The article's heading and paragraphs are the text, in order; the page's title is a hint."""
        (found,) = self.extracted(self.document(LINES))
        assert printed(found.text) == printed("\n".join((TITLE, *LINES))), found.text
        assert found.hints.title == TITLE


class TestOfd(ReaderContract):
    """OFD (index/readers/ofd.py), two pages."""

    suffix = ".ofd"

    def document(self, lines: tuple[str, ...]) -> bytes:
        """Return an OFD of the lines over two pages, with a title in DocInfo."""
        return make_ofd([list(lines[:2]), list(lines[2:])], title=TITLE)

    def prints(self, lines: tuple[str, ...]) -> tuple[str, ...]:
        """Return the lines with the page number tests/ofds.py prints at the foot of each page."""
        return (*lines[:2], "— 1 —", *lines[2:], "— 2 —")

    def test_document_gives_its_lines(self) -> None:
        """The pages' lines in reading order, and DocInfo's title as a hint."""
        super().test_document_gives_its_lines()
        (found,) = self.extracted(self.document(LINES))
        assert found.hints.title == TITLE


@pytest.mark.subprocess
@needs_libreoffice
class TestDoc(ReaderContract):
    """Legacy Word .doc (index/readers/legacy.py), converted by LibreOffice as a build does."""

    suffix = ".doc"

    def document(self, lines: tuple[str, ...]) -> bytes:
        """Return a Word 97 file written by LibreOffice."""
        return word97_document(lines)


class TestWps(TestDoc):
    """Kingsoft .wps: the Word 97 format under another suffix, converted the same way."""

    suffix = ".wps"


class TestBundle(ReaderContract):
    """Zip bundles (index/readers/bundle.py): a notice and its attachment, each read by its own reader."""

    suffix = ".zip"

    def document(self, lines: tuple[str, ...]) -> bytes:
        """Return a zip of the lines as a .txt notice and a .docx attachment."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("通知.txt", "\n".join(lines).encode("utf-8"))
            z.writestr("附件1.docx", docx_document(lines))
        return buf.getvalue()

    def extracted(self, data: bytes) -> list[Extracted]:
        """Return what each member's reader finds, members in the bundle's order."""
        return [extract(m.data, PurePosixPath(m.name).suffix) for m in read_zip(data, DOCUMENTS, MAX, MAX)
                if m.data is not None]

    def test_document_gives_its_lines(self) -> None:
        """Both members are read, each giving the printed lines."""
        found = self.extracted(self.document(LINES))
        assert len(found) == 2
        for f in found:
            assert printed(f.text) == printed("\n".join(LINES)), f.text
