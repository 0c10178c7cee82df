"""Tests for index.structure: clause trees, labels, heading paths, offsets, ids and agency notes."""

import re
from collections import Counter
from functools import cache

import pytest

from index.cleaning import clean_text
from index.loading import load_file
from index.structure import parse_agencies, parse_clauses
from tests.conftest import ROOT

DATA = ROOT / "data" / "policies"
REAL = {
    "guangdong": "guangdong-culture-tech-2021-2025.txt",
    "jiangsu": "jiangsu-culture-tech-2020.txt",
    "shenzhen": "shenzhen-culture-tech-2012.txt",
}
CN = "一二三四五六七八九十"
ANNEX_TITLE = "附件：关于促进文化和科技深度融合的实施意见"


@cache
def real(name: str):
    """Return the cleaned text and clauses of a bundled document."""
    text = clean_text(load_file(DATA / REAL[name], 10**7).text)
    return text, parse_clauses(name, text)


def by_label(name: str):
    """Return a bundled document's clauses keyed by label."""
    return {c.label: c for c in real(name)[1]}


def style(label: str) -> str:
    """Return the numbering style of a label's last marker."""
    if label in ("前言", "版记"):
        return label
    last = label.split(" ")[-1]
    if re.search(r"\d+\.$", last):
        return "1."
    if re.search(rf"（[{CN}]+）$", last):
        return "（一）"
    if re.search(rf"[{CN}]+、$", last):
        return "一、"
    return "附件" if last.startswith("附件") else "?"


def labels_of(text: str) -> list[str]:
    """Return the labels parse_clauses gives a synthetic document."""
    return [c.label for c in parse_clauses("synthetic", text)]


GUANGDONG_LABELS = [
    "前言", "一、", "二、", "三、",
    "三、（一）", "三、（一）1.", "三、（一）2.", "三、（一）3.", "三、（一）4.",
    "三、（二）", "三、（二）5.", "三、（二）6.", "三、（二）7.",
    "三、（三）", "三、（三）8.", "三、（三）9.", "三、（三）10.",
    "三、（四）", "三、（四）11.", "三、（四）12.", "三、（四）13.",
    "三、（五）", "三、（五）14.", "三、（五）15.", "三、（五）16.",
    "三、（六）", "三、（六）17.", "三、（六）18.",
    "四、", "四、（一）", "四、（二）", "四、（三）", "四、（四）",
]
JIANGSU_LABELS = [
    "前言", "附件", "附件 一、", "附件 二、", "附件 三、",
    "附件 三、（一）", "附件 三、（一）1.", "附件 三、（一）2.",
    "附件 三、（二）", "附件 三、（二）3.", "附件 三、（二）4.",
    "附件 三、（三）", "附件 三、（三）5.", "附件 三、（三）6.",
    "附件 三、（四）", "附件 三、（四）7.", "附件 三、（四）8.", "附件 三、（四）9.",
    "附件 四、", "附件 四、（一）", "附件 四、（二）", "附件 四、（三）", "附件 四、（四）",
]
SHENZHEN_LABELS = [
    "前言", "一、", "一、（一）", "一、（二）",
    "二、", "二、（三）", "二、（四）", "二、（五）", "二、（六）", "二、（七）",
    "二、（八）", "二、（九）", "二、（十）", "二、（十一）", "二、（十二）",
    "三、", "三、（十三）", "三、（十四）", "三、（十五）", "三、（十六）", "三、（十七）",
    "版记",
]


@pytest.mark.parametrize(
    ("name", "labels"),
    [("guangdong", GUANGDONG_LABELS), ("jiangsu", JIANGSU_LABELS), ("shenzhen", SHENZHEN_LABELS)],
)
def test_real_labels_in_reading_order(name, labels):
    """The clause labels of each bundled document, in order, as read off the document."""
    assert [c.label for c in real(name)[1]] == labels


