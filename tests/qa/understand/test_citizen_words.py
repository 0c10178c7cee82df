"""Citizens' words: the vocabulary, boilerplate, the kind of fact asked, stories, short follow-ups, courtesy."""

from __future__ import annotations

import pytest

from index.lang.boilerplate import content, is_boilerplate, is_furniture, statements
from index.lang.regions import gazetteer
from index.lang.tokens import tokenize
from qa.answer.courtesy import courtesy_answer
from qa.render.plain import plain_text
from qa.retrieve.hybrid import coverage, mention
from qa.understand.asks import Ask, about_document, ask_of, detail_asked, holds
from qa.understand.query import names_only_places, parse_query
from qa.understand.references import label_forms, reference
from qa.understand.rewrite import rewrite
from qa.understand.vocabulary import EQUIVALENT_CREDIT, covers, equivalents, groups
from qa.understand.wording import asking_part

HEADER = ("江苏省科学技术厅\n中共江苏省委宣传部\n文件\n苏科高发〔2020〕120号\n"
          "江苏省科学技术厅等部门印发《关于促进文化和科技深度融合的实施意见》的通知\n各设区市科技局、财政局：\n"
          "省科技厅、省委宣传部共同研究制定了《关于促进文化和科技深度融合的实施意见》。现印发给你们，请认真贯彻执行。\n"
          "江苏省科学技术厅\n中共江苏省委宣传部\n2020年4月26日\n(此件主动公开)")


def test_every_group_has_everyday_and_official_words_and_a_source() -> None:
    assert len(groups()) >= 20
    for group in groups():
        assert group.everyday and group.official and group.source, group.name


@pytest.mark.parametrize(("question", "word", "official"), [
    ("深圳给钱吗", "给钱", "资金"), ("房租能不能便宜点", "房租", "用房"), ("江苏文化企业贷款", "贷款", "融资"),
    ("评职称有什么政策", "评职称", "职称评定"), ("办公室租金有补贴吗", "办公室", "用房"),
    ("社保能晚点交吗", "晚点交", "缓缴"), ("密接要隔离几天", "密接", "密切接触者"),
])
def test_everyday_words_find_the_documents_words(question: str, word: str, official: str) -> None:
    found = equivalents(tokenize(question), question)
    assert official in found[word]
    assert covers(word, f"文化科技型企业{official}优先", found) == EQUIVALENT_CREDIT
    assert covers(word, f"……{word}……", found) == 1.0
    assert covers(word, "无关的内容", found) == 0.0


def test_a_legal_question_gets_the_statutes_words_and_no_policy_support() -> None:
    """A landlord is 出租人 in a statute; a tenancy deposit is no policy support: nothing maps it to 资金 or 用房."""
    question = "房东不退押金怎么办"
    found = equivalents(tokenize(question), question)
    assert "出租人" in found["房东"] and "押金" not in found
    assert not {"资金", "用房", "补贴", "租金"} & set(found["房东"])


def test_the_query_carries_the_expansions_and_the_kind_of_fact() -> None:
    query = parse_query("深圳给钱吗")
    assert "专项资金" in query.equivalent["给钱"] and query.ask is Ask.YES_NO
    assert parse_query("广东要建多少个示范基地").ask is Ask.AMOUNT


@pytest.mark.parametrize(("question", "ask"), [
    ("广东的措施谁牵头", Ask.WHO), ("这个文件哪个部门负责", Ask.WHO), ("深圳的措施啥时候开始实施的", Ask.WHEN),
    ("有效期到哪年", Ask.WHEN), ("这个政策现在还有效吗", Ask.VALIDITY), ("广东要建几个基地", Ask.AMOUNT),
    ("怎么申请文化产业基金", Ask.HOW), ("江苏有哪些人才计划", Ask.LIST),
    ("江苏哪几个城市有示范基地", Ask.LIST), ("深圳有没有房租补贴", Ask.YES_NO), ("深圳要搞几大工程", Ask.AMOUNT),
    ("广东红色文化数字化在哪搞", Ask.WHERE), ("示范基地建在什么地方", Ask.WHERE), ("在哪申请补贴", Ask.HOW),
    ("江苏要把哪些地方文化融入内容生产", Ask.LIST),
    ("税务局有参与吗", Ask.WHO), ("人社局管不管这个", Ask.WHO), ("宣传部门负责什么", Ask.GENERAL),
    ("文化科技融合", Ask.GENERAL),
])
def test_the_kind_of_fact_asked(question: str, ask: Ask) -> None:
    assert ask_of(question) is ask


