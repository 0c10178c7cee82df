"""The ingestion pipeline: files -> clean text -> clause tree -> metadata -> chunks -> indexes."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import logging
import os
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from index.config import BuildConfig
from index.dense import COLLECTION, EmbeddingCache, embed_chunks, write_collection
from index.embedding import PolicyEmbeddings
from index.errors import ConfigError, DocumentError, GenerationDamaged, NothingToIndex
from index.lexical import LexicalIndex, TokenIds
from index.loading import SUPPORTED, discover, load_corpus, load_file
from index.parsed import PIPELINE_VERSION, ParseCache, Reused, cache_key, fingerprint, parse_all
from index.readcache import Known, ReadCache
from index.readers.base import ReadContext
from index.readers.legacy import ConversionCache
from index.readers.ocr import OcrCache
from index.recordfile import (
    CHECKS_FILE,
    DELTA_FILE,
    RECORDS_FILE,
    RecordFile,
    RecordWriter,
    Source,
    distrust,
    fit_slots,
    hard_link,
    is_current,
    merge_due,
    spread,
    written_digest,
)
from index.records import Chunk, Manifest, SourceText
from index.reuse import Carry, Previous
from index.store import (
    CURRENT,
    GenerationWriter,
    build_lock,
    check_files,
    current_generation,
    file_digest,
    generations,
    manifest_of,
    named_generation,
    new_generation,
    open_generation,
    open_vectors,
    point_at,
    publish,
    read_manifest,
    remove_leftovers,
    seal,
)

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did: counts, skipped files with reasons, and time spent."""

    documents: int = 0
    parsed: int = 0  # documents parsed by this build; the rest came from the parse cache
    clauses: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    vectors_written: int = 0  # into the vector store: all chunks, or only the changed ones when it was copied
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # indexed, but a person should check these
    ocr_pages: int = 0  # pages recognised from scans by this build (not from the OCR cache)
    embedding_model: str | None = None
    seconds: float = 0.0  # the whole build, a compaction after the switch included
    served_seconds: float = 0.0  # from the start until the new generation served (0: unchanged, nothing switched)
    compaction_seconds: float = 0.0  # after the switch: the records' delta merged into a new base (0: none due)
    compaction_failed: str = ""  # why that compaction failed: the generation switched to serves on
    unchanged: bool = False
    generation: str = ""  # the generation serving when the build returned (the compacted one after a compaction)
    repaired: str = ""  # what was wrong with the serving generation this build replaced

    def summary(self) -> str:
        """Return a human summary in Chinese."""
        if self.unchanged:
            head = f"索引已是最新：{self.documents} 个文件，{self.clauses} 个条款（{self.seconds:.1f} 秒）"
        else:
            dense = (f"向量模型 {self.embedding_model}，新计算 {self.embedded} 个、复用 {self.reused} 个向量"
                     if self.embedding_model else "未启用向量检索（仅关键词检索）")
            cached = f"（{self.documents - self.parsed} 个未变，沿用上次解析）" if self.parsed < self.documents else ""
            head = (f"已索引 {self.documents} 个文件{cached}，{self.clauses} 个条款，{self.chunks} 个检索单元；"
                    f"{dense}；用时 {self.seconds:.1f} 秒")
        lines = [head]
        if self.compaction_seconds or self.compaction_failed:
            when = "" if self.unchanged else f"新索引在 {self.served_seconds:.1f} 秒时开始使用；随后"
            done = (f"失败（{self.compaction_failed}），当前索引继续使用，下次建立索引时再合并"
                    if self.compaction_failed else f"用时 {self.compaction_seconds:.1f} 秒，内容不变")
            lines.append(f"  {when}合并记录增量{done}")
        if self.repaired:
            lines.append(f"  已修复损坏的索引：{self.repaired}")
        if self.ocr_pages:
            lines.append(f"  识别扫描页 {self.ocr_pages} 页（OCR 结果已缓存，重建时不再识别）")
        for path, reason in self.skipped:
            lines.append(f"  跳过 {path}：{reason}")
        for path, note in self.notes:
            lines.append(f"  请核对 {path}：{note}")
        return "\n".join(lines)


