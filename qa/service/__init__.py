"""The front door the surfaces use: the knowledge base opened (or built) in the background, answers and look-ups.

`Service` (qa/service/front.py) is loaded on first use: the command line reads qa.service.redact without loading
the answering stack."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qa.service.front import Service

__all__ = ["Service"]


def __getattr__(name: str) -> Any:
    """Return Service, imported when first asked for."""
    if name == "Service":
        from qa.service.front import Service

        return Service
    raise AttributeError(f"module 'qa.service' has no attribute {name!r}")