def test_questions_about_the_document_itself() -> None:
    assert about_document("江苏的实施意见是哪几个部门联合印发的") and about_document("文号是多少")
    assert about_document("深圳文化科技那个措施是哪年出的") and about_document("江苏文件号多少")
    assert not about_document("江苏有哪些文化产业基金")


def test_furniture_lines() -> None:
    for line in ("主题词：科技 文化 措施 通知", "抄送：市委办公厅，市人大常委会办公厅。",
                 "深圳市人民政府办公厅2012年11月2日印发", "（印60份）", "苏科高发〔2020〕120号", "二○一二年十一月二日",
                 "各区人民政府，市政府直属各单位：", "江苏省科学技术厅", "中共江苏省委宣传部", "(此件主动公开)",
                 "凡本网注明来源非本网的作品，均转载自其它媒体",
                 "《关于促进文化与科技融合的若干措施》已经市政府同意，现予印发，请遵照执行。"):
        assert is_furniture(line), line
    for line in ("（十四）加强和完善财政优惠政策。", "建立由省科技厅、省委宣传部牵头的工作机制。", "三、保障措施",
                 "到2025年，建成12家左右国家文化和科技融合示范基地。"):
        assert not is_furniture(line), line


def test_a_header_and_a_signature_are_boilerplate_a_bare_heading_is_not() -> None:
    assert is_boilerplate("前言", HEADER)
    assert is_boilerplate("版记", "主题词：科技\n抄送：市委办公厅。")
    assert not is_boilerplate("三、", "三、保障措施")
    preamble = ("印发关于促进文化与科技融合\n若干措施的通知\n各区人民政府：\n"
                "《若干措施》已经市政府同意，现予印发，请遵照执行。\n为加强文化与科技融合，推动文化产业更好更快发展，制定本措施。")
    assert not is_boilerplate("前言", preamble)
    assert content(preamble) == "为加强文化与科技融合，推动文化产业更好更快发展，制定本措施。"


def test_a_passage_without_line_breaks_gets_them_back_from_its_clause() -> None:
    """Chunks join a clause's lines: the header's names must not be quoted run together."""
    passage = HEADER.replace("\n", "")
    kept = statements(passage, HEADER)
    assert "江苏省科学技术厅中共江苏省委宣传部" not in kept.replace("\n", "")
    assert "共同研究制定了" in kept and "苏科高发" not in kept
    assert content(passage, HEADER) == ""
    assert content("不在条款里的文字", HEADER) == "不在条款里的文字"


def test_a_story_keeps_the_question_it_ends_with() -> None:
    story = "我在深圳南山开了家做VR内容的小公司，五六个人，想问除了市里，区里会不会也给配套的补助？"
    assert asking_part(story).startswith("除了市里")


def test_a_short_follow_up_keeps_the_place_of_the_question_before() -> None:
    assert "广东" in rewrite("有没有基金？叫什么名字", ["广东对文化科技企业的金融支持有哪些"])
    assert rewrite("江苏有哪些人才计划", ["广东对文化科技企业的金融支持有哪些"]) == "江苏有哪些人才计划"


def test_a_place_alone_is_asked_back() -> None:
    assert names_only_places(parse_query("那江苏呢？"))
    assert not names_only_places(parse_query("江苏有哪些人才计划"))


