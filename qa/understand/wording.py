"""Citizens' wording: courtesy and question framing, colloquial words, a story before the question, several
questions in one. Written from general knowledge of how people phrase consultation questions, not from any
evaluation set."""

from __future__ import annotations

import re

LEAD = re.compile(
    r"^(?:您好|你好|老师好|领导好|请问一下|请问|想请问一下|想请问|我想问问|我想问一下|我想问|想问问|想问一下|想问|问问|问一下|问下|"
    r"咨询一下|"
    r"我想咨询一下|我想咨询|想咨询一下|想咨询|请教一下|请教|麻烦问一下|麻烦问下|打扰一下|劳驾|那个)[，,：:\s]*"
)
TAIL = re.compile(
    r"(?:吗|呢|吧|啊|呀|嘛|么|没有|没|是不是|可不可以|能不能|行不行|对不对|好不好|有没有|怎么办|咋办|该怎么办|应该怎么办|"
    r"谢谢|多谢|谢谢您|急|在线等)*[？?！!。～~\s]*$"
)
# Spoken forms and the written forms documents use.
COLLOQUIAL = (
    (re.compile(r"咋样|咋个"), "怎样"), (re.compile(r"咋"), "怎么"), (re.compile(r"啥样"), "什么样"),
    (re.compile(r"啥"), "什么"), (re.compile(r"木有|没得"), "没有"), (re.compile(r"俺|咱"), "我"),
    (re.compile(r"给不给|给没给"), "给予"), (re.compile(r"扶不扶持"), "扶持"), (re.compile(r"支不支持"), "支持"),
    (re.compile(r"鼓不鼓励"), "鼓励"),
)
# "有没有/是不是/能不能…" ask yes or no; the words around them are the topic.
YES_NO = re.compile(r"有没有|是不是|能不能|可不可以|会不会|该不该|要不要|算不算|行不行")
# Where one question ends and another begins: "/", a question mark or a semicolon followed by more text.
SUB_QUESTION = re.compile(r"\s*(?:/|／|[？?]|；|;)\s*")
SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;\n]*")
ASKS = re.compile(r"[？?]|吗|呢|什么|怎么|怎样|如何|哪|多少|几|是否|能否|可否|可以|有没有|是不是|能不能|咋|啥|么")
# Where the question starts inside a long sentence that tells a story first ("…五六个人，想问除了市里…").
ASK_START = re.compile(r"(?:我)?(?:想问问|想问一下|想问下|想问|想咨询一下|想咨询|请问一下|请问|问一下|问下|咨询一下|"
                       r"想了解一下|想了解)")
# Words that frame a question rather than name its topic ("叫什么名字", "具体内容", "说说情况"): written from
# general knowledge of how questions are phrased.
FRAMING = frozenset({
    "名字", "名称", "叫什么", "具体", "内容", "情况", "方面", "东西", "事情", "问题", "一下", "介绍", "详细", "说说",
    "讲讲", "了解", "知道", "告诉", "请问", "咨询", "政府", "国家", "现在", "目前", "今年", "我们", "你们", "他们",
    "一个", "这个", "那个", "哪些", "什么", "怎么", "多少", "的话", "可以", "能够", "应该", "需要", "这块", "那块",
    "这边", "那边", "里面", "方向", "相关", "有关", "提到", "写到", "规定", "说法", "要求", "东东", "点儿",
    "申请", "申报", "办理", "流程", "手续", "怎么办", "支持", "扶持", "政策", "措施", "除了", "达到", "实现", "这事",
    "这个事", "这方面", "渠道", "途径", "办法", "方式", "啥时候", "什么时候", "何时", "几时", "多久",
})
# A question longer than this that tells a story first: the sentences that ask are what to search for.
STORY_CHARS = 40
MIN_PART_CHARS = 4


def plain(question: str) -> str:
    """Return the question without courtesy, framing and yes/no wrappers, in written words."""
    text = question.strip()
    for pattern, written in COLLOQUIAL:
        text = pattern.sub(written, text)
    previous = None
    while previous != text:
        previous = text
        text = TAIL.sub("", LEAD.sub("", text))
    return YES_NO.sub(" ", text).strip() or question.strip()


def asking_part(question: str) -> str:
    """Return the sentences of a long question that ask something (a story before the question is context)."""
    if len(question) > STORY_CHARS and (start := ASK_START.search(question)) and start.start() > 0:
        question = question[start.end():].lstrip("，,：: ")
    sentences = [s for s in SENTENCE.findall(question) if s.strip()]
    if len(question) <= STORY_CHARS or len(sentences) < 2:
        return question
    asking = [s for s in sentences if ASKS.search(s)]
    return "".join(asking) if asking else sentences[-1]


def sub_questions(question: str) -> tuple[str, ...]:
    """Return the separate questions of "A？B？" or "A/B/C"; one question gives an empty tuple."""
    parts: list[str] = []
    for part in (p.strip() for p in SUB_QUESTION.split(question)):
        if not part:
            continue
        if parts and len(part) < MIN_PART_CHARS:
            parts[-1] += part  # too short to stand alone ("/吗"): it belongs to the question before
        else:
            parts.append(part)
    return tuple(parts) if len(parts) > 1 else ()
