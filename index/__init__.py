"""Ingestion: documents -> clean text -> clause tree -> metadata -> chunks -> lexical and dense indexes.

The names below load on first use, so that a pure stage (`index.cleaning`, `index.structure`) imports without the
embedding and vector-store libraries the build needs."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from index.build import BuildReport, build_index
    from index.config import BuildConfig, EmbedderConfig
    from index.knowledge import KnowledgeBase
    from index.store import open_index

_WHERE = {"BuildReport": "index.build", "build_index": "index.build", "BuildConfig": "index.config",
          "EmbedderConfig": "index.config", "KnowledgeBase": "index.knowledge", "open_index": "index.store"}
__all__ = ["BuildConfig", "BuildReport", "EmbedderConfig", "KnowledgeBase", "build_index", "open_index"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'index' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
