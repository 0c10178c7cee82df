"""Legacy Word .doc and Kingsoft WPS .wps: converted to .docx by LibreOffice headless (antiword for a .doc when
LibreOffice is absent), then read by the .docx reader so tables keep their headers. Conversions run without
network and are cached by file hash, so a rebuild converts only new or changed files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import shutil
import signal
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from index.errors import DocumentError
from index.readers.base import Extracted
from index.readers.docx import read_docx
from index.readers.tables import Cell, read_grid
from index.records import TextTable
from index.sqlite import CacheStore

LIBREOFFICE_PACKAGE = "libreoffice-writer-nogui"
ANTIWORD_PACKAGE = "antiword"
OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
CONVERSION_VERSION = "1"  # bump when what a conversion returns changes, so cached results are not reused
# LibreOffice fetches what a document links to (an INCLUDEPICTURE image at any address, intranet ones included)
# while converting it. Each conversion's own profile sends every http, https and ftp request to a proxy at a port
# nothing listens on, with no exceptions; where the system allows it the converter also runs in a network
# namespace of its own, with no network at all (see _offline).
_PROXIES = "".join(
    f'<item oor:path="/org.openoffice.Inet/Settings"><prop oor:name="{name}" oor:op="fuse"><value>{value}</value>'
    "</prop></item>"
    for name, value in [("ooInetProxyType", "2"), ("ooInetNoProxy", ""),
                        *((f"ooInet{kind}Proxy{part}", value) for kind in ("HTTP", "HTTPS", "FTP")
                          for part, value in (("Name", "127.0.0.1"), ("Port", "0")))])
OFFLINE_PROFILE = ('<?xml version="1.0" encoding="UTF-8"?>\n<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
                   f'xmlns:xs="http://www.w3.org/2001/XMLSchema">{_PROXIES}</oor:items>\n')


class ConverterMissing(DocumentError):
    """No converter for .doc/.wps is installed; the build reports the file as skipped, naming the Debian package."""


def sniff(data: bytes) -> str:
    """Return what a .doc/.wps holds: word97 (Word or Kingsoft WPS), works (MS Works), ole, docx, rtf or unknown."""
    if data[:4] == b"PK\x03\x04":
        return "docx"
    if data[:5] == b"{\\rtf":
        return "rtf"
    if data[:8] != OLE_MAGIC:
        return "unknown"
    # The compound file's directory holds its stream names in UTF-16LE; finding them in the bytes is enough.
    if "WordDocument".encode("utf-16-le") in data:
        return "word97"
    if "CONTENTS".encode("utf-16-le") in data:
        return "works"
    return "ole"


def soffice() -> str | None:
    """Return LibreOffice's program, if installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


@cache
def _offline() -> tuple[str, ...]:
    """Return the command prefix that runs a program with no network: `unshare -n` as root, `unshare -rn` where
    unprivileged user namespaces are allowed, else nothing (the profile's closed proxy still holds)."""
    program = shutil.which("unshare")
    for prefix in ((program, "-n"), (program, "-rn")) if program else ():
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=10, check=False).returncode == 0:
                return prefix
        except (OSError, subprocess.SubprocessError):
            continue
    return ()


def convert_to_docx(data: bytes, suffix: str, timeout: float) -> bytes:
    """Return the .docx LibreOffice makes of a .doc/.wps/.rtf file; raise DocumentError when it cannot."""
    program = soffice()
    if program is None:
        raise ConverterMissing(f"读取 {suffix} 文件需要 LibreOffice（Debian 包 {LIBREOFFICE_PACKAGE}），未安装")
    with tempfile.TemporaryDirectory(prefix="policy-qa-lo-") as tmp:
        source = Path(tmp) / f"input{suffix}"
        source.write_bytes(data)
        out = Path(tmp) / "out"
        profile = Path(tmp, "profile", "user")
        profile.mkdir(parents=True)
        (profile / "registrymodifications.xcu").write_text(OFFLINE_PROFILE, encoding="utf-8")
        # Each conversion has its own profile and HOME: two soffice processes sharing a profile hand their work to
        # each other or fail on its lock. A list of arguments, never a shell.
        command = [*_offline(), program, f"-env:UserInstallation={Path(tmp, 'profile').as_uri()}", "--headless",
                   "--norestore", "--nologo", "--nodefault", "--nolockcheck", "--convert-to", "docx:MS Word 2007 XML",
                   "--outdir", str(out), str(source)]
        env = {**os.environ, "HOME": tmp, "SAL_USE_VCLPLUGIN": "svp"}
        returncode, output = _run(command, env, timeout, f"LibreOffice 转换 {suffix} 文件")
        result = out / "input.docx"
        if not result.exists():
            lines = output.decode("utf-8", "replace").strip().splitlines()
            raise DocumentError(f"LibreOffice 无法转换该 {suffix} 文件（{lines[-1] if lines else returncode}）")
        return result.read_bytes()


def _run(command: list[str], env: dict[str, str] | None, timeout: float, what: str) -> tuple[int, bytes]:
    """Return a program's exit code and its stderr (or stdout); past the timeout its whole process group is
    killed: soffice is a script whose office process would outlive a kill of the script alone."""
    try:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, start_new_session=True)
    except OSError as exc:
        raise DocumentError(f"无法启动 {command[0]}（{exc.strerror or exc.__class__.__name__}）") from exc
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise DocumentError(f"{what}超时（{timeout:g} 秒），已跳过") from exc
    return proc.returncode, (stderr or stdout) if proc.returncode else stdout


