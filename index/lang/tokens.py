"""Search tokens: jieba words with a policy-term dictionary and stopwords, shared by indexing and answering."""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent.parent / "data"
TOKEN = re.compile(r"[\u3400-\u9fff]|[A-Za-z0-9]")
# jieba segments each run of these characters as one block, and its HMM copies a path per character: a run of
# 80,000 unknown characters took 34 s (quadratic). Runs are handed to it at most this long.
JIEBA_RUN = re.compile(r"[\u4E00-\u9FD5a-zA-Z0-9+#&._%\-]+")
MAX_RUN = 400


@cache
def _tokenizer() -> tuple[object, frozenset[str]]:
    """Return a private jieba tokenizer with the policy dictionary, and the stopword set."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.load_userdict(str(DATA / "policy_terms.txt"))
    stop = frozenset((DATA / "stopwords.txt").read_text(encoding="utf-8").split())
    return tok, stop


def runs(text: str) -> list[str]:
    """Return the text in the pieces jieba is given: as it is, or cut where a run is longer than MAX_RUN."""
    if not any(m.end() - m.start() > MAX_RUN for m in JIEBA_RUN.finditer(text)):
        return [text]
    pieces, start = [], 0
    for m in JIEBA_RUN.finditer(text):
        for cut in range(m.start() + MAX_RUN, m.end(), MAX_RUN):
            pieces.append(text[start:cut])
            start = cut
    return [*pieces, text[start:]]


def tokenize(text: str) -> list[str]:
    """Return the search tokens of a text: jieba words and sub-words, lowercased, stopwords dropped."""
    tok, stop = _tokenizer()
    words = [w for piece in runs(text.lower()) for w in tok.lcut_for_search(piece)]  # type: ignore[attr-defined]
    return [w for w in words if TOKEN.search(w) and w not in stop]


def frequency(word: str) -> int:
    """Return the word's frequency in jieba's general dictionary (with the policy terms), 0 when unknown."""
    tok, _ = _tokenizer()
    tok.check_initialized()  # type: ignore[attr-defined]
    return int(tok.FREQ.get(word) or 0)  # type: ignore[attr-defined]


def segment(text: str) -> list[str]:
    """Return jieba's words of a text, as written (no sub-words, nothing dropped)."""
    tok, _ = _tokenizer()
    return [w for piece in runs(text) for w in tok.lcut(piece)]  # type: ignore[attr-defined]


@cache
def _tagger() -> object:
    """Return jieba's part-of-speech tagger over the policy tokenizer."""
    import jieba.posseg

    return jieba.posseg.POSTokenizer(_tokenizer()[0])


def tagged(text: str) -> list[tuple[str, str]]:
    """Return jieba's words of a text with their part-of-speech tags (n noun, v verb, d adverb, m numeral…);
    a policy term jieba's dictionary does not tag is "x"."""
    tagger = _tagger()
    return [(p.word, p.flag) for piece in runs(text) for p in tagger.cut(piece)]  # type: ignore[attr-defined]
