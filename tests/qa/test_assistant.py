"""End-to-end answering on the bundled corpus with our own questions (not the dev set)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from index.build import build_index
from qa.answer.facts import names_document
from qa.assistant import Assistant
from qa.decide.intent import Intent
from qa.evaluation.metrics import norm
from qa.records import Outcome
from qa.render.plain import plain_text
from qa.render.record import batch_record
from qa.service.loader import open_assistant
from qa.settings import Settings
from qa.understand.asks import Ask
from tests.conftest import TEST_DATA

CALIBRATION_FILE = TEST_DATA / "calibration.jsonl"
CALIBRATION = [json.loads(line) for line in CALIBRATION_FILE.open(encoding="utf-8")]


@pytest.mark.parametrize("case", [c for c in CALIBRATION if c["answerable"]], ids=lambda c: c["id"])
def test_in_scope_question_is_answered_with_the_right_clause(assistant: Assistant, case: dict) -> None:
    """An in-scope question is answered, its clause ranks in the top 3 and every citation is a retrieved clause."""
    answer = assistant.ask(case["question"])
    assert answer.answerable
    ranked = [norm(s.clause.text) for s in answer.retrieved]
    anchors = [norm(case["anchor"])] + ([norm(case["also"])] if "also" in case else [])
    assert any(a in t for t in ranked[:3] for a in anchors)
    retrieved_ids = {s.clause.clause_id for s in answer.retrieved}
    assert answer.citations and all(c.clause_id in retrieved_ids for c in answer.citations)
    for c in answer.citations:
        assert c.quote and all(norm(part) in norm(c.text) for part in c.quote.split("……"))
        assert f"《{c.doc_title}》" in plain_text(answer) and c.clause in plain_text(answer)


@pytest.mark.parametrize("case", [c for c in CALIBRATION if not c["answerable"]], ids=lambda c: c["id"])
def test_out_of_scope_question_is_refused(assistant: Assistant, case: dict) -> None:
    """A question the corpus does not answer gets answerable=False, no citations, and the coverage list."""
    answer = assistant.ask(case["question"])
    assert not answer.answerable
    assert not answer.citations
    assert re.match(r"已收录的\S*政策文件中没有", plain_text(answer))
    assert "《关于促进文化与科技融合的若干措施》" in plain_text(answer)


def test_answer_names_date_or_period(stub_assistant: Assistant) -> None:
    """The citation line names the plan period or the issue date of the document."""
    gd = stub_assistant.ask("广东对水下文化遗产保护有什么安排？")
    assert "规划期2021—2025年" in plain_text(gd) and "三、（一）2." in plain_text(gd)
    sz = stub_assistant.ask("深圳文化创意产业总产出目标是多少？")
    assert "2012年11月2日" in plain_text(sz) and "5800亿元" in plain_text(sz)


@pytest.mark.parametrize(
    ("question", "doc_prefix"),
    [
        ("深圳支持哪些网络文化新业态？", "shenzhen"),
        ("江苏对文化科技企业有哪些金融支持？", "jiangsu"),
        ("广东对文化科技企业有哪些金融支持？", "guangdong"),
        ("中山市的数字化转型重点是什么？", "guangdong"),
    ],
)
def test_named_region_prefers_its_documents(stub_assistant: Assistant, question: str, doc_prefix: str) -> None:
    """A question naming a region is answered from that region's document (or its province's)."""
    answer = stub_assistant.ask(question)
    assert answer.retrieved[0].doc.doc_id.startswith(doc_prefix)


def test_follow_up_keeps_the_topic(stub_assistant: Assistant) -> None:
    """A follow-up naming only a new region asks the previous question about that region."""
    answer = stub_assistant.ask("深圳呢？", ["江苏对文化科技企业有哪些金融支持？"])
    assert answer.answerable
    assert answer.citations[0].doc_id.startswith("shenzhen")
    assert "金融" in answer.citations[0].text


@pytest.mark.parametrize("question", ["", "   ", "\u200b\u200b", "？？？"])
def test_empty_question_gets_a_prompt(stub_assistant: Assistant, question: str) -> None:
    """An empty or punctuation-only question is not answered and asks for a question."""
    answer = stub_assistant.ask(question)
    assert not answer.answerable and not answer.citations


def test_overlong_question_is_truncated_with_notice(stub_assistant: Assistant) -> None:
    """A 20,000-character question is cut to the limit and the answer says so."""
    answer = stub_assistant.ask("江苏有哪些文化产业基金可以用？" + "啊" * 20_000)
    assert "问题过长" in plain_text(answer)
    assert len(answer.query) <= 500


def test_batch_record_shape(stub_assistant: Assistant) -> None:
    """The batch output record has the documented keys, top-10 retrieved in descending score."""
    record = batch_record("q1", stub_assistant.ask("江苏有哪些文化产业基金可以用？"))
    assert {"id", "answer", "answerable", "citations", "retrieved"} <= set(record)
    retrieved = record["retrieved"]
    assert isinstance(retrieved, list) and 0 < len(retrieved) <= 10
    scores = [r["score"] for r in retrieved]
    assert scores == sorted(scores, reverse=True)
    assert all({"doc_title", "clause", "text", "score"} <= set(r) for r in retrieved)
    assert any("紫金文化产业基金" in c["text"] for c in record["citations"])  # type: ignore[union-attr]


def lexical_assistant(tmp_path: Path, files: dict[str, str], encoding: str = "utf-8") -> Assistant:
    """Return a lexical-only assistant over a corpus of these texts (name -> text), built in tmp_path."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in files.items():
        (corpus / f"{name}.txt").write_text(text, encoding=encoding)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", embedding_backend="none")
    build_index(settings.build_config, None, progress=False)
    return open_assistant(settings, build_if_missing=False)


