"""What the service and the surfaces ask of a store: one small base class per store, whatever keeps the rows.

The SQLite stores (conversations.py, feedback.py, querylog.py, nonces.py) implement these; another database
implements the same methods and passes tests/qa/stores/test_store_contract.py."""

from __future__ import annotations

import csv
import json
from abc import ABC, abstractmethod
from typing import Literal, TextIO

from qa.records import Answer
from qa.stores.errors import FeedbackError
from qa.stores.records import FeedbackRow, LoggedQuestion

RATINGS = ("up", "down")
MAX_COMMENT_CHARS = 2000
COLUMNS = ("id", "created_at", "rating", "comment", "question", "query", "answer", "answerable", "citations",
           "session")
# A cell starting with one of these runs as a formula when the CSV is opened in Excel, WPS or LibreOffice
# (=HYPERLINK(...) sending data away, DDE commands); comments and questions come from the public page. OWASP
# "CSV Injection": prefix such cells with ' so they show as text. The full-width signs too, defensively: CJK
# input methods type them and some spreadsheets read them as the ASCII ones.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def check_rating(rating: str) -> None:
    """Raise FeedbackError when a rating is neither 'up' nor 'down'."""
    if rating not in RATINGS:
        raise FeedbackError(f"无效的评价 {rating!r}：只能是 'up'（有帮助）或 'down'（没帮助）；请改用其中之一")


def _as_text(value: object) -> object:
    """Return a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_START) else value


class Conversations(ABC):
    """A chat channel's per-user state (recent questions, the pages of a long reply, replies by message id), by
    keyed pseudonym and expiring after a TTL. Reads answer as for a new conversation when the store fails."""

    @abstractmethod
    def history(self, user: str) -> tuple[str, ...]:
        """Return the user's recent questions (oldest first) asked within the TTL."""

    @abstractmethod
    def add_question(self, user: str, question: str) -> None:
        """Remember a question."""

    @abstractmethod
    def reset(self, user: str) -> None:
        """Forget the user's conversation: questions and pages."""

    @abstractmethod
    def set_pages(self, user: str, pages: list[str]) -> None:
        """Keep the rest of a long reply for "更多" (none: forget the pages kept)."""

    @abstractmethod
    def push_front(self, user: str, page: str) -> None:
        """Put a page before the user's remaining pages (an answer that arrived after its reply window)."""

    @abstractmethod
    def next_page(self, user: str) -> tuple[str | None, int]:
        """Return the next page of the user's last long reply (or None) and how many pages remain after it."""

    @abstractmethod
    def reply_for(self, channel: str, user: str, msg_id: str) -> str | None:
        """Return the reply already given to this user's message on this channel, or None."""

    @abstractmethod
    def save_reply(self, channel: str, user: str, msg_id: str, reply: str) -> None:
        """Remember the reply to a user's message."""


class Feedback(ABC):
    """Ratings of answers (up/down with an optional comment), one row per rated answer."""

    @abstractmethod
    def record(self, answer: Answer, rating: str, comment: str = "", session: str = "") -> int:
        """Store one rating of an answer (comment cut to MAX_COMMENT_CHARS) and return its row id."""

    @abstractmethod
    def update(self, row_id: int, rating: str, comment: str = "") -> None:
        """Change the rating and comment of a stored row; FeedbackError when there is no such row."""

    @abstractmethod
    def all(self, limit: int | None = None) -> list[FeedbackRow]:
        """Return the stored rows (COLUMNS), newest first, with citations as lists and answerable as bool."""

    @abstractmethod
    def count(self) -> int:
        """Return the number of stored rows."""

    # A default, not abstract: a store over a pool shared with other stores has nothing of its own to release.
    def close(self) -> None:  # noqa: B027
        """Release what this store holds of its database (a pool shared by other stores stays open)."""

    def export(self, fmt: Literal["jsonl", "csv"], out: TextIO) -> int:
        """Write every row (newest first) to `out` as JSON lines (exact) or CSV (for spreadsheets: a cell that
        would run as a formula starts with ') and return how many were written."""
        rows = [r.to_json() for r in self.all()]
        if fmt == "jsonl":
            for item in rows:
                out.write(json.dumps(item, ensure_ascii=False) + "\n")
        elif fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            for item in rows:
                # CSV cells are flat text: keep the citations as the same JSON list JSONL carries.
                row = {**item, "citations": json.dumps(item["citations"], ensure_ascii=False),
                       "answerable": int(item["answerable"])}
                writer.writerow({name: _as_text(value) for name, value in row.items()})
        else:
            raise FeedbackError(f"不支持的导出格式 {fmt!r}：只能是 'jsonl' 或 'csv'；请改用其中之一")
        return len(rows)


class Questions(ABC):
    """The question log for quality review: who asked (pseudonymous when configured), how it was answered."""

    @abstractmethod
    def record(self, channel: str, user: str, answer: Answer, seconds: float) -> None:
        """Store one question; rows older than the retention period go."""

    @abstractmethod
    def rows(self) -> list[LoggedQuestion]:
        """Return the logged questions, newest first: at, channel, user (as stored), question, query, answerable,
        clauses (the cited clause ids as a JSON list), ms."""


class Nonces(ABC):
    """The (timestamp, nonce) pairs of accepted signed callbacks, shared by every server process."""

    where: str  # where the pairs are kept (a file, a database), named in the operator's messages

    @abstractmethod
    def first_digest(self, channel: str, timestamp: str, nonce: str, digest: str, keep: float) -> str:
        """Return the payload digest first recorded for this pair (this one, when the pair is new), forgetting
        pairs older than `keep` seconds; atomic across processes."""
