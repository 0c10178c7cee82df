"""Documents that are zip packages (.docx, OFD): refused from the sizes the zip declares, before any part is
inflated, when they would unpack to far more than they weigh (a zip bomb)."""

from __future__ import annotations

import io
import zipfile

from index.errors import DocumentError

# A 52 KB .docx holding 10 MB of XML cost 400 MB and 30 s of CPU on every build. zipfile never inflates a part
# past the size the zip declares (a lie ends in a CRC error), so the declared sizes bound the work.
MAX_UNPACKED = 100_000_000
MAX_PARTS = 2_000
MAX_RATIO = 100  # for parts of 1 MB and more; Word's own XML packs about 5-30 times
BIG_PART = 1_000_000


def bomb_ratio(info: zipfile.ZipInfo) -> int:
    """Return how many times a part of 1 MB or more would inflate, when that is more than MAX_RATIO; else 0."""
    ratio = info.file_size // max(info.compress_size, 1)
    return ratio if info.file_size >= BIG_PART and ratio > MAX_RATIO else 0


def check_package(data: bytes, kind: str) -> None:
    """Raise DocumentError for a package (`kind`: ".docx", "OFD") whose parts would unpack to too much."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            parts = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentError(f"不是有效的 {kind} 文件（{exc}）；请用原软件重新保存") from exc
    if len(parts) > MAX_PARTS:
        raise DocumentError(f"{kind} 含 {len(parts)} 个部件，超过上限 {MAX_PARTS}；请重新保存或转为 PDF")
    total = sum(p.file_size for p in parts)
    if total > MAX_UNPACKED:
        raise DocumentError(f"{kind} 解压后共 {total} 字节，超过上限 {MAX_UNPACKED} 字节；请拆分文件或压缩图片")
    for part in parts:
        if ratio := bomb_ratio(part):
            raise DocumentError(f"{kind} 部件 {part.filename} 解压后 {part.file_size} 字节，压缩比 {ratio}:1，超过上限 "
                                f"{MAX_RATIO}:1，疑似压缩炸弹；请用原软件重新保存")
