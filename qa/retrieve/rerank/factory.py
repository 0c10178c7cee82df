"""The choice of reranker from settings. Apart from the interface (base.py), so an implementation importing the
interface and the factory importing the implementations make no circle."""

from __future__ import annotations

import logging

from qa.retrieve.rerank.base import Reranker, RerankerUnavailable
from qa.retrieve.rerank.cross_encoder import CrossEncoderReranker

log = logging.getLogger(__name__)


def load_reranker(model: str) -> Reranker | None:
    """Return the reranker at a local model path, or None (fused order kept) with one warning when it cannot load."""
    if not model:
        return None
    try:
        return CrossEncoderReranker(model)
    except RerankerUnavailable as exc:
        log.warning("重排序模型不可用，沿用检索排序：%s", exc)
        return None
