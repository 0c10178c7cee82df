"""Errors of the stores: a store that cannot be used, feedback that cannot be recorded."""

from index.errors import PolicyQAError


class FeedbackError(PolicyQAError, ValueError):
    """Seen by the caller of the feedback store or `feedback` command: a bad rating or a missing database."""


class StoreUnavailable(PolicyQAError):
    """Seen by the operator at start-up: a store (conversations, question log) cannot be opened."""


class StoreOutage(PolicyQAError):
    """Seen in the log (once every few minutes) or by the rater of an answer: the PostgreSQL of QA_DATABASE_URL
    cannot be read or written just now (server gone, disk full); chat answers go on without their stored context."""
