-- The control tables, shared by every generation (created once, idempotent). Each generation's own tables live in
-- a schema of their own (generation.sql), so a generation is written beside the serving one and dropped whole.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE SCHEMA IF NOT EXISTS policyqa;
-- A generation's row is written in the transaction that writes its tables: no host sees one half written.
CREATE TABLE IF NOT EXISTS policyqa.generations (
    name text PRIMARY KEY,                 -- the schema that holds the generation's tables
    written timestamptz NOT NULL DEFAULT now(),
    chunks integer NOT NULL,               -- the N of BM25's IDF
    dimensions integer,                    -- of the vectors; NULL when the generation has none
    manifest json NOT NULL                 -- index.records.Manifest of the generation written (json keeps its order)
);
-- One row: the generation every host serves, and the one before it, kept as a fallback. Switching is one UPDATE of
-- this row.
CREATE TABLE IF NOT EXISTS policyqa.serving (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    generation text NOT NULL REFERENCES policyqa.generations,
    previous text REFERENCES policyqa.generations
);
-- One row per generation a host holds open: publish drops an older generation only when no fresh heartbeat names it.
-- The reference makes a lease on a generation being dropped wait for that publish, then fail: the host leases the
-- new serving one instead.
CREATE TABLE IF NOT EXISTS policyqa.leases (
    holder text PRIMARY KEY,               -- host name, process id and a random tag: one per opened generation
    generation text NOT NULL REFERENCES policyqa.generations,
    heartbeat timestamptz NOT NULL DEFAULT now()
);
