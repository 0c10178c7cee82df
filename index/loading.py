"""Read policy documents (txt/md, docx, pdf, html) into text, detecting encodings instead of guessing."""

from __future__ import annotations

import codecs
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

from index.errors import DocumentError
from index.records import SourceText

SUPPORTED = (".txt", ".md", ".docx", ".pdf", ".html", ".htm")
META_KEYS = ("title", "issuer", "doc_number", "issue_date", "region", "period", "target_year")
# Chinese text arrives in these encodings; limiting detection to them keeps short files from being
# mistaken for Latin-1 or cp1252 (UTF-16 is recognised by its BOM or its NUL bytes, never by guessing).
CANDIDATE_ENCODINGS = ["gb18030", "big5"]
SHORT_TEXT = 200


def discover(corpus_dir: Path) -> list[Path]:
    """Return the document files under a folder, sorted, skipping sidecars and hidden files."""
    return sorted(
        p for p in corpus_dir.rglob("*")
        if p.is_file() and p.suffix.lower() in SUPPORTED
        and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)
        and not p.name.endswith(".meta.json")
    )


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


def _read_docx(data: bytes) -> str:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))
    lines = []
    # Paragraphs and tables in document order, so a table stays inside the clause it belongs to.
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            lines.append(block.text)
        elif isinstance(block, Table):
            lines.extend("\t".join(cell.text for cell in row.cells) for row in block.rows)
    return "\n".join(lines)


def _read_pdf(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("PDF 已加密，无法读取；请提供未加密的版本")
        pages = [page.extract_text() or "" for page in reader.pages]
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise DocumentError(f"不是有效的 PDF 文件（{exc.__class__.__name__}）") from exc
    text = "\n".join(pages)
    if len("".join(text.split())) < 20:
        raise DocumentError(f"PDF 共 {len(pages)} 页但没有文字层（可能是扫描件），需要先做 OCR")
    return text


def _read_html(data: bytes) -> tuple[str, dict[str, object]]:
    import trafilatura

    html = decode_html(data)
    text = trafilatura.extract(html, include_tables=True, include_comments=False, favor_precision=True)
    meta = trafilatura.extract_metadata(html)
    if not text:
        raise DocumentError("网页中没有找到正文内容")
    hints: dict[str, object] = {}
    if meta is not None and meta.title:
        hints["title"] = meta.title
    return text, hints


def decode_html(data: bytes) -> str:
    """Return HTML text decoded by its declared charset, falling back to detection."""
    import re

    head = data[:2048].decode("ascii", errors="ignore")
    declared = re.search(r"charset=[\"']?([A-Za-z0-9_-]+)", head)
    if declared:
        name = declared.group(1).lower()
        # Government sites often declare gb2312 but use characters only GB18030 covers.
        if name in ("gb2312", "gbk", "gb18030"):
            name = "gb18030"
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_text(data)


def read_sidecar(path: Path) -> dict[str, object]:
    """Return metadata overrides from `<name>.meta.json` beside a document, if present."""
    for candidate in (path.with_suffix(".meta.json"), path.with_name(path.name + ".meta.json")):
        if candidate.exists():
            try:
                meta = json.loads(candidate.read_text(encoding="utf-8-sig"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise DocumentError(f"元数据文件 {candidate.name} 不是有效的 JSON：{exc}") from exc
            if not isinstance(meta, dict):
                raise DocumentError(f"元数据文件 {candidate.name} 应为 JSON 对象")
            unknown = sorted(set(meta) - set(META_KEYS))
            if unknown:
                raise DocumentError(
                    f"元数据文件 {candidate.name} 含未知字段 {unknown}；可用字段：{', '.join(META_KEYS)}"
                )
            return meta
    return {}


def load_file(path: Path, max_bytes: int) -> SourceText:
    """Return the text layer of one document file; raise DocumentError with the reason if unreadable."""
    size = path.stat().st_size
    if size > max_bytes:
        raise DocumentError(f"文件大小 {size} 字节超过上限 {max_bytes} 字节（QA_MAX_DOCUMENT_BYTES）")
    data = path.read_bytes()
    if not data.strip():
        raise DocumentError("文件为空")
    suffix = path.suffix.lower()
    hints: dict[str, object] = {}
    if suffix in (".txt", ".md"):
        text = decode_text(data)
    elif suffix == ".docx":
        try:
            text = _read_docx(data)
        except DocumentError:
            raise
        except Exception as exc:  # python-docx raises many types for a corrupt zip
            raise DocumentError(f"不是有效的 .docx 文件（{exc.__class__.__name__}）") from exc
    elif suffix == ".pdf":
        text = _read_pdf(data)
    elif suffix in (".html", ".htm"):
        text, hints = _read_html(data)
    else:
        raise DocumentError(f"不支持的文件类型 {suffix}；支持：{', '.join(SUPPORTED)}")
    if not text.strip():
        raise DocumentError("文件中没有文字")
    meta = {**hints, **read_sidecar(path)}
    digest = hashlib.sha256(data + json.dumps(meta, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return SourceText(path=str(path), text=text, fmt=suffix.lstrip("."), content_hash=digest, meta=meta)


def load_corpus(paths: list[Path], max_bytes: int) -> Iterator[tuple[Path, SourceText | DocumentError]]:
    """Yield each path with its text, or with the DocumentError that made it unreadable."""
    for path in paths:
        try:
            yield path, load_file(path, max_bytes)
        except DocumentError as exc:
            yield path, exc
        except OSError as exc:
            yield path, DocumentError(f"无法读取文件（{exc.strerror or exc.__class__.__name__}）")