def _antiword_tables(text: str) -> tuple[str, list[TextTable]]:
    """Return antiword's output with its |cell|cell| rows turned into header rows like the .docx reader's."""
    out: list[str] = []
    tables: list[TextTable] = []
    block: list[list[Cell | None]] = []
    for line in [*text.split("\n"), ""]:
        stripped = line.strip()
        if len(stripped) > 1 and stripped.startswith("|") and stripped.endswith("|"):
            block.append([Cell(c.strip()) for c in stripped[1:-1].split("|")])
            continue
        if block:
            lines, table = read_grid(block)
            out.extend(lines)
            tables += [table] if table is not None else []
            block = []
        out.append(line)
    return "\n".join(out), tables


def read_with_antiword(data: bytes, suffix: str, timeout: float) -> Extracted:
    """Return a Word 97 file's text through antiword (UTF-8 output, no re-wrapping)."""
    program = shutil.which("antiword")
    if program is None:
        raise ConverterMissing(f"读取 {suffix} 文件需要 LibreOffice（Debian 包 {LIBREOFFICE_PACKAGE}）"
                               f"或 antiword（Debian 包 {ANTIWORD_PACKAGE}），均未安装")
    with tempfile.TemporaryDirectory(prefix="policy-qa-aw-") as tmp:
        source = Path(tmp) / "input.doc"
        source.write_bytes(data)
        # -m UTF-8.txt: antiword's own mapping, Chinese as UTF-8; -w 0: no re-wrapping of paragraphs.
        returncode, output = _run([program, "-m", "UTF-8.txt", "-w", "0", str(source)], None, timeout,
                                  f"antiword 读取 {suffix} 文件")
    if returncode != 0:
        reason = output.decode("utf-8", "replace").strip().splitlines()
        raise DocumentError(f"antiword 无法读取该 {suffix} 文件（{reason[-1] if reason else returncode}）")
    text, tables = _antiword_tables(output.decode("utf-8", "replace"))
    return Extracted(text, tables=tuple(tables))


class ConversionCache(CacheStore):
    """What .doc/.wps files were read as, by file hash and converter, beside the parse cache in the index folder:
    a rebuild reads every file before it knows the corpus is unchanged, and LibreOffice takes seconds a file."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, "CREATE TABLE IF NOT EXISTS conversions (key TEXT PRIMARY KEY, blob BLOB)",
                         "转换缓存")
        self._asked: set[str] = set()

    def get(self, key: str) -> Extracted | None:
        """Return a file's cached reading, or None."""
        self._asked.add(key)
        rows = self.read("SELECT blob FROM conversions WHERE key=?", (key,))
        try:
            found = pickle.loads(rows[0][0]) if rows else None  # only ever bytes this index wrote itself
        except Exception:
            return None
        return found if isinstance(found, Extracted) else None

    def put(self, key: str, found: Extracted) -> None:
        """Store a file's reading."""
        with self.write() as conn:
            conn.execute("INSERT OR REPLACE INTO conversions VALUES (?, ?)",
                         (key, pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL)))

    def keep_asked(self) -> None:
        """Delete the readings of files this build did not read (gone from the corpus, or changed)."""
        self.keep_only("conversions", "key", self._asked)


def conversion_key(data: bytes, suffix: str) -> str:
    """Return the cache key of a file's reading: its bytes, its suffix and the converters installed."""
    tools = f"soffice={soffice() is not None};antiword={shutil.which('antiword') is not None}"
    return hashlib.sha256(f"{CONVERSION_VERSION}|{tools}|{suffix}|".encode() + data).hexdigest()


def read_legacy(data: bytes, suffix: str, timeout: float, conversions: ConversionCache | None = None) -> Extracted:
    """Return the text of a .doc/.wps, from the cache or converted now (and cached when it succeeds)."""
    key = conversion_key(data, suffix) if conversions is not None else ""
    found = conversions.get(key) if conversions is not None else None
    if found is None:
        found = _convert(data, suffix, timeout)
        if conversions is not None:
            conversions.put(key, found)
    return found


def _convert(data: bytes, suffix: str, timeout: float) -> Extracted:
    """Return the text of a .doc/.wps: LibreOffice, then the .docx reader; antiword for Word 97 without it."""
    kind = sniff(data)
    if kind == "docx":
        # A .docx saved under an old name is common on government sites.
        return read_docx(data)
    if kind == "unknown":
        raise DocumentError(f"不是有效的 {suffix} 文件（既不是 Word/WPS 文档，也不是 RTF）")
    if soffice() is None and kind == "word97":
        return read_with_antiword(data, suffix, timeout)
    try:
        return read_docx(convert_to_docx(data, suffix, timeout))
    except ConverterMissing:
        raise
    except DocumentError as failed:
        if not (kind == "word97" and shutil.which("antiword")):
            raise
        try:
            return read_with_antiword(data, suffix, timeout)
        except DocumentError as also:
            # LibreOffice's reason comes first: a timeout or a crash there is what the operator must see.
            raise DocumentError(f"{failed}；改用 antiword 也失败：{also}") from failed