STATUTE = """某省文化产业促进条例

第一章　总则
第一条　为了促进文化产业发展，根据有关法律、行政法规，结合本省实际，制定本条例。
第二条　本条例适用于本省行政区域内的文化产业促进活动。
第二章　扶持措施
第三条　县级以上人民政府应当设立文化产业发展专项资金，用于支持文化企业开展技术研发和品牌建设。
第四条　对年度营业收入首次超过一亿元的文化企业，给予一次性奖励五十万元。
第五条　文化企业可以依照第三条规定申请专项资金支持。
"""


def test_statute_style_corpus_is_cited_by_article(tmp_path: Path) -> None:
    """A 第X条 statute the system has never seen is indexed by article and cited as 第四条."""
    assistant = lexical_assistant(tmp_path, {"statute": STATUTE}, encoding="gb18030")
    answer = assistant.ask("营业收入首次超过一亿元的文化企业有什么奖励？")
    assert answer.answerable
    assert answer.citations[0].clause == "第四条"
    assert "五十万元" in plain_text(answer)
    assert not assistant.ask("怎么办理护照？").answerable


@pytest.mark.parametrize(
    ("question", "label", "items"),
    [
        ("广东的保障措施有哪些？", "四、（三）", 4),
        ("江苏的重点任务有哪些？", "附件 三、（二）", 4),
        ("深圳的保障措施包括什么？", "三、（十五）", 5),
        # 文化科技 is named through its parts in "实施文化与科技融合“十大工程”".
        ("深圳文化科技的十大工程包括哪些", "二、（三）", 10),
    ],
)
def test_section_question_lists_its_items(stub_assistant: Assistant, question: str, label: str, items: int) -> None:
    """A question naming a whole section lists each of its items, each cited; the section and then its items
    lead the ranked evidence, as what any answer relies on does."""
    answer = stub_assistant.ask(question)
    assert answer.answerable
    assert len(answer.citations) == items
    section = answer.retrieved[0].clause
    assert label in [s.clause.label for s in answer.retrieved[1 : items + 1]] and section.children[0] == (
        answer.retrieved[1].clause.clause_id)
    assert label in [c.clause for c in answer.citations]
    assert plain_text(answer).count("】依据") == items