@pytest.mark.parametrize("message", ["谢谢", "好的，谢谢！", "你好", "在吗？", "再见", "thanks"])
def test_courtesy_gets_a_polite_reply(message: str) -> None:
    answer = courtesy_answer(message)
    assert answer is not None and answer.parts and not answer.citations


def test_a_question_with_thanks_is_a_question() -> None:
    assert courtesy_answer("谢谢，深圳有房租补贴吗？") is None


@pytest.mark.parametrize(("question", "label", "phrase"), [
    ("深圳给钱吗", "三、（十四）", "专项资金"),
    ("深圳有没有办公用房支持", "三、（十六）", "用房"),
    ("江苏对文化企业有补贴吗", "附件 三、（三）5.", "培育资金奖励"),
    ("深圳的措施啥时候开始实施的", "三、（十七）", "自发布之日起实施"),
    ("广东的措施谁牵头", "四、（一）", "牵头"),
])
def test_citizens_questions_are_answered_from_the_clause_that_answers(assistant, question: str, label: str,
                                                                      phrase: str) -> None:
    answer = assistant.ask(question)
    assert answer.outcome in ("answer", "related"), plain_text(answer)
    assert answer.citations[0].clause == label and phrase in answer.citations[0].quote


def test_boilerplate_is_never_cited_for_a_policy_question(stub_assistant) -> None:
    answer = stub_assistant.ask("深圳有没有办公用房支持")
    assert all(s.clause.label != "版记" for s in answer.retrieved)


def test_thanks_after_an_answer_is_not_a_follow_up(stub_assistant) -> None:
    answer = stub_assistant.ask("谢谢", ["深圳给钱吗"])
    assert answer.outcome == "courtesy" and not answer.retrieved


def test_a_long_story_keeps_the_question_at_its_end() -> None:
    query = parse_query("我家是开工作室的，" + "情况比较复杂，" * 400 + "深圳有什么资金补贴？")
    assert query.truncated and len(query.text) <= 500 and query.text.endswith("深圳有什么资金补贴？")
    assert "资金补贴" in query.focus


def test_who_leads_is_answered_from_the_agency_note_first(assistant) -> None:
    answer = assistant.ask("广东“大力发展文化科技企业”那条是哪个厅牵头")
    assert plain_text(answer).startswith("省工业和信息化厅牵头。【1】")
    assert "（省工业和信息化厅牵头" in answer.citations[0].quote


@pytest.mark.parametrize(("question", "label", "opening"), [
    ("江苏谁牵头", "附件 四、（一）", "省科技厅、省委宣传部会同"),
    ("深圳谁负责", "三、（十三）", "建立由市委宣传部、科技创新委"),
])
def test_who_runs_a_document_is_answered_from_its_organisation_clause(assistant, question: str, label: str,
                                                                      opening: str) -> None:
    """"江苏谁牵头" names no measure: the clause under 健全工作机制 answers, not a measure whose agency note says who
    leads it; the direct answer is the phrase naming the agencies, not "负责统筹协调……" that repeats 负责."""
    answer = assistant.ask(question)
    assert answer.citations[0].clause == label, plain_text(answer)
    assert plain_text(answer).startswith(opening), plain_text(answer)


def test_where_is_answered_with_the_sentence_naming_the_place(assistant) -> None:
    """"红色文化数字化在哪搞": the clause's first sentence repeats the topic; the one naming 韶关市 says where."""
    answer = assistant.ask("广东红色文化数字化在哪搞")
    assert "韶关市" in answer.citations[0].quote, plain_text(answer)


def test_a_count_is_answered_with_its_phrase_first(assistant) -> None:
    answer = assistant.ask("广东要培育多少家文化和科技融合特色企业？")
    first = plain_text(answer).splitlines()[0]
    assert "100家以上" in first and first.endswith("【1】")
    assert first.removesuffix("。【1】") in answer.citations[0].quote


def test_the_place_asked_about_does_not_choose_the_sentence_in_its_own_document(assistant) -> None:
    """In Shenzhen's own document "深圳" is in the sentence with 5800亿元, not in the one with the count asked for."""
    answer = assistant.ask("深圳要做几大工程")
    first = plain_text(answer).splitlines()[0]
    assert "十大工程" in first and "5800" not in first


