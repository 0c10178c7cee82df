"""Tests for index.cleaning: re-joining PDF-broken lines, dropping page debris, normalising characters."""


import pytest

from index.cleaning import clean_text
from tests.conftest import ROOT

DATA = ROOT / "data" / "policies"
REAL = {
    "guangdong": "guangdong-culture-tech-2021-2025.txt",
    "jiangsu": "jiangsu-culture-tech-2020.txt",
    "shenzhen": "shenzhen-culture-tech-2012.txt",
}

PRINT_RUN_BUG = pytest.mark.xfail(
    strict=True,
    reason="the 22-char line '深圳市人民政府办公厅2012年11月2日印发' reaches 0.8 x the 27-char column width, "
    "so the separate line '（印60份）' is appended to it",
)
SHENZHEN_NARROW = (
    "（一）指导思想。深入贯彻落实科学发展观，以文化大发\n\n"
    "展大繁荣，科技创新为主线，坚持社会主义先进文化前进方向，\n\n"
    "深化文化体制改革，推进文化科技创新，加强文化与科技融合，\n\n"
    "探索建立文化与科技融合路径，全面提升文化科技创新能力，转\n\n"
    "变文化产业发展方式，为加快建设国家创新型城市注入新的活\n\n"
    "力。\n\n"
    "（二）总体目标。通过实施文化与科技融合“十大工程”，\n\n"
    "到 2015 年，文化科技共性支撑技术取得重要突破，科技对文化\n\n"
    "创意产业的带动作用明显提高；深圳国家级文化与科技融合示范\n\n"
    "基地全面建成，在全国形成文化与科技融合的示范效应；深圳\n\n"
    "文化创意产业总产出超过 5800 亿元，成为我市重要的战略性新\n\n"
    "兴产业和国民经济支柱性产业，文化与科技融合成为文化创意\n\n"
    "产业发展的主要形态。\n"
)
SHENZHEN_NARROW_PARAS = [
    "（一）指导思想。深入贯彻落实科学发展观，以文化大发展大繁荣，科技创新为主线，坚持社会主义先进文化前进方向，"
    "深化文化体制改革，推进文化科技创新，加强文化与科技融合，探索建立文化与科技融合路径，全面提升文化科技创新能力，"
    "转变文化产业发展方式，为加快建设国家创新型城市注入新的活力。",
    "（二）总体目标。通过实施文化与科技融合“十大工程”，到2015年，文化科技共性支撑技术取得重要突破，"
    "科技对文化创意产业的带动作用明显提高；深圳国家级文化与科技融合示范基地全面建成，在全国形成文化与科技融合的示范效应；"
    "深圳文化创意产业总产出超过5800亿元，成为我市重要的战略性新兴产业和国民经济支柱性产业，"
    "文化与科技融合成为文化创意产业发展的主要形态。",
]


def paras(raw: str) -> list[str]:
    """Return the cleaned paragraphs of raw text."""
    return clean_text(raw).split("\n")


