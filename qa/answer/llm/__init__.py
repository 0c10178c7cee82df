"""Answers written by a chat model, each claim verified against the clauses it cites."""
