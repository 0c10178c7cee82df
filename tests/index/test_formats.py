"""OFD and legacy Word/WPS files, read with real components: a hand-written OFD, and .doc/.wps files LibreOffice
writes, converted back by LibreOffice (or antiword) as the loader does."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest

from index.build import build_index
from index.config import BuildConfig, DocumentLimits
from index.errors import DocumentError
from index.loading import load_file
from index.parsed import parse_documents
from index.readers import legacy
from index.readers.base import ReadContext
from index.readers.ofd import read_ofd
from tests.ofds import make_ofd, page_bomb
from tests.system import needs_antiword, needs_libreoffice

MAX = 10_000_000
ROW = "播出平台：省级卫视；奖励标准：每分钟1500元；单部上限：150万元。"
LINES = ["\u3000\u3000第一条　为促进影视产业发展，繁荣影视创作，根据有关规定，", "制定本办法。",
         "\u3000\u3000第二条　对在省级卫视首播的优秀电视剧，按每分钟1500元给予奖励。",
         "\u3000\u3000第三条　本办法自2024年1月1日起施行。"]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_ofd_reads_in_reading_order_without_template_header(tmp_path: Path) -> None:
    """An OFD's text comes in reading order whatever the object order; the template's running header and the
    page numbers are left out; DocInfo's title becomes the title."""
    data = make_ofd([LINES[:2], LINES[2:]], title="广东省影视精品扶持办法", header="广东省广播电视局", reverse=True)
    source = load_file(_write(tmp_path / "plan.ofd", data), MAX)
    assert source.fmt == "ofd" and source.meta == {"title": "广东省影视精品扶持办法"}
    assert "广东省广播电视局" not in source.text
    doc, clauses = parse_documents("plan", source)[0]
    assert doc.title == "广东省影视精品扶持办法"
    assert [(c.label, c.text) for c in clauses] == [
        ("第一条", "第一条\u3000为促进影视产业发展，繁荣影视创作，根据有关规定，制定本办法。"),
        ("第二条", "第二条\u3000对在省级卫视首播的优秀电视剧，按每分钟1500元给予奖励。"),
        ("第三条", "第三条\u3000本办法自2024年1月1日起施行。"),
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"PK\x03\x04not really a zip", "不是有效的 OFD"), (make_ofd([[]]), "没有文字")],
    ids=["damaged", "no-text"],
)
def test_unreadable_ofd_says_why(tmp_path: Path, data: bytes, reason: str) -> None:
    """A damaged OFD, or one with no text (a scan), raises DocumentError naming the reason."""
    with pytest.raises(DocumentError, match=reason):
        load_file(_write(tmp_path / "plan.ofd", data), MAX)


@pytest.mark.parametrize(("bodies", "pages", "reason"), [
    (1, 3000, "列出 3000 页，超过上限 2000 页（QA_OFD_MAX_PAGES）"),
    # The 2,000,000-page probe scaled down: counting stops at the body that passes the limit.
    (10, 400, "列出 2400 页，超过上限 2000 页（QA_OFD_MAX_PAGES）"),
    (100, 1, "含 100 个文档，超过上限 16 个"),
], ids=["pages", "bodies-times-pages", "bodies"])
def test_ofd_listing_too_many_pages_is_refused_before_reading(tmp_path: Path, bodies: int, pages: int,
                                                              reason: str) -> None:
    """A few KB of OFD naming one page many times (7.7 KB listing 2,000,000 pages took 39 s and 700 MB): refused
    from its page lists, with the count, the limit and the fix."""
    data = page_bomb(bodies, pages, LINES)
    assert len(data) < 10_000
    with pytest.raises(DocumentError, match=reason + ".*请拆分"):
        load_file(_write(tmp_path / "bomb.ofd", data), MAX)


def test_ofd_text_past_the_character_cap_is_cut_and_reported(tmp_path: Path) -> None:
    """An OFD whose pages hold more text than QA_OFD_MAX_CHARS: the pages up to the cap are read, the note says
    from which page on the rest was left out."""
    data = make_ofd([LINES] * 5)
    per_page = len(read_ofd(make_ofd([LINES])).text)
    context = ReadContext(limits=DocumentLimits(ofd_chars=per_page * 2 + 10))
    source = load_file(_write(tmp_path / "long.ofd", data), MAX, context)
    assert source.text.count("第一条") == 2
    [note] = source.notes
    assert "第 3 页起" in note and "QA_OFD_MAX_CHARS" in note


