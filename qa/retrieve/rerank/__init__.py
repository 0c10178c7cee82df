"""Reranking the retrieved candidates with a stronger model, when one is configured (QA_RERANKER_MODEL)."""

from qa.retrieve.rerank.base import Reranker
from qa.retrieve.rerank.factory import load_reranker

__all__ = ["Reranker", "load_reranker"]
