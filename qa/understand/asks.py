"""What kind of fact a question asks for, decided once: an amount or count, who leads, when, whether still valid, a
list, yes or no, how to apply. Sentence choice quotes the sentence that holds that fact."""

from __future__ import annotations

import re
from enum import Enum

from index.lang.regions import gazetteer


class Ask(Enum):
    """The kind of fact a question asks for."""

    AMOUNT = "amount"  # 多少 / 几家
    WHO = "who"  # 谁牵头 / 哪个部门
    WHEN = "when"  # 什么时候 / 有效期
    VALIDITY = "validity"  # 还有效吗
    WHERE = "where"  # 在哪 / 什么地方
    LIST = "list"  # 有哪些 / 包括什么
    HOW = "how"  # 怎么申请
    YES_NO = "yes_no"  # 能不能 / 有没有
    GENERAL = "general"


# Checked in this order: "哪些部门牵头" asks who, "有效期到什么时候" asks when.
PATTERNS = (
    # "税务局有参与吗" asks whether that office is among those responsible (the agency note answers it);
    # "宣传部门负责什么" asks what it does.
    (Ask.WHO, re.compile(r"谁|哪个部门|哪些部门|什么部门|哪个单位|哪些单位|哪个机构|牵头|主管部门|负责部门|归哪|找哪|"
                         r"(?:厅|局|委|办|部门)(?:有没有|有|也|会|都)?(?:参与|参加|负责|管)(?!什么|啥|哪)")),
    (Ask.VALIDITY, re.compile(r"还有效|有效吗|过期|失效|作废|还能用|还管用|还适用|还执行")),
    (Ask.WHEN, re.compile(r"什么时候|啥时候|何时|哪天|哪一天|几号|几月|哪年|哪一年|日期|时间|期限|截止|多久|多长时间|"
                          r"开始实施|起实施|生效|施行|有效期|到哪年|到什么时候|管到|执行到|实施期")),
    # "哪几个城市" asks which ones (a list), "几个" alone how many.
    (Ask.AMOUNT, re.compile(r"多少|(?<!哪)几[家个项所条年类种批名位万亿大]|数量|规模|金额|比例|比重|额度|上限")),
    (Ask.HOW, re.compile(r"怎么申请|如何申请|怎么申报|如何申报|怎么办理|如何办理|怎么报|去哪|流程|程序|条件|"
                         r"怎么拿|怎样申请|(?:在哪|哪里|哪儿)(?:申请|申报|办|报名)")),
    (Ask.WHERE, re.compile(r"在哪|哪里|哪儿|什么地方|哪个地方|什么位置|地点|选址|建在|落在|设在")),
    (Ask.LIST, re.compile(r"哪些|哪几|包括什么|包括哪|包含|有什么|有啥|都有|主要内容|具体内容|具体怎么说|具体说")),
    (Ask.YES_NO, re.compile(r"能不能|有没有|是不是|可不可以|会不会|是否|能否|可否|吗[？?]?$|(?<!什)么[？?]?$")),
)

# What a sentence that answers each kind holds.
HOLDS = {
    # "一批" is no count: "建设一批孵化载体" does not say how many.
    Ask.AMOUNT: re.compile(r"\d+(?:\.\d+)?\s*(?:家|个|项|所|批|条|万|亿|元|%|人|名|座|支|类|户|年)|"
                           r"(?!一批)[一二三四五六七八九十百千两]+[家个项所批条类]|[二三四五六七八九十]大(?=[\u4e00-\u9fff])"),
    Ask.WHO: re.compile(r"牵头|负责|责任单位|主管|会同|联席会议|领导小组|由[^，。]{2,40}(?:厅|局|委|部|办|政府)"),
    Ask.WHEN: re.compile(r"\d{4}年|[〇○零一二三四五六七八九]{4}年|实施|施行|之日起|有效期|起执行|截至|截止|期限"),
    Ask.VALIDITY: re.compile(r"实施|施行|之日起|有效期|废止|失效|\d{4}年"),
    Ask.HOW: re.compile(r"申报|申请|认定|评审|受理|办理|条件|程序"),
    # A named zone ("深圳湾园区", "连云港片区") or a place of the gazetteer (holds() looks those up).
    Ask.WHERE: re.compile(r"[\u4e00-\u9fff]{2,8}(?:园区|片区|新区|开发区|高新区|示范区|自贸区|产业园|基地)|"
                          r"位于|落户|选址"),
}


