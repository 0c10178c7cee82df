"""Lexical retrieval: jieba tokens with a policy-term dictionary, BM25 over a sparse matrix (bm25s)."""

from __future__ import annotations

import json
import logging
import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.retrieval import LexicalSearch, Scope, Scopes

# The chunks' token ids (in the saved vocabulary) and each chunk's end among them, kept beside bm25s's files so that a
# rebuild takes unchanged documents' tokens from here.
TOKENS, TOKEN_ENDS = "tokens.npy", "token_ends.npy"
# Token ids whose first places TokenIds.arrays finds by a sort; later ones are looked up.
HEAD = 1 << 20
# Postings weighed at a time by _weigh.
WEIGH_BLOCK = 1 << 18
# Each posting's count in its chunk, in the matrix's order: a rebuild reweights the postings of the chunks it keeps.
TF = "tf.npy"


def _bm25s() -> Any:
    """Return the bm25s module, its logger quieted: it sets itself to DEBUG, which the app's console shows."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


class TokenIds:
    """Chunks' tokens as ids into one vocabulary, one flat int32 array with each chunk's end: a million chunks' worth
    of token strings, or of Python lists, would not fit in memory. A rebuild adds the chunks of unchanged documents
    from the previous generation's arrays (`extend`) instead of reading their parses."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self._ids = array("i")
        self._ends = array("q")
        # Finished parts, in order: the ids added as text before each `extend`, and the arrays extended with (a
        # previous generation's memory-mapped slices, copied once, by `arrays`); `_count` ids in them.
        self._parts: list[np.ndarray] = []
        self._end_parts: list[np.ndarray] = []
        self._count = 0

    def add(self, tokens: str) -> None:
        """Add a chunk's space-separated tokens; a chunk without any gets a placeholder, as BM25 needs one."""
        vocab = self.vocab
        words = tokens.split(" ") if tokens else ["∅"]
        ids = list(map(vocab.get, words))
        # Nearly every token is known after the first documents: look them all up in C, name only the new ones.
        if None in ids:
            ids = [vocab.setdefault(w, len(vocab)) for w in words]
        self._ids.extend(ids)  # type: ignore[arg-type]
        self._ends.append(self._count + len(self._ids))

    def mapping(self, words: Sequence[str]) -> np.ndarray:
        """Return this vocabulary's id of each token of another vocabulary (`words`, by id), adding those it lacks."""
        return np.array([self.vocab.setdefault(w, len(self.vocab)) for w in words], dtype=np.int32)

    def extend(self, ids: np.ndarray, ends: np.ndarray) -> None:
        """Add chunks given as ids of this vocabulary, one flat array, with each chunk's end inside it."""
        self._finish_part()
        self._parts.append(ids)
        self._end_parts.append(np.asarray(ends, dtype=np.int64) + self._count)
        self._count += len(ids)

    def _finish_part(self) -> None:
        """Move the ids added as text so far into the finished parts."""
        if self._ids:
            self._parts.append(np.frombuffer(self._ids, dtype=np.int32))
            self._end_parts.append(np.frombuffer(self._ends, dtype=np.int64))
            self._count += len(self._ids)
            self._ids, self._ends = array("i"), array("q")

    def arrays(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Return the vocabulary in the order a single pass over the chunks first meets each token (the order bm25s
        is given it in a full build), the ids in that vocabulary and the chunks' ends. Tokens no chunk uses any
        more (an unchanged document's vocabulary carried over, the token only in a changed one) are left out."""
        self._finish_part()
        ids = self._parts[0] if len(self._parts) == 1 else np.concatenate(self._parts or [np.zeros(0, np.int32)],
                                                                           dtype=np.int32)
        used = np.flatnonzero(np.bincount(ids, minlength=len(self.vocab)))
        first = np.full(len(self.vocab), len(ids), dtype=np.int64)
        # Each token's first place: those of the first HEAD ids from a sort of them, the rest (a corpus's vocabulary
        # is mostly met early; the rare tokens later) from where the ids are one of them. One np.minimum.at over all
        # the ids took ~3 s at a million chunks.
        found, at = np.unique(ids[:HEAD], return_index=True)
        first[found] = at
        late = np.zeros(len(self.vocab), dtype=bool)
        late[used[first[used] == len(ids)]] = True
        if late.any():
            hits = np.flatnonzero(late[ids[HEAD:]]) + HEAD
            found, at = np.unique(ids[hits], return_index=True)
            first[found] = hits[at]
        order = used[np.argsort(first[used], kind="stable")]
        words = list(self.vocab)
        ends = np.concatenate(self._end_parts or [np.zeros(0, np.int64)])
        if np.array_equal(order, np.arange(len(order))):
            # Already in that order, the unused tokens last (a rebuild whose vocabulary starts as the previous
            # one's, bm25s's "" placeholder at its end): no renumbering.
            return words[: len(order)], ids, ends
        renumber = np.zeros(len(self.vocab), dtype=np.int32)
        renumber[order] = np.arange(len(order), dtype=np.int32)
        return [words[i] for i in order], renumber[ids], ends


def fit_bm25(ids: np.ndarray, ends: np.ndarray, vocabulary: int, k1: float, b: float) -> tuple[dict[str, Any],
                                                                                               np.ndarray]:
    """Return bm25s's score matrix (Lucene BM25, float32 weights in CSC form: data, indices, indptr, num_docs) for
    chunks given as token ids and ends, equal to the one bm25s computes, without its Python loop over chunks; and
    each posting's count (its term's occurrences in its chunk), in the same order.

    Each operation is the one bm25s does per chunk, applied to every posting at once and in the same precision
    (float64 arithmetic, an IDF from math.log cast to float32, the weight cast to float32), so the weights are
    the same floats (tests/index/test_lexical_fit.py compares the saved files)."""
    n = len(ends)
    lengths = np.diff(ends, prepend=0)
    # Sorted by (token, chunk): the CSC order, and each (token, chunk) once with its count. Built in place: at a
    # million chunks each int64 array of the postings is 0.6 GB.
    keys = ids.astype(np.int64)
    keys *= n
    keys += np.repeat(np.arange(n, dtype=np.int64), lengths)
    keys.sort()
    new = np.empty(len(keys), dtype=bool)
    new[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    del new
    tf = np.diff(starts, append=len(keys)).astype(np.int32)
    keys = keys[starts]
    del starts
    term = (keys // n).astype(np.int32)
    chunk = (keys % n).astype(np.int32)
    del keys
    return _weigh(term, chunk, tf, lengths, vocabulary, k1, b), tf


@dataclass(frozen=True)
class Carried:
    """A previous generation's matrix, for a rebuild that keeps some of its chunks: its vocabulary by column, its
    postings (column pointers, rows, counts) and the row each of its chunks has in the new index (-1: not kept)."""

    words: Sequence[str]
    indptr: np.ndarray
    indices: np.ndarray
    tf: np.ndarray
    rows: np.ndarray


def refit_bm25(ids: np.ndarray, ends: np.ndarray, words: Sequence[str], k1: float, b: float,
               carried: Carried) -> tuple[dict[str, Any], np.ndarray]:
    """Return what fit_bm25 returns for the same chunks, from a previous matrix whose chunks this index keeps
    (`carried`): the kept postings are renumbered and merged, in column order, with the postings of the chunks it
    does not hold (counted from `ids` and `ends`, a few), and every weight computed again. No sort of all the
    postings: at a million chunks a rebuild after 1 % changed spends ~12 s in fit_bm25's sort."""
    n = len(ends)
    lengths = np.diff(ends, prepend=0)
    vocabulary = len(words)
    columns = len(carried.indptr) - 1
    # The kept postings in the previous column order (rows map in order, so each column stays sorted by row), and
    # how many each previous column keeps: its postings less the dropped ones, few (the changed files' chunks'),
    # whose columns are looked up. No column number per posting is made or compressed.
    rows = carried.rows.astype(np.int32)[carried.indices]
    kept = rows >= 0
    dropped = np.searchsorted(carried.indptr, np.flatnonzero(~kept), side="right") - 1
    counts = np.diff(carried.indptr) - np.bincount(dropped, minlength=columns)
    rows, tf = rows[kept], carried.tf[kept]
    del kept, dropped
    index = {w: i for i, w in enumerate(words)}
    column = np.array([index.get(w, -1) for w in carried.words[:columns]], dtype=np.int64)
    # How many kept postings each new column has.
    per_term = np.zeros(vocabulary, dtype=np.int64)
    if np.array_equal(column, np.arange(columns)):
        # The usual case: the previous columns keep their order, new tokens come after them.
        per_term[:columns] = counts
    else:
        # Each previous column's run of kept postings, gathered in the new column order.
        first = np.cumsum(counts) - counts
        order = np.flatnonzero(column >= 0)
        order = order[np.argsort(column[order])]
        runs = counts[order]
        gather = np.repeat(first[order] - (np.cumsum(runs) - runs), runs) + \
            np.arange(int(runs.sum()), dtype=np.int64)
        rows, tf = rows[gather], tf[gather]
        del gather
        per_term[column[order]] = runs
    # Where each new column's kept postings start.
    starts_of = np.zeros(vocabulary + 1, dtype=np.int64)
    np.cumsum(per_term, out=starts_of[1:])
    # The postings of the chunks not carried over, as fit_bm25 counts them, sorted by (term, row).
    unheld = np.ones(n, dtype=bool)
    unheld[carried.rows[carried.rows >= 0]] = False
    fresh = np.flatnonzero(unheld)
    starts = ends[fresh] - lengths[fresh]
    spans = np.repeat(starts - (np.cumsum(lengths[fresh]) - lengths[fresh]), lengths[fresh]) + \
        np.arange(int(lengths[fresh].sum()), dtype=np.int64)
    keys = ids[spans].astype(np.int64) * n + np.repeat(fresh.astype(np.int64), lengths[fresh])
    keys, fresh_tf = np.unique(keys, return_counts=True)
    fresh_terms, fresh_rows = (keys // n).astype(np.int32), (keys % n).astype(np.int32)
    # Each new posting goes before the first kept one of its column with a larger row: a search per column.
    at = np.empty(len(keys), dtype=np.int64)
    bounds = np.searchsorted(fresh_terms, np.arange(vocabulary + 1))
    for t in np.flatnonzero(np.diff(bounds)).tolist():
        lo, hi, start = bounds[t], bounds[t + 1], starts_of[t]
        at[lo:hi] = start + np.searchsorted(rows[start : starts_of[t + 1]], fresh_rows[lo:hi])
    # Merged: the new postings at their places (each shifted by those before it), the kept ones around them.
    place = at + np.arange(len(at))
    others = np.ones(len(rows) + len(place), dtype=bool)
    others[place] = False

    def merged(old: np.ndarray, new: np.ndarray) -> np.ndarray:
        out = np.empty(len(others), dtype=old.dtype)
        out[others] = old
        out[place] = new
        return out

    rows, tf = merged(rows, fresh_rows), merged(tf, fresh_tf.astype(tf.dtype))
    df = per_term + np.bincount(fresh_terms, minlength=vocabulary)
    term = np.repeat(np.arange(vocabulary, dtype=np.int32), df)
    return _weigh(term, rows, tf, lengths, vocabulary, k1, b, df), tf


def _weigh(term: np.ndarray, chunk: np.ndarray, tf: np.ndarray, lengths: np.ndarray, vocabulary: int, k1: float,
           b: float, df: np.ndarray | None = None) -> dict[str, Any]:
    """Return bm25s's matrix of postings sorted by (term, chunk), each with its count; `lengths` in tokens, `df`
    each term's postings when known."""
    n = len(lengths)
    average = lengths.mean()
    if df is None:
        df = np.bincount(term, minlength=vocabulary)
    idf = np.array([math.log(1 + (n - d + 0.5) / (d + 0.5)) if d else 0.0 for d in df.tolist()],
                   dtype=np.float64).astype(np.float32)
    scale = k1 * ((1 - b) + b * lengths / average)
    # weight = float32(float64(idf[term]) * tf / (scale[chunk] + tf)), a block of postings at a time: the same
    # operations on the same floats as on whole arrays, but temporaries of a few MB instead of five of 0.6 GB
    # each at a million chunks (their page faults and memory traffic were most of the time).
    weights = np.empty(len(term), dtype=np.float32)
    for lo in range(0, len(term), WEIGH_BLOCK):
        hi = lo + WEIGH_BLOCK
        counts = tf[lo:hi].astype(np.float64)
        denominator = scale[chunk[lo:hi]]
        denominator += counts
        np.divide(counts, denominator, out=counts)
        counts *= idf[term[lo:hi]]
        weights[lo:hi] = counts
    indptr = np.zeros(vocabulary + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    return {"data": weights, "indices": chunk, "indptr": indptr, "num_docs": n}


class LexicalIndex(LexicalSearch):
    """BM25 over chunk tokens; scores come from sparse-matrix lookups, not a Python loop over documents."""

    def __init__(self, retriever: object, chunk_ids: list[str], scopes: Scopes | None = None) -> None:
        self._bm25 = retriever
        self.chunk_ids = chunk_ids
        # Which rows a scope allows (the generation's records file); an index only being built has none.
        self._scopes = scopes
        self._tokens: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        # Coverage asks for the same few hundred query-token IDFs over and over; the index never changes.
        self._idf: dict[str, float | None] = {}

    @property
    def size(self) -> int:  # type: ignore[override]
        """Return how many chunks are indexed."""
        return len(self.chunk_ids)

    @classmethod
    def build(cls, chunk_ids: list[str], tokens: TokenIds, carried: Carried | None = None) -> LexicalIndex:
        """Return an index over the chunks' tokens, in chunk order: bm25s's own index, its matrix computed at once
        (fit_bm25) rather than by bm25s's loop over chunks, or from a previous matrix (refit_bm25)."""
        words, ids, ends = tokens.arrays()
        retriever = _bm25s().BM25()
        if (retriever.method, retriever.idf_method) != ("lucene", "lucene"):
            raise ValueError(f"fit_bm25 computes Lucene BM25, not bm25s's {retriever.method}/{retriever.idf_method}")
        retriever.scores, tf = fit_bm25(ids, ends, len(words), retriever.k1, retriever.b) if carried is None \
            else refit_bm25(ids, ends, words, retriever.k1, retriever.b, carried)
        # As bm25s.BM25.index sets them for a corpus given as (ids, vocabulary): "" is its empty-query token.
        vocab = {w: i for i, w in enumerate(words)}
        vocab.setdefault("", len(words))
        retriever.vocab_dict, retriever.unique_token_ids_set = vocab, set(vocab.values())
        retriever.nonoccurrence_array = None
        index = cls(retriever, chunk_ids)
        index._tokens = ids, ends, tf
        return index

    def save(self, folder: Path) -> None:
        """Write the index to a folder, with the chunks' token ids and the postings' counts when it was just built
        (the next rebuild's)."""
        folder.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(folder), show_progress=False)  # type: ignore[attr-defined]
        (folder / "chunk_ids.json").write_text(json.dumps(self.chunk_ids), encoding="utf-8")
        if self._tokens is not None:
            for name, array in zip((TOKENS, TOKEN_ENDS, TF), self._tokens, strict=True):
                np.save(folder / name, array)

    @classmethod
    def load(cls, folder: Path, scopes: Scopes) -> LexicalIndex:
        """Return an index read from a folder, its matrix memory-mapped; `scopes` says which rows a scope allows."""
        retriever = _bm25s().BM25.load(str(folder), mmap=True, show_progress=False)
        ids = json.loads((folder / "chunk_ids.json").read_text(encoding="utf-8"))
        return cls(retriever, ids, scopes)

    def vocabulary(self) -> Iterable[str]:
        """Return the tokens the corpus uses."""
        return self._bm25.vocab_dict.keys()  # type: ignore[attr-defined, no-any-return]

    def idf(self, token: str) -> float | None:
        """Return the inverse document frequency of a token, or None if the corpus never uses it."""
        if token not in self._idf:
            vocab = self._bm25.vocab_dict  # type: ignore[attr-defined]
            df = self._document_frequency(vocab[token]) if token in vocab else None
            n = len(self.chunk_ids)
            self._idf[token] = None if df is None else float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
        return self._idf[token]

    def matrix(self) -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray]:
        """Return bm25s's vocabulary (token -> column) and its weight matrix by column: column pointers, chunk
        positions, float32 BM25 weights; what another store needs to score exactly as this index does."""
        scores = self._bm25.scores  # type: ignore[attr-defined]
        return self._bm25.vocab_dict, scores["indptr"], scores["indices"], scores["data"]  # type: ignore[attr-defined]

    def _document_frequency(self, token_id: int) -> int:
        indptr = self._bm25.scores["indptr"]  # type: ignore[attr-defined]
        return int(indptr[token_id + 1] - indptr[token_id])

    def search(self, tokens: list[str], k: int, extra: list[str] | None = None, extra_weight: float = 0.5,
               scope: Scope | None = None) -> list[tuple[str, float]]:
        """Return up to k (chunk_id, score) pairs with a positive BM25 score among the chunks the scope allows, best
        first; `extra` tokens (other words for the same thing) add their BM25 score times `extra_weight`."""
        vocab = self._bm25.vocab_dict  # type: ignore[attr-defined]
        known = [t for t in tokens if t in vocab]
        added = [t for t in dict.fromkeys(extra or ()) if t in vocab and t not in known]
        if not (known or added) or not self.chunk_ids:
            return []
        scores = np.zeros(len(self.chunk_ids), dtype=np.float32)
        if known:
            scores += self._bm25.get_scores(known)  # type: ignore[attr-defined]
        if added:
            scores += extra_weight * self._bm25.get_scores(added)  # type: ignore[attr-defined]
        # Scoring every row is a sum of the query tokens' sparse columns either way; a scope picks the rows the top
        # k is taken from.
        rows = self._rows(scope)
        if rows is not None:
            scores = scores[rows]
        k = min(k, len(scores))
        if not k:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        ids = self.chunk_ids
        return [(ids[i] if rows is None else ids[rows[i]], float(scores[i])) for i in top if scores[i] > 0]

    def _rows(self, scope: Scope | None) -> np.ndarray | None:
        """Return the matrix rows a scope allows, None for every row."""
        if scope is None or (scope.regions is None and scope.doc_ids is None):
            return None
        if self._scopes is None:
            raise ValueError("an index being built has no records to resolve a scope")
        return self._scopes.scoped(scope).rows
