-- Built after the rows are copied in (much faster than maintaining them row by row).
-- (term_id) alone serves an unfiltered query, (term_id, region_no) a region-filtered one; weight is included so
-- both are index-only scans once the table is vacuumed.
CREATE INDEX postings_term ON postings (term_id, region_no, chunk_no) INCLUDE (weight);
CREATE UNIQUE INDEX terms_id ON terms (term_id);
CREATE INDEX chunks_doc ON chunks (doc_id);
CREATE INDEX documents_region ON documents (region_no);
