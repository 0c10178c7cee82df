"""Rendering of answers, citation chips and the clause panel: cited, readable, and always escaped."""

from __future__ import annotations

import pytest

from index.records import Clause, PolicyDoc
from qa.assistant import Assistant
from qa.records import Answer, Citation, Outcome, Paragraph, Quote
from qa.render.markdown import (
    MAX_PAGE_DOCS,
    answer_markdown,
    citation_choices,
    clause_panel_html,
    documents_html,
    escape,
)
from qa.render.plain import plain_text

NASTY = '<script>alert(1)</script> **粗体** [链接](http://x.example) <img src=x onerror=alert(1)> `code` # 标题'


def _doc(**kw: object) -> PolicyDoc:
    base: dict[str, object] = dict(doc_id="d", title="测试<b>文件</b>", text="", source="s", content_hash="h",
                                   issuer="某省<i>科技厅</i>", region="广东省")
    base.update(kw)
    return PolicyDoc(**base)  # type: ignore[arg-type]


def _clause(text: str) -> Clause:
    return Clause(clause_id="c1", doc_id="d", label="三、（一）2.", path=("三、重点任务", "（一）<u>工程</u>"),
                  heading="2.标题", text=text, title="标题", start=0, end=len(text), level=3,
                  lead_agencies=("省科技厅",), partner_agencies=("省财政厅",))


def _answer(quote: str, text: str) -> Answer:
    citation = Citation(doc_id="d", doc_title="测试<b>文件</b>", clause_id="c1", clause="三、（一）2.", text=text,
                        quote=quote, title="标题", date_or_period="规划期2021—2025年")
    return Answer(question=NASTY, query=NASTY, parts=(Paragraph("根据已收录的政策文件："), Quote(quote, 1)),
                  citations=(citation,))


@pytest.mark.parametrize("text", [NASTY, "1. 列表", "> 引用", "| 表 | 格 |", "a\\b", "<!-- 注释 -->"])
def test_escape_leaves_no_markup(text: str) -> None:
    """Escaped text has no raw tag, link, emphasis or list syntax left for Markdown or HTML to interpret."""
    out = escape(text)
    assert "<" not in out.replace("&lt;", "")
    for token in ("**", "](", "`", "# "):
        assert token not in out.replace("\\" + token[0], "")


def test_answer_markdown_cites_each_quote_and_escapes_documents() -> None:
    """Each quote is followed by its numbered citation; document text with markup renders as text."""
    md = answer_markdown(_answer("加强<script>x</script>研发。", "2.标题\n加强<script>x</script>研发。"))
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert "<strong>【1】</strong>" in md and "三、（一）2" in md and "规划期2021—2025年" in md


def test_refusal_is_escaped_text() -> None:
    """A refusal that echoes the user's question renders the question as text."""
    refused = Answer(question=NASTY, query=NASTY, parts=(Paragraph(f"没有找到与“{NASTY}”相关的规定。"),),
                     outcome=Outcome.REFUSE)
    md = answer_markdown(refused)
    assert "<script>" not in md and "<img" not in md


def test_citation_chips_and_clause_panel() -> None:
    """Chips name the clause; the panel shows document facts, path, agencies and the highlighted quote."""
    text = "2.标题\n第一句话。第二句<b>加粗</b>话。第三句话。"
    answer = _answer("第二句<b>加粗</b>话。", text)
    assert citation_choices(answer) == [("【1】三、（一）2.“标题”", "0")]
    panel = clause_panel_html(_clause(text), _doc(doc_number="粤科〔2021〕1号"), answer.citations[0].quote)
    assert "<mark>第二句&lt;b&gt;加粗&lt;/b&gt;话。</mark>" in panel
    assert "<b>文件</b>" not in panel and "&lt;u&gt;工程&lt;/u&gt;" in panel
    for fact in ("粤科〔2021〕1号", "牵头单位", "省科技厅", "三、重点任务"):
        assert fact in panel


def test_documents_list_escapes_titles() -> None:
    """The document list escapes titles and issuers."""
    html = documents_html([_doc()])
    assert "&lt;b&gt;文件&lt;/b&gt;" in html and "<i>" not in html


def test_documents_list_of_a_small_corpus_is_complete() -> None:
    """Up to the page limit every document is listed, with no total line."""
    docs = [_doc(doc_id=f"d{i}", title=f"文件{i}") for i in range(MAX_PAGE_DOCS)]
    html = documents_html(docs)
    assert html.count("<li>") == MAX_PAGE_DOCS and "等共" not in html