@pytest.mark.parametrize(
    ("name", "counts"),
    [
        ("guangdong", {("前言", 0): 1, ("一、", 1): 4, ("（一）", 2): 10, ("1.", 3): 18}),
        ("jiangsu", {("前言", 0): 1, ("附件", 1): 1, ("一、", 2): 4, ("（一）", 3): 8, ("1.", 4): 9}),
        ("shenzhen", {("前言", 0): 1, ("一、", 1): 3, ("（一）", 2): 17, ("版记", 0): 1}),
    ],
)
def test_real_counts_per_style_and_level(name, counts):
    """Each bundled document has the hand-counted number of clauses per numbering style and level."""
    assert Counter((style(c.label), c.level) for c in real(name)[1]) == counts


@pytest.mark.parametrize(
    ("name", "label", "path"),
    [
        ("guangdong", "前言", ("前言",)),
        ("guangdong", "一、", ("一、总体要求与思路",)),
        ("guangdong", "三、（一）2.",
         ("三、重点任务", "（一）实施文化科技关键技术引领工程", "2.开展文化遗产保护传承创新技术攻关")),
        ("guangdong", "三、（三）8.",
         ("三、重点任务", "（三）实施公共文化服务科技提升工程", "8.构建岭南文化大数据体系")),
        ("guangdong", "三、（六）18.",
         ("三、重点任务", "（六）打造粤港澳世界级数字文化中心", "18.建设有全球影响力的大湾区数字文化产业集群")),
        ("guangdong", "四、（四）", ("四、保障措施", "（四）强化人才保障")),
        ("jiangsu", "前言", ("前言",)),
        ("jiangsu", "附件", (ANNEX_TITLE,)),
        ("jiangsu", "附件 三、（一）1.",
         (ANNEX_TITLE, "三、重点任务", "（一）加强文化和科技融合技术研发", "1.加大重大共性关键技术研发")),
        ("jiangsu", "附件 三、（四）9.",
         (ANNEX_TITLE, "三、重点任务", "（四）加快文化科技成果产业化推广", "9.加强文化大数据体系建设")),
        ("jiangsu", "附件 四、（四）", (ANNEX_TITLE, "四、保障措施", "（四）营造良好舆论氛围")),
        ("shenzhen", "前言", ("前言",)),
        ("shenzhen", "一、（一）", ("一、指导思想和总体目标", "（一）指导思想")),
        ("shenzhen", "二、（三）", ("二、实施文化与科技融合“十大工程”", "（三）文化装备技术水平提升工程")),
        ("shenzhen", "三、（十四）", ("三、保障措施", "（十四）加强和完善财政优惠政策")),
        ("shenzhen", "三、（十七）", ("三、保障措施", "（十七）本措施自发布之日起实施")),
        ("shenzhen", "版记", ("版记",)),
    ],
)
def test_real_paths(name, label, path):
    """Hand-checked heading paths of clauses in the bundled documents."""
    assert by_label(name)[label].path == path


@pytest.mark.parametrize(
    ("name", "label", "contains"),
    [
        ("guangdong", "前言", "国科发高〔2019〕280号"),
        ("guangdong", "三、（一）2.", "研发水下考古关键技术装备，高标准建设广东省水下文化遗产保护中心。"),
        ("guangdong", "四、（四）", "通过“绿色通道”直接申报中高级专业技术职称评定。"),
        ("jiangsu", "前言", "共同研究制定了《关于促进文化和科技深度融合的实施意见》"),
        ("jiangsu", "前言", "苏科高发〔2020〕120号"),
        ("jiangsu", "附件", "特提出如下实施意见："),
        ("jiangsu", "附件 三、（一）1.", "开展文化资源保护与开发利用、知识产权保护与侵权追踪"),
        ("shenzhen", "前言", "二○一二年十一月二日"),
        ("shenzhen", "三、（十四）", "鼓励各区政府（新区管委会）予以配套资金支持。"),
        ("shenzhen", "版记", "深圳市人民政府办公厅2012年11月2日印发"),
    ],
)
def test_real_clause_text(name, label, contains):
    """Hand-picked passages land in the clause they belong to."""
    assert contains in by_label(name)[label].text


def test_real_clause_whole_text():
    """Shenzhen's last article keeps its closing sentence; its back matter starts at 主题词."""
    clauses = by_label("shenzhen")
    assert clauses["三、（十七）"].text == "（十七）本措施自发布之日起实施。\n本措施由市科技部门会同有关部门负责解释。"
    assert clauses["版记"].text.startswith("主题词：")
    assert clauses["二、（十二）"].text.endswith("推动与香港在影视制作、数字出版等领域的合作交流。")
    assert by_label("guangdong")["三、（六）18."].text.endswith("等按职责分工负责）")


