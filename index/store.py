"""Index generations on disk: written whole, switched atomically, opened read-only for serving."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from index.dense import COLLECTION, DenseIndex, drop_collections
from index.embedding import PolicyEmbeddings
from index.errors import IndexMissingError
from index.lexical import LexicalIndex
from index.records import Chunk, Clause, Manifest, Measure, PolicyDoc

log = logging.getLogger(__name__)
CURRENT = "CURRENT"


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index folder's build lock: a second build waits instead of deleting a generation in progress."""
    with open(index_dir / ".build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_generation(index_dir: Path) -> Path | None:
    """Return the folder of the generation now serving, or None when no build has completed."""
    pointer = index_dir / CURRENT
    if not pointer.exists():
        return None
    folder = index_dir / pointer.read_text(encoding="utf-8").strip()
    return folder if (folder / "manifest.json").exists() else None


def read_manifest(index_dir: Path) -> Manifest | None:
    """Return the manifest of the serving generation, if any."""
    folder = current_generation(index_dir)
    return _manifest(folder) if folder else None


def _manifest(folder: Path) -> Manifest:
    return Manifest.from_json(json.loads((folder / "manifest.json").read_text(encoding="utf-8")))


def new_generation(index_dir: Path) -> Path:
    """Return a fresh, empty generation folder (not yet serving)."""
    folder = index_dir / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    return folder


class GenerationWriter:
    """Writes a generation's documents, clauses, chunks and measures as JSON lines, one document at a time."""

    NAMES = ("docs", "clauses", "chunks", "measures")

    def __init__(self, folder: Path) -> None:
        self._files = {name: open(folder / f"{name}.jsonl", "wb") for name in self.NAMES}  # noqa: SIM115

    def add(self, doc: PolicyDoc, clauses: Iterable[Clause], chunks: Iterable[Chunk],
            measures: Iterable[Measure]) -> None:
        """Append one document's records."""
        # orjson writes dataclasses and dates directly, several times faster than asdict + json.dumps.
        for name, records in (("docs", [doc]), ("clauses", clauses), ("chunks", chunks), ("measures", measures)):
            self._files[name].write(b"".join(orjson.dumps(r) + b"\n" for r in records))

    def close(self) -> None:
        """Flush and close the files."""
        for f in self._files.values():
            f.close()


def publish(index_dir: Path, folder: Path, manifest: Manifest, chroma_url: str = "") -> None:
    """Make a complete generation the serving one, atomically, and remove all but the previous one.

    With a Chroma server, the removed generations' collections (named after their folders) go too."""
    (folder / "manifest.json").write_text(json.dumps(manifest.to_json(), ensure_ascii=False, indent=1),
                                          encoding="utf-8")
    previous = current_generation(index_dir)
    tmp = index_dir / f".{CURRENT}.{uuid.uuid4().hex}"
    tmp.write_text(folder.name, encoding="utf-8")
    os.replace(tmp, index_dir / CURRENT)
    # Keep the generation that was serving: a process that opened it keeps working until it reloads.
    keep = {folder.name, previous.name if previous else ""}
    removed = [old for old in index_dir.glob("gen-*") if old.name not in keep]
    if chroma_url and removed:
        drop_collections(chroma_url, [old.name for old in removed])
    for old in removed:
        shutil.rmtree(old, ignore_errors=True)


@dataclass
class KnowledgeBase:
    """An opened index generation: records plus the lexical and (optional) dense indexes."""

    folder: Path
    manifest: Manifest
    docs: dict[str, PolicyDoc]
    clauses: dict[str, Clause]
    chunks: dict[str, Chunk]
    lexical: LexicalIndex
    dense: DenseIndex | None
    measures: list[Measure] = field(default_factory=list)

    _by_doc: dict[str, list[Clause]] = field(init=False, repr=False, default_factory=dict)
    _sections: dict[str, list[tuple[int, Clause]]] = field(init=False, repr=False, default_factory=dict)
    _mentions: dict[str, bool] = field(init=False, repr=False, default_factory=dict)
    _by_region: dict[str, list[str]] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        # Grouped once at open: a per-request scan of every clause or document would grow with the corpus.
        for doc in self.docs.values():
            if doc.region:
                self._by_region.setdefault(doc.region, []).append(doc.doc_id)
        for position, clause in enumerate(self.clauses.values()):
            self._by_doc.setdefault(clause.doc_id, []).append(clause)
            if clause.children and clause.title and not clause.is_retrievable:
                self._sections.setdefault(clause.title, []).append((position, clause))

    def clauses_of(self, doc_id: str) -> list[Clause]:
        """Return a document's clauses in reading order."""
        return self._by_doc.get(doc_id, [])

    def docs_in_region(self, region: str) -> list[str]:
        """Return the ids of the documents about exactly this region (a province's own, not its cities')."""
        return self._by_region.get(region, [])

    def sections_by_title(self) -> dict[str, list[tuple[int, Clause]]]:
        """Return the heading-only sections that have items, by title, each with its position in reading order."""
        return self._sections

    def mentions(self, word: str) -> bool:
        """Return True when some document's text contains the word; remembered, as a generation never changes."""
        if word not in self._mentions:
            self._mentions[word] = any(word in d.text for d in self.docs.values())
        return self._mentions[word]


def open_index(index_dir: Path, embeddings: PolicyEmbeddings | None, chroma_url: str = "") -> KnowledgeBase:
    """Return the serving generation; dense search is on only when its vectors match the embedder.

    A generation built against a Chroma server keeps its vectors in the collection its manifest names."""
    folder = current_generation(index_dir)
    if folder is None:
        raise IndexMissingError(f"索引目录 {index_dir} 中没有可用的索引；请先运行 `python -m qa build`")
    manifest = _manifest(folder)

    def read(name: str) -> Iterator[dict]:
        # Streamed, and parsed by orjson: at a million clauses opening is mostly reading these lines.
        with open(folder / name, "rb") as f:
            yield from (orjson.loads(line) for line in f if line.strip())

    docs = {d["doc_id"]: PolicyDoc.from_json(d) for d in read("docs.jsonl")}
    clauses = {c["clause_id"]: Clause.from_json(c) for c in read("clauses.jsonl")}
    chunks = {c["chunk_id"]: Chunk(**c) for c in read("chunks.jsonl")}
    dense = None
    collection = manifest.chroma_collection
    if embeddings is not None and collection and not chroma_url:
        log.warning("索引的向量保存在 Chroma 服务器的集合 %s 中，但未设置 QA_CHROMA_URL，本次仅使用关键词检索",
                    collection)
    elif embeddings is not None and manifest.embedding_model == embeddings.model_id:
        dense = DenseIndex(folder / "chroma", embeddings, chroma_url if collection else "", collection or COLLECTION)
    elif embeddings is not None:
        log.warning("索引的向量模型（%s）与当前模型（%s）不同，本次仅使用关键词检索；重新运行 build 可启用向量检索",
                    manifest.embedding_model, embeddings.model_id)
    # An index built before measures existed has none.
    measures = [Measure.from_json(m) for m in read("measures.jsonl")] if (folder / "measures.jsonl").exists() else []
    return KnowledgeBase(folder, manifest, docs, clauses, chunks, LexicalIndex.load(folder / "bm25"), dense,
                         measures)
