"""Tests for index.metadata: title, issuer, 文号, issue date, region, plan period and target year."""

import json
from datetime import date
from functools import cache

import pytest

from index.cleaning import clean_text
from index.loading import load_file
from index.metadata import extract_metadata
from index.records import SourceText
from index.structure import parse_clauses
from tests.conftest import ROOT

DATA = ROOT / "data" / "policies"
REAL = {
    "guangdong": "guangdong-culture-tech-2021-2025.txt",
    "jiangsu": "jiangsu-culture-tech-2020.txt",
    "shenzhen": "shenzhen-culture-tech-2012.txt",
}
JIANGSU_ISSUERS = "、".join([
    "江苏省科学技术厅", "中共江苏省委宣传部", "中共江苏省委网信办",
    "江苏省财政厅", "江苏省文化和旅游厅", "江苏省广播电视局",
])
BODY = (
    "一、总体要求\n加强组织领导，建立由省科技厅牵头的工作机制，指导全省文化和科技融合发展工作。\n"
    "完善政策措施，加大对文化科技重点项目的扶持力度，推动文化和科技深度融合。"
)


def metadata(source: SourceText, doc_id: str = "doc"):
    """Return the metadata extracted from a source, cleaned and parsed as the indexer does."""
    text = clean_text(source.text)
    return extract_metadata(doc_id, source, text, parse_clauses(doc_id, text))


def synthetic(raw: str, meta: dict | None = None):
    """Return the metadata of an inline document."""
    return metadata(SourceText(path="inline.txt", text=raw, fmt="txt", content_hash="x", meta=meta or {}))


@cache
def real(name: str):
    """Return the metadata of a bundled document."""
    return metadata(load_file(DATA / REAL[name], 10**7), name)


@pytest.mark.parametrize(
    ("name", "field", "expected"),
    [
        ("guangdong", "title", "广东省促进文化和科技深度融合实施方案（2021-2025年）"),
        ("guangdong", "issuer", None),
        ("guangdong", "doc_number", None),
        ("guangdong", "issue_date", None),
        ("guangdong", "region", "广东省"),
        ("guangdong", "province", "广东省"),
        ("guangdong", "period", (2021, 2025)),
        ("guangdong", "target_year", 2025),
        ("jiangsu", "title", "关于促进文化和科技深度融合的实施意见"),
        ("jiangsu", "issuer", JIANGSU_ISSUERS),
        ("jiangsu", "doc_number", "苏科高发〔2020〕120号"),
        ("jiangsu", "issue_date", date(2020, 4, 26)),
        ("jiangsu", "region", "江苏省"),
        ("jiangsu", "province", "江苏省"),
        ("jiangsu", "period", None),
        ("jiangsu", "target_year", 2025),
        ("shenzhen", "title", "关于促进文化与科技融合的若干措施"),
        ("shenzhen", "issuer", "深圳市人民政府办公厅"),
        ("shenzhen", "doc_number", None),
        ("shenzhen", "issue_date", date(2012, 11, 2)),
        ("shenzhen", "region", "深圳市"),
        ("shenzhen", "province", "广东省"),
        ("shenzhen", "period", None),
        ("shenzhen", "target_year", 2015),
    ],
)
def test_real_documents(name, field, expected):
    """Metadata of the bundled documents, as read off the documents."""
    assert getattr(real(name), field) == expected


def test_real_document_keeps_source():
    """The record carries the source path, content hash and cleaned text."""
    source = load_file(DATA / REAL["jiangsu"], 10**7)
    doc = metadata(source, "jiangsu")
    assert (doc.doc_id, doc.source, doc.content_hash) == ("jiangsu", source.path, source.content_hash)
    assert doc.text == clean_text(source.text)


def test_paragraph_per_line_title():
    """Guangdong's text with one paragraph per line (as from a .docx) still yields its title."""
    text = clean_text(load_file(DATA / REAL["guangdong"], 10**7).text)
    doc = metadata(SourceText(path="guangdong.docx", text=text, fmt="docx", content_hash="x"), "guangdong")
    assert (doc.title, doc.period) == ("广东省促进文化和科技深度融合实施方案（2021-2025年）", (2021, 2025))


@pytest.mark.parametrize(
    ("plan", "period"),
    [
        pytest.param("十二五", (2011, 2015)),
        pytest.param("十三五", (2016, 2020)),
        pytest.param("十四五", (2021, 2025)),
    ],
)
def test_five_year_plan_period(plan, period):
    """A “十X五” plan title gives that five-year plan's period."""
    doc = synthetic(f"广东省文化和旅游发展“{plan}”规划\n{BODY}")
    assert doc.title == f"广东省文化和旅游发展“{plan}”规划"
    assert doc.period == period