@pytest.mark.parametrize(
    ("name", "label", "lead", "partners"),
    [
        ("guangdong", "三、（一）1.", ("省科技厅",), ("省委宣传部", "省委网信办", "省文化和旅游厅", "省广电局")),
        ("guangdong", "三、（一）2.", ("省文化和旅游厅",), ("省委宣传部", "省科技厅")),
        ("guangdong", "三、（二）6.", ("省科技厅", "省委宣传部"),
         ("省委网信办", "省文化和旅游厅", "省广电局", "有关地级以上市政府")),
        ("guangdong", "三、（四）12.", ("省文化和旅游厅",), ("省委宣传部", "省委网信办", "省科技厅", "省广电局")),
        ("guangdong", "三、（六）18.", ("省委宣传部",),
         ("省委网信办", "省大湾区办", "省科技厅", "省文化和旅游厅", "省广电局", "省港澳办", "有关地级以上市政府")),
        ("guangdong", "四、（一）", ("省科技厅", "省委宣传部"),
         ("省委网信办", "省财政厅", "省文化和旅游厅", "省广电局", "各地级以上市政府")),
        ("guangdong", "四、（二）", ("省委宣传部",),
         ("省委网信办", "省大湾区办", "省科技厅", "省财政厅", "省文化和旅游厅", "省广电局", "省港澳办",
          "国家税务总局广东省税务局")),
        ("guangdong", "四、（四）", ("省委宣传部", "省科技厅"),
         ("省教育厅", "省人力资源社会保障厅", "省文化和旅游厅", "省广电局", "省港澳办")),
        ("guangdong", "三、（一）", (), ()),
        ("jiangsu", "附件 四、（一）", (), ()),
        ("shenzhen", "三、（十四）", (), ()),
    ],
)
def test_real_agencies(name, label, lead, partners):
    """Lead and partner agencies are read from the clause's closing note."""
    clause = by_label(name)[label]
    assert (clause.lead_agencies, clause.partner_agencies) == (lead, partners)


def test_real_parent_and_children():
    """Guangdong 三、（一） has items 1.-4. as children, and 2. points back to it."""
    clauses = by_label("guangdong")
    parent = clauses["三、（一）"]
    assert parent.children == tuple(clauses[f"三、（一）{i}."].clause_id for i in range(1, 5))
    assert clauses["三、（一）2."].parent_id == parent.clause_id
    assert parent.parent_id == clauses["三、"].clause_id
    assert clauses["三、"].parent_id is None


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_offsets_cover_text(name):
    """Every clause's text is the cleaned text between its offsets, and the clauses tile the document."""
    text, clauses = real(name)
    assert all(text[c.start:c.end] == c.text for c in clauses)
    assert "\n".join(c.text for c in clauses) == text


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_labels_and_ids_unique(name):
    """Labels and clause ids are unique within a document."""
    clauses = real(name)[1]
    assert len({c.label for c in clauses}) == len(clauses)
    assert len({c.clause_id for c in clauses}) == len(clauses)


@pytest.mark.parametrize("name", sorted(REAL))
def test_ids_stable_across_parses(name):
    """Parsing the same text twice gives the same clause ids."""
    text, clauses = real(name)
    assert [c.clause_id for c in parse_clauses(name, text)] == [c.clause_id for c in clauses]