def _relative(path: Path, corpus_dir: Path) -> str:
    """Return a file's path inside the corpus folder, with "/" between folders. By string where the path starts
    with the folder's (every discovered file): pathlib's relative_to took ~1 s of a rebuild for 28,571 files."""
    name, prefix = str(path), str(corpus_dir) + os.sep
    if name.startswith(prefix):
        return name[len(prefix) :].replace(os.sep, "/")
    return path.relative_to(corpus_dir).as_posix()


def _doc_id(path: Path, corpus_dir: Path) -> str:
    """Return a stable document id: the file's path inside the corpus, without its suffix."""
    rel = _relative(path, corpus_dir)
    return rel[: len(rel) - len(path.suffix)]


def _doc_ids(paths: list[Path], corpus_dir: Path) -> dict[Path, str]:
    """Return each file's document id: its path without the suffix, or with it when another file differs only by
    the suffix (通知.pdf beside 通知.docx), so that no two files share an id and its clause and vector ids."""
    plain = {path: _doc_id(path, corpus_dir) for path in paths}
    shared = Counter(plain.values())
    return {path: _relative(path, corpus_dir) if shared[doc_id] > 1 else doc_id
            for path, doc_id in plain.items()}


def _low_confidence_note(source: SourceText) -> str:
    pages = "、".join(f"第 {page} 页（置信度 {score:.2f}）" for page, score in source.low_confidence)
    return f"扫描件{pages}识别置信度低，可能有错字，请对照原文核对"


def _signature(hashes: list[str], model: str | None, chunk_chars: int) -> str:
    payload = "|".join([fingerprint(), model or "-", str(chunk_chars), *sorted(hashes)])
    return hashlib.sha256(payload.encode()).hexdigest()


def _nothing_message(corpus_dir: Path, skipped: list[tuple[str, str]]) -> str:
    """Return why a corpus gave nothing to index, naming up to ten files with their reasons."""
    if not skipped:
        found = f"其中没有支持的文件（{'/'.join(SUPPORTED)}）"
    else:
        more = f"（另有 {len(skipped) - 10} 个）" if len(skipped) > 10 else ""
        found = f"{len(skipped)} 个文件都无法索引：" + "；".join(f"{p}：{r}" for p, r in skipped[:10]) + more
    return f"文档目录 {corpus_dir} 中没有可索引的内容：{found}。现有索引保持不变；请放入有文字内容的文件后重试"


def _damage(folder: Path, manifest: Manifest, embeddings: PolicyEmbeddings | None, chroma_url: str) -> str:
    """Return what is wrong with a generation ("" when intact): the digests of its files, then its vector store,
    the one part digests cannot cover (Chroma writes to it on open). Costs a read of the index, not a parse."""
    try:
        if problem := check_files(folder, manifest, deep=True):
            return problem
        if not manifest.files:  # published before digests were recorded: only a full open tells
            open_generation(folder, embeddings, chroma_url).close()
            return ""
        dense = open_vectors(folder, manifest, embeddings, chroma_url)
        if dense is not None:
            dense.close()
            if dense.size != manifest.chunks:
                return f"向量库有 {dense.size} 个向量，应为 {manifest.chunks} 个"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def _fallback(index_dir: Path) -> Path | None:
    """Return the newest older generation whose manifest reads and whose files have their sizes, to keep beside a
    build that replaces a damaged serving generation. With none, publish keeps the damaged one until the next
    build: opening never falls back to it, since it fails verification."""
    for folder in generations(index_dir)[1:]:
        try:
            if not check_files(folder, manifest_of(folder)):
                return folder
        except Exception:
            continue
    return None


def _reusable_store(index_dir: Path, manifest: Manifest | None, model_id: str, chroma_url: str) -> Path | None:
    """Return the serving generation's embedded vector store when a new build can start from a copy of it."""
    folder = current_generation(index_dir)
    if chroma_url or folder is None or manifest is None or not (folder / "chroma").is_dir():
        return None
    same = manifest.embedding_model == model_id and manifest.chroma_collection is None
    return folder / "chroma" if same else None


