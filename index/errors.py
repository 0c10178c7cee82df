"""The project's exceptions, rooted here at the bottom layer; entry points turn them into a clear message."""


class PolicyQAError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class ConfigError(PolicyQAError):
    """Seen by the operator: a setting is unknown or has an invalid value."""


class DocumentError(PolicyQAError):
    """Seen in the build summary: one document could not be read and was skipped."""


class IndexMissingError(PolicyQAError):
    """Seen by the user of `ask`/`batch`: there is no built index at the given path."""


class EmbedderUnavailable(PolicyQAError):
    """Seen once in the log: the configured embedder cannot load, so retrieval runs lexical-only."""
