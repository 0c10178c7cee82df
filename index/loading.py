"""Read policy documents into text: find the files, pick the reader for each format (index/readers/), add the
sidecar's metadata, and turn every failure into a DocumentError with the reason in Chinese."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from index.config import DocumentLimits
from index.deadline import time_limit
from index.errors import DocumentError
from index.readers.base import DEFAULT_CONTEXT, Extracted, ReadContext
from index.readers.bundle import annex_of, notices, read_zip
from index.readers.html import decode_html
from index.readers.text import decode_text
from index.records import SourceText

__all__ = ["META_KEYS", "SUPPORTED", "decode_html", "decode_text", "discover", "load_corpus", "load_file",
           "original_file", "read_sidecar"]

log = logging.getLogger(__name__)
DOCUMENTS = (".txt", ".md", ".docx", ".pdf", ".html", ".htm", ".ofd", ".doc", ".wps")
SUPPORTED = (*DOCUMENTS, ".zip")
META_KEYS = ("title", "issuer", "doc_number", "issue_date", "region", "period", "target_year", "url")
# The longest value of a metadata field, in characters: a title is shown in every citation and indexed with every
# chunk (a 100,000-character sidecar title made a rebuild take 876 s and each answer citing it 402 KB).
META_CHARS = 200
URL_CHARS = 2048


def discover(corpus_dir: Path) -> list[Path]:
    """Return the document files under a folder, sorted, skipping sidecars and hidden files and folders (symbolic
    links to folders not followed, as rglob does). Walked with scandir, whose entries know their type: rglob, a
    stat per file and pathlib's parts took 1.1-2.0 s for 28,571 files, this 0.4-0.6 s."""
    found: list[Path] = []
    folders = [str(corpus_dir)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                elif entry.is_file() and os.path.splitext(entry.name)[1].lower() in SUPPORTED \
                        and not entry.name.endswith(".meta.json"):
                    found.append(Path(entry.path))
    return sorted(found)


def _reader(suffix: str, context: ReadContext) -> Callable[[bytes], Extracted]:
    """Return the reader of a format; each imports its library only when a file of its kind comes."""
    if suffix in (".txt", ".md"):
        return lambda data: Extracted(decode_text(data))
    if suffix == ".docx":
        from index.readers.docx import read_docx

        return read_docx
    if suffix == ".pdf":
        from index.readers.pdf import read_pdf

        return lambda data: read_pdf(data, context)
    if suffix in (".html", ".htm"):
        from index.readers.html import read_html

        return read_html
    if suffix == ".ofd":
        from index.readers.ofd import read_ofd

        return lambda data: read_ofd(data, context.limits)
    if suffix in (".doc", ".wps"):
        from index.readers.legacy import read_legacy

        return lambda data: read_legacy(data, suffix, context.convert_timeout, context.conversions)
    raise DocumentError(f"不支持的文件类型 {suffix or '（无扩展名）'}；支持：{', '.join(SUPPORTED)}")


def extract(data: bytes, suffix: str, context: ReadContext = DEFAULT_CONTEXT) -> Extracted:
    """Return what the reader of `suffix` finds in the bytes; raise DocumentError with the reason if unreadable."""
    if not data.strip():
        raise DocumentError("文件为空")
    read = _reader(suffix, context)
    try:
        found = read(data)
    except DocumentError:
        raise
    except Exception as exc:  # each library raises its own types for a damaged file
        log.debug("读取失败", exc_info=True)
        raise DocumentError(f"不是有效的 {suffix} 文件（{exc.__class__.__name__}）") from exc
    if not found.text.strip():
        raise DocumentError("文件中没有文字")
    return found


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
            for key, value in meta.items():
                if (size := len(str(value))) > (limit := _meta_limit(key)):
                    raise DocumentError(f"元数据文件 {candidate.name} 的 {key} 长 {size} 字，超过上限 {limit} 字；"
                                        "请缩短后重试")
            url = meta.get("url")
            # Shown to users as a link: only a web address, never javascript: or a local path.
            if url is not None and (not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https")
                                    or not urlsplit(url).netloc):
                raise DocumentError(f"元数据文件 {candidate.name} 的 url 应为 http(s) 网址，如 https://www.gd.gov.cn/…")
            return meta
    return {}


def _meta_limit(key: str) -> int:
    return URL_CHARS if key == "url" else META_CHARS


def _source(path: Path, data: bytes, suffix: str, meta: dict[str, object], context: ReadContext,
            member: str = "", part_of: str = "", part_label: str = "") -> SourceText:
    limits = context.limits
    budget = limits.read_seconds + (limits.ocr_seconds if suffix == ".pdf" else 0.0)
    with time_limit(budget, f"读取超过 {budget:g} 秒仍未完成，已跳过（上限见 QA_READ_MAX_SECONDS"
                            f"{'，扫描件另加 QA_OCR_MAX_SECONDS' if suffix == '.pdf' else ''}）"):
        found = extract(data, suffix, context)
    # A file's own title (an HTML <title>, OFD DocInfo) is a guess: an over-long one is dropped, and the title is
    # then found in the text.
    hints = {key: value for key, value in dataclasses.asdict(found.hints).items()
             if value and len(value) <= _meta_limit(key)}
    meta = {**hints, **meta}
    # What a limit cut short is part of the reading: when the next build reads more (OCR goes on where its time
    # ran out), the file counts as changed. Without notes the hash is as before, so existing caches still match.
    facts: object = [meta, list(found.notes)] if found.notes else meta
    digest = hashlib.sha256(data + json.dumps(facts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return SourceText(path=str(path), text=found.text, fmt=suffix.lstrip("."), content_hash=digest, meta=meta,
                      tables=found.tables, ocr_pages=found.ocr_pages, low_confidence=found.low_confidence,
                      notes=found.notes,
                      file_hash=hashlib.sha256(data).hexdigest(), member=member, part_of=part_of,
                      part_label=part_label)


def _read(path: Path, max_bytes: int) -> bytes:
    size = path.stat().st_size
    if size > max_bytes:
        raise DocumentError(f"文件大小 {size} 字节超过上限 {max_bytes} 字节（QA_MAX_DOCUMENT_BYTES）")
    return path.read_bytes()


def load_file(path: Path, max_bytes: int, context: ReadContext = DEFAULT_CONTEXT) -> SourceText:
    """Return the text layer of one document file; raise DocumentError with the reason if unreadable."""
    suffix = path.suffix.lower()
    if suffix == ".zip":
        raise DocumentError("压缩包要逐个文件读取（load_corpus）")
    if suffix not in DOCUMENTS:
        raise DocumentError(f"不支持的文件类型 {suffix or '（无扩展名）'}；支持：{', '.join(SUPPORTED)}")
    data = _read(path, max_bytes)
    if not data.strip():
        raise DocumentError("文件为空")
    return _source(path, data, suffix, read_sidecar(path), context)


def load_bundle(path: Path, max_bytes: int,
                context: ReadContext = DEFAULT_CONTEXT) -> Iterator[tuple[Path, SourceText | DocumentError]]:
    """Yield each document of a .zip as `<bundle>/<member>` with its text, or with the reason it was skipped, one
    member at a time (a bundle's members together may far exceed memory).

    A member named 附件N beside a single other file is marked as that notice's attachment."""
    total = context.limits.bundle_bytes
    try:
        data = _read(path, max_bytes)
    except DocumentError as exc:
        yield path, exc
        return
    # The names first, from the zip's directory (inflating only inner zips): who is whose attachment.
    owner = notices([m.name for m in read_zip(data, DOCUMENTS, max_bytes, total, read=False) if m.data is not None])
    for m in read_zip(data, DOCUMENTS, max_bytes, total):
        where = path / PurePosixPath(m.name) if m.name else path  # no name: the bundle itself is unreadable
        if m.data is None:
            yield where, DocumentError(m.reason)
            continue
        annex = annex_of(m.name) if m.name in owner else None
        try:
            yield where, _source(path, m.data, PurePosixPath(m.name).suffix.lower(),
                                 {"title": annex[1]} if annex and annex[1] else {}, context, member=m.name,
                                 part_of=f"{path}/{owner[m.name]}" if annex else "",
                                 part_label=annex[0] if annex else "")
        except DocumentError as exc:
            yield where, exc


def load_corpus(paths: list[Path], max_bytes: int,
                context: ReadContext = DEFAULT_CONTEXT) -> Iterator[tuple[Path, SourceText | DocumentError]]:
    """Yield each path with its text, or with the DocumentError that made it unreadable; a .zip's documents are
    yielded one by one, each under the bundle's path joined with its name inside it."""
    for path in paths:
        try:
            if path.suffix.lower() == ".zip":
                yield from load_bundle(path, max_bytes, context)
            else:
                yield path, load_file(path, max_bytes, context)
        except DocumentError as exc:
            yield path, exc
        except OSError as exc:
            yield path, DocumentError(f"无法读取文件（{exc.strerror or exc.__class__.__name__}）")


def original_file(source: str, member: str, file_hash: str, max_bytes: int,
                  bundle_bytes: int = DocumentLimits.bundle_bytes) -> bytes:
    """Return the bytes of an indexed file (or of a member of an indexed bundle), as long as they are still the
    bytes that were indexed; raise DocumentError otherwise. The path comes from the index, never from a request."""
    path = Path(source)
    if not file_hash or not path.is_file():
        raise DocumentError("原文件已不在文档目录中")
    data = _read(path, max_bytes)
    if member:
        found = next((m.data for m in read_zip(data, DOCUMENTS, max_bytes, bundle_bytes) if m.name == member), None)
        if found is None:
            raise DocumentError("压缩包中已没有这个文件")
        data = found
    if hashlib.sha256(data).hexdigest() != file_hash:
        raise DocumentError("原文件在建立索引后已被修改；请重新建立索引")
    return data


