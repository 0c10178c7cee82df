"""The BM25 matrix computed at once (index.lexical.fit_bm25) against bm25s's own loop over chunks: the same saved
files, float for float, so rankings and the PostgreSQL postings copied from them are unchanged; and the token ids
a rebuild carries over give the vocabulary a full pass would."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

import index.lexical
from index.lang.tokens import tokenize
from index.lexical import TF, TOKEN_ENDS, TOKENS, Carried, LexicalIndex, TokenIds, _bm25s
from tests.conftest import CORPUS


def _bundled_chunks() -> list[str]:
    """Return the bundled corpus's paragraphs as space-joined search tokens, with an empty one."""
    paragraphs = [p for f in sorted(CORPUS.glob("*.txt")) for p in f.read_text(encoding="utf-8").split("\n\n")]
    return [" ".join(tokenize(p)) for p in paragraphs if p.strip()] + [""]


def _random_chunks(seed: int) -> list[str]:
    """Return chunks of a skewed vocabulary: common and rare tokens, repeats, very short and long chunks."""
    rng = random.Random(seed)
    words = [f"词{i}" for i in range(300)]
    weights = [1 / (i + 1) for i in range(300)]
    return [" ".join(rng.choices(words, weights, k=rng.choice([1, 2, 5, 40, 300]))) for _ in range(500)]


def _tokens(chunks: list[str]) -> TokenIds:
    tokens = TokenIds()
    for text in chunks:
        tokens.add(text)
    return tokens


def _saved(folder: Path) -> dict[str, object]:
    return {p.name: np.load(p) if p.suffix == ".npy" else p.read_text(encoding="utf-8")
            for p in sorted(folder.iterdir()) if p.name not in (TOKENS, TOKEN_ENDS, TF)}


@pytest.mark.parametrize("block", [7, index.lexical.WEIGH_BLOCK])
@pytest.mark.parametrize("chunks", [_bundled_chunks(), _random_chunks(1), _random_chunks(2)],
                         ids=["bundled", "random-1", "random-2"])
