"""Errors of the channels; each says who sees it."""

from index.errors import PolicyQAError


class CallbackRejected(PolicyQAError):
    """Seen by WeChat's servers (and attackers) as HTTP 403: bad signature, stale timestamp, replay, unsafe XML,
    or a plaintext callback when safe mode is configured."""


class CallbackInvalid(PolicyQAError):
    """Seen as HTTP 400: a callback whose XML is not a message we can answer (encoding, missing fields)."""