def _load(paths: list[Path], config: BuildConfig, ocr_cache: OcrCache, conversions: ConversionCache,
          notify: Callable[[str, int, int], None], progress: bool, report: BuildReport, reads: ReadCache,
          known: dict[Path, Known]) -> Iterator[tuple[Path, SourceText | DocumentError]]:
    """Yield each file's text as load_corpus does, showing OCR progress page by page (it takes seconds a page); a
    file `known` unchanged since the last build is not read: it is yielded without its text."""
    # The bar opens at the first scanned page: most corpora have none, and an empty bar would only confuse.
    bars: list[tqdm] = []
    current = {"name": ""}

    def on_page(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(desc="识别扫描件", unit="页", disable=not progress, leave=False))
        bar = bars[0]
        if done == 1:
            bar.reset(total)
            bar.set_postfix_str(current["name"], refresh=False)
        bar.update(1)
        report.ocr_pages += 1
        notify(f"识别扫描件 {current['name']}", done, total)

    context = ReadContext(ocr_cache=ocr_cache, on_page=on_page, limits=config.limits, conversions=conversions)
    try:
        for path in paths:
            if path in known:
                yield path, known[path].source
                continue
            current["name"] = path.name
            before = reads.before_read(path)
            for where, loaded in load_corpus([path], config.max_document_bytes, context):
                if before is not None and isinstance(loaded, SourceText):
                    reads.remember(path, before, loaded)
                yield where, loaded
    finally:
        for bar in bars:
            bar.close()


def _with_notice_id(source: SourceText, corpus_dir: Path, ids: dict[Path, str]) -> SourceText:
    if not source.part_of:
        return source
    notice = Path(source.part_of)
    return dataclasses.replace(source, part_of=ids.get(notice) or _doc_id(notice, corpus_dir))


def build_index(config: BuildConfig, embeddings: PolicyEmbeddings | None, progress: bool = True,
                on_progress: Callable[[str, int, int], None] | None = None,
                on_served: Callable[[BuildReport], None] | None = None) -> BuildReport:
    """Build the index of the corpus folder into a new generation and switch to it when complete; then, when its
    records' delta has grown past a tenth of their base, switch to a compacted copy of it (`_compact`).

    `on_progress(stage, done, total)` reports reading and embedding progress, e.g. to a web page; `on_served(report)`
    is called once the new generation serves, before a compaction (a server swaps to it then).
    Builds of the same index wait for each other, across processes."""
    if not config.corpus_dir.is_dir():
        raise ConfigError(f"文档目录 {config.corpus_dir} 不存在；请设置 QA_CORPUS_DIR 或使用 --corpus")
    config.index_dir.mkdir(parents=True, exist_ok=True)
    with build_lock(config.index_dir):
        remove_leftovers(config.index_dir, config.chroma_url)
        started = time.monotonic()
        report = _build(config, embeddings, progress, on_progress)
        if not report.unchanged:
            report.served_seconds = time.monotonic() - started
            if on_served is not None:
                on_served(report)
        # Also after an unchanged build: a compaction interrupted before is done now.
        serving = current_generation(config.index_dir)
        if serving is not None and merge_due(serving):
            _compact(config, embeddings, serving, report)
        report.seconds = time.monotonic() - started
        return report


def _compact(config: BuildConfig, embeddings: PolicyEmbeddings | None, serving: Path, report: BuildReport) -> None:
    """Replace the serving generation, whose delta has grown past a tenth of its base, by one of the same contents
    whose records file is a copy of the base (checked against its digest) with the delta merged in, and switch to it.

    Run after the switch to the generation the build wrote, under the build lock, so that the changed files serve
    without waiting for the 4 GB copy at 1M. A failure leaves that generation serving: the folder is removed (or, when
    the process is killed, by the next build: `remove_leftovers`), and the next build compacts again."""
    started = time.monotonic()
    folder = new_generation(config.index_dir)
    try:
        _write_compacted(config, embeddings, serving, folder)
        report.generation = folder.name
    except BaseException as exc:
        shutil.rmtree(folder, ignore_errors=True)
        if not isinstance(exc, Exception):
            raise
        if isinstance(exc, GenerationDamaged | sqlite3.DatabaseError):
            # The base is damaged with its stat kept (a failing disk): the next rebuild must read it, not trust it.
            distrust(serving / RECORDS_FILE, config.index_dir / CHECKS_FILE)
        log.warning("合并索引 %s 的记录增量失败，继续使用它：%s", serving.name, exc)
        report.compaction_failed = f"{type(exc).__name__}: {exc}"
    finally:
        report.compaction_seconds = time.monotonic() - started


