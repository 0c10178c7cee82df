"""Answerers: turn retrieved clauses into a cited answer."""
