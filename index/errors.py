"""The project's exceptions, rooted here at the bottom layer; entry points turn them into a clear message."""


class PolicyQAError(Exception):
    """Base class: a problem the user can fix, with a message that says how."""


class ConfigError(PolicyQAError):
    """Seen by the operator: a setting is unknown or has an invalid value."""


class DocumentError(PolicyQAError):
    """Seen in the build summary: one document could not be read and was skipped."""


class IndexMissingError(PolicyQAError):
    """Seen by the user of `ask`/`batch`: there is no built index at the given path."""


class GenerationDamaged(IndexMissingError):
    """Seen in the log and on /healthz: a generation's files do not match its manifest (truncated, emptied,
    corrupt, missing) or it is being deleted; an older one is served until a build repairs it."""


class NothingToIndex(ConfigError):
    """Seen by whoever builds: no file of the corpus could be indexed; the serving index is left as it is."""


class EmbedderUnavailable(PolicyQAError):
    """Seen once in the log: the configured embedder cannot load, so retrieval runs lexical-only."""


class DatabaseUnavailable(PolicyQAError):
    """Seen by the operator at start and by whoever builds: the PostgreSQL of QA_DATABASE_URL cannot be reached or
    used (no psycopg, no pgvector, refused); the message says which and how to fix it."""
