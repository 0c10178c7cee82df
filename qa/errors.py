"""The exceptions a user of the `qa` library sees; the base class lives with the bottom layer (`index.errors`)."""

from index.errors import ConfigError, IndexMissingError, PolicyQAError

__all__ = ["ConfigError", "IndexMissingError", "PolicyQAError"]
