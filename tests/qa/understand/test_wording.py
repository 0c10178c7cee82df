"""Citizens' wording: slips of the input method, courtesy and framing, stories, several questions in one; and the
outcomes a question can get (answer, related clauses, refusal that says what was searched, a question back)."""

from __future__ import annotations

import json

import pytest

from index.lang.regions import gazetteer
from index.lang.tokens import frequency, segment
from qa.assistant import Assistant
from qa.evaluation.metrics import norm
from qa.records import sentence_span
from qa.render.plain import plain_text
from qa.understand.abbreviation import Abbreviations
from qa.understand.scopes import groups_of
from qa.understand.spelling import Speller
from qa.understand.wording import asking_part, plain, sub_questions
from tests.conftest import TEST_DATA

WORDING = [json.loads(line) for line in (TEST_DATA / "wording.jsonl").open(encoding="utf-8")]
# Words of a small corpus, beside the general dictionary: what the speller may correct to.
CORPUS_WORDS = ["文化", "产业", "基金", "文化产业", "大数据", "平台", "科技", "企业", "深圳", "江苏", "广东省", "税收",
                "优惠"]


@pytest.fixture(scope="module")
def speller() -> Speller:
    """Return a speller over a small vocabulary, the gazetteer and jieba's dictionary."""
    return Speller(CORPUS_WORDS, gazetteer().by_form, segment, frequency)


@pytest.mark.parametrize(("typed", "expected"), [
    ("江苏有啥文化产业基今能用", "江苏有啥文化产业基金能用"),  # same sound, one character kept
    ("江甦的文化产叶基金", "江苏的文化产业基金"),  # a place name and a word, each broken by a slip
    ("深证的文化科技企业", "深圳的文化科技企业"),  # a rare dictionary word beside the place it sounds like
    ("广冬省的文化旅游", "广东省的文化旅游"),
])
def test_slips_are_corrected(speller: Speller, typed: str, expected: str) -> None:
    """A word neither the corpus nor the dictionary knows becomes the corpus word it sounds like."""
    assert speller.correct(typed)[0] == expected


@pytest.mark.parametrize("text", [
    "公示期多久",  # 公示 is a word (not 公式), whatever the corpus holds
    "阳台上的东西掉下来砸伤了人",  # 阳台 is common, not a slip for 烟台
    "民间借贷的利率上限是多少",  # no span may cut through a word: "间借" is no typo
    "我是苏州的一家企业",  # two common single characters are not a broken word
    "台风天停课吗",
])
def test_words_that_are_meant_stay(speller: Speller, text: str) -> None:
    """Real words, however they sound, are left alone."""
    assert speller.correct(text) == (text, ())


def test_a_written_out_word_finds_the_corpus_abbreviation() -> None:
    """电子竞技 is searched as 电竞 where the documents say 电竞; a word the corpus uses, or a two-character word,
    is left alone."""
    abbreviations = Abbreviations(["电竞", "广东", "司法机关", "规划"], segment)
    assert abbreviations.forms("广东的电子竞技有没有规划") == ("电竞",)
    assert abbreviations.forms("司机和公司有劳动关系吗") == ()
    assert abbreviations.forms("广东电竞规划") == ()


def test_abbreviation_reaches_the_clause(assistant: Assistant) -> None:
    """A question that writes out 电子竞技 is answered from the clause about 电竞, quoting that sentence."""
    answer = assistant.ask("广东的电子竞技有没有规划？")
    assert answer.answerable and "电竞" in answer.citations[0].quote


@pytest.mark.parametrize(("question", "expected"), [
    ("请问一下，深圳的文化科技企业能享受税收优惠吗？", "深圳的文化科技企业能享受税收优惠"),
    ("您好，麻烦问一下，江苏有没有文化产业基金啊？谢谢", "江苏 文化产业基金"),
    ("深圳搞文化科技的咋申请用房", "深圳搞文化科技的怎么申请用房"),
])
def test_courtesy_and_framing_are_not_searched_for(question: str, expected: str) -> None:
    """Courtesy, yes/no framing and spoken words give way to what the question is about."""
    assert plain(question) == expected


def test_a_story_before_the_question_is_context() -> None:
    """A long question that tells a story first is searched by the sentences that ask."""
    question = ("我在苏州开了一家做动画的公司，已经三年了，员工二十来个。最近资金比较紧张。"
                "江苏对动漫企业有什么资金支持吗？")
    assert asking_part(question) == "江苏对动漫企业有什么资金支持吗？"
    assert asking_part("江苏对动漫企业有什么资金支持？") == "江苏对动漫企业有什么资金支持？"


@pytest.mark.parametrize(("question", "parts"), [
    ("深圳的专项资金向文化科技倾斜吗/各区会给配套吗", ("深圳的专项资金向文化科技倾斜吗", "各区会给配套吗")),
    ("广东支持文化科技企业上市吗？可以申请哪些贷款？", ("广东支持文化科技企业上市吗", "可以申请哪些贷款")),
    ("江苏有哪些文化产业基金？", ()),
    ("深圳？吗", ()),  # a piece too short to be a question belongs to the one before
])
def test_several_questions_in_one(question: str, parts: tuple[str, ...]) -> None:
    """Questions joined by "/", "？" or "；" are told apart."""
    assert sub_questions(question) == parts


