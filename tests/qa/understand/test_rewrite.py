"""Tests for qa.understand.rewrite: follow-up questions made self-contained from the conversation, without an LLM."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.build import build_index
from index.embedding import load_embeddings
from index.store import open_index
from qa.assistant import Assistant
from qa.render.plain import plain_text
from qa.settings import Settings
from qa.understand.rewrite import rewrite
from tests.conftest import ROOT

# (question, history oldest first, substrings the rewrite must contain, substrings it must not contain)
FOLLOW_UPS = [
    pytest.param("广东呢？", ["江苏对文化科技企业有哪些金融支持？"], ("广东", "金融支持"), ("江苏",),
                 id="new-region-keeps-topic"),
    pytest.param("那财政上有什么支持？", ["深圳的文化科技人才政策有哪些？"], ("深圳", "财政"), ("人才",),
                 id="new-topic-keeps-region"),
    pytest.param("那深圳呢？", ["江苏的人才措施有哪些？"], ("深圳", "人才"), ("江苏",),
                 id="leading-na-new-region"),
    pytest.param("其中金融支持具体包括什么？", ["广东的保障措施有哪些？"], ("广东", "金融支持"), ("保障措施",),
                 id="refers-back-with-own-topic-takes-the-new-topic"),
    pytest.param("其中金融支持具体包括什么？", ["江苏的文化大数据要怎么做安全保护？"], ("江苏", "金融支持"),
                 ("大数据", "安全保护"), id="new-topic-unrelated-to-the-previous-one"),
    pytest.param("其中人才方面呢？", ["江苏的保障措施有哪些？"], ("江苏", "人才"), ("保障措施",),
                 id="qizhong-topic-with-ne"),
    pytest.param("其中哪些适用于中小企业？", ["江苏的金融支持有哪些？"], ("江苏", "金融支持", "中小企业"), (),
                 id="audience-narrows-the-previous-topic"),
    pytest.param("具体怎么申请？", ["江苏有哪些文化产业基金可以用？"], ("江苏", "文化产业基金", "申请"), (),
                 id="aspect-only-keeps-previous-question"),
    pytest.param("这个政策什么时候到期？", ["广东的人才措施有哪些？"], ("广东", "人才措施", "到期"), (),
                 id="zhege-aspect-keeps-previous-question"),
    pytest.param("那税收优惠呢？", ["江苏对文化科技企业有哪些金融支持？"], ("江苏", "税收优惠"), ("金融", "哪些"),
                 id="leading-na-new-topic-drops-old-topic"),
    pytest.param("特色企业呢", ["广东文化科技融合的目标是啥", "领军企业多少家"], ("广东", "特色企业", "多少"),
                 ("领军",), id="new-topic-asks-the-same-fact"),
    pytest.param("人才呢", ["深圳的资金支持谁牵头？"], ("深圳", "人才", "谁"), ("资金",),
                 id="new-topic-asks-who-again"),
    pytest.param("深圳市呢？", ["江苏省的人才措施有哪些？"], ("深圳", "人才措施"), ("江苏", "省的"),
                 id="full-region-names-with-suffix"),
    pytest.param("这些措施由哪个部门牵头？", ["深圳的人才措施有哪些？"], ("深圳", "人才措施", "牵头"), (),
                 id="zhexie-refers-back"),
    pytest.param("那么资金呢？", ["江苏的人才措施有哪些？"], ("江苏", "资金"), (),
                 id="short-topic-carries-region"),
    pytest.param("那深圳呢？", ["广东和江苏的人才措施有哪些？"], ("深圳", "人才措施"), ("广东", "江苏", "和"),
                 id="replaces-two-regions-joined-by-he"),
    pytest.param("跟香港有合作吗", ["深圳文化科技政策"], ("深圳", "香港", "合作"), (),
                 id="a-partner-place-keeps-the-earlier-one"),
    pytest.param("最多能补几个月", ["以工代训一个人补多少钱"], ("以工代训", "几个月"), (),
                 id="verbs-and-adverbs-ask-more-about-the-earlier-topic"),
    pytest.param("什么时候要交回去", ["旅行社质保金能退多少"], ("质保金", "交回去"), (),
                 id="no-noun-no-place-is-a-follow-up"),
    pytest.param("那上市呢", ["江苏对文化科技企业有哪些金融支持？"], ("江苏", "上市"), ("金融",),
                 id="a-new-topic-in-a-verb-still-replaces"),
]

# Two-step conversations: the region of the first question must survive the second, elliptical one.
CHAINS = [
    pytest.param("那财政上有什么支持？", ["广东的人才措施有哪些？", "那深圳呢？"], ("深圳", "财政"), ("广东",),
                 id="region-from-second-turn"),
    pytest.param("那税收呢？", ["江苏的人才措施有哪些？", "那财政上有什么支持？"], ("江苏", "税收"), (),
                 id="region-from-first-turn-through-topic-change"),
    pytest.param("广东呢？", ["江苏的人才措施有哪些？", "那财政上有什么支持？"], ("广东", "财政"), ("江苏", "人才"),
                 id="region-swap-keeps-latest-topic"),
    pytest.param("其中金融支持具体包括什么？", ["深圳的保障措施有哪些？", "广东呢？"],
                 ("广东", "金融支持"), ("深圳", "保障措施"), id="new-topic-through-region-swap"),
    pytest.param("其中金融支持具体包括什么？", ["江苏的文化大数据要怎么做安全保护？", "那人才呢？"],
                 ("江苏", "金融支持"), ("人才", "大数据"), id="region-survives-two-topic-changes"),
]


@pytest.mark.parametrize(("question", "history", "must", "must_not"), FOLLOW_UPS + CHAINS)
def test_follow_up_is_made_self_contained(question: str, history: list[str], must: tuple[str, ...],
                                          must_not: tuple[str, ...]) -> None:
    """A follow-up gains the region or topic it leaves out, and drops the region it replaces."""
    out = rewrite(question, history)
    for part in must:
        assert part in out, (out, part)
    for part in must_not:
        assert part not in out, (out, part)


@pytest.mark.parametrize(("question", "history"), [
    ("深圳对文化科技企业有哪些金融支持？", ["江苏的人才措施有哪些？"]),
    ("广东要培育多少家文化和科技融合特色企业？", ["深圳的人才政策有哪些？", "那财政上有什么支持？"]),
    ("那广东对文化科技企业有哪些金融支持？", ["江苏对文化科技企业有哪些金融支持？"]),
    ("江苏有哪些文化产业基金可以用？", []),
    ("那深圳呢？", []),
    ("其中金融支持具体包括什么？", ()),
])
def test_self_contained_or_first_question_is_unchanged(question: str, history: list[str]) -> None:
    """A question with its own region and topic, or one without history, is returned as asked."""
    assert rewrite(question, history) == question


def test_rewrite_does_not_depend_on_history_container() -> None:
    """A tuple history gives the same rewrite as a list history."""
    history = ["江苏的人才措施有哪些？", "那财政上有什么支持？"]
    assert rewrite("那深圳呢？", tuple(history)) == rewrite("那深圳呢？", history) != "那深圳呢？"


def test_assistant_rewrites_follow_up_before_retrieval(stub_assistant: Assistant) -> None:
    """The stub_assistant retrieves for the rewritten follow-up: the new region with the earlier topic."""
    answer = stub_assistant.ask("那深圳呢？", ["江苏有哪些文化产业基金可以用？"])
    assert "深圳" in answer.query and "文化产业基金" in answer.query and "江苏" not in answer.query, answer.query
    assert answer.retrieved



@pytest.mark.parametrize("earlier", [
    "江苏的文化大数据要怎么做安全保护？",
    "江苏有哪些文化产业基金可以用？",
    "江苏省在文化和科技融合方面有哪些重点任务？",
    "江苏怎么推动媒体融合？",
])
def test_new_topic_follow_up_retrieves_the_new_topic(stub_assistant: Assistant, earlier: str) -> None:
    """"其中金融支持具体包括什么？" after any Jiangsu question quotes 强化政策引导 (苏科贷/苏科投), not the earlier
    clause."""
    answer = stub_assistant.ask("其中金融支持具体包括什么？", [earlier])
    assert answer.answerable, plain_text(answer)
    assert [c.clause for c in answer.citations][:1] == ["附件 四、（二）"], plain_text(answer)
    assert "苏科贷" in answer.citations[0].quote and all(c.region == "江苏省" for c in answer.citations)


def test_assistant_follow_up_cites_the_new_region(stub_assistant: Assistant) -> None:
    """"那深圳呢？" after a Jiangsu fund question cites Shenzhen's or Guangdong's documents, never Jiangsu's."""
    answer = stub_assistant.ask("那深圳呢？", ["江苏有哪些文化产业基金可以用？"])
    cited = [c.doc_id for c in answer.citations]
    assert answer.answerable, plain_text(answer)
    assert cited and all(d.startswith(("shenzhen", "guangdong")) for d in cited), cited
    assert not any(d.startswith("jiangsu") for d in cited), cited


@pytest.mark.e5
def test_a_follow_up_is_answered_from_the_clause_with_its_own_words(tmp_path: Path) -> None:
    """"可以去哪投诉" after a question about 租金贷 keeps that topic, but the clause it asks for is the one on 投诉
    (七、畅通投诉渠道), not the 租金贷 rule the earlier words find again (over notices A, tests/data/notices)."""
    settings = Settings(corpus_dir=ROOT / "tests/data/notices/a/docs", index_dir=tmp_path / "index")
    embeddings = load_embeddings(settings.embedder_config)
    build_index(settings.build_config, embeddings, progress=False)
    assistant = Assistant(settings, open_index(settings.index_dir, embeddings), embeddings)
    answer = assistant.ask("可以去哪投诉", ["北京租房中介非让我办租金贷，合同里还写了贷款，这合规吗"])
    assert answer.retrieved[0].clause.label == "七、" and "12345" in plain_text(answer), plain_text(answer)
