"""Ingestion: documents -> clean text -> clause tree -> metadata -> chunks -> lexical and dense indexes."""

from index.build import BuildReport, build_index
from index.store import KnowledgeBase, open_index

__all__ = ["BuildReport", "KnowledgeBase", "build_index", "open_index"]
