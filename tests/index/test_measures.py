"""Structured measures: extraction on hand-labelled clauses, validity, finder, profile and comparison."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import httpx
import pytest

from index.knowledge import KnowledgeBase
from index.store import open_index
from qa.assistant import Assistant
from qa.decide.validity import validity_note
from qa.evaluation.measures import evaluate
from qa.finder import find_measures, measure_rows, parse_profile
from qa.records import Citation, Heading, Item, Paragraph, Table
from qa.render.plain import plain_text
from qa.service.loader import open_assistant
from qa.settings import Settings
from qa.surfaces.http.app import create_app
from tests.conftest import CORPUS, ROOT, TEST_DATA, ready_service, serve_http

LABELS = json.loads((TEST_DATA / "measures_labelled.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def kb(bundled_index: Path) -> KnowledgeBase:
    """The bundled corpus index, lexical only."""
    return open_index(bundled_index, None)


def _measure(kb: KnowledgeBase, doc: str, label: str):  # type: ignore[no-untyped-def]
    return next(m for m in kb.measures if m.doc_id.startswith(doc) and m.label == label)


HELDOUT = json.loads((TEST_DATA / "measures_heldout.json").read_text(encoding="utf-8"))
HELDOUT_DOCS = TEST_DATA / "measure_docs"


@pytest.fixture(scope="module")
def heldout_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """An index (lexical only) of the documents that are not bundled, whose clauses never tuned the vocabulary."""
    from index.build import build_index

    folder = tmp_path_factory.mktemp("heldout")
    settings = Settings(corpus_dir=HELDOUT_DOCS, index_dir=folder, embedding_backend="none")
    build_index(settings.build_config, None, progress=False)
    return open_index(folder, None)


@pytest.mark.parametrize(
    ("field", "precision", "recall"),
    [("measure", 0.95, 0.95), ("types", 0.85, 0.9), ("beneficiaries", 0.9, 0.95), ("industries", 0.9, 0.95),
     ("targets", 0.95, 0.95)],
)
def test_extraction_quality_on_labelled_clauses(kb: KnowledgeBase, field: str, precision: float,
                                                recall: float) -> None:
    """Each field keeps its precision/recall floor on the hand-labelled bundled clauses."""
    scores = evaluate(kb, LABELS)[field]
    assert scores["precision"] >= precision and scores["recall"] >= recall, scores


@pytest.mark.parametrize(
    ("field", "precision", "recall"),
    [("measure", 0.95, 0.95), ("types", 0.85, 0.8), ("beneficiaries", 0.85, 0.6), ("industries", 0.85, 0.95),
     ("targets", 0.85, 0.75)],
)
def test_extraction_quality_on_heldout_documents(heldout_kb: KnowledgeBase, field: str, precision: float,
                                                 recall: float) -> None:
    """Each field keeps its floor on clauses of documents that are not bundled (tests/data/measure_docs)."""
    scores = evaluate(heldout_kb, HELDOUT)[field]
    assert scores["precision"] >= precision and scores["recall"] >= recall, scores


def test_targets_carry_subject_and_year(kb: KnowledgeBase) -> None:
    """Guangdong's 主要目标 states four counts due by 2025, each with the thing counted."""
    goals = _measure(kb, "guangdong", "二、").targets
    assert [(t.value, t.unit, t.qualifier, t.year) for t in goals] == [
        (12, "家", "左右", 2025), (50, "家", "以上", 2025), (50, "家", "以上", 2025), (100, "家", "以上", 2025)]
    assert goals[0].subject.endswith("国家文化和科技融合示范基地")
    assert goals[3].subject.endswith("文化和科技融合特色企业")


def test_agencies_and_document_facts(kb: KnowledgeBase) -> None:
    """A measure carries its lead and partner agencies, region, issuer and period."""
    finance = _measure(kb, "guangdong", "四、（三）")
    assert finance.lead_agencies == ("省委宣传部", "省科技厅")
    assert "广东证监局" in finance.partner_agencies
    assert finance.region == "广东省" and finance.period == (2021, 2025)
    assert _measure(kb, "jiangsu", "附件 四、（二）").issuer.startswith("江苏省科学技术厅")  # type: ignore[union-attr]


@pytest.mark.parametrize(("doc", "label"), [
    ("shenzhen", "一、（一）"), ("shenzhen", "一、（二）"), ("guangdong", "一、"), ("guangdong", "二、"),
    ("guangdong", "四、（一）"), ("jiangsu", "附件 一、"), ("jiangsu", "附件 二、"), ("jiangsu", "附件 四、（一）"),
    ("jiangsu", "附件 四、（四）"), ("shenzhen", "三、（十三）"),
])
def test_clauses_that_grant_nothing_are_not_measures(kb: KnowledgeBase, doc: str, label: str) -> None:
    """指导思想, 总体要求, 主要目标, 工作机制, 舆论氛围: kept for their targets, never a measure that grants."""
    assert not _measure(kb, doc, label).grants


