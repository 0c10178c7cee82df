"""Resolve a follow-up question against the conversation, without an LLM."""

from __future__ import annotations

import logging
import re
from functools import cache

from index.lang.regions import gazetteer
from index.lang.terms import keywords
from index.lang.tokens import tagged, tokenize
from qa.understand.asks import Ask, ask_of, ask_with_words
from qa.understand.wording import FRAMING

LEADING = re.compile(r"^(那么|那|还有|另外|此外|再问一下|请问|那请问)[，,\s]*")
TRAILING = re.compile(r"[呢吗？?。！!\s]+$")
NAMING = ("n", "vn", "b", "j", "eng", "x")
# Words that make a place a partner of the one asked about ("跟香港合作", "与澳门联合", "赴港"), not the place itself.
PARTNER = r"(?:跟|与|同|向|赴|对接)"
# The kinds of fact a follow-up with a topic of its own and no question word asks again ("特色企业呢" after
# "领军企业多少家"); a list or yes/no question is asked anew by the topic alone.
CARRIED = frozenset({Ask.AMOUNT, Ask.WHEN, Ask.WHO, Ask.WHERE, Ask.HOW, Ask.VALIDITY})
REFERS_BACK = re.compile(r"^(其中|这|该|此|它|上述|这些|这个|以上)")
# Words that point at what was already discussed or ask about one side of it ("这些措施由哪个部门牵头？",
# "具体怎么申请？"): a follow-up made only of these has no topic of its own and needs the earlier question.
ASPECTS = frozenset({
    "措施", "政策", "文件", "规定", "内容", "支持", "举措", "部门", "牵头", "负责", "单位", "机构", "申请", "申报",
    "办理", "流程", "条件", "材料", "对象", "范围", "适用", "时候", "时间", "期限", "到期", "截止", "有效期", "具体",
    "开始", "生效", "发布", "印发", "文号", "有效", "管用", "拿到", "获得", "享受", "才能", "多少", "几个", "金额",
})


def _strip_regions(text: str) -> str:
    """Return the text without region names (and the 的/对/在 that tie them to the rest)."""
    for region in gazetteer().find(text):
        for form in sorted({region.name, region.short}, key=len, reverse=True):
            # "广东和江苏的……": the connective between two removed regions goes with them.
            text = re.sub(rf"(?:[和与及、])?{re.escape(form)}(?:省|市)?(?:[和与及、](?=\S))?(?:的|对|在)?", "", text)
    return text


# A short question that names no place, after one that did, is about the same place.
SHORT_FOLLOW_UP = 16


def _is_follow_up(question: str, core: str, previous: str) -> bool:
    """Return True for an elliptical question that leans on the previous one."""
    gaz = gazetteer()
    return (
        bool(LEADING.match(question)) or question.rstrip("？?").endswith("呢") or bool(REFERS_BACK.match(core))
        or len(core) <= 6 or (len(core) <= SHORT_FOLLOW_UP and not gaz.find(core) and bool(gaz.find(previous)))
        # "最多能补几个月", "什么时候要交回去": a short question that names neither a place nor a topic asks more
        # about the previous one.
        or (len(core) <= SHORT_FOLLOW_UP and not gaz.find(core) and not own_topic(core))
    )


@cache
def _audience_words() -> frozenset[str]:
    """Return the words that name who a measure is for (中小企业, 高校): they narrow a topic, not replace it.

    A word that also names a kind of measure (人才) is a topic."""
    kinds = {w for words in keywords("type").values() for w in words}
    return frozenset(w for words in keywords("beneficiary").values() for w in words if w not in kinds)


def own_topic(core: str) -> list[str]:
    """Return the words of a follow-up that name a topic of its own ("其中金融支持……" -> 金融), if any."""
    audience = _audience_words()
    text = _strip_regions(REFERS_BACK.sub("", core))
    # A topic is named by a noun ("金融", "出口", "人才"; jieba's tags n…, vn, b, j, eng, or x for a policy term):
    # "最多能补几个月" and "领了多久要用掉" ask more about the earlier topic in verbs and adverbs.
    naming = _naming_spans(text)
    # Question words (啥, 多少) and framing (具体, 名字) say what is asked about the earlier topic, not a new one.
    return [w for w in tokenize(text) if len(w) > 1 and w not in ASPECTS and w not in FRAMING
            and not any(w in a for a in audience) and _names(w, text, naming)]