def test_ids_differ_across_documents():
    """The same labels in different documents get different ids."""
    ids = [{c.clause_id for c in real(name)[1]} for name in sorted(REAL)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    text = real("guangdong")[0]
    assert {c.clause_id for c in parse_clauses("a", text)}.isdisjoint(c.clause_id for c in parse_clauses("b", text))


STATUTE = "\n".join([
    "第一章　总则",
    "第一条　为了促进文化和科技融合，制定本条例。",
    "第二条　本条例适用于下列活动：",
    "（一）文化科技研发；",
    "（二）文化科技成果转化。",
    "第二章　促进措施",
    "第三条　县级以上人民政府应当加大文化科技投入。",
    "第三条规定的投入应当纳入财政预算。",
    "第四条　违反本条例的，依照第三条规定执行。",
])


def test_statute_labels():
    """Articles are labelled by article alone, their items by article and item."""
    assert labels_of(STATUTE) == [
        "第一章", "第一条", "第二条", "第二条（一）", "第二条（二）", "第二章", "第三条", "第四条",
    ]


@pytest.mark.parametrize(
    ("label", "chapter", "token", "level"),
    [
        ("第一条", "第一章总则", "第一条", 2),
        ("第二条", "第一章总则", "第二条", 2),
        ("第二条（一）", "第一章总则", "（一）", 3),
        ("第三条", "第二章促进措施", "第三条", 2),
        ("第四条", "第二章促进措施", "第四条", 2),
    ],
)
def test_statute_chapter_in_path(label, chapter, token, level):
    """An article's path starts with its chapter and ends with its own heading."""
    clause = {c.label: c for c in parse_clauses("statute", STATUTE)}[label]
    assert (clause.path[0], clause.path[-1][: len(token)], clause.level) == (chapter, token, level)


def test_statute_cross_references_are_body_text():
    """第三条规定 at a paragraph start and 依照第三条规定 in a sentence are not headings."""
    clauses = {c.label: c for c in parse_clauses("statute", STATUTE)}
    assert clauses["第三条"].text == (
        "第三条　县级以上人民政府应当加大文化科技投入。\n第三条规定的投入应当纳入财政预算。"
    )
    assert clauses["第四条"].text == "第四条　违反本条例的，依照第三条规定执行。"


def test_statute_repeated_article_number_is_body_text():
    """A paragraph "第三条 规定……" right after 第三条 repeats the number, so it is body text."""
    text = STATUTE.replace("第三条规定的投入", "第三条 规定的投入")
    assert labels_of(text) == labels_of(STATUTE)


def test_statute_cross_reference_broken_across_lines():
    """A 第三条 cross-reference wrapped to a line start stays in 第二条; the real 第三条 keeps its label."""
    raw = (
        "第一条　为了促进文化和科技融合，制定本条例。\n第二条　违反本条例规定的，按照\n"
        "第三条 规定执行。\n第三条　本条例自发布之日起施行。"
    )
    clauses = {c.label: c.text for c in parse_clauses("statute", clean_text(raw))}
    assert clauses == {
        "第一条": "第一条　为了促进文化和科技融合，制定本条例。",
        "第二条": "第二条　违反本条例规定的，按照第三条 规定执行。",
        "第三条": "第三条　本条例自发布之日起施行。",
    }


def test_statute_cleaned_end_to_end():
    """The statute, one paragraph per line, survives clean_text unchanged."""
    assert clean_text(STATUTE) == STATUTE


def test_no_numbering_one_clause_per_paragraph():
    """A document without numbering yields one clause per paragraph, labelled 第N段."""
    text = "这是第一段文字，说明有关情况。\n这是第二段文字，提出有关要求。"
    clauses = parse_clauses("plain", text)
    assert [(c.label, c.path, c.text) for c in clauses] == [
        ("第1段", ("第1段",), "这是第一段文字，说明有关情况。"),
        ("第2段", ("第2段",), "这是第二段文字，提出有关要求。"),
    ]
    assert all(text[c.start:c.end] == c.text for c in clauses)


ANNEX_DOC = "\n".join([
    "一、总体要求", "坚持创新驱动。", "二、保障措施", "加强组织领导。",
    "附件", "重点任务分工表", "一、研发任务", "开展关键技术攻关。",
])
TWO_ANNEXES = "\n".join([
    "一、总体要求", "坚持创新驱动。",
    "附件1", "任务分工表", "一、研发任务", "开展关键技术攻关。",
    "附件2", "资金安排表", "一、资金来源", "省级财政资金。",
])


def test_annex_closes_body_and_restarts_numbering():
    """附件 closes the body; its numbering restarts under an 附件-prefixed label and path."""
    clauses = {c.label: c for c in parse_clauses("annex", ANNEX_DOC)}
    assert list(clauses) == ["一、", "二、", "附件", "附件 一、"]
    assert clauses["二、"].text == "二、保障措施\n加强组织领导。"
    assert clauses["附件"].path == ("附件：重点任务分工表",)
    assert clauses["附件 一、"].path == ("附件：重点任务分工表", "一、研发任务")
    assert clauses["附件 一、"].parent_id == clauses["附件"].clause_id


def test_numbered_annexes():
    """附件1 and 附件2 are separate annexes with their own numbering."""
    assert labels_of(TWO_ANNEXES) == ["一、", "附件1", "附件1 一、", "附件2", "附件2 一、"]


def test_half_and_full_width_brackets_same_level():
    """(三) and （三） are the same numbering level as （一）."""
    text = "一、重点任务\n（一）加强研发。\n（二）强化应用。\n(三) 完善体系。\n(四)加强保障。"
    clauses = parse_clauses("brackets", text)
    assert [c.label for c in clauses] == ["一、", "一、（一）", "一、（二）", "一、（三）", "一、（四）"]
    assert {(c.level, c.parent_id) for c in clauses[1:]} == {(2, clauses[0].clause_id)}


def test_numbering_jump_is_body_text():
    """A "5." right after "1." is body text of 1.; a following "2." is still a heading."""
    text = "一、重点任务\n1. 加强文化共性关键技术研发。\n5. 大力发展文化科技企业。\n2. 开展文化遗产保护技术攻关。"
    clauses = {c.label: c for c in parse_clauses("jump", text)}
    assert list(clauses) == ["一、", "一、1.", "一、2."]
    assert clauses["一、1."].text == "1. 加强文化共性关键技术研发。\n5. 大力发展文化科技企业。"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("（省科技厅牵头，省委宣传部、省财政厅等按职责分工负责）",
                     (("省科技厅",), ("省委宣传部", "省财政厅")), id="one-lead"),
        pytest.param("加强研发。（省科技厅、省委宣传部牵头，省财政厅、省广电局等按职责分工负责）",
                     (("省科技厅", "省委宣传部"), ("省财政厅", "省广电局")), id="two-leads"),
        pytest.param("(省文化和旅游厅牵头，省委宣传部、省科技厅等按职责分工负责)",
                     (("省文化和旅游厅",), ("省委宣传部", "省科技厅")), id="half-width"),
        pytest.param("（省文化和旅游厅牵头，省委宣传部、省科技厅等按职责分工负责)",
                     (("省文化和旅游厅",), ("省委宣传部", "省科技厅")), id="mixed-width"),
        pytest.param("（省科技厅和省财政厅牵头，省委宣传部等部门按职责分工负责）",
                     (("省科技厅", "省财政厅"), ("省委宣传部",)), id="lead-joined-by-he"),
        pytest.param("（省科技厅牵头）", (("省科技厅",), ()), id="lead-only"),
        pytest.param("（省科技厅负责）", (("省科技厅",), ()), id="responsible-only"),
        pytest.param("加强组织领导。", ((), ()), id="no-note"),
        pytest.param("鼓励各区政府（新区管委会）予以配套资金支持。", ((), ()), id="bracket-not-a-note"),
        pytest.param("（省科技厅牵头）加强文化科技研发。", ((), ()), id="note-not-at-end"),
        pytest.param("（省科技厅牵头，省财政厅、省文化和旅游厅等单位按职责分工负责）",
                     (("省科技厅",), ("省财政厅", "省文化和旅游厅")), id="deng-danwei"),
        pytest.param("（省科技厅牵头，省财政厅、省委宣传部配合）",
                     (("省科技厅",), ("省财政厅", "省委宣传部")), id="peihe"),
        pytest.param("（省科技厅牵头；省财政厅等按职责分工负责）",
                     (("省科技厅",), ("省财政厅",)), id="semicolon"),
        pytest.param("可返还其上年度实际缴纳失业保险费的50%。（责任单位：省人力社保厅、省财政厅）",
                     (("省人力社保厅", "省财政厅"), ()), id="labelled-responsible"),
        pytest.param("（牵头单位：市发展改革委；配合单位：市财政局、市税务局）",
                     (("市发展改革委",), ("市财政局", "市税务局")), id="labelled-lead-and-partners"),
    ],
)
def test_parse_agencies(text, expected):
    """Agency notes give (lead, partners); text without a closing note gives ((), ())."""
    assert parse_agencies(text) == expected
