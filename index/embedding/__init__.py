"""Embedding backends behind langchain's Embeddings interface."""

from index.embedding.base import PolicyEmbeddings, load_embeddings

__all__ = ["PolicyEmbeddings", "load_embeddings"]