def test_the_matrix_equals_bm25s(chunks: list[str], block: int, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The weights, computed a block of postings at a time (a block of 7: many, and a last one cut short), are
    bm25s's."""
    monkeypatch.setattr(index.lexical, "WEIGH_BLOCK", block)
    tokens = _tokens(chunks)
    ids = [f"c{i}" for i in range(len(chunks))]
    LexicalIndex.build(ids, tokens).save(tmp_path / "fit")
    # bm25s's own index of the same chunks, as the build made it before.
    by_chunk = [[tokens.vocab[w] for w in (text.split(" ") if text else ["∅"])] for text in chunks]
    retriever = _bm25s().BM25()
    retriever.index((by_chunk, dict(tokens.vocab)), show_progress=False)
    LexicalIndex(retriever, ids).save(tmp_path / "bm25s")
    fit, own = _saved(tmp_path / "fit"), _saved(tmp_path / "bm25s")
    assert fit.keys() == own.keys()
    for name, value in own.items():
        got = fit[name]
        if isinstance(value, np.ndarray):
            assert isinstance(got, np.ndarray) and got.dtype == value.dtype and np.array_equal(got, value), name
        else:
            assert got == value, name


@pytest.mark.parametrize("head", [1, 37, 1 << 20])
def test_carried_over_token_ids_give_the_vocabulary_of_a_full_pass(head: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks carried over from another vocabulary, between chunks added as text, and a token only the dropped
    chunks used: the vocabulary and ids equal those of one pass over the chunks as text, whether a token's first
    place is among the ids sorted (the first HEAD) or looked up after them."""
    monkeypatch.setattr(index.lexical, "HEAD", head)
    chunks = _random_chunks(3)
    old = _tokens(chunks)
    words, ids, ends = old.arrays()
    kept = list(range(0, 200)) + list(range(260, 500))
    new_texts = ["新词 词1 词2", "词250 另一个新词"]
    mixed = TokenIds()
    table = mixed.mapping(words)
    starts = np.concatenate(([0], ends[:-1]))
    mixed.add(new_texts[0])
    for run in (kept[:200], kept[200:]):
        lo, hi = starts[run[0]], ends[run[-1]]
        mixed.extend(table[ids[lo:hi]], ends[run[0] : run[-1] + 1] - lo)
    mixed.add(new_texts[1])
    texts = [new_texts[0], *(chunks[i] for i in kept), new_texts[1]]
    assert [np.asarray(a).tolist() if isinstance(a, np.ndarray) else a for a in mixed.arrays()] == \
        [np.asarray(a).tolist() if isinstance(a, np.ndarray) else a for a in _tokens(texts).arrays()]


@pytest.mark.parametrize(("seed", "reordered"), [(4, True), (5, True), (6, False)])
def test_a_matrix_refitted_from_kept_chunks_equals_a_full_fit(seed: int, reordered: bool, tmp_path: Path) -> None:
    """Chunks dropped, chunks added before, between and after the kept ones, tokens only the dropped chunks used
    and tokens only the added ones use (the vocabulary reordered); or every chunk kept and chunks of known tokens
    added at the end (its order kept): the matrix made from the previous one's kept postings (refit_bm25) and
    the counts saved beside it are those a full fit of the new chunks gives, file for file."""
    rng = random.Random(seed)
    chunks = _random_chunks(seed)
    old = _tokens(chunks)
    LexicalIndex.build([f"c{i}" for i in range(len(chunks))], old).save(tmp_path / "old")
    words, ids, ends = old.arrays()
    if reordered:
        kept = sorted(rng.sample(range(len(chunks)), 400))
        added = ["新词 词1 词2 新词", "词250", "", "另一个新词 词3"]
        # New chunks at the front, after the 100th kept one and at the end; kept ones carried as slices.
        plan = [("new", added[0]), *(("old", i) for i in kept[:100]), ("new", added[1]), ("new", added[2]),
                *(("old", i) for i in kept[100:]), ("new", added[3])]
    else:
        plan = [*(("old", i) for i in range(len(chunks))), ("new", f"{words[3]} {words[0]} {words[3]}"),
                ("new", words[1])]
    mixed, table, texts = TokenIds(), None, []
    rows = np.full(len(chunks), -1, dtype=np.int64)
    starts = np.concatenate(([0], ends[:-1]))
    for row, (kind, what) in enumerate(plan):
        if kind == "new":
            mixed.add(str(what))
            texts.append(str(what))
            continue
        i = int(what)
        table = mixed.mapping(words) if table is None else table
        mixed.extend(table[ids[starts[i] : ends[i]]], np.array([ends[i] - starts[i]]))
        rows[i] = row
        texts.append(chunks[i])
    folder = tmp_path / "old"
    carried = Carried(words, np.load(folder / "indptr.csc.index.npy"), np.load(folder / "indices.csc.index.npy"),
                      np.load(folder / TF), rows)
    new_ids = [f"n{i}" for i in range(len(plan))]
    LexicalIndex.build(new_ids, mixed, carried).save(tmp_path / "refit")
    LexicalIndex.build(new_ids, _tokens(texts)).save(tmp_path / "fit")
    for name in sorted(p.name for p in (tmp_path / "fit").iterdir()):
        assert (tmp_path / "refit" / name).read_bytes() == (tmp_path / "fit" / name).read_bytes(), name


@pytest.mark.parametrize("head", [1, 37, 1 << 20])
def test_the_vocabulary_is_in_the_order_tokens_are_first_used(head: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A vocabulary started in another order (as a rebuild's starts with the previous one's, some tokens no longer
    used): arrays() orders it by first use, wherever that falls, and leaves the unused tokens out."""
    monkeypatch.setattr(index.lexical, "HEAD", head)
    chunks = _random_chunks(6)
    tokens = TokenIds()
    tokens.mapping([f"词{i}" for i in reversed(range(310))])
    for text in chunks:
        tokens.add(text)
    words, ids, _ = tokens.arrays()
    assert words == list(dict.fromkeys(w for text in chunks for w in text.split(" ")))
    assert [words[i] for i in ids] == [w for text in chunks for w in text.split(" ")]