def test_a_name_another_region_uses_is_not_answered_from_this_region(stub_assistant) -> None:
    """Shenzhen has no 紫金 fund; Jiangsu does: Guangdong's fund clause is not the answer."""
    answer = stub_assistant.ask("深圳的紫金文化产业基金怎么申请？")
    assert not answer.answerable and "江苏省的文件中有相关规定" in plain_text(answer)


def test_a_compound_found_through_its_parts_is_not_another_regions_name(stub_assistant) -> None:
    """Guangdong's clause says "水下文物……保护修复": 文物保护, which only Jiangsu's text writes together, is not a
    name of Jiangsu's, and the question is answered from Guangdong's clause."""
    answer = stub_assistant.ask("广东水下文物保护谁负责")
    assert answer.outcome == "answer" and "水下文物" in answer.citations[0].quote
    assert answer.citations[0].doc_id.startswith("guangdong") and "江苏省的文件中有相关规定" not in plain_text(answer)
    # A fragment the segmenter cuts out of a word (化器 of 孵化器) is no part of it: Guangdong's 孵化载体 answers.
    answer = stub_assistant.ask("广东孵化器有支持吗")
    assert answer.outcome == "answer" and answer.citations[0].doc_id.startswith("guangdong")


@pytest.mark.parametrize(("question", "number", "kind", "forms"), [
    ("第二条具体说说", 2, "条", ("（二）", "(二)", "2.", "第二条")),
    ("深圳措施第十四条", 14, "条", ("（十四）", "(十四)", "14.", "第十四条")),
    ("第三部分讲什么", 3, "部分", ("三、",)), ("第2点呢", 2, "点", ("（二）", "(二)", "2.", "第二条")),
])
def test_numbered_references(question: str, number: int, kind: str, forms: tuple[str, ...]) -> None:
    ref = reference(question)
    assert ref is not None and (ref.number, ref.kind) == (number, kind) and label_forms(ref) == forms


def test_no_reference_in_an_ordinary_question() -> None:
    assert reference("深圳有什么资金补贴") is None


def test_the_second_item_of_the_previous_answer_is_opened(stub_assistant) -> None:
    first = stub_assistant.ask("广东有什么资金补贴")
    assert len(first.citations) >= 2
    answer = stub_assistant.ask("第二条具体怎么说", ["广东有什么资金补贴"])
    assert answer.answerable and answer.citations[0].clause_id == first.citations[1].clause_id


def test_a_numbered_clause_of_the_named_region(stub_assistant) -> None:
    answer = stub_assistant.ask("深圳措施第十四条")
    assert answer.citations[0].clause == "三、（十四）" and "专项资金" in answer.citations[0].quote


def test_a_scoped_refusal_names_the_region_that_has_it(assistant) -> None:
    shenzhen = {d for d in assistant.kb.docs if d.startswith("shenzhen")}
    answer = assistant.ask("江苏有哪些文化产业基金", doc_ids=shenzhen)
    assert not answer.answerable and "当前查询范围内" in plain_text(answer) and "江苏省的《" in plain_text(answer)


@pytest.mark.parametrize(("question", "label", "fact"), [
    ("江苏文化科技那个文件的文号是多少", "文号：", "苏科高发〔2020〕120号"),
    ("江苏的实施意见是什么时候发的", "印发日期：", "2020年4月26日"),
    ("江苏这个政策是哪几个部门一起出的", "发文单位：", "江苏省科学技术厅、中共江苏省委宣传部"),
    ("深圳的措施现在还有效吗", "施行：", "自发布之日起实施"),
    # The date in figures, with who printed it, not the signature's date in words (二○一二年十一月二日).
    ("深圳文化科技那个措施是哪年出的", "印发日期：", "深圳市人民政府办公厅2012年11月2日印发"),
    # A plan with no 施行 rule runs for its period.
    ("广东那个方案还有效吗", "规划期：", "(2021-2025年)"),
    ("深圳这个文件谁负责解释", "解释：", "本措施由市科技部门会同有关部门负责解释"),
])
def test_questions_about_the_document_are_answered_from_its_own_lines(stub_assistant, question: str, label: str,
                                                                       fact: str) -> None:
    answer = stub_assistant.ask(question)
    assert answer.answerable and f"{label}{fact}" in plain_text(answer).replace("\n", "")
    assert fact in answer.citations[0].quote


