"""policy-qa: answers about Chinese policy documents, citing the exact clause."""

from qa.models import Answer, Chunk, Citation, Clause, PolicyDoc, ScoredClause
from qa.settings import Settings, load_settings

__all__ = ["Answer", "Chunk", "Citation", "Clause", "PolicyDoc", "ScoredClause", "Settings", "load_settings"]