@pytest.mark.parametrize(("doc", "label"), [
    ("shenzhen", "三、（十四）"), ("shenzhen", "三、（十六）"), ("guangdong", "四、（三）"),
    ("jiangsu", "附件 四、（二）"), ("guangdong", "三、（二）6."), ("shenzhen", "二、（十二）"),
])
def test_clauses_that_grant_are_measures(kb: KnowledgeBase, doc: str, label: str) -> None:
    """Support clauses, also those inside 保障措施 next to 工作机制, are measures."""
    assert _measure(kb, doc, label).grants


@pytest.mark.parametrize(("text", "expected"), [
    ("到2025年，全市数字经济核心产业增加值突破7000亿元，培育数字经济企业15家以上。", ["7000亿元", "15家以上"]),
    ("对新评为国家5A级旅游景区的，给予一次性奖励500万元。", []),
    ("设立规模10亿元的市文旅产业发展基金。", []),
    ("高标准建设3个国家文化和科技融合示范基地（集聚类）。", ["3个"]),
    ("深圳文化创意产业总产出超过5800亿元，成为支柱产业。", ["5800亿元"]),
    ("对年营业收入首次突破5000万元的企业，给予30万元奖励。", []),
])
def test_targets_are_goals_not_amounts_granted(text: str, expected: list[str]) -> None:
    """A target is a count to reach; a subsidy amount, a fund's size or an eligibility threshold is not."""
    from index.measures import targets

    assert [f"{t.value:g}{t.unit}{t.qualifier}" for t in targets(text, 2025)] == expected


@pytest.mark.parametrize(("field", "text", "value", "present"), [
    ("type", "高标准建设广东省水下文化遗产保护中心", "标准", False),
    ("type", "支持企业主导或参与国际、国家和行业标准的制定", "标准", True),
    ("type", "研发新型文化消费领域的可穿戴设备、智能硬件平台及辅助工具", "平台/载体/基地", False),
    ("type", "支持建设动作捕捉、渲染等公共技术服务平台", "平台/载体/基地", True),
    ("type", "鼓励文化科技融合示范基地、龙头企业与高校共建人才培养基地", "认定/荣誉", False),
    ("beneficiary", "引导金融机构加大对中小微文化科技企业的投融资支持", "中小企业", True),
])
def test_vocabulary_phrases_that_do_not_count(field: str, text: str, value: str, present: bool) -> None:
    """"!高标准" in the vocabulary keeps 高标准建设 from reading as a standards measure."""
    from index.lang.terms import tag

    assert (value in tag(field, text)) is present


def test_rules_about_the_document_are_not_measures(kb: KnowledgeBase) -> None:
    """"本措施自发布之日起实施" and the preamble are not support measures."""
    labels = {(m.doc_id.split("-")[0], m.label) for m in kb.measures}
    assert ("shenzhen", "三、（十七）") not in labels and ("jiangsu", "前言") not in labels


@pytest.mark.parametrize(
    ("today", "doc", "expected"),
    [
        (date(2026, 11, 26), "guangdong", "规划期为2021—2025年，已经结束"),
        (date(2024, 6, 1), "guangdong", None),
        (date(2026, 11, 26), "shenzhen", "发布于2012年，目标年份为2015年，可能已被新政策替代"),
        (date(2014, 1, 1), "shenzhen", None),
        (date(2024, 6, 1), "jiangsu", None),
        (date(2026, 1, 1), "jiangsu", "目标年份为2025年"),
    ],
)
def test_validity_uses_the_given_date(kb: KnowledgeBase, today: date, doc: str, expected: str | None) -> None:
    """The warning depends on the date, not a constant."""
    note = validity_note(next(d for d in kb.docs.values() if d.doc_id.startswith(doc)), today)
    if expected is None:
        assert note is None
    else:
        assert note is not None and expected in note and "请以主管部门最新文件为准" in note


def test_answers_warn_about_ended_periods(bundled_index: Path) -> None:
    """An answer citing an expired document says so; the same answer before expiry does not."""
    question = "深圳文化科技型企业用房有什么政策？"
    later = open_assistant(Settings(corpus_dir=CORPUS, index_dir=bundled_index, today=date(2026, 11, 26)),
                           build_if_missing=False).ask(question)
    earlier = open_assistant(Settings(corpus_dir=CORPUS, index_dir=bundled_index, today=date(2013, 5, 1)),
                             build_if_missing=False).ask(question)
    assert "目标年份为2015年" in plain_text(later) and "2012年11月2日印发" in plain_text(later)
    assert "目标年份" not in plain_text(earlier) and "2012年11月2日印发" in plain_text(earlier)