def _write_compacted(config: BuildConfig, embeddings: PolicyEmbeddings | None, serving: Path, folder: Path) -> None:
    """Write the serving generation's contents into `folder`, its records as one base, then verify and publish it."""
    index_dir = config.index_dir
    # Kept beside it: the generation the rebuild replaced, as after any rebuild (the one compacted goes once unused).
    keep = _fallback(index_dir)
    manifest = manifest_of(serving)
    digests = {f.path: f for f in manifest.files}
    writer = RecordWriter(folder / RECORDS_FILE, Source(serving / RECORDS_FILE, digests[RECORDS_FILE].sha256,
                                                        serving / DELTA_FILE, digests[DELTA_FILE].sha256), share=False)
    try:
        writer.finish()
    finally:
        writer.close()
    # Hashed (and noted as checked, for the rebuilds that share it) while the other files are linked or copied.
    hashing = ThreadPoolExecutor(1)
    known = {RECORDS_FILE: hashing.submit(written_digest, folder / RECORDS_FILE, index_dir / CHECKS_FILE)}
    hashing.shutdown(wait=False)
    # The lexical index is the same: its files are hard-linked (never written once published), their digests the
    # ones the serving generation's manifest records for these very files; copied and hashed where links fail.
    (folder / "bm25").mkdir()
    for path in sorted((serving / "bm25").iterdir()):
        name = f"bm25/{path.name}"
        if name in digests and hard_link(path, folder / name):
            known[name] = Future()
            known[name].set_result(digests[name])
        else:
            shutil.copyfile(path, folder / name)
    if embeddings is not None:
        # The same chunks, their vectors from the embedding cache; an embedded store is copied from the serving one.
        records = RecordFile(folder / RECORDS_FILE)
        try:
            chunks = list(records.chunks.values())
        finally:
            records.close()
        _write_vectors(config, embeddings, folder, chunks, manifest, False, lambda stage, done, total: None)
    seal(folder, known=known, manifest=dataclasses.replace(
        manifest, chroma_collection=folder.name if config.chroma_url and embeddings is not None else None))
    open_generation(folder, embeddings, config.chroma_url).close()
    publish(index_dir, folder, config.chroma_url, keep=keep)


