"""Zip bundles of documents (a notice with its attachments), read one member at a time in memory, within one
budget for the whole upload."""

from __future__ import annotations

import io
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from index.readers.packages import MAX_RATIO

MAX_MEMBERS = 1000
MAX_DEPTH = 1  # a zip inside the zip is read; a zip inside that is not
# A member this small is not checked for its packing ratio: a page of one repeated character packs 300:1, and the
# upload's budget bounds what many of them can inflate to.
RATIO_FLOOR = 64 * 1024
ANNEX_NAME = re.compile(r"^附\s*件\s*([0-9一二三四五六七八九十]+)?\s*[-_：:、.．\s]*(.*)$")


@dataclass(frozen=True)
class Member:
    """One file of a bundle: its safe relative name, and its bytes or the reason it was not read."""

    name: str
    data: bytes | None
    reason: str = ""


@dataclass
class _Walk:
    """What one upload's walk shares across nested zips: the bytes it may still inflate, the names it gave."""

    left: int
    total: int
    seen: set[str] = field(default_factory=set)
    spent: bool = False


def member_name(info: zipfile.ZipInfo) -> str:
    """Return a member's real name as a safe relative path: without the UTF-8 flag, the bytes are tried as UTF-8
    and then GB18030 (Windows' own zip and 360压缩 write GBK names), never left as cp437 mojibake."""
    name = info.filename
    if not info.flag_bits & 0x800:
        raw = name.encode("cp437", errors="replace")
        for encoding in ("utf-8", "gb18030"):
            try:
                name = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    # Nothing is extracted to disk, but the name becomes a document id: no "..", no absolute paths.
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".", "..", "/")]
    return "/".join(parts)


def read_zip(data: bytes, supported: tuple[str, ...], max_bytes: int, total_bytes: int,
             read: bool = True) -> Iterator[Member]:
    """Yield the bundle's members one at a time with their bytes, or with the reason one is skipped (in Chinese);
    a member without a name stands for the (inner) bundle itself. Nested zips share the upload's budget of
    `total_bytes` inflated. With `read` false, the members that pass the checks of their headers are yielded
    with empty bytes, nothing inflated but inner zips (to list their names)."""
    yield from _walk(data, supported, max_bytes, _Walk(total_bytes, total_bytes), read, 0, "")


def _walk(data: bytes, supported: tuple[str, ...], max_bytes: int, walk: _Walk, read: bool, depth: int,
          prefix: str) -> Iterator[Member]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        yield Member(prefix.rstrip("/"), None, f"不是有效的 zip 文件（{exc}）")
        return
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        yield Member(prefix.rstrip("/"), None,
                     f"压缩包含 {len(infos)} 个文件，超过上限 {MAX_MEMBERS}；请拆分后再上传")
        return
    for info in infos:
        name = prefix + member_name(info)
        base = PurePosixPath(name).name
        suffix = PurePosixPath(name).suffix.lower()
        if info.is_dir() or not base or base.startswith((".", "~$")) or "__MACOSX/" in name + "/":
            continue
        if name in walk.seen:  # "a.txt" and "../a.txt" are one name once made safe: one document id, one file
            yield Member(name, None, f"与压缩包中另一文件同名（原名 {info.filename}），已跳过；请改名后重新打包")
            continue
        walk.seen.add(name)
        if stat.S_ISLNK(info.external_attr >> 16):
            yield Member(name, None, "符号链接，已跳过")
        elif info.flag_bits & 0x1:
            yield Member(name, None, "文件已加密，无法读取")
        elif suffix not in supported and suffix != ".zip":
            yield Member(name, None, f"不支持的文件类型 {suffix or '（无扩展名）'}；支持：{', '.join(supported)}")
        elif info.file_size > max_bytes:
            yield Member(name, None, f"解压后 {info.file_size} 字节，超过上限 {max_bytes} 字节")
        elif info.file_size >= RATIO_FLOOR and (ratio := info.file_size // max(info.compress_size, 1)) > MAX_RATIO:
            yield Member(name, None, f"解压后 {info.file_size} 字节，压缩比 {ratio}:1，超过上限 {MAX_RATIO}:1"
                                     "（疑似压缩炸弹），已跳过；请重新打包")
        elif read and info.file_size > walk.left:
            walk.spent = True
            yield Member(name, None, f"压缩包解压总量超过上限 {walk.total} 字节（QA_MAX_BUNDLE_BYTES），"
                                     "此文件及其余文件已跳过；请拆分后再上传，或调高上限")
            return
        elif not read and suffix != ".zip":
            yield Member(name, b"")
        else:
            yield from _member(archive, info, name, suffix, supported, max_bytes, walk, read, depth)
            if walk.spent:
                return


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, suffix: str, supported: tuple[str, ...],
            max_bytes: int, walk: _Walk, read: bool, depth: int) -> Iterator[Member]:
    """Yield one member inflated (a document), or the members of an inner zip."""
    try:
        with archive.open(info) as handle:
            # The header's size may lie: read no more than the cap, and no more than the budget left.
            body = handle.read(min(max_bytes, walk.left if read else max_bytes) + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError, ValueError) as exc:
        yield Member(name, None, f"无法解压（{exc.__class__.__name__}）")
        return
    if len(body) > max_bytes:
        yield Member(name, None, f"解压后超过上限 {max_bytes} 字节")
        return
    if read:
        if len(body) > walk.left:
            walk.spent = True
            yield Member(name, None, f"压缩包解压总量超过上限 {walk.total} 字节（QA_MAX_BUNDLE_BYTES），"
                                     "此文件及其余文件已跳过；请拆分后再上传，或调高上限")
            return
        walk.left -= len(body)
    if suffix != ".zip":
        yield Member(name, body)
    elif depth >= MAX_DEPTH:
        yield Member(name, None, "多层嵌套的压缩包，已跳过")
    else:
        yield from _walk(body, supported, max_bytes, walk, read, depth + 1, name + "/")


def annex_of(name: str) -> tuple[str, str] | None:
    """Return (label, title) when a file name marks an attachment: "附件1：申报指南.docx" -> ("附件1", "申报指南")."""
    m = ANNEX_NAME.match(PurePosixPath(name).stem)
    if not m:
        return None
    return f"附件{m.group(1) or ''}", m.group(2).strip()


def notices(names: list[str]) -> dict[str, str]:
    """Return, for each attachment file, the notice it belongs to: in each folder, files named 附件N go with the
    one file that is not so named; with none or several such files, nothing is grouped."""
    by_folder: dict[str, list[str]] = {}
    for name in names:
        by_folder.setdefault(str(PurePosixPath(name).parent), []).append(name)
    owner: dict[str, str] = {}
    for files in by_folder.values():
        mains = [f for f in files if annex_of(f) is None]
        if len(mains) == 1:
            owner.update({f: mains[0] for f in files if annex_of(f) is not None})
    return owner