@pytest.mark.parametrize(
    ("filters", "must", "must_not"),
    [
        ({"region": "深圳", "kind": "用地/用房"}, ["shenzhen 三、（十六）"], ["jiangsu"]),
        ({"region": "江苏", "kind": "金融/融资"}, ["jiangsu 附件 四、（二）"], ["guangdong", "shenzhen"]),
        ({"industry": "游戏"}, ["guangdong 三、（五）15."], []),
        ({"beneficiary": "高新技术企业", "region": "深圳市"}, ["shenzhen 三、（十四）"], ["jiangsu"]),
    ],
)
def test_finder_filters(kb: KnowledgeBase, filters: dict, must: list[str], must_not: list[str]) -> None:
    """Filters by region (short or full name), type, industry and beneficiary combine."""
    found = {f"{m.doc_id.split('-')[0]} {m.label}" for m in find_measures(kb, **filters)}
    assert set(must) <= found
    assert not any(f.startswith(tuple(must_not)) for f in found) if must_not else True


def test_unknown_region_finds_nothing(kb: KnowledgeBase) -> None:
    """A region the gazetteer does not know is not silently ignored."""
    assert find_measures(kb, region="火星") == []


def test_profile_parsing() -> None:
    """"我是深圳的一家动漫中小企业" -> region, industry, size."""
    profile = parse_profile("我是深圳的一家动漫中小企业")
    assert [r.name for r in profile.regions] == ["深圳市"]
    assert profile.industries == ("动漫",) and "中小企业" in profile.beneficiaries


def test_city_measures_come_first_then_its_province(kb: KnowledgeBase) -> None:
    """深圳: Shenzhen's own measures, then Guangdong's (which apply to it); general clauses are not listed."""
    found = find_measures(kb, region="深圳")
    regions = [m.region for m in found]
    assert regions == sorted(regions, key=lambda r: r != "深圳市") and {"深圳市", "广东省"} == set(regions)
    titles = {m.title for m in found}
    assert not titles & {"指导思想", "总体目标", "总体要求与思路", "主要目标", "建立跨部门协调工作机制", "加强组织领导"}
    assert all(m.grants for m in found)


def test_rows_say_which_apply_as_the_province_s(kb: KnowledgeBase) -> None:
    """A Guangdong row found for 深圳 says it applies to 深圳市; a Shenzhen row does not."""
    rows = measure_rows(kb, region="深圳")
    assert {(r.region, r.applies_to) for r in rows} == {("深圳市", ""), ("广东省", "深圳市")}


def test_rows_cite_as_data(kb: KnowledgeBase) -> None:
    """A row carries its citation as a record (its clause, the quoted summary); only its JSON form is the prose."""
    for row in measure_rows(kb, region="深圳", kind="税收"):
        assert isinstance(row.citation, Citation)
        assert (row.citation.clause_id, row.citation.quote) == (row.clause_id, row.summary)
        assert row.to_json()["citation"] == row.citation.source and row.citation.source.startswith("依据")


@pytest.mark.parametrize(("filters", "field", "value"), [
    ({"region": "深圳", "kind": "税收"}, "type", "税收"),
    ({"region": "深圳", "kind": "用地/用房"}, "type", "用地/用房"),
    ({"region": "江苏", "kind": "金融/融资"}, "type", "金融/融资"),
    ({"industry": "游戏"}, "industry", "游戏"),
    ({"beneficiary": "中小企业"}, "beneficiary", "中小企业"),
])
def test_row_summary_is_the_sentence_about_the_filter(kb: KnowledgeBase, filters: dict, field: str,
                                                      value: str) -> None:
    """要点 is the clause's sentence about what was filtered for, and the row carries the whole clause text."""
    from index.lang.terms import tag

    rows = measure_rows(kb, **filters)
    assert rows
    for row in rows:
        assert value in tag(field, row.summary), (row.title, row.summary)
        assert row.summary in row.text and row.text == kb.clauses[row.clause_id].text
    tax = measure_rows(kb, region="深圳", kind="税收")[0]
    assert tax.summary != next(m for m in kb.measures if m.clause_id == tax.clause_id).summary  # not the first