def _build(config: BuildConfig, embeddings: PolicyEmbeddings | None, progress: bool,
           on_progress: Callable[[str, int, int], None] | None) -> BuildReport:
    notify = on_progress or (lambda stage, done, total: None)
    report = BuildReport(embedding_model=embeddings.model_id if embeddings else None)
    corpus_dir, index_dir = config.corpus_dir, config.index_dir
    paths = discover(corpus_dir)
    sources: list[tuple[Path, str, SourceText]] = []
    seen: dict[str, str] = {}
    ocr_cache = OcrCache(index_dir / "ocr_cache.sqlite")
    conversions = ConversionCache(index_dir / "conversion_cache.sqlite")
    reads = ReadCache(index_dir / "read_cache.sqlite",
                      f"{fingerprint()}|{config.max_document_bytes}|{config.limits!r}")
    try:
        known = reads.known(paths)
        loaded_files = list(_load(paths, config, ocr_cache, conversions, notify, progress, report, reads, known))
        ocr_cache.keep_asked()
        conversions.keep_asked()
        reads.save(paths)
    finally:
        ocr_cache.close()
        conversions.close()
        reads.close()
    for path, loaded in loaded_files:
        rel = _relative(path, corpus_dir)
        if isinstance(loaded, Exception):
            report.skipped.append((rel, str(loaded)))
            continue
        if loaded.low_confidence:
            report.notes.append((rel, _low_confidence_note(loaded)))
        report.notes += [(rel, note) for note in loaded.notes]
        text_hash = known[path].text_hash if path in known else hashlib.sha256(loaded.text.encode()).hexdigest()
        if text_hash in seen:
            report.skipped.append((rel, f"与 {seen[text_hash]} 内容相同，只索引一次"))
            continue
        seen[text_hash] = rel
        sources.append((path, rel, loaded))
    # Decided from the files alone, before parsing: an unchanged corpus costs a read and a hash per file.
    signature = _signature([s.content_hash for _, _, s in sources], report.embedding_model, config.chunk_chars)
    serving = current_generation(index_dir)
    manifest = read_manifest(index_dir)
    if serving is not None and manifest is None:
        report.repaired = f"索引 {serving.name} 的 manifest.json 无法读取"
    elif serving is not None and manifest is not None and manifest.signature == signature:
        # Same corpus: the serving generation is kept only when it is intact; a damaged one is rebuilt whole.
        report.repaired = _damage(serving, manifest, embeddings, config.chroma_url)
    if report.repaired:
        log.warning("当前索引已损坏（%s），重新建立", report.repaired)
        manifest = None  # nothing of it is reused, its vector store included
    # A generation from before the records file is written again, whatever changed: opening it copies every record.
    # So is one whose records file is of an older format: its measures are filtered in Python, each question that
    # asks for them reading them all.
    legacy = serving is not None and not is_current(serving / RECORDS_FILE)
    if manifest and manifest.signature == signature and not legacy:
        if serving is not None and named_generation(index_dir) != serving:
            point_at(index_dir, serving)  # the pointer was bad: it names the intact generation again
            report.repaired = f"{CURRENT} 未指向完整的索引，已改为指向 {serving.name}"
        report.unchanged = True
        report.documents, report.clauses = manifest.documents, manifest.clauses
        report.skipped += [item for item in manifest.skipped if item not in report.skipped]
        report.notes += [item for item in manifest.notes if item not in report.notes]
        return report
    if not sources:
        raise NothingToIndex(_nothing_message(corpus_dir, report.skipped))

    index_dir.mkdir(parents=True, exist_ok=True)
    keep = _fallback(index_dir) if report.repaired else None
    # The generation this one replaces (not one being repaired): its records file is copied and patched.
    previous = Previous.of(serving, manifest) if manifest is not None else None
    if previous is not None:
        before = copy.deepcopy(report)
        folder = new_generation(index_dir)
        try:
            return _write(config, embeddings, progress, notify, report, sources, signature, manifest, folder, keep,
                          previous)
        except BaseException as exc:
            shutil.rmtree(folder, ignore_errors=True)
            if not isinstance(exc, sqlite3.DatabaseError | GenerationDamaged):
                raise
            # Its records file is damaged inside (its size was right): every file is written from its parse. A shared
            # base is found damaged only once its check ends, after the changed files were parsed (and cached).
            log.warning("上一版本索引 %s 的记录无法复用（%s），全部重新写入", serving.name if serving else "", exc)
            report = dataclasses.replace(before, parsed=report.parsed)
    folder = new_generation(index_dir)
    try:
        return _write(config, embeddings, progress, notify, report, sources, signature, manifest, folder, keep, None)
    except BaseException:
        # A failed build leaves no half-written generation behind; the serving one is untouched.
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _with_text(jobs: list[tuple[str, str, SourceText]], previous: Previous | None, parse_cache: ParseCache,
               config: BuildConfig, report: BuildReport) -> list[tuple[str, str, SourceText]]:
    """Return the jobs with the text of each file not read (unchanged since the last build) whose parse neither the
    previous generation nor the parse cache holds (a damaged generation or cache): it is read now."""
    keys = {i: cache_key(doc_id, loaded, config.chunk_chars) for i, (_, doc_id, loaded) in enumerate(jobs)
            if not loaded.text}
    # Only the keys the previous generation lacks are asked of the cache (at 1M, 28,571 keys asked took 0.45 s).
    kept = previous.files if previous is not None else {}
    held = parse_cache.present([key for key in keys.values() if key not in kept])
    found = list(jobs)
    for i in sorted((i for i, key in keys.items() if key not in kept and key not in held), reverse=True):
        rel, doc_id, stub = jobs[i]
        try:
            found[i] = (rel, doc_id, dataclasses.replace(
                load_file(Path(stub.path), config.max_document_bytes, ReadContext(limits=config.limits)),
                part_of=stub.part_of))
        except (DocumentError, OSError) as exc:
            report.skipped.append((rel, str(exc)))
            del found[i]
    return found


