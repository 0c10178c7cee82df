"""Finding the clauses: hybrid BM25 and dense retrieval, an optional reranker, and the langchain retriever."""
