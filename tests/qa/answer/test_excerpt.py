"""An excerpt knows which of its clause's sentences it quotes: the span is found where they are chosen."""

from __future__ import annotations

from qa.answer.extractive import best_sentences, direct
from qa.records import LONG_CLAUSE, Citation, sentence_span
from qa.understand.query import parse_query
from tests.index.test_chunking import DOC, _clause

FILLER = "坚持创新驱动，推动文化和科技深度融合发展，形成一批具有国际影响力的文化科技企业和品牌。"
CLAUSE = "".join([FILLER * 3, "对于成效显著的地区给予奖励。", FILLER * 2,
                  "经认定的国家级示范基地，按规定……给予奖励。", FILLER * 2])


def test_the_excerpt_carries_its_span() -> None:
    """The quoted sentence of a long clause comes with its position, and the citation takes it as it is."""
    assert len(CLAUSE) > LONG_CLAUSE
    excerpt = best_sentences(parse_query("国家级示范基地有多少奖励？"), CLAUSE, limit=1)
    assert excerpt.text == "经认定的国家级示范基地，按规定……给予奖励。"
    assert excerpt.span == "第7句"
    citation = Citation.of(_clause(CLAUSE), DOC, excerpt)
    assert (citation.quote, citation.sentences) == (excerpt.text, "第7句")
    # Looked up again from the quote's text (what Citation.of did before), the sentence's own ellipsis splits it
    # in two, and its second half "给予奖励。" is found in another sentence too.
    assert sentence_span(CLAUSE, excerpt.text) == "第4、7句"


def test_a_short_clause_has_no_span() -> None:
    """A clause read at a glance names no sentence positions."""
    assert best_sentences(parse_query("有什么奖励？"), "对于成效显著的地区给予奖励。").span == ""


def test_who_is_answered_by_the_clauses_labelled_agency_note() -> None:
    """"返还失业保险费谁负责": the note "（责任单位：…）" says who, though the other sentences repeat more of the
    question's words; the answer opens with what the note says."""
    clause = ("（五）返还失业保险费。对不裁员或少裁员的参保企业，可返还其上年度实际缴纳失业保险费的50%。"
              "（责任单位：省人力社保厅、省财政厅）")
    query = parse_query("返还失业保险费谁负责")
    excerpt = best_sentences(query, clause)
    assert "（责任单位：省人力社保厅、省财政厅）" in excerpt.text
    assert direct(query, excerpt.text) == "责任单位：省人力社保厅、省财政厅"
