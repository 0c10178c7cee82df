"""Property-based tests: cleaning, clause parsing, metadata and question parsing on any text, and their invariants."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.cleaning import clean_text
from index.metadata import extract_metadata
from index.records import SourceText
from index.structure import parse_clauses
from qa.understand.query import MAX_QUESTION_CHARS, normalise, parse_query

# Deterministic for CI: the same examples on every run, no example database, no timing flakiness.
FUZZ = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CN_DIGITS = "零一二三四五六七八九"
FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
ZERO_WIDTH_CHARS = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
EMOJI = ("🎉", "👍🏻", "🇨🇳", "😀", "📄")
SENTENCES = (
    "加强组织领导，完善工作机制。",
    "省财政每年安排专项资金，支持重大科技项目。",
    "到2025年，建成12家左右特色鲜明、示范性较强的国家文化和科技融合示范基地。",
    "用好省大运河文旅发展基金、紫金文化产业基金，鼓励社会资本共同出资设立产业投资类基金",
    "推动文化事业和文化产业更好更快发展，",
    "（省科技厅牵头，省委宣传部、省财政厅等按职责分工负责）",
    "对新认定的企业给予最高500万元奖励；",
    "依照本办法第三条规定执行。",
    "建立健全",
    "深圳文化创意产业总产出超过 5800 亿元",
)
FRONT_MATTER = (
    "江苏省科学技术厅", "中共江苏省委宣传部", "文件", "苏科高发〔2020〕120号", "2020年4月26日", "二○一二年十一月二日",
    "关于促进文化和科技深度融合的实施意见", "广东省促进文化和科技深度融合实施方案", "(2021-2025年)",
    "各市人民政府，省政府各部门、各直属机构：", "深圳市人民政府办公厅2012年11月2日印发", "（此件主动公开）",
    "抄送：省委各部门，省人大常委会办公厅。", "主题词：文化 科技 融合 通知",
)
PAGE_DEBRIS = ("- 3 -", "—12—", "－ 12 －", "第 3 页", "第 3 页 共 10 页", "3/10", "7", "Page 2 of 9")


def cn_numeral(n: int) -> str:
    """Return 1..99 written in Chinese numerals (十一, 二十三)."""
    if n < 10:
        return CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("十" if tens == 1 else CN_DIGITS[tens] + "十") + (CN_DIGITS[ones] if ones else "")


@st.composite
def markers(draw: st.DrawFn) -> str:
    """Return a numbering marker in one of the government styles, possibly out of sequence."""
    n = draw(st.integers(1, 25))
    cn = cn_numeral(n)
    return draw(st.sampled_from([
        f"{cn}、", f"（{cn}）", f"({cn})", f"{n}.", f"{n}．", f"{n}、", f"（{n}）", f"({n})",
        f"第{cn}章 ", f"第{cn}节 ", f"第{cn}条 ", f"第{n}条　", "附件", f"附件{n}", f"附件{cn}：", "①", "⑫",
    ]))


@st.composite
def lines(draw: st.DrawFn) -> str:
    """Return one line of a policy document as text extraction leaves it."""
    kind = draw(st.sampled_from(["heading", "heading", "body", "body", "front", "page", "blank", "broken"]))
    if kind == "heading":
        return draw(markers()) + draw(st.sampled_from(["", "总体要求", *SENTENCES]))
    if kind == "body":
        return "".join(draw(st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=3)))
    if kind == "front":
        return draw(st.sampled_from(FRONT_MATTER))
    if kind == "page":
        return draw(st.sampled_from(PAGE_DEBRIS))
    if kind == "blank":
        return draw(st.sampled_from(["", " ", "\u3000\u3000", "\t"]))
    # A sentence broken by the PDF column, with a blank line between its halves.
    sentence = draw(st.sampled_from(SENTENCES))
    cut = draw(st.integers(1, max(1, len(sentence) - 1)))
    return sentence[:cut] + "\n\n" + sentence[cut:]


@st.composite
def policy_documents(draw: st.DrawFn) -> str:
    """Return a policy-like document: numbered clauses, front and back matter, page debris and extraction noise."""
    text = draw(st.sampled_from(["\n", "\r\n", "\n\n", "\r"])).join(draw(st.lists(lines(), min_size=1, max_size=25)))
    if draw(st.booleans()):
        text = text.translate(FULL_WIDTH_DIGITS)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from([*ZERO_WIDTH_CHARS, *EMOJI, "\f", "\u00a0"])) + text[at:]
    return text


ANY_TEXT = st.one_of(st.text(), st.text(alphabet="一二三十（）()、．.第章条附件，。；\n\r \u3000\u200b０１２3年月日🎉"),
                     policy_documents())


@FUZZ
@given(ANY_TEXT)
def test_clean_text_returns_normalised_paragraphs(raw: str) -> None:
    """Any text cleans to non-blank, stripped lines without CR, form feeds or zero-width characters."""
    text = clean_text(raw)
    assert not re.search("[\r\f" + ZERO_WIDTH_CHARS + "]", text)
    assert all(line and line == line.strip() for line in text.split("\n")) or text == ""
    assert not re.search("[０-９Ａ-Ｚａ-ｚ]", text)


@FUZZ
@given(ANY_TEXT)
def test_clauses_tile_the_cleaned_document(raw: str) -> None:
    """Clause offsets lie inside the cleaned text, slice to the clause text, and the clauses tile the document."""
    text = clean_text(raw)
    clauses = parse_clauses("doc", text)
    for clause in clauses:
        assert 0 <= clause.start <= clause.end <= len(text)
        assert text[clause.start:clause.end] == clause.text
        assert clause.doc_id == "doc"
    assert "\n".join(c.text for c in clauses) == text
    assert [c.start for c in clauses] == sorted(c.start for c in clauses)


@FUZZ
@given(ANY_TEXT)
def test_labels_and_ids_are_unique_and_links_resolve(raw: str) -> None:
    """Labels and clause ids are unique per document; parent and child ids name clauses of the same document."""
    clauses = parse_clauses("doc", clean_text(raw))
    ids = {c.clause_id for c in clauses}
    assert len({c.label for c in clauses}) == len(clauses)
    assert len(ids) == len(clauses)
    for clause in clauses:
        assert clause.label
        assert clause.parent_id is None or clause.parent_id in ids
        assert set(clause.children) <= ids


@FUZZ
@given(st.one_of(st.text(), policy_documents()))
def test_parse_clauses_accepts_uncleaned_text(raw: str) -> None:
    """parse_clauses on raw, uncleaned text never raises and keeps offsets inside the text."""
    for clause in parse_clauses("raw", raw):
        assert 0 <= clause.start <= clause.end <= len(raw)


@FUZZ
@given(ANY_TEXT)
def test_extract_metadata_never_raises(raw: str) -> None:
    """Metadata extraction returns a titled record with a consistent period for any text."""
    text = clean_text(raw)
    clauses = parse_clauses("doc", text)
    doc = extract_metadata("doc", SourceText(path="doc.txt", text=raw, fmt="txt", content_hash="h"), text, clauses)
    assert doc.title and doc.doc_id == "doc" and doc.text == text
    if doc.period is not None:
        assert doc.period[0] <= doc.period[1]




@settings(FUZZ, max_examples=1000)
@given(policy_documents())
def test_clean_text_is_idempotent_on_policy_documents(raw: str) -> None:
    """Cleaning cleaned text changes nothing."""
    once = clean_text(raw)
    assert clean_text(once) == once


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("2025年目标建立健全\n到2025年，建成12家左右示范基地\n加强组织领导，完善工作机制。",
                     id="line-width-shrinks-after-joining"),
        pytest.param("推进文化科技\n创新。\n科技创新。", id="repeat-detected-after-joining"),
        pytest.param("一、总体要求\n（一）加强组织领导。建立工作机制。\n（二）强化资金保障。", id="numbered-lines"),
        pytest.param("广东省促进文化和科技深度融合实施方案\n(2021-2025年)\n为贯彻落实精神，制定以下实施方案。",
                     id="title-period-body"),
    ],
)
def test_clean_text_is_idempotent_on_examples(raw: str) -> None:
    """The minimal counter-examples the fuzzer found, beside documents that do clean idempotently."""
    once = clean_text(raw)
    assert clean_text(once) == once


@FUZZ
@given(st.one_of(
    st.text(),
    st.builds(lambda piece, n: piece * n, st.text(min_size=1, max_size=40), st.integers(1, 800)),
    policy_documents(),
))
def test_parse_query_caps_and_cleans_any_question(question: str) -> None:
    """parse_query never raises, returns at most 500 characters, and drops control and zero-width characters."""
    query = parse_query(question)
    text, truncated = normalise(question)
    assert len(query.text) <= MAX_QUESTION_CHARS and len(text) <= MAX_QUESTION_CHARS
    assert not re.search("[\x00-\x1f\x7f" + ZERO_WIDTH_CHARS + "]", query.text)
    assert query.text == query.text.strip()
    assert query.truncated == truncated
    if len(question) <= MAX_QUESTION_CHARS:
        assert not truncated


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("ＡＢＣ１２３广东", "ABC123广东"),
        ("江\u200b苏\u200d有哪些\ufeff基金", "江苏有哪些基金"),
        ("江苏\x00有哪些\x1b基金\n\n", "江苏 有哪些 基金"),
        ("  \t\u3000 ", ""),
        # Both ends are kept: a long message asks at its start or, after a story, at its end.
        ("江苏有哪些基金？" + "啊" * 20_000, ("江苏有哪些基金？" + "啊" * 241) + "……" + "啊" * 249),
    ],
    ids=["full-width", "zero-width", "control", "whitespace", "20000-chars"],
)
def test_normalise_examples(question: str, expected: str) -> None:
    """normalise folds full-width ASCII, removes invisible characters and caps the length."""
    assert normalise(question)[0] == expected