# Details a question can ask for that a policy often does not state: the day, the hour, the money, the phone
# number, the papers to hand in. A clause about the topic that states no such detail does not answer the question
# ("示范基地申报截止到哪天" is not answered by "培育建设一批省级示范基地"); it is said so, not quoted as the answer.
DETAILS = (
    ("具体日期", re.compile(r"几号|哪天|哪一天|几月几|截止到|截止日期|截止时间|什么时候截止|啥时候截止|哪天截止"),
     re.compile(r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})月(?:\d{1,2}|[一二三四五六七八九十]{1,3})日|\d{4}年底|年底|之日起|"
                r"\d{1,2}[-/.]\d{1,2}|工作日|日内|天内|每年")),
    ("开放时间", re.compile(r"几点|开门|关门|开放时间|营业时间|上班时间"),
     re.compile(r"\d{1,2}[:：]\d{2}|\d{1,2}[点时]|[上下]午|全天|开放时间")),
    ("具体金额", re.compile(r"多少钱|给多少|补多少|奖多少|贷多少|能贷多少|借多少|几万|多少万|额度|利率|利息|贴息多少|"
                       r"补贴标准|奖励标准|资助标准|标准是多少"),
     re.compile(r"\d+(?:\.\d+)?\s*(?:万|亿|元|%|％|倍|个百分点|基点)|[一二三四五六七八九十百千]+(?:万|亿)?元|"
                r"[百千万]分之|一次性|全额|减半|免收|最高不超过|利率|LPR")),
    ("联系方式", re.compile(r"电话|联系方式|热线|网址|邮箱|公众号|咨询方式"),
     re.compile(r"\d{3,4}-?\d{7,8}|\d{5,}|www\.|https?://|@|电话|热线|12345")),
    # "提供服务" and "提交报告" are everywhere in policies: only the papers themselves state what to hand in.
    ("申请材料", re.compile(r"材料|资料|要交什么|带什么|证件"),
     re.compile(r"材料|资料|证明|复印件|申请表|证件|清单")),
    # Who qualifies: conditions are stated as requirements ("员工持健康码绿码，且……须"), not only as 条件.
    ("申请条件", re.compile(r"申请条件|申报条件|什么条件|哪些条件|啥条件|要求是什么|有什么要求|有啥要求|门槛|资格"),
     # "支持有条件的企业" and "符合条件的" say that conditions exist, not what they are; 支持 holds no 持证.
     re.compile(r"(?<!有)(?<!符合)条件(?!成熟)|资格|门槛|要求|须|应当|必须|(?<![支扶坚保维主加])持有?|符合(?!条件)|"
                r"满足|具备|范围|对象|限于|以上|以下")),
    # How to apply or where to go: a clause that only says a measure exists ("设立新媒体产业子基金") does not say.
    # "怎么办" asks what to do, not where to apply.
    ("申请办法", re.compile(r"[怎如]么?(?:样|何)?(?:才能)?(?:申请|申报|办理|领取|领|报名)|去哪[儿里]?(?:申请|办|领|报)|"
                        r"在哪[儿里]?(?:申请|办|领|报)|找谁|流程|手续"),
     re.compile(r"申请|申报|受理|办理|认定|评审|评定|遴选|程序|流程|手续|窗口|登录|报送|领取|发放|审核|备案|登记")),
)


# A dispute between private parties (a lawsuit, compensation, whether a contract term is lawful) is a legal question:
# policy notices that happen to share its words ("安家费", "商标") do not answer it unless they speak of disputes too.
# Wage arrears (拖欠, 欠薪) is one too: a notice's "保障职工工资按时足额发放" does not help with it.
DISPUTE = re.compile(r"起诉|应诉|被告|原告|告他|打官司|官司|诉讼|纠纷|索赔|赔偿|仲裁|违约|维权|判决|律师|合理吗|"
                     r"拖欠|欠薪|克扣|合法吗|违法吗|犯法|侵权|\bsued?\b|lawsuit", re.IGNORECASE)


def detail_asked(question: str) -> tuple[str, re.Pattern[str]] | None:
    """Return the detail a question asks for that a clause must state to answer it (its name and what states it),
    or None."""
    return next(((name, stated) for name, asks, stated in DETAILS if asks.search(question)), None)


# A question about the document itself (who issued it, when, its 文号): its header and signature answer it.
# "推出的补贴" is about a measure: only "哪年出的 / 什么时候出的" ask when the document came out.
ABOUT_DOCUMENT = re.compile(r"印发|发布|发的|年出的|时候出的|出台|发文|文件号|发文号|签发|文号|字号|落款|联合发|"
                            r"谁发|发给|下发|主送|抄送|"
                            r"哪年的|几几年|哪一年的|制定的|谁出的|一起出的|给谁|根据哪|依据哪|根据什么|依据什么|哪个文件定|开始实施|开始的|生效|"
                            r"还有效|有效吗|过期|失效|还管用|还适用|还执行|负责解释|解释权|谁解释|谁来解释|部门解释")


# What a question of a kind looks for when it names no topic of its own ("深圳谁管这事", "广东谁牵头").
ASK_WORDS = {Ask.WHO: ("牵头", "负责", "会同", "工作机制", "联席会议", "组织领导", "协调机制")}
# The headings under which a document says who runs it as a whole ("（一）加强组织领导", "建立跨部门协调工作机制"): the
# answer to a question of that kind with no topic, before the agency note of any one measure.
ASK_HEADINGS = {Ask.WHO: re.compile(r"组织领导|工作机制|协调机制|联席会议|领导小组|组织实施|组织保障")}
# Words that only say what kind of fact is asked ("广东谁牵头": 牵头 is the question, not its topic).
ASK_ONLY = {Ask.WHO: frozenset({"牵头", "负责", "部门", "单位", "机构", "主管", "管事", "谁管"})}


def about_document(question: str) -> bool:
    """Return True for a question about the document itself (who issued it, when, under which 文号)."""
    return ABOUT_DOCUMENT.search(question) is not None


def ask_of(question: str) -> Ask:
    """Return the kind of fact a question asks for."""
    return ask_with_words(question)[0]


def ask_with_words(question: str) -> tuple[Ask, str]:
    """Return the kind of fact a question asks for and the words that ask it ("多少", "什么时候"; "" for none)."""
    for ask, pattern in PATTERNS:
        if found := pattern.search(question):
            return ask, found.group(0)
    return Ask.GENERAL, ""


def holds(ask: Ask, sentence: str) -> bool:
    """Return True when a sentence states the kind of fact asked for."""
    pattern = HOLDS.get(ask)
    if pattern is not None and pattern.search(sentence) is not None:
        return True
    return ask is Ask.WHERE and bool(gazetteer().find(sentence))