@pytest.mark.parametrize(
    ("title", "period"),
    [
        ("广东省文化和旅游发展规划（2021—2025年）", (2021, 2025)),
        ("深圳市文化科技融合行动计划(2016-2020年)", (2016, 2020)),
    ],
)
def test_period_in_title(title, period):
    """A (YYYY-YYYY年) range in the title is the period, whatever the dash."""
    doc = synthetic(f"{title}\n{BODY}")
    assert (doc.title, doc.period) == (title, period)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("二〇二一年三月十五日", date(2021, 3, 15)),
        ("二○一二年十一月二日", date(2012, 11, 2)),
        ("二〇二〇年十二月三十一日", date(2020, 12, 31)),
        ("二零二〇年十月一日", date(2020, 10, 1)),
    ],
)
def test_chinese_numeral_issue_date(written, expected):
    """An issue date written in Chinese numerals, with 〇, ○ or 零 for zero, is read."""
    raw = f"关于加强文化科技融合工作的通知\n各区人民政府：\n现将有关事项通知如下，请认真贯彻执行。\n{written}\n{BODY}"
    doc = synthetic(raw)
    assert (doc.title, doc.issue_date) == ("关于加强文化科技融合工作的通知", expected)


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        pytest.param(
            {"title": "深圳市关于促进文化与科技融合的若干措施", "issue_date": "2012-11-05"},
            {"title": "深圳市关于促进文化与科技融合的若干措施", "issue_date": date(2012, 11, 5),
             "issuer": "深圳市人民政府办公厅", "region": "深圳市"},
            id="title-and-date",
        ),
        pytest.param(
            {"doc_number": "深府办〔2012〕99号", "region": "深圳", "period": "2012-2015", "target_year": 2016},
            {"doc_number": "深府办〔2012〕99号", "region": "深圳市", "province": "广东省", "period": (2012, 2015),
             "target_year": 2016, "issue_date": date(2012, 11, 2)},
            id="number-region-period-target",
        ),
    ],
)
def test_sidecar_overrides(meta, expected):
    """Sidecar values override what the text says; the rest still comes from the text."""
    source = load_file(DATA / REAL["shenzhen"], 10**7)
    doc = metadata(SourceText(path=source.path, text=source.text, fmt="txt", content_hash="x", meta=meta))
    assert {key: getattr(doc, key) for key in expected} == expected


def test_sidecar_file_overrides(tmp_path):
    """A <name>.meta.json beside the file is loaded and overrides title and issue date."""
    path = tmp_path / "shenzhen.txt"
    path.write_text((DATA / REAL["shenzhen"]).read_text(encoding="utf-8"), encoding="utf-8")
    sidecar = {"title": "关于促进文化与科技融合的若干措施（深圳）", "issue_date": "2012-12-01"}
    (tmp_path / "shenzhen.meta.json").write_text(json.dumps(sidecar, ensure_ascii=False), encoding="utf-8")
    doc = metadata(load_file(path, 10**7))
    assert (doc.title, doc.issue_date, doc.issuer) == (sidecar["title"], date(2012, 12, 1), "深圳市人民政府办公厅")


def test_cited_document_number_not_taken():
    """A 文号 cited inside the preamble is not the document's own number."""
    raw = (
        "关于促进文化和科技深度融合的实施方案\n"
        "为贯彻落实《关于促进文化和科技深度融合的指导意见》（国科发高〔2019〕280号）精神，制定本方案。\n"
        + BODY
    )
    assert synthetic(raw).doc_number is None


def test_own_document_number_taken():
    """A 文号 on its own line in the front matter is the document's number."""
    raw = "江苏省科学技术厅\n文件\n苏科高发〔2020〕120号\n关于印发《文化科技项目管理办法》的通知\n" + BODY
    doc = synthetic(raw)
    assert (doc.doc_number, doc.issuer) == ("苏科高发〔2020〕120号", "江苏省科学技术厅")
    assert doc.title == "文化科技项目管理办法"


WEB_COPY = """首页 > 政务公开 > 通知公告
北京市住房和城乡建设委员会关于进一步规范住房租赁企业经营行为的通知
来源：北京市住房和城乡建设委员会　　发布时间：2021-07-20

京建发〔2021〕168号

各区住房城乡建设委、房管局：
一、严格落实备案制度。从事住房租赁经营的企业，应当自领取营业执照之日起30日内备案。
"""
NATIONAL_NOTICE = """人力资源社会保障部办公厅 财政部办公厅关于做好企业以工代训工作的通知

人社厅发〔2020〕69号

各省、自治区、直辖市及新疆生产建设兵团人力资源社会保障厅（局）、财政厅（局）：
一、以工代训补贴标准原则上为每人每月500元，补贴期限最长不超过6个月。
"""


def test_a_web_pages_breadcrumb_is_not_its_title():
    """"首页 > 政务公开 > 通知公告" ends like a title (公告) but is the site's navigation."""
    doc = metadata(SourceText(path="web.html", text=WEB_COPY, fmt="txt", content_hash="x"), "web")
    assert doc.title == "北京市住房和城乡建设委员会关于进一步规范住房租赁企业经营行为的通知"
    assert doc.region == "北京市"


def test_a_national_notices_addressees_are_not_its_region():
    """A ministry's notice sent to every province "及新疆生产建设兵团" is national, not Xinjiang's."""
    doc = metadata(SourceText(path="n.txt", text=NATIONAL_NOTICE, fmt="txt", content_hash="x"), "n")
    assert doc.region is None
