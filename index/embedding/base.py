"""The embedder interface: a langchain Embeddings with a stable model id."""

from __future__ import annotations

from abc import abstractmethod

from langchain_core.embeddings import Embeddings


class PolicyEmbeddings(Embeddings):
    """A langchain Embeddings with a stable model id, so cached vectors never mix models."""

    @property
    @abstractmethod
    def model_id(self) -> str:
        """Return an id naming the model and its settings."""