def _write_vectors(config: BuildConfig, embeddings: PolicyEmbeddings, folder: Path, chunks: list[Chunk],
                   manifest: Manifest | None, progress: bool,
                   notify: Callable[[str, int, int], None]) -> tuple[int, int]:
    """Embed the chunks (the embedding cache's vectors reused) and write the generation's vector store, starting
    from a copy of the serving one's when it can; return how many were embedded and how many written."""
    cache = EmbeddingCache(config.index_dir / "embedding_cache.sqlite")
    try:
        embedded = [0]
        with tqdm(total=len(chunks), desc="计算向量", unit="段", disable=not progress) as bar:

            def advance(n: int) -> None:
                bar.update(n)
                embedded[0] += n
                notify("计算向量", embedded[0], len(chunks))

            vectors, computed = embed_chunks(chunks, embeddings, cache, config.embedding_batch_size, advance)
            bar.update(len(chunks) - bar.n)
    finally:
        cache.close()
    written = write_collection(
        folder / "chroma", chunks, vectors, embeddings.model_id, config.chroma_url,
        folder.name if config.chroma_url else COLLECTION,
        _reusable_store(config.index_dir, manifest, embeddings.model_id, config.chroma_url))
    return computed, written


def _slots(keys: list[str], previous: Previous | None) -> list[int] | None:
    """Return the records file slot of each file when the previous generation's records file is to be patched:
    None without one, when fewer than half its files are kept (writing afresh is then cheaper than copying it
    and deleting most of it) or when a gap is full."""
    if previous is None or 2 * sum(key in previous.slots for key in keys) < len(previous.slots):
        return None
    return fit_slots(keys, previous.slots)


