"""Deciding what a question gets: whether the documents answer it (answerability, relevance),
and whether they are still valid."""
