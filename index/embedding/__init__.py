"""Embedding backends behind langchain's Embeddings interface."""

from index.embedding.base import PolicyEmbeddings
from index.embedding.factory import load_embeddings

__all__ = ["PolicyEmbeddings", "load_embeddings"]