def test_city_question_answered_from_province_says_so(stub_assistant: Assistant) -> None:
    """A Shenzhen question answered only by Guangdong's provincial policy is labelled as such."""
    answer = stub_assistant.ask("深圳有哪些文化产业基金可以用？")
    assert answer.answerable
    assert {c.doc_id.split("-")[0] for c in answer.citations} <= {"guangdong", "shenzhen"}
    if all(c.doc_id.startswith("guangdong") for c in answer.citations):
        assert plain_text(answer).startswith("已收录的深圳市文件中没有直接规定，以下为广东省的相关规定")


def test_follow_up_inside_a_section_stays_there(stub_assistant: Assistant) -> None:
    """"其中金融支持具体包括什么？" after a question on Guangdong's 保障措施 answers from 四、（三）."""
    answer = stub_assistant.ask("其中金融支持具体包括什么？", ["广东的保障措施有哪些？"])
    assert answer.citations[0].clause == "四、（三）"
    assert answer.citations[0].doc_id.startswith("guangdong")


NATIONAL_LAW = """中华人民共和国某某法

（2019年12月28日第十三届全国人民代表大会常务委员会第十五次会议通过）

第一章　总则
第一条　为了维护金融秩序，制定本法。
第二章　金融诈骗罪
第二条　以非法占有为目的，使用诈骗方法非法集资，数额较大的，处三年以上七年以下有期徒刑。
第三条　诈骗银行或者其他金融机构的贷款，数额较大的，处五年以下有期徒刑。
第三章　监督管理
第四条　县级以上人民政府卫生行政部门行使下列监督管理职权：
（一）负责医疗机构的设置审批；
（二）对医疗机构的执业活动进行检查指导。
第四章　附则
第五条　本法自2020年1月1日起施行。国务院有关部门应当制定实施本法的具体措施。
"""


@pytest.mark.parametrize(
    ("question", "history"),
    [
        ("其中金融支持具体包括什么？", ["广东对文化科技企业有哪些支持"]),  # shares 金融 with "金融诈骗罪" only
        ("都有哪些部门", ["深圳谁管这事"]),  # shares 部门 with a long 第四条 heading only
    ],
)
def test_a_word_shared_with_a_heading_or_a_law_is_not_what_was_asked(tmp_path: Path, question: str,
                                                                      history: list[str]) -> None:
    """Over national laws alone, a citizen's policy question is not answered by listing a section that shares one
    word with it."""
    assistant = lexical_assistant(tmp_path, {"law": NATIONAL_LAW})
    plan = assistant.plan(question, history)
    assert plan.intent not in (Intent.SECTION, Intent.FACTS)
    assert not assistant.ask(question, history).answerable


def test_a_question_about_a_places_document_is_not_about_a_national_law(tmp_path: Path) -> None:
    """"深圳的措施啥时候开始实施的" names Shenzhen's document: a national law that ranks first is not it."""
    assistant = lexical_assistant(tmp_path, {"law": NATIONAL_LAW})
    (law,) = assistant.kb.docs.values()
    assert names_document(assistant.kb, assistant.understand("这个法啥时候开始实施的"), law)
    assert not names_document(assistant.kb, assistant.understand("深圳的措施啥时候开始实施的"), law)


HUBEI_RENT = """湖北省人民政府办公厅关于支持中小微企业共渡难关的若干措施

一、减免房租。对承租国有资产类经营用房的中小微企业，免收2020年2月至4月3个月房租。
二、缓缴社保。参照上海等地做法，受疫情影响的企业可申请缓缴社会保险费，缓缴期限最长不超过6个月。
"""


def test_a_place_without_documents_is_not_answered_from_another_province(tmp_path: Path) -> None:
    """"上海小饭馆房租能减吗" over Hubei's notice (which mentions 上海 in passing): Hubei's rent rule is not
    Shanghai's."""
    assistant = lexical_assistant(tmp_path, {"hubei": HUBEI_RENT})
    assert not assistant.ask("上海小饭馆房租能减吗").citations
    assert assistant.ask("湖北国有资产类经营用房的房租能减免吗").citations



