"""Comparison and checklist answers say only what the facts they show and cite say (issue 20, item 6)."""

from __future__ import annotations

import re

import pytest

from qa.answer.comparison import mentions
from qa.assistant import Assistant
from qa.records import Answer, Heading, Item, Paragraph, Table
from qa.service.loader import open_assistant
from qa.settings import Settings
from tests.conftest import CORPUS

CLAIM = re.compile(r"^(.+?)有而(.+?)未提及的：(.+)。$")
PLACES = ["广东和江苏", "苏州、江苏和广东", "深圳和江苏", "广东、江苏和深圳"]
TOPICS = ["金融支持", "上市融资", "资金补贴", "人才", "用地", "平台建设", "税收", "技术研发", "标准"]
QUESTIONS = [
    "苏州、江苏和广东对文化科技企业上市融资的支持有什么不同",
    *(f"{places}在{topic}方面的政策有什么不同？" for places in PLACES for topic in TOPICS),
    *(f"{places}的政策有什么区别？" for places in PLACES),
]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """An assistant over the bundled corpus, lexical only: these answers never use dense vectors."""
    settings = Settings(corpus_dir=CORPUS, index_dir=tmp_path_factory.mktemp("index"), embedding_backend="none")
    return open_assistant(settings, progress=False)


def _row_texts(answer: Answer) -> dict[str, str]:
    """Return region -> everything its table row says: its cells and the clauses they cite."""
    table = next(p for p in answer.parts if isinstance(p, Table))
    texts = {}
    for region, *cells in table.rows:
        entries = [e for cell in cells for e in cell]
        cited = {n for e in entries for n in e.cites}
        texts[region[0].text] = "\n".join([e.text for e in entries]
                                          + [answer.citations[n - 1].text for n in sorted(cited)])
    return texts


@pytest.mark.parametrize(("text", "term", "said"), [
    ("支持文化科技型中小企业上市，与多层次资本市场有效对接", "上市挂牌", True),  # 上市 is 上市挂牌's core
    ("推动符合条件的文化科技企业上市挂牌", "企业上市", True),
    ("支持企业到新三板挂牌", "上市挂牌", True),
    ("充分发挥“苏科贷”“苏科投”等科技金融产品作用", "贷款", False),
    ("推广知识产权质押融资", "质押", True),
    ("推广知识产权质押融资", "担保", False),
    ("优先安排重大文化科技项目用地指标", "用地/用房", True),  # a kind: any of its words says it
    ("优先安排重大文化科技项目用地指标", "税收", False),
])
def test_what_counts_as_mentioned(text: str, term: str, said: bool) -> None:
    """A term is mentioned by its own words or its core (上市 in 上市挂牌); a kind by any of its keywords."""
    assert mentions(text, term) is said


@pytest.mark.parametrize("question", QUESTIONS)
def test_comparison_summary_agrees_with_its_table(assistant: Assistant, question: str) -> None:
    """Every "X有而Y未提及的：t" names a t that X's row (its cells or the clauses they cite) says and no other
    compared region's row says, and is cited to X's own clauses."""
    answer = assistant.ask(question)
    rows = _row_texts(answer)
    for part in answer.parts:
        if not isinstance(part, Paragraph) or (claim := CLAIM.match(part.text)) is None:
            continue
        region, others, terms = claim.group(1), claim.group(2).split("、"), claim.group(3).split("、")
        assert set(others) == set(rows) - {region}, (question, part.text)
        for term in terms:
            assert mentions(rows[region], term), (question, region, term)
            for other in others:
                assert not mentions(rows[other], term), (question, f"{other} says {term}", rows[other])
        assert part.cites and {answer.citations[n - 1].region for n in part.cites} == {region}


def test_listing_support_is_not_claimed_against_a_region_that_supports_listing(assistant: Assistant) -> None:
    """江苏's row quotes "支持文化科技型中小企业上市": the summary may not say 江苏 does not mention 上市挂牌; what only
    one region says still stands (广东's 质押, 江苏's 苏科贷)."""
    answer = assistant.ask("苏州、江苏和广东对文化科技企业上市融资的支持有什么不同")
    assert "上市" in _row_texts(answer)["江苏省"]
    lines = {p.text.split("有而")[0]: p.text for p in answer.parts if isinstance(p, Paragraph) and "未提及" in p.text}
    assert "上市" not in lines["广东省"] and "质押" in lines["广东省"]
    assert "苏科贷" in lines["江苏省"]


def _local(answer: Answer) -> dict[str, list[tuple[Item, str, str]]]:
    """Return heading -> (item, region, clause) of the checklist's own-region part, before "其他地区"."""
    groups: dict[str, list[tuple[Item, str, str]]] = {}
    current = ""
    for part in answer.parts:
        if isinstance(part, Paragraph) and "其他地区" in part.text:
            break
        if isinstance(part, Heading):
            current = part.text
        elif isinstance(part, Item):
            cited = answer.citations[part.cites[0] - 1]
            groups.setdefault(current, []).append((part, cited.region, cited.clause))
    return groups


def test_checklist_lists_the_city_s_and_province_s_own_funding(assistant: Assistant) -> None:
    """深圳 动漫: Shenzhen's 三、（十四） (专项资金) and Guangdong's 四、（二） (专项债券) are under 资金/补贴 among the
    company's own measures, each quoting its funding sentence; the tax sentence of 三、（十四） stays under 税收."""
    answer = assistant.ask("我是深圳的一家动漫企业，有哪些政策可以申请？")
    local = _local(answer)
    funding = {(region, clause): item.text for item, region, clause in local.get("资金/补贴", [])}
    assert "专项资金" in funding.get(("深圳市", "三、（十四）"), ""), local.keys()
    assert "专项债" in funding.get(("广东省", "四、（二）"), "")
    assert all("税收" not in text for text in funding.values())
    assert any(clause == "三、（十四）" and "税收优惠" in item.text for item, _, clause in local["税收"])
    # Every kind the company's own measures offer before any other region's: 金融 and 用地 are not crowded out.
    assert {"资金/补贴", "税收", "金融/融资", "用地/用房"} <= set(local)
