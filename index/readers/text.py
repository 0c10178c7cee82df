"""Plain text (.txt, .md): bytes decoded by BOM, strict UTF-8, or detection among the Chinese encodings."""

from __future__ import annotations

import codecs

from index.errors import DocumentError

# Chinese text arrives in these encodings; limiting detection to them keeps short files from being
# mistaken for Latin-1 or cp1252 (UTF-16 is recognised by its BOM or its NUL bytes, never by guessing).
CANDIDATE_ENCODINGS = ["gb18030", "big5"]
SHORT_TEXT = 200


def decode_text(data: bytes) -> str:
    """Return bytes decoded by BOM, strict UTF-8, or charset detection among Chinese encodings."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                     (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(enc)
            except UnicodeDecodeError as exc:
                raise DocumentError(
                    f"文件以 {enc} 标记开头，但第 {exc.start} 字节起内容无效；请检查文件是否损坏"
                ) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if data.count(0) > len(data) // 8:
        # ASCII-heavy UTF-16 without a BOM: NUL bytes fall on odd positions (LE) or even ones (BE).
        enc = "utf-16-le" if data[1::2].count(0) > data[0::2].count(0) else "utf-16-be"
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            pass
    if len(data) < SHORT_TEXT:
        # Too short for statistics to tell GBK from Big5; mainland documents are GBK far more often.
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=CANDIDATE_ENCODINGS).best()
    if best is None:
        raise DocumentError("无法识别文本编码（支持 UTF-8、GBK/GB18030、UTF-16）；请另存为 UTF-8 后重试")
    return str(best)