def test_a_private_dispute_is_not_shown_clauses_that_only_share_its_words(stub_assistant: Assistant) -> None:
    """"公司让我退安家费，合理吗" is a dispute with an employer: a policy's 人才安居 clause is not possibly related;
    the refusal says where help is."""
    question = "我是公司作为人才引进的，入职签了五年服务期，现在想走，公司让我退安家费，合理吗"
    answer = stub_assistant.ask(question)
    assert not answer.citations and "12348" in plain_text(answer)
    assert stub_assistant.ask("深圳的人才有房子住吗").citations


def test_a_city_question_is_answered_from_the_citys_own_clause_first(assistant: Assistant) -> None:
    """"深圳公司能上市吗": Shenzhen's own 上市融资 clause comes before Guangdong's 上市挂牌 clause, which says more of
    the question's words."""
    retrieved = assistant.plan("深圳公司能上市吗").retrieved
    assert retrieved[0].doc.doc_id.startswith("shenzhen") and "上市" in retrieved[0].clause.text


TRAINING = """人力资源社会保障部办公厅关于做好企业以工代训工作的通知

一、企业组织职工以工代训的，可申请以工代训补贴。
二、补贴标准原则上为每人每月500元，补贴期限最长不超过6个月。
"""


def test_a_question_for_an_amount_ranks_the_clause_that_states_one_first(tmp_path: Path) -> None:
    """"以工代训补贴一个人多少钱": of two clauses on 以工代训补贴, the one with 每人每月500元 answers; the other says
    the question's words more often."""
    retrieved = lexical_assistant(tmp_path, {"training": TRAINING}).plan("以工代训补贴一个人多少钱").retrieved
    assert "500元" in retrieved[0].clause.text


CULTURE_FUND = """某市文化产业扶持办法

一、优化政策环境。落实各项政策，完善政策体系，加强政策宣传，推动政策落地见效，做好政策评估。
二、设立新媒体产业子基金，引导社会资本投入新媒体产业。
三、支持动漫游戏产业发展，加快开发具有教育、益智功能的新产品，打造云平台与生态，培育一批原创品牌、团队和企业。
四、企业可向市文化局提出文化产业项目资助申请，市文化局受理后组织评审。
"""


def test_words_that_frame_the_question_do_not_rank_a_clause_that_repeats_them(assistant: Assistant) -> None:
    """"广东对游戏行业有什么政策": the clause on 游戏 answers, not "优化政策环境", which repeats 政策."""
    retrieved = assistant.plan("广东对游戏行业有什么政策").retrieved
    assert "游戏" in retrieved[0].clause.text


def test_how_to_apply_is_answered_only_by_a_clause_that_says_how(tmp_path: Path) -> None:
    """A clause that only says a fund exists does not say how to apply for it: the answer says so and cites
    nothing; a clause that says where to apply answers."""
    assistant = lexical_assistant(tmp_path, {"fund": CULTURE_FUND})
    refused = assistant.ask("新媒体产业子基金怎么申请")
    assert not refused.citations and "申请办法" in plain_text(refused)
    assert assistant.ask("文化产业项目资助怎么申请").citations
    assert assistant.ask("新媒体产业子基金是干什么的").citations


DEFERRAL = """某市人民政府办公厅关于支持中小企业的若干措施

一、延期缴纳社会保险费。受疫情影响生产经营出现严重困难的企业，可申请缓缴社会保险费，缓缴期限最长至2020年7月。
二、畅通投诉渠道。承租人可通过12345市民服务热线反映问题。
三、控制租金收付周期。住房租赁企业向承租人单次收取租金的数额不得超过3个月租金。
"""


EVENT = """某省文化和旅游厅关于开展惠游活动的通知

一、活动时间
2020年8月8日至12月31日。
二、活动内容
（一）全省A级旅游景区对游客免门票开放。游客须通过小程序实名制预约，每人每次预约限1张。
（二）各地组织开展文旅消费券发放、文艺惠民演出等活动。
三、工作要求
各景区不得以免门票为由降低服务质量。本通知自2020年8月8日起施行，有效期至2020年12月31日。
"""


