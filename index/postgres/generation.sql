-- One generation's tables, created with search_path set to its schema. Records are the JSON of index/records.py;
-- positions keep reading order. chunk_no is the chunk's column in bm25s's matrix, so postings and vectors share it.
CREATE TABLE regions (
    region_no smallint PRIMARY KEY,
    name text NOT NULL UNIQUE              -- '' for documents of no region (national ones)
);
CREATE TABLE documents (
    position integer PRIMARY KEY,
    doc_id text NOT NULL UNIQUE,
    region_no smallint NOT NULL REFERENCES regions,
    record jsonb NOT NULL
);
CREATE TABLE clauses (
    position integer PRIMARY KEY,
    clause_id text NOT NULL UNIQUE,
    doc_id text NOT NULL,
    record jsonb NOT NULL
);
CREATE TABLE chunks (
    chunk_no integer PRIMARY KEY,
    chunk_id text NOT NULL UNIQUE,
    doc_id text NOT NULL,
    region_no smallint NOT NULL,
    record jsonb NOT NULL
);
CREATE TABLE measures (
    position integer PRIMARY KEY,
    record jsonb NOT NULL
);
-- The project's own jieba tokens (index/lexical.py tokenize), with document frequency and the IDF bm25s uses.
CREATE TABLE terms (
    term text PRIMARY KEY,
    term_id integer NOT NULL,
    df integer NOT NULL,
    idf double precision                   -- NULL for bm25s's empty placeholder token, which no chunk has
);
-- One row per (term, chunk) with the exact BM25 weight bm25s stored for it (float32, as bm25s keeps it): a query's
-- score of a chunk is the sum of its terms' weights. region_no is copied in so a region filter is an index range.
CREATE TABLE postings (
    term_id integer NOT NULL,
    region_no smallint NOT NULL,
    chunk_no integer NOT NULL,
    weight real NOT NULL
);