def test_a_follow_up_about_the_document_is_answered_from_its_lines(stub_assistant) -> None:
    """"几年" asks about the document ("…措施是几几年的"), not its topic: the follow-up is about Shenzhen's document."""
    answer = stub_assistant.ask("现在还管用吗？写没写到期时间", ["深圳文化科技措施是几几年的"])
    assert "施行：自发布之日起实施" in plain_text(answer).replace("\n", "")


def test_a_follow_up_of_the_same_kind_swaps_that_word() -> None:
    assert rewrite("省级的呢", ["广东到2025年要建多少国家级示范基地"]) == "广东到2025年要建多少省级示范基地"


def test_a_date_question_about_something_else_is_not_about_a_document(assistant) -> None:
    answer = assistant.ask("一带一路倡议是哪一年提出的？")
    assert not answer.citations or all("文号" not in p for p in plain_text(answer).splitlines())


def test_a_passage_keeps_its_own_spaces() -> None:
    source = "设立甬江数字文化基金<img src=x onerror=alert(1)>，申请请见官网。\n主题词：文化 基金"
    passage = "设立甬江数字文化基金<img src=x onerror=alert(1)>，申请请见官网。主题词：文化 基金"
    assert content(passage, source) == "设立甬江数字文化基金<img src=x onerror=alert(1)>，申请请见官网。"


def test_a_batch_is_not_a_count() -> None:
    """"建设一批孵化载体" does not say how many: it holds no amount; "建设三批" and "12家" do."""
    assert not holds(Ask.AMOUNT, "建设一批省文化科技企业孵化载体")
    assert holds(Ask.AMOUNT, "分三批建设") and holds(Ask.AMOUNT, "建成12家左右示范基地")
    assert holds(Ask.AMOUNT, "实施文化与科技融合“十大工程”") and not holds(Ask.AMOUNT, "扩大规模")


@pytest.mark.parametrize(("question", "detail"), [
    ("新媒体产业子基金怎么申请，找谁", "申请办法"), ("文旅消费券怎么领", "申请办法"), ("去哪办理", "申请办法"),
    ("员工返岗要啥条件", "申请条件"), ("申报条件是什么", "申请条件"), ("要交哪些材料", "申请材料"),
    ("邻居装修噪音太大怎么办", None), ("江苏有哪些文化产业基金", None),
])
def test_the_detail_a_question_asks_for(question: str, detail: str | None) -> None:
    """How to apply, who qualifies and the papers are details a clause must state; "怎么办" asks what to do."""
    found = detail_asked(question)
    assert (found[0] if found else None) == detail


@pytest.mark.parametrize(("sentence", "states"), [
    ("员工持健康码绿码，且须佩戴口罩", True), ("申请人应当具备本科以上学历", True),
    ("支持有条件的企业、园区申报国家示范基地", False), ("将符合条件的企业纳入培育库", False),
    ("依托条件成熟的高新区建设示范基地", False), ("加大支持力度", False),
])
def test_what_states_who_qualifies(sentence: str, states: bool) -> None:
    """Conditions are stated as requirements; "有条件的/符合条件的" only say that there are some, and 支持 is no 持."""
    found = detail_asked("申报条件是什么")
    assert found is not None and (found[1].search(sentence) is not None) == states