def _write(config: BuildConfig, embeddings: PolicyEmbeddings | None, progress: bool,
           notify: Callable[[str, int, int], None], report: BuildReport, sources: list[tuple[Path, str, SourceText]],
           signature: str, manifest: Manifest | None, folder: Path, keep: Path | None,
           previous: Previous | None) -> BuildReport:
    """Parse, index and publish the corpus into the new generation folder, copying from `previous` what it holds."""
    corpus_dir, index_dir = config.corpus_dir, config.index_dir
    chunks: list[Chunk] = []
    chunk_ids: list[str] = []
    tokens = TokenIds()
    ids = _doc_ids([path for path, _, _ in sources], corpus_dir)
    # A bundle's attachment names its notice by path; records name it by document id.
    jobs = [(rel, ids[path], _with_notice_id(loaded, corpus_dir, ids)) for path, rel, loaded in sources]
    taken: dict[str, str] = {}
    parse_cache = ParseCache(index_dir / "parse_cache.sqlite")
    jobs = _with_text(jobs, previous, parse_cache, config, report)
    keys = [cache_key(doc_id, loaded, config.chunk_chars) for _, doc_id, loaded in jobs]
    slots = _slots(keys, previous)
    if slots is None:
        if previous is not None:
            # Written afresh after all: the files not read whose parse only the previous generation held are read.
            previous = None
            jobs = _with_text(jobs, None, parse_cache, config, report)
            keys = [cache_key(doc_id, loaded, config.chunk_chars) for _, doc_id, loaded in jobs]
        slots = spread(len(jobs))
    writer = GenerationWriter(folder, previous.source if previous is not None else None)
    carry = Carry(previous, tokens, chunk_ids) if previous is not None else None
    if previous is not None:
        for key in previous.slots.keys() - set(keys):
            writer.drop(previous.slots[key])
    try:
        # Counted here, not by the bar: a disabled tqdm (progress=False, a server's build) counts nothing.
        read = [0]
        with tqdm(total=len(jobs), desc="读取文件", unit="个", disable=not progress) as bar:

            def read_one() -> None:
                bar.update(1)
                read[0] += 1
                notify("读取文件", read[0], len(jobs))

            for slot, (rel, key, parsed, from_cache) in zip(slots, parse_all(
                    jobs, config.chunk_chars, parse_cache, read_one, config.limits.parse_seconds,
                    previous.files if previous is not None else (),
                    previous.keys_by_doc() if previous is not None else None), strict=True):
                if isinstance(parsed, str):
                    report.skipped.append((rel, parsed))
                    continue
                report.parsed += not from_cache
                reused = carry if isinstance(parsed, Reused) else None  # only a build with a previous generation
                doc_ids = reused.doc_ids(key) if reused is not None else \
                    [p.doc.doc_id for p in parsed.parts]  # type: ignore[union-attr]
                # Ids are unique by construction; a clash left (an attachment's id "X!附件1" beside a file named
                # so) would make a generation that cannot open, so the later file is skipped and named.
                clash = next((taken[i] for i in doc_ids if i in taken), None)
                if clash is not None:
                    report.skipped.append((rel, f"文档编号与 {clash} 相同，未索引；请将其中一个文件改名"))
                    if previous is not None and reused is not None:
                        writer.drop(previous.slots[key])
                    continue
                taken.update((i, rel) for i in doc_ids)
                report.documents += len(doc_ids)
                if reused is not None:
                    clauses, _ = reused.add(key)
                    report.clauses += clauses
                    continue
                if carry is not None:
                    carry.flush()
                writer.begin_file(slot)
                for part in parsed.parts:  # type: ignore[union-attr]
                    writer.add(part.doc, part.clauses, part.chunks, part.measures)
                    report.clauses += len(part.clauses)
                    chunks.extend(part.chunks)
                    chunk_ids.extend(c.chunk_id for c in part.chunks)
                    for text in part.tokens:
                        tokens.add(text)
                writer.end_file(key)
        if carry is not None:
            carry.flush()
        writer.finish()
    finally:
        writer.close()
        parse_cache.close()
    # The records are complete: their digests (a read of the whole file, 4.3 GB at a million clauses, when it was
    # written; a shared base is being checked since the writer linked it, or trusted) are computed while the lexical
    # index is made (hashlib and numpy release the GIL). A base written here is noted as checked: the rebuilds that
    # share it need not read it.
    hashing = ThreadPoolExecutor(1)
    known = {name: writer.checked.get(name) or (
        hashing.submit(written_digest, folder / name, index_dir / CHECKS_FILE) if name == RECORDS_FILE
        else hashing.submit(file_digest, folder, folder / name))
             for name in (RECORDS_FILE, DELTA_FILE) if (folder / name).exists()}
    hashing.shutdown(wait=False)
    report.chunks = len(chunk_ids)
    if not chunk_ids:  # every readable file parsed to nothing: BM25 cannot index an empty corpus
        raise NothingToIndex(_nothing_message(corpus_dir, report.skipped))
    LexicalIndex.build(chunk_ids, tokens, carry.matrix() if carry is not None and carry.used else None).save(
        folder / "bm25")
    del tokens
    if embeddings is not None and carry is not None and carry.used:
        # The vectors are matched to every chunk by content: the copied ones are read back from the new file.
        records = RecordFile(folder / RECORDS_FILE)
        try:
            chunks = list(records.chunks.values())
        finally:
            records.close()
    if embeddings is not None:
        report.embedded, report.vectors_written = _write_vectors(config, embeddings, folder, chunks, manifest,
                                                                 progress, notify)
        report.reused = len(chunks) - report.embedded
    report.generation = folder.name
    seal(folder, known=known, manifest=Manifest(
        signature=signature, pipeline_version=PIPELINE_VERSION, embedding_model=report.embedding_model,
        documents=report.documents, clauses=report.clauses, chunks=report.chunks, skipped=tuple(report.skipped),
        notes=tuple(report.notes),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
        chroma_collection=folder.name if config.chroma_url and embeddings is not None else None,
    ))
    # Opened and verified as a server would before it serves: a generation that cannot open is never published
    # (the build fails with the reason, and the serving generation stays).
    open_generation(folder, embeddings, config.chroma_url).close()
    publish(index_dir, folder, config.chroma_url, keep=keep)
    return report