def test_until_when_is_answered_from_the_documents_period(tmp_path: Path) -> None:
    """"景区免门票到什么时候": the clause on 免门票 gives no date; the notice's 活动时间 does, and answers first."""
    answer = lexical_assistant(tmp_path, {"event": EVENT}).ask("景区免门票到什么时候")
    assert answer.citations[0].clause == "一、" and "12月31日" in answer.citations[0].quote, plain_text(answer)


def test_an_everyday_phrase_the_tokenizer_splits_is_found_through_the_documents_words(tmp_path: Path) -> None:
    """"社保能晚点交吗": 晚点交 (split into 晚点 + 交) is 缓缴; the clause that says so is the answer, not a
    possibly related clause."""
    answer = lexical_assistant(tmp_path, {"deferral": DEFERRAL}).ask("社保能晚点交吗")
    assert answer.outcome is Outcome.ANSWER and "缓缴" in answer.citations[0].quote


ELDERLY = """某省民政厅关于做好居家养老服务补贴工作的通知

一、补贴对象。经认定的重度失能老年人。
二、补贴标准。失能老年人居家养老服务补贴标准为每人每月不低于300元。
三、申请程序。老年人或其代理人向户籍所在地乡镇（街道）提出申请，经审核后按月发放。
"""


def test_a_follow_up_asks_its_own_kind_of_fact(tmp_path: Path) -> None:
    """"去哪申请" after "补贴多少" asks how to apply, not how much: the clause on applying is cited, not a refusal
    that no clause says how."""
    assistant = lexical_assistant(tmp_path, {"elderly": ELDERLY})
    history = ["失能老人居家养老补贴多少"]
    assert assistant.understand("去哪申请", history).ask is Ask.HOW
    answer = assistant.ask("去哪申请", history)
    assert any("提出申请" in c.quote for c in answer.citations)


WAGES = """某市关于支持企业稳定就业的若干措施

一、稳定职工队伍。鼓励企业通过协商薪酬、调整工时等方式稳定工作岗位，保障职工工资按时足额发放。
二、返还失业保险费。对不裁员或少裁员的企业，返还其上年度实际缴纳失业保险费的50%。
"""


def test_wage_arrears_is_a_dispute_not_a_related_clause(tmp_path: Path) -> None:
    """"老板拖欠工资三个月了怎么办" is a dispute with an employer: a clause on paying wages on time is not shown as
    possibly related; the refusal says where help is."""
    answer = lexical_assistant(tmp_path, {"wages": WAGES}).ask("老板拖欠工资三个月了怎么办")
    assert not answer.citations and "12348" in plain_text(answer)


def test_a_question_naming_no_place_is_shown_the_clause_that_holds_its_topic(assistant: Assistant) -> None:
    """"房租能不能便宜点" names no place: Shenzhen's 用房 clause, which holds its topic, is shown as related, not
    refused for want of a place."""
    answer = assistant.ask("房租能不能便宜点")
    assert answer.citations and answer.citations[0].clause == "三、（十六）"


PROVINCE_PLAN = """广东省促进文化产业发展实施方案

一、主要目标。到2025年，建成12家左右国家文化产业示范基地，文化产业示范基地引领作用显著增强，示范基地集聚效应明显。
二、建设文化产业园区。2025年前支持国家级文化产业园区建设，高标准建设广州、深圳3个示范基地（集聚类）。
"""


def test_within_a_provinces_own_document_holding_every_word_is_no_tier(tmp_path: Path) -> None:
    """The place's own-clause factor sets a city's clause above its province's; within the province's own
    document it would only reward the clause that happens to hold every word ("国家级" in 二、) over the one that
    answers ("到2025年，建成12家左右")."""
    assistant = lexical_assistant(tmp_path, {"gd": PROVINCE_PLAN})
    assert "12家左右" in assistant.plan("广东到2025年国家级文化产业示范基地要建几个").retrieved[0].clause.text
