"""policy-qa: answers about Chinese policy documents, citing the exact clause.

The names below load on first use, so that a stage (`qa.records`, `qa.understand`) or the prompts import without
the assistant and everything it pulls in."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.errors import PolicyQAError
    from qa.records import Answer, Citation, ScoredClause
    from qa.settings import Settings, load_settings

_WHERE = {"Assistant": "qa.assistant", "PolicyQAError": "qa.errors", "Answer": "qa.records", "Citation": "qa.records",
          "ScoredClause": "qa.records", "Settings": "qa.settings", "load_settings": "qa.settings"}
__all__ = ["Answer", "Assistant", "Citation", "PolicyQAError", "ScoredClause", "Settings", "load_settings"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'qa' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
