"""policy-qa: answers about Chinese policy documents, citing the exact clause."""

from qa.assistant import Assistant
from qa.errors import PolicyQAError
from qa.records import Answer, Citation, ScoredClause
from qa.settings import Settings, load_settings

__all__ = ["Answer", "Assistant", "Citation", "PolicyQAError", "ScoredClause", "Settings", "load_settings"]