@pytest.mark.parametrize(("field", "value"), [("kind", "用地"), ("industry", "钢铁"), ("beneficiary", "个体户")])
def test_unknown_filter_value_names_the_valid_ones(kb: KnowledgeBase, field: str, value: str) -> None:
    """An unknown type, industry or beneficiary is an error listing the vocabulary's values, not an empty list."""
    from index.lang.terms import values
    from qa.errors import FilterError

    with pytest.raises(FilterError) as err:
        find_measures(kb, **{field: value})
    vocab = values({"kind": "type"}.get(field, field))
    assert value in str(err.value) and all(v in str(err.value) for v in vocab)


def test_profile_checklist(stub_assistant: Assistant) -> None:
    """A profile in chat gets a cited checklist grouped by type; other regions' measures only as reference."""
    answer = stub_assistant.ask("我是深圳的一家动漫中小企业")
    assert answer.answerable and answer.citations
    split = next(i for i, p in enumerate(answer.parts) if isinstance(p, Paragraph) and "其他地区的同类措施" in p.text)
    local = [p for p in answer.parts[:split] if isinstance(p, Item)]
    reference = [p for p in answer.parts[split:] if isinstance(p, Item)]

    def regions(items: list[Item]) -> set[str]:
        return {answer.citations[n - 1].region for item in items for n in item.cites}

    # Shenzhen's own measures and its province's apply; Jiangsu's are listed, but only as reference.
    assert regions(local) <= {"深圳市", "广东省"} and "深圳市" in regions(local)
    assert regions(reference) == {"江苏省"}
    assert Heading("用地/用房") in answer.parts[:split]
    assert any("保障文化科技发展空间" in item.text for item in local)
    # Every citation is referred to by some item, and every item cites one.
    assert {n for item in local + reference for n in item.cites} == set(range(1, len(answer.citations) + 1))


def _groups(answer) -> dict[str, list[Item]]:  # type: ignore[no-untyped-def]
    groups: dict[str, list[Item]] = {}
    current = ""
    for part in answer.parts:
        if isinstance(part, Heading):
            current = part.text
        elif isinstance(part, Item):
            groups.setdefault(current, []).append(part)
        elif isinstance(part, Paragraph) and "其他地区" in part.text:
            break
    return groups


def test_checklist_groups_by_what_the_sentence_offers(stub_assistant: Assistant) -> None:
    """"我是深圳一家做动漫的小企业……": the tax sentence is under 税收, nothing grants-nothing or untyped is listed,
    each entry names whom to ask, and one 提示 line covers every out-of-date document."""
    answer = stub_assistant.ask("我是深圳一家做动漫的小企业，有哪些政策可以申请？")
    groups = _groups(answer)
    assert "其他" not in groups and groups
    for kind, items in groups.items():
        for item in items:
            assert "税收优惠" not in item.text or kind == "税收", (kind, item.text)
            assert "牵头单位：" in item.text or "发文单位：" in item.text, item.text
    assert any("税收优惠" in i.text for i in groups["税收"])
    cited = {(c.region, c.clause) for c in answer.citations}
    assert not cited & {("江苏省", "附件 一、"), ("深圳市", "一、（一）"), ("广东省", "二、"), ("江苏省", "附件 二、")}
    assert len(answer.notices) == 1 and "2015年" in answer.notices[0] and "2021—2025年" in answer.notices[0]


def test_checklist_puts_the_most_specific_first(stub_assistant: Assistant) -> None:
    """The first entries name the asker's industry or size; Guangdong entries say they apply to Shenzhen."""
    from qa.finder import parse_profile, specificity

    answer = stub_assistant.ask("我是深圳一家做动漫的小企业，有哪些政策可以申请？")
    profile = parse_profile("我是深圳一家做动漫的小企业")
    local = [item for items in _groups(answer).values() for item in items]
    by_clause = {m.clause_id: m for m in stub_assistant.kb.measures}
    scores = [specificity(by_clause[answer.citations[i.cites[0] - 1].clause_id], profile) for i in local]
    assert scores[0] == max(scores) and scores[0] >= 2
    assert all("适用于深圳市" in i.text for i in local if answer.citations[i.cites[0] - 1].region == "广东省")


