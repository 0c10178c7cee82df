-- A generation's vectors (when it has them): pgvector, cosine distance, an HNSW index. region_no and doc_id sit
-- beside the vector so a filter is applied inside the index scan (hnsw.iterative_scan), not after scoring.
CREATE TABLE vectors (
    chunk_no integer PRIMARY KEY,
    chunk_id text NOT NULL UNIQUE,
    doc_id text NOT NULL,
    region_no smallint NOT NULL,
    embedding vector({dimensions}) NOT NULL
) WITH (autovacuum_enabled = false);
