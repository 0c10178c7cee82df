"""The PostgreSQL backend: a generation's records, BM25 postings and vectors in tables (pgvector for the vectors),
written by one builder and switched atomically for every host (QA_DATABASE_URL)."""
