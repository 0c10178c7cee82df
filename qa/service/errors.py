"""Errors of the service."""

from index.errors import PolicyQAError


class NotReady(PolicyQAError):
    """Seen by a surface that asks before the knowledge base is open (HTTP 503, the page's progress line); the
    message is what the service is doing meanwhile, or why it failed to open."""
