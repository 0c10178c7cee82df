"""The rows the stores give back: a rating of an answer, a logged question. Frozen records, so a reader of the
feedback export or the question log (the CLI, the admin routes, an analysis) sees named, typed fields."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from qa.records import CitationJSON


@dataclass(frozen=True)
class FeedbackRow:
    """One rating of an answer, as stored: the answer's plain text and its citations' JSON forms."""

    id: int
    created_at: str  # ISO 8601, UTC, milliseconds
    rating: Literal["up", "down"]
    comment: str
    question: str
    query: str
    answer: str
    answerable: bool
    citations: tuple[CitationJSON, ...]
    session: str

    def to_json(self) -> dict[str, Any]:
        """Return the row as the export's JSON record (citations a list, answerable a bool)."""
        return {**asdict(self), "citations": list(self.citations)}


@dataclass(frozen=True)
class LoggedQuestion:
    """One question of the log: when, through which channel, by whom (a keyed hash when hashing is on)."""

    at: float  # Unix time
    channel: str
    user: str
    question: str
    query: str
    answerable: int  # 1 or 0, as stored
    clauses: str  # the cited clause ids, a JSON list
    ms: int  # how long the answer took
