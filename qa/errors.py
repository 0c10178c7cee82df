"""The exceptions a user of the `qa` library sees; the base class lives with the bottom layer (`index.errors`)."""

from index.errors import ConfigError, IndexMissingError, PolicyQAError


class FilterError(PolicyQAError, ValueError):
    """An unknown measure type, industry or beneficiary in a measure filter; the CLI, the API (422) and the page
    show its message, which lists the valid values."""



class BuildFailed(PolicyQAError):
    """Seen by the admin (GET /admin/rebuild) and on the page at first start: a build in its child process failed
    or the process died (killed, out of memory); the generation being served keeps serving."""


__all__ = ["BuildFailed", "ConfigError", "FilterError", "IndexMissingError", "PolicyQAError"]
