"""The passage a long clause is retrieved by reads with its neighbours."""

from __future__ import annotations

from pathlib import Path

from index.chunking import chunk_clause
from index.knowledge import KnowledgeBase
from index.recordfile import temporary_records
from qa.retrieve.hybrid import _window
from tests.index.test_chunking import DOC, SENTENCE, _clause


def test_a_passage_reads_with_its_neighbours(tmp_path: Path) -> None:
    """Retrieval shows a prose passage with the pieces just before and after it, found by position."""
    clause = _clause(SENTENCE * 24, level=0)  # unnumbered text: searched a few sentences at a time
    chunks = chunk_clause(DOC, clause, 300)
    assert len(chunks) > 3
    # Written out of order: the neighbours are found by position, not by the order the chunks were stored in.
    records = temporary_records("passage", [DOC], [clause], reversed(chunks), [])
    kb = KnowledgeBase(tmp_path, None, records, None, None)  # type: ignore[arg-type]
    assert _window(kb, clause, chunks[0].chunk_id) == chunks[0].text + chunks[1].text
    assert _window(kb, clause, chunks[2].chunk_id) == "".join(c.text for c in chunks[1:4])
    assert _window(kb, clause, chunks[-1].chunk_id) == chunks[-2].text + chunks[-1].text