@pytest.mark.parametrize("case", [c for c in WORDING if c["answerable"] and
                                  {"typo-region", "typo-term"} & set(c["phenomena"])], ids=lambda c: c["id"])
def test_question_with_a_slip_cites_the_right_clause(stub_assistant: Assistant, case: dict) -> None:
    """A question with a typed slip is answered from the clause it means."""
    answer = stub_assistant.ask(case["question"])
    anchors = [norm(g["anchor"]) for g in case["gold"]]
    assert answer.answerable and any(a in norm(c.text) for c in answer.citations for a in anchors)


def test_out_of_scope_questions_in_citizens_words_are_refused(assistant: Assistant) -> None:
    """Questions the documents do not cover: at least 9 in 10 refused, saying what was searched; none answered."""
    cases = [c for c in WORDING if not c["answerable"]]
    answers = [assistant.ask(c["question"]) for c in cases]
    refused = [a for a in answers if a.outcome == "refuse"]
    assert len(refused) >= 0.9 * len(cases), [a.question for a in answers if a.outcome != "refuse"]
    assert all(not a.answerable and not a.citations and "没有" in plain_text(a) for a in refused)
    assert all(a.outcome != "answer" for a in answers)


def test_wording_set_is_answered_from_the_right_clause(assistant: Assistant) -> None:
    """Over the whole wording set: the right clause first for at least 9 in 10, at most 1 in 20 refused."""
    answerable = [c for c in WORDING if c["answerable"]]
    first = refused = 0
    for case in answerable:
        answer = assistant.ask(case["question"])
        anchors = [norm(g["anchor"]) for g in case["gold"]]
        first += bool(answer.retrieved) and any(a in norm(answer.retrieved[0].evidence) for a in anchors)
        refused += not answer.answerable
    assert first >= 0.9 * len(answerable) and refused <= 0.05 * len(answerable), (first, refused)


def test_a_vague_question_gets_a_question_back(stub_assistant: Assistant) -> None:
    """"有钱拿吗" names nothing to search for: the reply asks which region and which kind of support."""
    answer = stub_assistant.ask("有钱拿吗？")
    assert answer.outcome == "clarify" and not answer.answerable and not answer.citations
    assert all(region in plain_text(answer) for region in groups_of(stub_assistant.kb).regions)
    assert "资金/补贴" in plain_text(answer) and "例如" in plain_text(answer)


def test_a_question_back_offers_examples_about_what_was_asked(assistant: Assistant) -> None:
    """The examples of "有钱拿吗" are measures that grant money (not 指导思想 or 主要目标), carried as the answer's
    suggestions, each one answered when asked."""
    from index.lang.terms import grants

    answer = assistant.ask("有钱拿吗？")
    assert answer.suggestions and all(f"- {q}" in plain_text(answer) for q in answer.suggestions)
    kb = assistant.kb
    money = {kb.clauses[m.clause_id].title for m in kb.measures
             if "资金/补贴" in m.types and grants(kb.clauses[m.clause_id])}
    for question in answer.suggestions:
        assert not any(w in question for w in ("指导思想", "主要目标", "总体要求")), question
        assert any(f"“{title}”" in question for title in money), question
        assert assistant.ask(question).answerable, question


def test_refusal_in_a_scope_says_where_else_it_is_answered(stub_assistant: Assistant) -> None:
    """Searching only Shenzhen's document for Jiangsu's fund: the refusal names the document that has it."""
    shenzhen = set(groups_of(stub_assistant.kb).scopes["地区：深圳市"])
    answer = stub_assistant.ask("紫金文化产业基金是用来做什么的？", doc_ids=shenzhen)
    assert not answer.answerable and "当前查询范围之外" in plain_text(answer) and "江苏省" in plain_text(answer)


def test_refusal_for_a_region_names_the_regions_that_have_it(stub_assistant: Assistant) -> None:
    """Shenzhen's document has no fund named 紫金; Jiangsu's does, and the refusal says so."""
    answer = stub_assistant.ask("深圳的紫金文化产业基金怎么申请？")
    assert not answer.answerable and "深圳市" in plain_text(answer) and "江苏省的文件中有相关规定" in plain_text(answer)


def test_refusal_echoes_the_question_as_asked(stub_assistant: Assistant) -> None:
    """A refusal quotes the user's own words, not the corrected or converted ones."""
    answer = stub_assistant.ask("深证的养老金怎么领？")
    assert not answer.answerable and "深证的养老金怎么领" in plain_text(answer)


@pytest.mark.parametrize(("text", "quote", "span"), [
    ("第一句。第二句。第三句。第四句。", "第二句。第三句。", "第2—3句"),
    ("第一句。第二句。第三句。第四句。", "第一句。……第四句。", "第1、4句"),
    ("第一句。第二句。", "别的句子。", ""),
])
def test_quoted_sentences_are_located(text: str, quote: str, span: str) -> None:
    """The citation of a long paragraph names which of its sentences it quotes."""
    assert sentence_span(text, quote) == span
