-- Built after the rows are copied in (much faster than maintaining them row by row).
-- (term_id) alone serves a sum over every posting, (term_id, region_no) a region-filtered one; weight is included
-- so both are index-only scans once the table is vacuumed.
CREATE INDEX postings_term ON postings (term_id, region_no, chunk_no) INCLUDE (weight);
-- A term's postings by weight, largest first: an unfiltered search reads the top of each common term's list only
-- (index/postgres/lexical.py).
CREATE INDEX postings_impact ON postings (term_id, weight DESC) INCLUDE (chunk_no);
CREATE UNIQUE INDEX chunk_weights_no ON chunk_weights (chunk_no);
CREATE UNIQUE INDEX terms_id ON terms (term_id);
CREATE INDEX chunks_doc ON chunks (doc_id);
CREATE INDEX documents_region ON documents (region_no);
