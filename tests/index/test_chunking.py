"""Retrieval units: a long clause's pieces carry their place in it, read back from old generations too."""

from __future__ import annotations

import orjson
import pytest

from index.chunking import chunk_clause
from index.records import Chunk, Clause, PolicyDoc

DOC = PolicyDoc(doc_id="d", title="关于推动文化产业发展的通知", text="", source="d.txt", content_hash="h")
SENTENCE = "各地要加大对文化科技企业的支持力度，落实各项扶持政策并定期报告进展情况。"


def _clause(text: str, level: int = 1) -> Clause:
    return Clause(clause_id="d-1", doc_id="d", label="（一）", path=("（一）",), heading="", text=text, title="",
                  start=0, end=len(text), level=level)


@pytest.mark.parametrize(("sentences", "pieces"), [(1, 1), (12, 2), (24, 3)])
def test_chunks_carry_their_position(sentences: int, pieces: int) -> None:
    """A clause in one chunk is position 0; a long clause's pieces are numbered in reading order."""
    chunks = chunk_clause(DOC, _clause(SENTENCE * sentences), 300)
    assert len(chunks) == pieces
    assert [c.position for c in chunks] == list(range(pieces))


@pytest.mark.parametrize(("chunk_id", "position"), [("d-1", 0), ("d-1-0", 0), ("d-1-7", 7), ("d-1-2-12", 12)])
def test_an_old_generation_s_chunks_get_their_position_from_the_id(chunk_id: str, position: int) -> None:
    """chunks.jsonl written before chunks stored a position still opens: the position is the id's last number."""
    chunk = Chunk(chunk_id=chunk_id, clause_id="d-1" if chunk_id == "d-1" else chunk_id.rsplit("-", 1)[0],
                  doc_id="d", label="（一）", text="正文", indexed_text="正文", content_hash="h", position=position)
    stored = orjson.loads(orjson.dumps(chunk))
    assert Chunk.from_json(dict(stored)) == chunk
    del stored["position"]
    assert Chunk.from_json(stored) == chunk