def _naming_spans(text: str) -> list[tuple[int, int]]:
    """Return the character spans of the words jieba tags as naming something."""
    spans, at = [], 0
    for word, tag in tagged(text):
        if tag.startswith(NAMING):
            spans.append((at, at + len(word)))
        at += len(word)
    return spans


def _names(word: str, text: str, naming: list[tuple[int, int]]) -> bool:
    """Return True when a search token overlaps a naming word where it occurs (a token the tagger never saw, such
    as a lower-cased Latin word, names something)."""
    start = text.lower().find(word)
    if start < 0:
        return True
    return any(a < start + len(word) and start < b for a, b in naming)


def _parallel(words: list[str], previous: str) -> str | None:
    """Return the previous question with its word of the same kind swapped for the follow-up's one ("省级的呢" after
    "……要建多少国家级示范基地" asks about 省级 ones: 国家级 and 省级 share their last character), or None."""
    if len(words) != 1 or len(words[0]) < 2:
        return None
    word = words[0]
    same = [u for u in tokenize(previous) if len(u) >= 2 and u != word and u[-1] == word[-1] and u in previous]
    if not same:
        return None
    return TRAILING.sub("", previous.replace(max(same, key=len), word))


def rewrite(question: str, history: list[str] | tuple[str, ...] = ()) -> str:
    """Return a self-contained question: regions and topic carried over from the conversation when needed."""
    if not history:
        return question
    previous = rewrite(history[-1], history[:-1])
    core = TRAILING.sub("", LEADING.sub("", question.strip()))
    if not core or not _is_follow_up(question, core, previous):
        return question
    gaz = gazetteer()
    asked, before = gaz.find(core), gaz.find(previous)
    topic = _strip_regions(core)
    if asked and len(TRAILING.sub("", topic)) <= 1:
        # "广东呢？": the previous question, asked about another region.
        new_regions = "和".join(r.short for r in asked)
        stripped = _strip_regions(previous)
        return f"{new_regions}{stripped}"
    regions = "和".join(r.short for r in before)
    if asked:
        # "跟香港有合作吗" after "深圳文化科技政策" names a partner of the earlier place, not a place instead of it.
        partners = [r for r in asked if re.search(rf"{PARTNER}(?:{re.escape(r.name)}|{re.escape(r.short)})", core)]
        return f"{regions}{core}" if regions and len(partners) == len(asked) else question
    if (swapped := _parallel(own_topic(core), previous)) is not None:
        return swapped
    if own_topic(core):
        # "其中金融支持具体包括什么？": a new topic replaces the earlier one; keeping both lets the earlier,
        # longer topic outweigh the new one in retrieval and the previous clause is quoted again. "特色企业呢" after
        # "领军企业多少家" asks the same of the new topic: the earlier question's asking words come with it.
        kind, words = ask_with_words(previous)
        asking = words if kind in CARRIED and ask_of(core) is Ask.GENERAL else ""
        return f"{regions}{REFERS_BACK.sub('', core)}{asking}" if regions else question
    # "这些措施由哪个部门牵头？", "具体怎么申请？": about the earlier question's topic, so ask it again with this.
    return f"{TRAILING.sub('', previous)}，{core}"


def condense_with_llm(model: object, question: str, history: list[str]) -> str | None:
    """Return the follow-up rewritten by the LLM with prompts/condense.md, or None when it fails."""
    from langchain_core.language_models import BaseChatModel

    from qa.prompts import load_prompt

    assert isinstance(model, BaseChatModel)
    messages = load_prompt("condense").messages(history="\n".join(f"- {h}" for h in history), question=question)
    try:
        text = model.invoke(messages).content
    except Exception as exc:  # any failure falls back to the rules; the reason is logged, not shown
        logging.getLogger(__name__).warning("改写追问失败，改用规则改写：%s", type(exc).__name__)
        return None
    text = str(text).strip().splitlines()[0].strip() if str(text).strip() else ""
    # A sane rewrite is one question, not an answer or an essay.
    return text if 0 < len(text) <= 200 else None