def test_ofd_with_doctype_is_refused(tmp_path: Path) -> None:
    """An OFD whose XML declares entities (billion laughs, XXE) is refused, not expanded."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(make_ofd([LINES]))) as good, zipfile.ZipFile(buf, "w") as bad:
        for name in good.namelist():
            body = good.read(name)
            if name == "OFD.xml":
                body = body.replace(b"?>\n", b'?>\n<!DOCTYPE x [<!ENTITY a "aaaaaaaa">]>\n', 1)
            bad.writestr(name, body)
    with pytest.raises(DocumentError, match="OFD"):
        load_file(_write(tmp_path / "plan.ofd", buf.getvalue()), MAX)


def _docx_with_table() -> bytes:
    document = docx.Document()
    document.add_paragraph("第一条 奖励标准如下：")
    table = document.add_table(rows=2, cols=3)
    for r, row in enumerate([["播出平台", "奖励标准", "单部上限"], ["省级卫视", "每分钟1500元", "150万元"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    # LibreOffice re-imports a .doc that ends in a table as one run-together paragraph; Word never ends so.
    document.add_paragraph("第二条 本办法自2024年1月1日起施行。")
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def word97() -> bytes:
    """Return a real Word 97 file, written by LibreOffice from a .docx (Kingsoft .wps files use this format)."""
    program = legacy.soffice()
    if program is None:
        if os.environ.get("CI"):
            pytest.fail("CI 中缺少 LibreOffice（make test 应安装 libreoffice-writer-nogui）")
        pytest.skip("Debian 包 libreoffice-writer-nogui 未安装")
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "in.docx").write_bytes(_docx_with_table())
        subprocess.run([program, f"-env:UserInstallation={Path(tmp, 'profile').as_uri()}", "--headless",
                        "--norestore", "--convert-to", "doc:MS Word 97", "--outdir", tmp, str(Path(tmp, "in.docx"))],
                       check=True, capture_output=True, timeout=180, env={**os.environ, "HOME": tmp})
        return Path(tmp, "in.doc").read_bytes()


@pytest.mark.subprocess
@needs_libreoffice
@pytest.mark.parametrize("suffix", [".doc", ".wps"])
def test_doc_and_wps_convert_with_libreoffice_keeping_tables(word97: bytes, tmp_path: Path, suffix: str) -> None:
    """A .doc, and the same Word 97 bytes named .wps, are converted by LibreOffice; the table keeps its headers."""
    assert legacy.sniff(word97) == "word97"
    source = load_file(_write(tmp_path / f"plan{suffix}", word97), MAX)
    assert source.fmt == suffix[1:]
    lines = source.text.split("\n")
    assert ROW in lines and lines.index("第一条 奖励标准如下：") < lines.index(ROW)
    assert "第二条 本办法自2024年1月1日起施行。" in lines


@pytest.mark.subprocess
@needs_libreoffice
def test_conversions_at_once_do_not_share_a_profile(word97: bytes, tmp_path: Path) -> None:
    """Two conversions at the same time both succeed: each LibreOffice has its own profile."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        texts = list(pool.map(lambda _: legacy.read_legacy(word97, ".doc", 120).text, range(2)))
    assert all(ROW in t for t in texts)


@pytest.mark.subprocess
@needs_libreoffice
def test_hung_conversion_is_stopped(word97: bytes, tmp_path: Path) -> None:
    """A conversion over its time limit is stopped and the file reported, not left to stall the build."""
    started = time.monotonic()
    with pytest.raises(DocumentError, match="超时"):
        legacy.convert_to_docx(word97, ".doc", timeout=0.05)
    assert time.monotonic() - started < 30


