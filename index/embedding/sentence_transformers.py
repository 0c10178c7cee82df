"""Any sentence-transformers model found on local disk (bge-small-zh, bge-m3, e5, ...)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from index.embedding.base import PolicyEmbeddings
from index.errors import EmbedderUnavailable, PolicyQAError


def load_local(kind: str, name_or_path: str, unavailable: type[PolicyQAError], what: str) -> Any:
    """Return a sentence-transformers model class `kind` loaded from local disk on the CPU, or raise `unavailable`
    saying why (weights cannot be downloaded here: only a local path or an already-cached model loads)."""
    try:
        import sentence_transformers
    except ImportError as exc:
        raise unavailable("未安装 sentence-transformers：pip install sentence-transformers") from exc
    quiet = logging.getLogger("sentence_transformers")
    level = quiet.level
    # Our one warning explains a failure; the library's own English warnings would only repeat it.
    quiet.setLevel(logging.ERROR)
    try:
        return getattr(sentence_transformers, kind)(name_or_path, device="cpu", local_files_only=True)
    except Exception as exc:  # the library raises OSError, ValueError or HF errors for a missing model
        raise unavailable(f"无法加载本地{what} {name_or_path!r}（{exc.__class__.__name__}）") from exc
    finally:
        quiet.setLevel(level)


class SentenceTransformerEmbeddings(PolicyEmbeddings):
    """A local sentence-transformers model; its configured query/document prompts are used when present."""

    def __init__(self, name_or_path: str, batch_size: int = 16) -> None:
        if not name_or_path:
            raise EmbedderUnavailable("未指定模型：请设置 QA_EMBEDDING_MODEL 为本地模型路径或已缓存的模型名")
        self._model = load_local("SentenceTransformer", name_or_path, EmbedderUnavailable, "模型")
        self._name = name_or_path
        self._batch = batch_size
        path = Path(name_or_path)
        stamp = ""
        if path.exists():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".json", ".safetensors", ".bin"))
            # Size and modification time: a model retrained in place gets a new id without hashing gigabytes.
            stamp = hashlib.sha1(
                b"".join(f"{p.relative_to(path)}:{p.stat().st_size}:{p.stat().st_mtime_ns}".encode() for p in files)
            ).hexdigest()[:8]
        self._id = f"st-{path.name or name_or_path}-{stamp}"

    @property
    def model_id(self) -> str:
        """Return the model's name plus a fingerprint of its files."""
        return self._id

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Return one normalised vector per passage."""
        vectors = self._model.encode_document(texts, batch_size=self._batch, normalize_embeddings=True,
                                              convert_to_numpy=True, show_progress_bar=False)
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        """Return the normalised vector of a query."""
        vector = self._model.encode_query([text], normalize_embeddings=True, convert_to_numpy=True,
                                          show_progress_bar=False)
        return vector[0].tolist()
