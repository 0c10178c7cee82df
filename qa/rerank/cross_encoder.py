"""A sentence-transformers CrossEncoder from local disk (e.g. a downloaded bge-reranker) reads question and clause
together."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from qa.query import Query
from qa.records import ScoredClause
from qa.rerank.base import Reranker, RerankerUnavailable, passage


class CrossEncoderReranker(Reranker):
    """Scores each (question, clause) pair with a cross-encoder on the CPU."""

    def __init__(self, name_or_path: str, batch_size: int = 16) -> None:
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise RerankerUnavailable("未安装 sentence-transformers：pip install sentence-transformers") from exc
        quiet = logging.getLogger("sentence_transformers")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # our one warning explains a failure; the library's would repeat it
        try:
            # Weights cannot be downloaded here: only a local path or an already-cached model loads.
            self._model = CrossEncoder(name_or_path, device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises OSError, ValueError or HF errors for a missing model
            raise RerankerUnavailable(f"无法加载本地重排序模型 {name_or_path!r}（{exc.__class__.__name__}）") from exc
        finally:
            quiet.setLevel(level)
        self._batch = batch_size

    def scores(self, query: Query, candidates: Sequence[ScoredClause]) -> list[float]:
        """Return the cross-encoder's score of each (question, clause) pair."""
        pairs = [(query.focus or query.text, passage(c)) for c in candidates]
        return [float(s) for s in self._model.predict(pairs, batch_size=self._batch, show_progress_bar=False)]
