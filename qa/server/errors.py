"""Errors of the channels and stores; each says who sees it."""

from index.errors import PolicyQAError


class FeedbackError(PolicyQAError, ValueError):
    """Seen by the caller of the feedback store or `feedback` command: a bad rating or a missing database."""


class CallbackRejected(PolicyQAError):
    """Seen by WeChat's servers (and attackers) as HTTP 403: bad signature, stale timestamp, replay, unsafe XML,
    or a plaintext callback when safe mode is configured."""


class CallbackInvalid(PolicyQAError):
    """Seen as HTTP 400: a callback whose XML is not a message we can answer (encoding, missing fields)."""


class StoreUnavailable(PolicyQAError):
    """Seen by the operator at start-up: a SQLite store (conversations, question log) cannot be opened."""


class BuildFailed(PolicyQAError):
    """Seen by the admin (GET /admin/rebuild) and on the page at first start: a build in its child process failed
    or the process died (killed, out of memory); the generation being served keeps serving."""
