-- One generation's tables, created with search_path set to its schema. Records are the JSON of index/records.py,
-- as json (kept as written, so reading them back needs no conversion from jsonb); positions keep reading order.
-- chunk_no is the chunk's row in bm25s's matrix, so postings and vectors share it.
-- A generation never changes once written: autovacuum is off for its tables (the writer vacuums and freezes them
-- once), and an autovacuum snapshot taken while they were written would keep their pages from being all-visible,
-- which index-only scans of the postings need.
CREATE TABLE regions (
    region_no smallint PRIMARY KEY,
    name text NOT NULL UNIQUE              -- '' for documents of no region (national ones)
) WITH (autovacuum_enabled = false);
CREATE TABLE documents (
    position integer PRIMARY KEY,
    doc_id text NOT NULL UNIQUE,
    region_no smallint NOT NULL REFERENCES regions,
    record json NOT NULL
) WITH (autovacuum_enabled = false);
CREATE TABLE clauses (
    position integer PRIMARY KEY,
    clause_id text NOT NULL UNIQUE,
    doc_id text NOT NULL,
    record json NOT NULL
) WITH (autovacuum_enabled = false);
CREATE TABLE chunks (
    chunk_no integer PRIMARY KEY,
    chunk_id text NOT NULL UNIQUE,
    doc_id text NOT NULL,
    region_no smallint NOT NULL,
    record json NOT NULL
) WITH (autovacuum_enabled = false);
CREATE TABLE measures (
    position integer PRIMARY KEY,
    record json NOT NULL
) WITH (autovacuum_enabled = false);
-- The project's own jieba tokens (index/lexical.py tokenize), with document frequency and the IDF bm25s uses.
CREATE TABLE terms (
    term text PRIMARY KEY,
    term_id integer NOT NULL,
    df integer NOT NULL,
    idf double precision                   -- NULL for bm25s's empty placeholder token, which no chunk has
) WITH (autovacuum_enabled = false);
-- One row per (term, chunk) with the exact BM25 weight bm25s stored for it (float32, as bm25s keeps it): a query's
-- score of a chunk is the sum of its terms' weights. region_no is copied in so a region filter is an index range.
CREATE TABLE postings (
    term_id integer NOT NULL,
    region_no smallint NOT NULL,
    chunk_no integer NOT NULL,
    weight real NOT NULL
) WITH (autovacuum_enabled = false);
-- Each chunk's postings again, as one sparse vector over the term ids (the weight matrix by row): a candidate's exact
-- score for any query is then one row read and an inner product with the query's term counts, instead of a probe of
-- the postings per query term. sparsevec is pgvector's (the extension every generation needs).
CREATE TABLE chunk_weights (
    chunk_no integer NOT NULL,
    weights sparsevec NOT NULL
) WITH (autovacuum_enabled = false);
