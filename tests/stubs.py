"""A hashing stub embedder for the fast test tier: real dense retrieval (Chroma, fusion) without a neural network.

In the spirit of canopy's StubDenseEncoder (pinecone-io/canopy, tests/unit/stubs/stub_dense_encoder.py), but
built from the search tokens rather than the whole text, so a query is closer to a passage that shares its words.
"""

from __future__ import annotations

import hashlib

import numpy as np

from index.embedding import PolicyEmbeddings
from index.lang.tokens import tokenize


class HashingEmbeddings(PolicyEmbeddings):
    """Embeds a text as the unit-length sum of its jieba tokens, each hashed to a signed dimension."""

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension
        # A text with no token still needs a unit vector; any fixed direction serves, the same for every such text.
        self._empty = np.full(dimension, 1 / np.sqrt(dimension), np.float32)

    @property
    def model_id(self) -> str:
        """Return an id naming the stub and its dimension (no fitted answerability model starts with it)."""
        return f"stub-hashing-{self.dimension}"

    def _bucket(self, token: str) -> tuple[int, float]:
        """Return the token's dimension and sign, the same in every process (Python's hash() is salted)."""
        digest = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "big")
        return digest % self.dimension, 1.0 if digest >> 63 else -1.0

    def _embed(self, text: str) -> list[float]:
        """Return the normalised vector of one text."""
        vector = np.zeros(self.dimension, np.float32)
        for token in tokenize(text):
            index, sign = self._bucket(token)
            vector[index] += sign
        norm = np.linalg.norm(vector)
        return (vector / norm if norm else self._empty).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Return one normalised vector per passage."""
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        """Return the normalised vector of a query."""
        return self._embed(text)