def real(name: str) -> str:
    """Return the raw text of a bundled policy document."""
    return (DATA / REAL[name]).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            "建成12家左右特色鲜明、示\n\n范性较强的国家文化和科技融合示范基地。",
            ["建成12家左右特色鲜明、示范性较强的国家文化和科技融合示范基地。"],
            id="sentence-broken-across-blank-lines",
        ),
        pytest.param(
            "深入贯彻落实科学发展观，推进文化科技创新。\n二、主要目标\n到2025年，基本形成创新体系。",
            ["深入贯彻落实科学发展观，推进文化科技创新。", "二、主要目标", "到2025年，基本形成创新体系。"],
            id="cn-heading-after-full-stop",
        ),
        pytest.param(
            "加强组织领导，完善工作机制。\n（二）优化政策环境。部署一批重点研发项目。",
            ["加强组织领导，完善工作机制。", "（二）优化政策环境。部署一批重点研发项目。"],
            id="paren-heading-after-full-stop",
        ),
        pytest.param(
            "（一）加强组织领导\n建立由省科技厅牵头的工作机制，指导全省文化和科技融合发展工作。",
            ["（一）加强组织领导", "建立由省科技厅牵头的工作机制，指导全省文化和科技融合发展工作。"],
            id="heading-only-paren",
        ),
        pytest.param(
            "1. 加强文化共性关键技术研发\n加强智能科学、体验科学等基础研究。",
            ["1. 加强文化共性关键技术研发", "加强智能科学、体验科学等基础研究。"],
            id="heading-only-arabic",
        ),
        pytest.param(
            "广东省促进文化和科技深度融合实施方案\n(2021-2025年)\n"
            "为贯彻落实《关于促进文化和科技深度融合的指导意见》精神，促进我省文化和科技深度融合发展，制定以下实施方案。",
            [
                "广东省促进文化和科技深度融合实施方案",
                "(2021-2025年)",
                "为贯彻落实《关于促进文化和科技深度融合的指导意见》精神，促进我省文化和科技深度融合发展，制定以下实施方案。",
            ],
            id="title-and-period-lines",
        ),
        pytest.param(
            "现印发给你们，请认真贯彻执行。\n江苏省科学技术厅\n中共江苏省委宣传部\n江苏省财政厅\n2020年4月26日\n(此件主动公开)",
            ["现印发给你们，请认真贯彻执行。", "江苏省科学技术厅", "中共江苏省委宣传部", "江苏省财政厅",
             "2020年4月26日", "(此件主动公开)"],
            id="signature-and-date-lines",
        ),
        pytest.param(
            "关于促进文化与科技融合的若干措施\n为贯彻落实全国科技创新大会精神，加强文化与科技融合，\n"
            "推动文化事业和文化产业更好更快发展，根据《国家文化科技\n创新工程纲要》等有关规定，制定本措施。",
            ["关于促进文化与科技融合的若干措施",
             "为贯彻落实全国科技创新大会精神，加强文化与科技融合，推动文化事业和文化产业更好更快发展，"
             "根据《国家文化科技创新工程纲要》等有关规定，制定本措施。"],
            id="title-above-narrow-column",
        ),
        pytest.param(SHENZHEN_NARROW, SHENZHEN_NARROW_PARAS, id="narrow-column-shenzhen"),
    ],
)
def test_rejoins_broken_lines(raw, expected):
    """Lines broken by extraction are re-joined; headings, titles and signatures stay separate."""
    assert paras(raw) == expected


@pytest.mark.parametrize("debris", ["- 3 -", "—12—", "－ 12 －", "第 3 页", "第 3 页 共 10 页", "3/10", "7"])
def test_drops_page_numbers(debris):
    """A page-number line inside a broken sentence is dropped and the sentence re-joined."""
    raw = f"全面提升文化科技创新能力，转\n\n{debris}\n\n变文化产业发展方式。"
    assert paras(raw) == ["全面提升文化科技创新能力，转变文化产业发展方式。"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            "支持澳门发展文化创意、演艺娱乐、影视制作。（省委宣传部牵头，省港澳办、有关地级以上市政府等按职责分工负责）\n\n"
            "责)\n\n四、保障措施",
            ["支持澳门发展文化创意、演艺娱乐、影视制作。（省委宣传部牵头，省港澳办、有关地级以上市政府等按职责分工负责）",
             "四、保障措施"],
            id="repeated-closing-bracket-line",
        ),
        pytest.param(
            "鼓励龙头企业共建文化科技人才培养基地。支持文化科技人才按规定通过“绿色通道”\n\n道”直接申报中高级专业技术职称评定。",
            ["鼓励龙头企业共建文化科技人才培养基地。支持文化科技人才按规定通过“绿色通道”直接申报中高级专业技术职称评定。"],
            id="repeated-quote-overlap",
        ),
    ],
)
def test_removes_page_break_fragments(raw, expected):
    """A fragment the PDF repeats at the top of the next page is removed."""
    assert paras(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("加强文化与科技融合，\r\n推进文化科技创新。\r\n一、总体要求\r\n",
                     ["加强文化与科技融合，推进文化科技创新。", "一、总体要求"], id="crlf"),
        pytest.param("加强文化与科技融合，\r推进文化科技创新。\r一、总体要求\r",
                     ["加强文化与科技融合，推进文化科技创新。", "一、总体要求"], id="cr"),
        pytest.param("到２０２５年，建成１２家示范基地。", ["到2025年，建成12家示范基地。"], id="full-width-digits"),
        pytest.param("文化\u200b和科技\ufeff深度融合\u200d。", ["文化和科技深度融合。"], id="zero-width"),
        pytest.param("到 2015 年，文化创意产业总产出超过 5800 亿元。", ["到2015年，文化创意产业总产出超过5800亿元。"],
                     id="spaces-around-digits"),
        pytest.param("第一条　为了促进文化和科技融合，制定本条例。", ["第一条　为了促进文化和科技融合，制定本条例。"],
                     id="ideographic-space-after-article"),
    ],
)
def test_normalises_characters(raw, expected):
    """Line endings, full-width digits, invisible characters and stray spaces are normalised."""
    assert paras(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            "对违反本条例规定的单位，\n第三条 规定的主管部门应当责令改正。",
            ["对违反本条例规定的单位，第三条 规定的主管部门应当责令改正。"],
            id="article-ref-after-comma",
        ),
        pytest.param(
            "违反本条例规定的，按照\n第三条 规定执行。",
            ["违反本条例规定的，按照第三条 规定执行。"],
            id="article-ref-after-unfinished-clause",
        ),
        pytest.param(
            "消防设施的设置，应当符合国家标准\n11.5.14的要求。",
            ["消防设施的设置，应当符合国家标准11.5.14的要求。"],
            id="dotted-section-number",
        ),
        pytest.param(
            "省财政安排专项资金，共计\n2.5亿元用于文化科技项目。",
            ["省财政安排专项资金，共计2.5亿元用于文化科技项目。"],
            id="decimal-amount",
        ),
    ],
)
def test_line_start_references_stay_in_sentence(raw, expected):
    """A number at a line start that continues a sentence is not a heading."""
    assert paras(raw) == expected