@pytest.mark.subprocess
@needs_antiword
def test_doc_without_libreoffice_falls_back_to_antiword(word97: bytes, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """With only antiword installed, a .doc is still read, its table rows with their headers."""
    only = tmp_path / "bin"
    only.mkdir()
    (only / "antiword").symlink_to(shutil.which("antiword"))  # type: ignore[arg-type]
    monkeypatch.setenv("PATH", str(only))
    source = load_file(_write(tmp_path / "plan.doc", word97), MAX)
    assert ROW in source.text.split("\n")


@pytest.mark.parametrize("suffix", [".doc", ".wps"])
def test_without_converter_the_file_is_skipped_naming_the_package(tmp_path: Path, suffix: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Without LibreOffice (and antiword), a .doc/.wps is skipped by the build with a message naming the Debian
    package to install; the other files are indexed."""
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    ole = legacy.OLE_MAGIC + b"\0" * 64 + "WordDocument".encode("utf-16-le") + b"\0" * 64
    _write(corpus / f"old{suffix}", ole)
    (corpus / "plan.txt").write_text("一、总体要求\n（一）加强组织领导。", encoding="utf-8")
    report = build_index(BuildConfig(corpus, tmp_path / "index"), None, progress=False)
    assert report.documents == 1
    (path, reason), = report.skipped
    assert path == f"old{suffix}" and "libreoffice-writer-nogui" in reason and suffix in reason


def test_file_that_is_no_word_document_says_so(tmp_path: Path) -> None:
    """A .doc that is neither Word, WPS nor RTF is reported as such, without calling a converter."""
    with pytest.raises(DocumentError, match=r"不是有效的 \.doc"):
        load_file(_write(tmp_path / "plan.doc", b"just some text, not a document"), MAX)


def test_docx_saved_as_doc_is_read(tmp_path: Path) -> None:
    """A .docx saved under an old .doc name is read as the .docx it is."""
    assert ROW in load_file(_write(tmp_path / "plan.doc", _docx_with_table()), MAX).text


class _Listener:
    """A TCP listener on 127.0.0.1 that counts the connections made to it (http, https or anything else)."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


@pytest.fixture()
def linking_doc(tmp_path: Path) -> Iterator[tuple[bytes, _Listener]]:
    """Return a real Word 97 .doc whose images are linked (INCLUDEPICTURE) at http:// and https:// addresses of a
    127.0.0.1 listener, and the listener, its count reset after the .doc was made."""
    program = legacy.soffice()
    if program is None:
        pytest.skip("Debian 包 libreoffice-writer-nogui 未安装")
    listener = _Listener()
    images = "".join(f'<p><img src="{scheme}://127.0.0.1:{listener.port}/seal.png" width="50" height="50"></p>'
                     for scheme in ("http", "https"))
    Path(tmp_path, "in.html").write_text(f"<html><body><p>第一条 本办法自印发之日起施行。</p>{images}"
                                         "<p>第二条 本办法由省财政厅负责解释。</p></body></html>", encoding="utf-8")
    subprocess.run([program, f"-env:UserInstallation={Path(tmp_path, 'profile').as_uri()}", "--headless",
                    "--norestore", "--convert-to", "doc:MS Word 97", "--outdir", str(tmp_path),
                    str(tmp_path / "in.html")], check=True, capture_output=True, timeout=180,
                   env={**os.environ, "HOME": str(tmp_path)})
    data = (tmp_path / "in.doc").read_bytes()
    assert f"127.0.0.1:{listener.port}".encode() in data and legacy.sniff(data) == "word97"
    listener.connections = 0
    yield data, listener
    listener.close()


@pytest.mark.subprocess
@needs_libreoffice
@pytest.mark.parametrize("namespace", [True, False], ids=["own-network-namespace", "profile-only"])
def test_conversion_fetches_nothing_a_document_links_to(linking_doc: tuple[bytes, _Listener], namespace: bool,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """LibreOffice loaded the images a .doc links to while converting it (two requests to the address named in
    the document); now nothing reaches the listener, with or without a network namespace of its own."""
    data, listener = linking_doc
    if namespace and not legacy._offline():
        pytest.skip("unshare 不可用（需要 root 或非特权用户命名空间）")
    if not namespace:  # where unshare is not allowed, the profile's closed proxy is what holds
        monkeypatch.setattr(legacy, "_offline", lambda: ())
    text = legacy.read_legacy(data, ".doc", 120).text
    assert "第二条 本办法由省财政厅负责解释。" in text
    time.sleep(0.5)  # a connection LibreOffice opened would be accepted by now
    assert listener.connections == 0


@pytest.mark.subprocess
@needs_libreoffice
def test_a_rebuild_does_not_convert_again(word97: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every rebuild ran LibreOffice on every .doc/.wps before it knew the corpus was unchanged: the reading is
    now cached by file hash, so LibreOffice (behind a wrapper that logs each run) runs once for three builds."""
    runs, wrapper = tmp_path / "runs.log", tmp_path / "bin" / "soffice"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho run >> "{runs}"\nexec "{legacy.soffice()}" "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    _write(corpus / "plan.doc", word97)
    (corpus / "notice.txt").write_text("一、总体要求\n（一）加强组织领导。", encoding="utf-8")
    assert build_index(BuildConfig(corpus, index), None, progress=False).documents == 2
    assert build_index(BuildConfig(corpus, index), None, progress=False).unchanged
    (corpus / "notice.txt").write_text("一、总体要求\n（一）加强组织领导。\n（二）强化资金保障。", encoding="utf-8")
    changed = build_index(BuildConfig(corpus, index), None, progress=False)
    assert changed.documents == 2 and not changed.skipped, changed.summary()
    assert runs.read_text().split() == ["run"]


@pytest.mark.subprocess
@needs_libreoffice
@needs_antiword
def test_a_libreoffice_timeout_is_reported_beside_antiwords_error(tmp_path: Path) -> None:
    """LibreOffice timed out, antiword then failed too, and only antiword's error was shown: now both are, the
    timeout first."""
    ole = legacy.OLE_MAGIC + b"\0" * 64 + "WordDocument".encode("utf-16-le") + b"\0" * 64
    with pytest.raises(DocumentError, match=r"LibreOffice 转换 \.doc 文件超时（0\.05 秒）.*antiword"):
        legacy.read_legacy(ole, ".doc", 0.05)
