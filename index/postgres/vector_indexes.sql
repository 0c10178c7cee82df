CREATE INDEX vectors_hnsw ON vectors USING hnsw (embedding vector_cosine_ops);
CREATE INDEX vectors_region ON vectors (region_no);