def test_the_words_of_a_phrase_the_tokenizer_splits_take_the_phrases_forms() -> None:
    """"晚点交" is tokenized 晚点 + 交: each is found where 缓缴 is written; a word the vocabulary knows keeps its
    own."""
    found = equivalents(tokenize("北京社保能晚点交吗"), "北京社保能晚点交吗")
    assert "缓缴" in found["晚点"] and "缓缴" in found["交"] and "缓缴" not in found["社保"]


def test_a_word_the_corpus_never_uses_is_found_written_out() -> None:
    """自贸区 abbreviates 自由贸易试验区: its characters in order within one phrase. Only for a word the corpus never
    uses, and never a two-character one: that is too often a word of its own (司机 is no 司法机关)."""
    text = "依托中国（江苏）自由贸易试验区南京片区"
    assert covers("自贸区", text, {}, spelled=True) == EQUIVALENT_CREDIT
    assert covers("自贸区", text, {}) == 0.0
    assert covers("自贸区", "自由，贸易片区", {}, spelled=True) == 0.0
    assert covers("司机", "配合司法机关", {}, spelled=True) == 0.0


def test_an_abbreviation_the_documents_write_out_is_answered(assistant) -> None:
    answer = assistant.ask("江苏自贸区哪几个片区")
    assert answer.outcome == "answer", plain_text(answer)
    assert "自由贸易试验区南京、苏州、连云港片区" in answer.citations[0].quote


def test_a_sentence_naming_the_place_alone_says_more_about_it_than_a_list() -> None:
    foshan = gazetteer().get("佛山")
    assert foshan is not None
    assert mention(foshan, "支持深圳、珠海、佛山、东莞、汕头等打造原创游戏品牌。") == pytest.approx(0.2)
    assert mention(foshan, "支持广州、深圳打造“设计之都”。支持佛山市重点发展影视制作。") == 1.0
    assert mention(foshan, "支持中山市重点加快数字化转型。") == 0.0


def test_a_place_asked_about_is_answered_from_the_clause_naming_it_alone(assistant) -> None:
    """Guangdong's 15. lists 佛山 among five cities that make games; 18. says what 佛山 itself is to focus on."""
    answer = assistant.ask("佛山重点搞啥")
    assert answer.citations[0].clause == "三、（六）18.", plain_text(answer)


def test_whether_an_office_takes_part_is_answered_from_the_agency_note(assistant) -> None:
    """"税务局有参与吗" asks who is responsible, not for any sentence with 参与 ("支持企业……参与国际标准")."""
    answer = assistant.ask("税务局有参与吗", ["广东文化科技方案里税收优惠有哪些"])
    assert "国家税务总局广东省税务局" in plain_text(answer).splitlines()[0], plain_text(answer)


def test_a_word_and_the_words_inside_it_weigh_once(stub_assistant) -> None:
    """图书馆 is segmented 图书 + 书馆 + 图书馆 (+ 南京图书馆): counted apiece, a text naming the library covered
    most of "南京图书馆的借书证怎么办" although it says nothing of library cards. A compound's parts written apart
    count, less surely than the compound as written."""
    kb = stub_assistant.kb
    card = tokenize("南京图书馆的借书证")
    assert {"图书", "书馆", "图书馆", "南京图书馆"} <= set(card)
    named = "大力推动南京博物院、南京图书馆、江苏省美术馆等开展数字化建设"
    assert coverage(kb, card, named) < 0.5
    assert coverage(kb, card, named + "，办理借书证") == 1.0
    copyright_ = tokenize("版权保护")
    assert coverage(kb, copyright_, "加强版权保护") == 1.0
    assert coverage(kb, copyright_, "建立版权公共管理平台，保护著作权人合法权益") == pytest.approx(EQUIVALENT_CREDIT)
    assert coverage(kb, copyright_, "建立版权公共管理平台") < EQUIVALENT_CREDIT


def test_the_clause_with_what_is_asked_for_comes_before_the_one_repeating_the_topic(assistant) -> None:
    answer = assistant.ask("深圳在版权保护上打算搞什么平台")
    assert "版权公共管理与举证服务平台" in answer.citations[0].quote, plain_text(answer)