def test_documents_list_of_a_national_corpus_shows_a_page_and_the_total() -> None:
    """1,000 documents: the first 50 are listed, then the total and where the full list is."""
    docs = [_doc(doc_id=f"d{i}", title=f"文件{i}", region=f"地区{i % 30}") for i in range(1000)]
    html = documents_html(docs)
    assert html.count("<li>") == MAX_PAGE_DOCS == 50
    assert "《文件49》" in html and "《文件50》" not in html
    assert html.endswith('<p class="hint">……等共 1000 个文件（完整列表见 /api/documents）</p>')
    assert len(html) < 10_000


def test_traditional_answer_renders_in_traditional_script(stub_assistant: Assistant) -> None:
    """A question in traditional Chinese gets its answer, quotes included, in traditional script."""
    answer = stub_assistant.ask("廣東對文化科技企業上市有什麼支持？")
    assert answer.answerable and answer.traditional
    md = answer_markdown(answer)
    assert "掛牌" in md and "挂牌" not in md
    assert "挂牌" in answer.citations[0].text  # the cited clause itself stays as published


@pytest.mark.parametrize("question", ["個人所得稅怎麼申報？", "上海對動漫企業有什麼獎勵？", "台灣的電競補貼有哪些？",
                                      "深證的個人所得稅怎麼申報？"])
def test_traditional_refusal_echoes_the_question_as_typed(stub_assistant: Assistant, question: str) -> None:
    """A refusal to a traditional-script question is in traditional script, the question echoed unchanged
    (a conversion of the echo could change 稅 into another form)."""
    from qa.render.plain import chat_text

    answer = stub_assistant.ask(question)
    assert not answer.answerable and answer.traditional
    for shown in (plain_text(answer), chat_text(answer), answer_markdown(answer)):
        assert f"“{question}”" in shown.replace("\\", ""), shown
        assert "收錄" in shown and "收录" not in shown


def test_literal_spans_keep_their_script() -> None:
    """Only the spans a paragraph marks as the user's own words escape conversion; the rest is converted."""
    answer = Answer(question="q", query="q", outcome=Outcome.REFUSE, traditional=True,
                    parts=(Paragraph("没有找到与“台灣電競”相关的规定。", literal=("台灣電競",)),
                           Paragraph("台湾电竞另行规定。")))
    assert plain_text(answer) == "沒有找到與“台灣電競”相關的規定。\n臺灣電競另行規定。"


def test_traditional_script_is_whole() -> None:
    """No character of a traditional answer keeps its simplified (or Hong Kong variant) form: 税 is 稅."""
    from index.lang.script import to_traditional

    assert to_traditional("落实税收优惠政策，说明户籍") == "落實稅收優惠政策，說明戶籍"


def test_rewritten_follow_up_refusal_is_converted(stub_assistant: Assistant) -> None:
    """A follow-up refused after rewriting echoes the rewritten query, which is our text and is converted."""
    answer = stub_assistant.ask("那護照呢？", ["江蘇有哪些文化產業基金可以用？"])
    assert not answer.answerable and answer.query == "江苏护照"
    assert all(not isinstance(p, Paragraph) or not p.literal for p in answer.parts), answer.parts
    assert "“江蘇護照”" in plain_text(answer)


def test_citation_marks_link_to_their_clause_when_the_turn_is_known() -> None:
    """In the chat, 【n】 of the answer at turn t links to #cite-t-n (the page opens that clause); elsewhere it is
    plain bold, and document text stays escaped either way."""
    answer = _answer("加强<script>x</script>研发。", "2.标题\n加强<script>x</script>研发。")
    linked = answer_markdown(answer, turn=2)
    assert '<a class="cite" href="#cite-2-1"><strong>【1】</strong></a>' in linked
    assert "<script>" not in linked and "#cite-" not in answer_markdown(answer)
    assert citation_choices(answer, 2) == [("【1】三、（一）2.“标题”", "2:0")]


def test_viewer_opens_on_the_best_ranked_citation() -> None:
    """lead_citation is the cited clause retrieval ranked highest, not simply 【1】; without ranks, the first."""
    from qa.records import ScoredClause
    from qa.render.markdown import lead_citation

    first, second = _clause("一。"), Clause(**{**_clause("二。").__dict__, "clause_id": "c2"})
    cite = [Citation(doc_id="d", doc_title="t", clause_id=c.clause_id, clause=c.label, text=c.text, quote=c.text)
            for c in (first, second)]
    ranked = (ScoredClause(second, _doc(), 2.0), ScoredClause(first, _doc(), 1.0))
    answer = Answer(question="q", query="q", parts=(), citations=tuple(cite), retrieved=ranked)
    assert lead_citation(answer) == 1
    assert lead_citation(Answer(question="q", query="q", parts=(), citations=tuple(cite))) == 0