def test_region_comparison_table(stub_assistant: Assistant) -> None:
    """"广东和江苏在金融支持上有什么不同？" -> a table per region, every cell cited."""
    answer = stub_assistant.ask("广东和江苏在金融支持上有什么不同？")
    rows = [line for line in plain_text(answer).splitlines() if line.startswith(("| 广东省", "| 江苏省"))]
    assert len(rows) == 2
    for row in rows:
        assert re.search(r"【\d+】", row)
    clauses = {(c.doc_id.split("-")[0], c.clause) for c in answer.citations}
    assert ("guangdong", "四、（三）") in clauses and ("jiangsu", "附件 四、（二）") in clauses
    three = stub_assistant.ask("广东、江苏和深圳在人才方面有什么区别？")
    assert sum(line.startswith(("| 广东省", "| 江苏省", "| 深圳市")) for line in plain_text(three).splitlines()) == 3
    # 苏州 has no documents of its own: beside 江苏 it would repeat 江苏's row and cancel its summary.
    twice = stub_assistant.ask("苏州、江苏和广东在金融支持上有什么不同？")
    table = next(p for p in twice.parts if isinstance(p, Table))
    assert [row[0][0].text for row in table.rows] == ["江苏省", "广东省"]
    assert any(isinstance(p, Paragraph) and p.text.startswith("江苏省") and "苏科贷" in p.text for p in twice.parts)


def test_comparison_keeps_to_the_topic_and_says_what_differs(stub_assistant: Assistant) -> None:
    """人才: no 主要目标 or enterprise row, no 示范基地 counted as a talent target, and a cited summary of what
    one region has that the other lacks."""
    answer = stub_assistant.ask("广东和江苏在人才方面的政策有什么不同？")
    table = next(p for p in answer.parts if isinstance(p, Table))
    cells = [e for row in table.rows for cell in row[1:] for e in cell]
    assert not any("示范基地" in e.text for row in table.rows for e in row[2])
    cited = {c.clause for c in answer.citations}
    assert not cited & {"二、", "附件 二、", "附件 三、（三）5."}, cited
    assert all("人才" in answer.citations[e.cites[0] - 1].quote for row in table.rows for e in row[1] if e.cites)
    summary = [p for p in answer.parts if isinstance(p, Paragraph) and "未提及" in p.text]
    assert len(summary) == 2 and all(p.cites for p in summary)
    jiangsu = next(p for p in summary if p.text.startswith("江苏省"))
    assert "智库" in jiangsu.text and all(answer.citations[n - 1].region == "江苏省" for n in jiangsu.cites)
    assert cells


def test_comparison_summary_names_each_region_s_own_finance_tools(stub_assistant: Assistant) -> None:
    """金融: Jiangsu's 苏科贷/苏科投 and Guangdong's 质押, each cited to its own region's clause; not 上市挂牌, which
    Jiangsu's row says too (支持文化科技型中小企业上市)."""
    answer = stub_assistant.ask("广东和江苏在金融支持上有什么不同？")
    lines = {p.text.split("有而")[0]: p for p in answer.parts if isinstance(p, Paragraph) and "未提及" in p.text}
    assert "苏科贷" in lines["江苏省"].text and "质押" in lines["广东省"].text
    assert "上市" not in lines["广东省"].text
    for region, line in lines.items():
        assert {answer.citations[n - 1].region for n in line.cites} == {region}


@pytest.mark.server
@pytest.mark.subprocess
def test_measures_cli_and_api(bundled_index: Path) -> None:
    """`python -m qa measures --json` and GET /api/measures return the same filtered measures."""
    out = subprocess.run([sys.executable, "-m", "qa", "measures", "--region", "深圳", "--type", "用地/用房", "--json",
                          "--index", str(bundled_index)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)
    settings = Settings(corpus_dir=CORPUS, index_dir=bundled_index)
    with serve_http(create_app(settings, ready_service(settings))) as url:
        api = httpx.get(f"{url}/api/measures", params={"region": "深圳", "type": "用地/用房"}).json()
        bad = httpx.get(f"{url}/api/measures", params={"type": "用地"})
    assert [r["clause_id"] for r in cli] == [r["clause_id"] for r in api] and cli
    assert all("依据" in r["citation"] and r["text"] and r["summary"] in r["text"] for r in api)
    assert bad.status_code == 422 and "用地/用房" in bad.json()["detail"] and "资金/补贴" in bad.json()["detail"]


@pytest.mark.subprocess
def test_measures_cli_groups_and_rejects_unknown_type(bundled_index: Path) -> None:
    """The CLI lists Shenzhen's own measures, then Guangdong's as applying to it; an unknown type exits 2 naming
    the valid types."""
    run = [sys.executable, "-m", "qa", "measures", "--region", "深圳", "--index", str(bundled_index)]
    out = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    own, province = out.stdout.index("== 深圳市的措施"), out.stdout.index("== 广东省的措施，同样适用于深圳市")
    assert own < province and "指导思想" not in out.stdout
    bad = subprocess.run([*run, "--type", "补贴"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "补贴" in bad.stderr and "资金/补贴、税收" in bad.stderr and not bad.stdout
