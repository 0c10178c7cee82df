"""Index generations on disk: written whole, switched atomically, opened read-only for serving."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
import weakref
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from index.dense import COLLECTION, DenseIndex, drop_collections
from index.embedding import PolicyEmbeddings
from index.errors import GenerationDamaged, IndexMissingError
from index.knowledge import KnowledgeBase
from index.lexical import LexicalIndex
from index.recordfile import (
    DELTA_FILE,
    JSONL,
    RECORDS_FILE,
    RecordFile,
    RecordWriter,
    Source,
    is_current,
    legacy_records,
    write_atomically,
)
from index.records import FileDigest, Manifest
from index.retrieval import Scopes

log = logging.getLogger(__name__)
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
LEASE = ".lease"
# Names the generation the last publish switched to and the fallback it keeps beside it, written before the switch.
PUBLISHED = "PUBLISHED"
# The files of a generation that never change once published: their sizes and digests go in the manifest.
# chroma/ is not among them: Chroma writes to chroma.sqlite3 whenever a client opens it. Generations from before the
# records file have JSON lines instead.
RECORDS = (RECORDS_FILE, DELTA_FILE, *JSONL)
GENERATION = re.compile(r"gen-[0-9A-Za-z-]+")


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index folder's build lock: a second build waits instead of deleting a generation in progress."""
    with open(index_dir / ".build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def named_generation(index_dir: Path) -> Path | None:
    """Return the complete generation the CURRENT pointer names, or None when it is missing, unreadable or names
    anything else (a folder without a manifest, a path outside the index folder)."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    folder = index_dir / name
    return folder if GENERATION.fullmatch(name) and (folder / MANIFEST).exists() else None


def current_generation(index_dir: Path) -> Path | None:
    """Return the folder of the generation now serving, or None when no build has completed. When the pointer
    is bad, the newest complete generation serves: a start-up opens it rather than building from scratch."""
    return named_generation(index_dir) or next(iter(_complete(index_dir)), None)


def _complete(index_dir: Path) -> list[Path]:
    """Return the generations with a manifest, newest first (by when it was written: names tie within a second)."""
    found = []
    for folder in index_dir.glob("gen-*"):
        try:
            found.append(((folder / MANIFEST).stat().st_mtime_ns, folder.name, folder))
        except OSError:
            continue
    return [folder for *_, folder in sorted(found, reverse=True)]


def current_marker(index_dir: Path) -> tuple[int, int] | None:
    """Return (inode, mtime_ns) of the CURRENT pointer, which changes with every publish (os.replace makes a
    new file); one stat, cheap enough to poll every few seconds."""
    try:
        st = os.stat(index_dir / CURRENT)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def generations(index_dir: Path) -> list[Path]:
    """Return the complete generations (with a manifest): the serving one first, then the others newest first."""
    current = current_generation(index_dir)
    return ([current] if current else []) + [g for g in _complete(index_dir) if g != current]


def read_manifest(index_dir: Path) -> Manifest | None:
    """Return the manifest of the serving generation, or None when there is none or it cannot be read."""
    folder = current_generation(index_dir)
    if folder is None:
        return None
    try:
        return manifest_of(folder)
    except GenerationDamaged as exc:
        log.warning("%s", exc)
        return None


def needs_build(index_dir: Path, embeddings: PolicyEmbeddings | None) -> bool:
    """Return True when there is no serving generation, or its vectors are of another model than the embedder's
    (a new default embedder): a start then builds, re-embedding the chunks, instead of serving keyword-only. Also
    when it has no records file (written before it): a start writes one (from the parse cache) rather than copy
    every record at every open."""
    folder = current_generation(index_dir)
    if folder is None or not (folder / RECORDS_FILE).exists():
        return True
    manifest = read_manifest(index_dir)
    return (manifest is not None and embeddings is not None and not manifest.chroma_collection
            and manifest.embedding_model != embeddings.model_id)


def records_outdated(index_dir: Path) -> bool:
    """Return True when the serving generation's records file is of an older format (its measures without their
    columns and tags): it is served as it is, each measure query filtered in Python, until a build rewrites it."""
    folder = current_generation(index_dir)
    return folder is not None and (folder / RECORDS_FILE).exists() and not is_current(folder / RECORDS_FILE)


def manifest_of(folder: Path) -> Manifest:
    """Return a generation's manifest, or raise GenerationDamaged when it cannot be read."""
    try:
        return Manifest.from_json(json.loads((folder / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise GenerationDamaged(f"索引 {folder.name} 的 {MANIFEST} 无法读取（{type(exc).__name__}）") from exc


def file_digest(folder: Path, path: Path) -> FileDigest:
    """Return the size and SHA-256 of one file of a generation."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return FileDigest(path.relative_to(folder).as_posix(), path.stat().st_size, digest.hexdigest())


def file_digests(folder: Path, known: Mapping[str, Future[FileDigest]] | None = None) -> tuple[FileDigest, ...]:
    """Return size and SHA-256 of every immutable file of a generation (its records and lexical index); `known`
    ones (by path in the folder) are being computed elsewhere: their results are taken."""
    paths = [folder / n for n in RECORDS if (folder / n).exists()] + sorted((folder / "bm25").glob("*"))
    known = known or {}
    return tuple(known[name].result() if (name := p.relative_to(folder).as_posix()) in known else file_digest(folder, p)
                 for p in paths)


def check_files(folder: Path, manifest: Manifest, deep: bool = False) -> str:
    """Return what is wrong with a generation's files ("" when nothing): sizes always, a stat per file; digests
    when `deep` (a build, which reads the corpus anyway)."""
    for want in manifest.files:
        path = folder / want.path
        if not path.is_file():
            return f"缺少文件 {want.path}"
        if path.stat().st_size != want.size:
            return f"{want.path} 为 {path.stat().st_size} 字节，与 manifest 记录的 {want.size} 字节不符"
    if deep:
        recorded = {f.path: f.sha256 for f in manifest.files}
        for got in file_digests(folder):
            if got.path in recorded and recorded[got.path] != got.sha256:
                return f"{got.path} 的内容与 manifest 记录的不符（SHA-256）"
    return ""


def remove_leftovers(index_dir: Path, chroma_url: str = "") -> None:
    """Remove what killed builds left: generation folders without a manifest (a build killed before it sealed, or a
    publish killed while deleting), complete ones sealed after the serving one (a build killed before its switch:
    never served, and no fallback, as publish would take the newest), and after a publish killed between its switch
    and its deletions, the generations it was to delete. Only under the build lock: then no other process is
    writing or deleting one."""
    for folder in index_dir.glob("gen-*"):
        if not (folder / MANIFEST).exists():
            shutil.rmtree(folder, ignore_errors=True)
    serving = named_generation(index_dir)
    if serving is None:
        return  # a first build, or a damaged pointer: the others may be the only intact copies
    complete = [g.name for g in _complete(index_dir)]
    keep = set(complete[complete.index(serving.name):])
    try:
        switched_to, fallback = (index_dir / PUBLISHED).read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError, ValueError):
        switched_to = fallback = ""
    if serving.name == switched_to and fallback in keep:
        keep = {switched_to, fallback}
    _remove_unused(index_dir, keep, chroma_url)


def new_generation(index_dir: Path) -> Path:
    """Return a fresh, empty generation folder (not yet serving)."""
    folder = index_dir / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    return folder


class GenerationWriter(RecordWriter):
    """Writes a generation's records file, one document at a time, or patches the previous generation's (`source`);
    `finish` when every document is in."""

    def __init__(self, folder: Path, source: Source | None = None) -> None:
        super().__init__(folder / RECORDS_FILE, source)


class Lease:
    """A process's claim on a generation it serves: a shared flock on the generation's .lease file.

    publish() deletes only generations whose lease it can lock exclusively, so no generation in use is deleted;
    the kernel drops the lock when the process exits, even on SIGKILL, so no lease outlives its process. Local
    file systems only (flock on NFS is unreliable), as for the build lock."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def take(cls, folder: Path) -> Lease:
        """Return a lease on a generation, or raise GenerationDamaged when it is gone or being deleted."""
        try:
            fd = os.open(folder / LEASE, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError as exc:
            raise GenerationDamaged(f"索引 {folder.name} 已被删除") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise GenerationDamaged(f"索引 {folder.name} 正在被删除") from exc
        if not (folder / MANIFEST).exists():  # deleted between our open and our lock: publish removes it first
            os.close(fd)
            raise GenerationDamaged(f"索引 {folder.name} 已被删除")
        return cls(fd)

    def release(self) -> None:
        """Give the claim up (closing the descriptor drops the lock); safe to call twice."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _unused(folder: Path) -> int | None:
    """Return a descriptor holding the generation's lease exclusively, or None when a process serves it."""
    try:
        fd = os.open(folder / LEASE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def seal(folder: Path, manifest: Manifest, known: Mapping[str, Future[FileDigest]] | None = None) -> None:
    """Write a complete generation's manifest, with the sizes and digests of its files (`known` ones computed
    elsewhere); it can then be opened (and verified) before it is published."""
    manifest = replace(manifest, files=file_digests(folder, known))
    (folder / MANIFEST).write_text(json.dumps(manifest.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")


def point_at(index_dir: Path, folder: Path) -> None:
    """Make CURRENT name a generation, atomically."""
    write_atomically(index_dir / CURRENT, folder.name)


def publish(index_dir: Path, folder: Path, chroma_url: str = "", keep: Path | None = None) -> None:
    """Make a sealed generation the serving one, atomically, and remove the others but one fallback.

    The fallback is `keep`, by default the generation that was serving (a build replacing a damaged one names
    an intact older one). A generation some process holds a lease on is kept too, and removed by a later
    publish once released. With a Chroma server, the removed generations' collections go as well. When CURRENT
    named no complete generation (a first build, or a damaged pointer), nothing is removed: the older
    generations may be the only intact copies."""
    previous = named_generation(index_dir)
    if previous is None:
        point_at(index_dir, folder)
        return
    fallback = keep or previous
    # Noted before the switch: when a kill stops this publish after it, the next build deletes what it would have.
    write_atomically(index_dir / PUBLISHED, f"{folder.name} {fallback.name}")
    point_at(index_dir, folder)
    _remove_unused(index_dir, {folder.name, fallback.name}, chroma_url)


def _remove_unused(index_dir: Path, keep: set[str], chroma_url: str) -> None:
    """Remove the generations not named in `keep` that no process holds a lease on (and their Chroma collections)."""
    removed: list[tuple[Path, int]] = []
    for old in index_dir.glob("gen-*"):
        if old.name in keep:
            continue
        fd = _unused(old)
        if fd is None:
            log.info("索引 %s 仍在使用中，暂不删除", old.name)
            continue
        removed.append((old, fd))
    if chroma_url and removed:
        drop_collections(chroma_url, [old.name for old, _ in removed])
    for old, fd in removed:
        try:
            # The manifest first: from then on no process can take a lease on it or list it as complete.
            (old / MANIFEST).unlink(missing_ok=True)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            os.close(fd)


def open_index(index_dir: Path, embeddings: PolicyEmbeddings | None, chroma_url: str = "") -> KnowledgeBase:
    """Return the serving generation, verified; when it is damaged, the newest older one that verifies (publish
    keeps one), with `damaged` saying what was wrong. Dense search is on only when its vectors match the
    embedder; a generation built against a Chroma server keeps them in the collection its manifest names."""
    candidates = generations(index_dir)
    if not candidates:
        raise IndexMissingError(f"索引目录 {index_dir} 中没有可用的索引；请先运行 `python -m qa build`")
    problems: list[str] = []
    for folder in candidates:
        try:
            kb = open_generation(folder, embeddings, chroma_url)
        except Exception as exc:  # any damage: bad JSON, a truncated .npy, "file is not a database", counts
            problems.append(f"{folder.name}：{exc}")
            log.error("索引 %s 已损坏：%s", folder.name, exc)
            continue
        if problems:
            kb.damaged = "；".join(problems)
            log.warning("当前索引已损坏，暂用较早的完整索引 %s；运行 `python -m qa build` 可修复", folder.name)
        return kb
    raise GenerationDamaged(f"索引已损坏且没有可用的较早版本（{'；'.join(problems)}）；"
                            "请运行 `python -m qa build` 重建")


def open_generation(folder: Path, embeddings: PolicyEmbeddings | None, chroma_url: str = "") -> KnowledgeBase:
    """Return one generation under a lease, or raise GenerationDamaged unless its files, counts and links match."""
    lease = Lease.take(folder)
    try:
        kb = _open_leased(folder, embeddings, chroma_url)
    except BaseException:
        lease.release()
        raise
    try:
        verify(kb)
    except BaseException:
        kb.close()
        raise
    kb.lease = lease
    # Released when the last reference goes (a server swapped generations and its requests on this one ended),
    # or earlier with close().
    weakref.finalize(kb, lease.release)
    return kb


def _open_leased(folder: Path, embeddings: PolicyEmbeddings | None, chroma_url: str) -> KnowledgeBase:
    manifest = manifest_of(folder)
    if problem := check_files(folder, manifest):
        raise GenerationDamaged(problem)
    # A generation from before the records file is copied into a temporary one (start-up rebuilds it: needs_build).
    records = RecordFile(folder / RECORDS_FILE) if (folder / RECORDS_FILE).exists() else legacy_records(folder)
    try:
        lexical = LexicalIndex.load(folder / "bm25", records)
        measures = records.measures()
        # Opened last: a vector store is a client with threads and files that must be closed if anything fails.
        dense = open_vectors(folder, manifest, embeddings, chroma_url, records)
    except BaseException:
        records.close()
        raise
    return KnowledgeBase(folder, manifest, records, lexical, dense, measures)


def open_vectors(folder: Path, manifest: Manifest, embeddings: PolicyEmbeddings | None,
                 chroma_url: str = "", scopes: Scopes | None = None) -> DenseIndex | None:
    """Return a generation's vector store when its vectors match the embedder, else None (lexical search only);
    `scopes` (the generation's records) resolves the scopes of searches."""
    collection = manifest.chroma_collection
    if embeddings is not None and collection and not chroma_url:
        log.warning("索引的向量保存在 Chroma 服务器的集合 %s 中，但未设置 QA_CHROMA_URL，本次仅使用关键词检索",
                    collection)
    elif embeddings is not None and manifest.embedding_model == embeddings.model_id:
        return DenseIndex(folder / "chroma", embeddings, chroma_url if collection else "", collection or COLLECTION,
                          scopes)
    elif embeddings is not None:
        log.warning("索引的向量模型（%s）与当前模型（%s）不同，本次仅使用关键词检索；重新运行 build 可启用向量检索",
                    manifest.embedding_model, embeddings.model_id)
    return None


def verify(kb: KnowledgeBase) -> None:
    """Raise GenerationDamaged unless the opened records and indexes agree with the manifest in their counts.

    Cheap at any size: the sizes of the files (check_files), the records file's row counts and the indexes' sizes.
    That every clause's document and every chunk's clause exist is checked once, by the build that wrote the file
    (RecordWriter.finish); the files' digests by every build (the build's `_damage`)."""
    m = kb.manifest
    for what, want, have in (("文件", m.documents, len(kb.docs)), ("条款", m.clauses, len(kb.clauses)),
                             ("检索单元", m.chunks, len(kb.chunks))):
        if want != have:
            raise GenerationDamaged(f"读到 {have} 个{what}，manifest 记录为 {want} 个")
    if kb.lexical.size != len(kb.chunks):
        raise GenerationDamaged(f"关键词索引有 {kb.lexical.size} 个检索单元，应为 {len(kb.chunks)} 个")
    if kb.dense is not None and kb.dense.size != len(kb.chunks):
        raise GenerationDamaged(f"向量库有 {kb.dense.size} 个向量，应为 {len(kb.chunks)} 个")