@pytest.mark.parametrize(
    ("name", "count"),
    [("guangdong", 59), ("jiangsu", 49), pytest.param("shenzhen", 33)],
)
def test_real_document_paragraph_count(name, count):
    """Each bundled document cleans into the hand-counted number of paragraphs."""
    assert len(paras(real(name))) == count


@pytest.mark.parametrize(
    ("name", "paragraph"),
    [
        ("guangdong", "广东省促进文化和科技深度融合实施方案"),
        ("guangdong", "(2021-2025年)"),
        ("guangdong", "（二）实施文化科技创新载体建设工程。"),
        ("guangdong", "(三) 实施公共文化服务科技提升工程。"),
        ("jiangsu", "苏科高发〔2020〕120号"),
        ("jiangsu", "江苏省广播电视总台"),
        ("jiangsu", "2020年4月26日"),
        ("jiangsu", "附件"),
        ("jiangsu", "关于促进文化和科技深度融合的实施意见"),
        ("shenzhen", "二○一二年十一月二日"),
        ("shenzhen", "关于促进文化与科技融合的若干措施"),
        ("shenzhen", SHENZHEN_NARROW_PARAS[0]),
        ("shenzhen", SHENZHEN_NARROW_PARAS[1]),
        ("shenzhen", "主题词：科技 文化 措施 通知"),
        pytest.param("shenzhen", "深圳市人民政府办公厅2012年11月2日印发"),
        pytest.param("shenzhen", "（印60份）"),
    ],
)
def test_real_document_paragraphs(name, paragraph):
    """Hand-picked paragraphs of the bundled documents come out whole and separate."""
    assert paragraph in paras(real(name))


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("guangdong", "建成12家左右特色鲜明、示范性较强的国家文化和科技融合示范基地"),
        ("guangdong", "支持文化科技人才按规定通过“绿色通道”直接申报中高级专业技术职称评定。"),
        ("guangdong", "（省文化和旅游厅牵头，省委宣传部、省委网信办、省科技厅、省广电局等按职责分工负责)"),
        ("jiangsu", "努力推动全省文化产业高质量发展"),
        ("jiangsu", "打造交流对接平台。"),
        ("shenzhen", "《关于促进文化与科技融合的若干措施》已经市政府同意，现予印发，请遵照执行。"),
    ],
)
def test_real_document_rejoined(name, fragment):
    """Sentences the PDF broke across pages come out re-joined."""
    assert fragment in clean_text(real(name))


def test_real_document_drops_repeated_fragment():
    """Guangdong's stray "责)" line after a finished agency note is removed."""
    assert "责)" not in paras(real("guangdong"))


@pytest.mark.parametrize(
    "name", [pytest.param("guangdong"), "jiangsu", "shenzhen"],
)
def test_idempotent_on_real_documents(name):
    """Cleaning cleaned text changes nothing."""
    once = clean_text(real(name))
    assert clean_text(once) == once
