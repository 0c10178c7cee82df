"""Hybrid retrieval: BM25 and dense hits fused (scores standardised per list), then weighed by the question's
region and topic."""

from __future__ import annotations

import dataclasses
import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from index.knowledge import KnowledgeBase
from index.lang.boilerplate import is_boilerplate
from index.lang.numbering import is_prose
from index.lang.regions import Region, gazetteer
from index.lang.sentences import split_sentences
from index.lang.text import CJK
from index.lang.tokens import frequency
from index.records import Clause, PolicyDoc
from index.retrieval import Scope
from qa.records import ScoredClause
from qa.understand.asks import ASK_HEADINGS, ASK_ONLY, ASK_WORDS, Ask, holds
from qa.understand.query import Query
from qa.understand.vocabulary import EQUIVALENT_CREDIT, covers
from qa.understand.wording import FRAMING

RRF_K = 60
CANDIDATES = 50
# A document about the named region itself is preferred over the province's document that covers it.
EXACT_REGION_BOOST = 1.3
PROVINCE_BOOST = 1.1
# A clause of the place's own document that holds this share of the question's topic gains this much.
OWN_TOPIC = 0.8
OWN_TOPIC_BOOST = 1.5
QUANTITY_WEIGHT = 0.6
COUNT_WINDOW = 40
HEADING_WEIGHT = 0.3
# How much a clause holding the words a follow-up adds ("可以去哪投诉" after a question about 租金贷) gains.
FOLLOW_UP_WEIGHT = 0.5
# How much a clause stating the kind of fact asked for (a date, an amount) gains.
FACT_WEIGHT = 0.25
FACT_KINDS = frozenset({Ask.WHEN, Ask.AMOUNT})
MENTION_WEIGHT = 0.15
# The documents' words for an everyday word count this much in BM25, below the words the user typed.
EXPANSION_WEIGHT = 0.5
# "免门票到什么时候": asked until when something lasts. A clause on the topic that gives no date does not answer it; its
# document's own period does: under a time heading ("一、活动时间"), else in its 有效期 rule.
UNTIL = re.compile(r"到什么时候|到啥时候|到哪天|到哪年|到几号|截止|有效期|管到|执行到|持续到|什么时候结束|啥时候结束")
DATED = re.compile(r"\d{4}年|\d{1,2}月\d{1,2}日|[〇○零一二三四五六七八九]{4}年")
# A clause that gives a date or a length of time ("自领取之日起7日内有效") answers until when on its own.
TIMED = re.compile(DATED.pattern + r"|之日起|有效期|期限|截至|截止|\d+\s*个?(?:工作日|日|天|周|月|年)")
PERIOD_HEADING = re.compile(r"时间|期限|有效期|实施期|执行期")
LASTS = re.compile(r"有效期|执行至|实施至|施行至")
COUNTED = re.compile(r"\d+(?:\.\d+)?\s*(?:家|个|项|所|批|条|万|亿|%|人|名|座|支|类|户)")


def region_boosts(kb: KnowledgeBase, query: Query) -> dict[str, float]:
    """Return a score multiplier per document: the most specific documents available for each named region."""
    boosts: dict[str, float] = {}
    for region in query.regions:
        exact = kb.docs_in_region(region.name)
        boosts.update(dict.fromkeys(exact, EXACT_REGION_BOOST))
        # The province's own document still applies to its cities, preferred only when the city has none.
        if region.province != region.name:
            for doc_id in kb.docs_in_region(region.province):
                boosts.setdefault(doc_id, 1.0 if exact else PROVINCE_BOOST)
    return boosts


def applies(boosts: dict[str, float], doc: PolicyDoc, named: bool = False) -> bool:
    """Return True when a document applies to the question's regions: no region was named (no boosts and not
    `named`), it is the region's or its province's own, or it is national (no region)."""
    # A place with no documents of its own or of its province ("上海小饭馆房租能减吗" over Hubei's and national
    # notices) is answered by national documents only: another province's rules are not its rules.
    return (not boosts and not named) or doc.doc_id in boosts or not doc.region


def mention(region: Region, text: str) -> float:
    """Return how much a text is about a place it names: 1 when a sentence names it alone, 1/k when the sentences
    naming it list k places ("支持佛山市重点发展……" over "支持深圳、珠海、佛山、东莞、汕头等……"), 0 when none does."""
    if region.short not in text:
        return 0.0
    return max((1.0 / max(len(gazetteer().find(s)), 1) for s in split_sentences(text) if region.short in s),
               default=1.0)


def counted_topic(kb: KnowledgeBase, topic: list[str], text: str,
                  equivalent: Mapping[str, tuple[str, ...]] | None = None) -> float:
    """Return how well the words right after a stated count ("50家以上……示范基地") match the topic."""
    best = 0.0
    counts = list(COUNTED.finditer(text))
    for i, m in enumerate(counts):
        # The thing counted runs to the end of the phrase or to the next count in an enumeration.
        stop = min(m.end() + COUNT_WINDOW, counts[i + 1].start() if i + 1 < len(counts) else len(text))
        window = re.split(r"[，。；]", text[m.end() : stop], maxsplit=1)[0]
        best = max(best, coverage(kb, topic, window, equivalent))
    return best


def content_tokens(query: Query, tokens: Sequence[str]) -> list[str]:
    """Return the query tokens that carry its topic: region names only say where to look."""
    names = {form for r in query.regions for form in (r.name, r.short)}
    # A one-character word counts when the vocabulary knows it (税, 钱, 贷); words that frame the question do not.
    known = query.equivalent
    return [t for t in dict.fromkeys(tokens) if (len(t) > 1 or t in known) and t not in FRAMING
            and t not in names and not any(t in n for n in names)]


def topic_tokens(kb: KnowledgeBase, query: Query, tokens: Sequence[str]) -> list[str]:
    """Return the topic tokens, without Latin-script noise the corpus never uses when the question is Chinese
    ("…基金可以用？'; DROP TABLE --" is a question about funds)."""
    topic = content_tokens(query, tokens)
    if any(CJK.search(t) for t in topic):
        topic = [t for t in topic if CJK.search(t) or kb.lexical.idf(t) is not None]
    known = [t for t in topic if kb.lexical.idf(t) is not None]
    # A word the corpus never uses is evidence the question is about something else only if it is a word: one
    # the segmenter made up from unknown Chinese characters ("供暖期从…" gives 期从) is not, and a spoken compound
    # (拍电影) is covered through its word the corpus does use (电影).
    return [t for t in topic if kb.lexical.idf(t) is not None or not CJK.search(t)
            or (frequency(t) > 0 and not any(k in t for k in known))]


def without_compounds(tokens: Sequence[str]) -> list[str]:
    """Return the tokens without those that contain another of them: a compound is named through its parts
    (文化科技 through 文化 and 科技, which "文化和科技深度融合" and "文化与科技融合" hold)."""
    return [t for t in tokens if not any(u != t and u in t for u in tokens)]


def coverage(kb: KnowledgeBase, tokens: list[str], text: str,
             equivalent: Mapping[str, tuple[str, ...]] | None = None) -> float:
    """Return the IDF-weighted share of the question's words found in a text (an everyday word found through the
    documents' word for it counts a little less); a token the corpus never uses weighs what the IDF formula gives
    a token of no chunk, more than any it uses.

    A word and the words inside it (图书馆: 图书, 书馆; 版权保护: 版权, 保护) are one word of the question, weighed
    once: counted apiece, a name the text repeats outweighed what the question asks about it (南京图书馆的借书证). It
    is found as written or, less surely, through its parts written apart (版权公共管理 … 保护)."""
    unique = list(dict.fromkeys(tokens))
    if not unique:
        return 1.0
    idf = {t: kb.lexical.idf(t) for t in unique}
    unseen = kb.lexical.unseen_idf()
    weights = {t: unseen if v is None else v for t, v in idf.items()}
    text = text.lower()
    # A word the corpus never uses may be its abbreviation of what the text writes out (自贸区).
    found = {t: covers(t, text, equivalent or {}, spelled=idf[t] is None) for t in unique}
    words = [t for t in unique if not any(t != u and t in u for u in unique)]
    covered = total = 0.0
    for word in words:
        parts = [t for t in unique if t != word and t in word]
        weight = max(weights[t] for t in (word, *parts))
        apart = sum(weights[t] * found[t] for t in parts) / sum(weights[t] for t in parts) if parts else 0.0
        covered += weight * max(found[word], EQUIVALENT_CREDIT * apart)
        total += weight
    return covered / total


@dataclass(frozen=True)
class RetrievalOptions:
    """How retrieval ranks; the defaults are the product. The switches exist to measure what each part adds."""

    fusion: str = "z"  # "z": each list's scores standardised, averaged and squashed; "rrf": reciprocal rank
    focus: bool = True  # search for the asking part without courtesy and framing, not the whole question
    region: bool = True
    coverage: bool = True
    heading: bool = True
    mention: bool = True
    quantity: bool = True
    vocabulary: bool = True  # also search for the documents' words for the question's everyday words


@dataclass
class _Hit:
    """What the ranked lists say about one clause, through its best chunk in each."""

    lexical: float = 0.0
    dense: float = 0.0
    fused: float = 0.0
    chunk: str = ""


def _fuse(lists: list[list[tuple[str, float]]], fusion: str) -> dict[str, float]:
    """Return a fused score per chunk in (0, 1): its standardised score averaged over the lists and squashed by the
    logistic function, or its reciprocal ranks summed. A chunk a list did not return counts as that list's lowest."""
    fused: dict[str, float] = defaultdict(float)
    every = {chunk for hits in lists for chunk, _ in hits}
    used = [hits for hits in lists if hits]
    for hits in used:
        if fusion == "rrf":
            for rank, (chunk, _) in enumerate(hits, 1):
                fused[chunk] += 1.0 / (RRF_K + rank)
            continue
        scores = np.array([score for _, score in hits])
        mean, spread = float(scores.mean()), float(scores.std()) or 1.0
        given = {chunk: (score - mean) / spread for chunk, score in hits}
        floor = (float(scores.min()) - mean) / spread
        for chunk in every:
            fused[chunk] += given.get(chunk, floor) / len(used)
    if fusion == "rrf":
        return fused
    # Squashed, a clear lead in the lists still counts, but near the top the semantic factors (region, topic,
    # heading, quantity) decide the order, as they should; a raw z-score gap would override them.
    return {chunk: 1.0 / (1.0 + math.exp(-z)) for chunk, z in fused.items()}


def _window(kb: KnowledgeBase, clause: Clause, chunk_id: str) -> str:
    """Return the passage of a long clause that matched: its chunk, and for unnumbered text (searched a few
    sentences at a time) the sentences just before and after too, so the passage reads in context."""
    chunk = kb.chunks[chunk_id]
    if not is_prose(clause):
        return chunk.text
    return "".join(c.text for c in kb.chunks_of(clause.clause_id)[max(chunk.position - 1, 0) : chunk.position + 2])


def _period_first(kb: KnowledgeBase, query: Query, top: list[ScoredClause]) -> list[ScoredClause]:
    """Return the ranking with the first clause's document's period first when the question asks until when and
    that clause gives no date or length of time; unchanged otherwise."""
    if query.ask is not Ask.WHEN or not top or not UNTIL.search(query.text) or TIMED.search(top[0].clause.text):
        return top
    first = top[0]
    clauses = [c for c in kb.clauses_of(first.doc.doc_id) if DATED.search(c.text)]
    period = next((c for c in clauses if PERIOD_HEADING.search(c.title)), None) or next(
        (c for c in clauses if LASTS.search(c.text)), None)
    if period is None:
        return top
    ranked = next((s for s in top if s.clause.clause_id == period.clause_id), None)
    moved = ranked or ScoredClause(period, first.doc, first.score, 0.0, 0.0, first.coverage)
    return [moved, *(s for s in top if s is not ranked)][: len(top)]


class HybridRetriever:
    """Clause-level retrieval over a KnowledgeBase: BM25 and dense hits fused, then weighed by region and topic."""

    def __init__(self, kb: KnowledgeBase, k: int = 10, options: RetrievalOptions = RetrievalOptions()) -> None:
        self.kb = kb
        self.k = k
        self.options = options
        self._furniture: dict[str, bool] = {}

    def _boilerplate(self, clause: Clause) -> bool:
        """Return True for a clause that is a notice's furniture (版记, a signature block), remembered."""
        known = self._furniture.get(clause.clause_id)
        if known is None:
            known = self._furniture[clause.clause_id] = is_boilerplate(clause.label, clause.text)
        return known

    def search(self, query: Query, doc_ids: set[str] | None = None) -> list[ScoredClause]:
        """Return the top clauses for a query (of the documents `doc_ids` only, when given), best first, each with
        its fused score, signals and passage."""
        kb, opt = self.kb, self.options
        words = query.focus if opt.focus and query.focus else query.text
        tokens = query.tokens if opt.focus else query.text_tokens
        topic = topic_tokens(kb, query, tokens)
        # Words that frame the question (政策, 支持, 申请) are in every policy: searched for, they rank the clause
        # that repeats them ("优化政策环境") above the one on the question's topic ("广东对游戏行业有啥政策").
        searched = [t for t in tokens if t not in FRAMING] if topic else list(tokens)
        heading_asked = None
        if set(topic) <= ASK_ONLY.get(query.ask, frozenset()):
            # "深圳谁管这事", "广东谁牵头": who leads is said in these words; they are searched for, not required (a
            # clause may say 会同 where the question says 牵头), and the question has no topic of its own.
            searched += ASK_WORDS.get(query.ask, ())
            heading_asked = ASK_HEADINGS.get(query.ask)
            topic = []
        # Only a word the corpus never uses is searched for through the documents' words for it: where the
        # documents already say what the user says, there is no gap to bridge.
        bridge = [f for word, forms in query.equivalents if kb.lexical.idf(word) is None for f in forms]
        # The documents allowed are a filter inside both legs: each returns its best candidates among them.
        scope = Scope(doc_ids=frozenset(doc_ids)) if doc_ids is not None else None
        lexical = kb.lexical.search(searched, CANDIDATES, bridge if opt.vocabulary else None, EXPANSION_WEIGHT,
                                    scope)
        vector = kb.dense.vector(words) if kb.dense is not None else None
        dense = kb.dense.nearest(vector, CANDIDATES, scope) if kb.dense is not None and vector is not None else []
        fused = _fuse([lexical, dense], opt.fusion)
        raw = {"lexical": dict(lexical), "dense": dict(dense)}
        hits: dict[str, _Hit] = defaultdict(_Hit)
        # Ties go by chunk id, so the order never depends on the process's string hashing.
        for chunk_id, score in sorted(fused.items(), key=lambda x: (-x[1], x[0])):
            chunk = kb.chunks.get(chunk_id)
            if chunk is None:
                continue
            hit = hits[chunk.clause_id]
            # A clause split into chunks counts once, through its best chunk.
            if not hit.chunk:
                hit.fused, hit.chunk = score, chunk_id
            hit.lexical = max(hit.lexical, raw["lexical"].get(chunk_id, 0.0))
            hit.dense = max(hit.dense, raw["dense"].get(chunk_id, 0.0))
        if not hits:
            return []
        boosts = region_boosts(kb, query) if opt.region else {}
        equivalent = query.equivalent if opt.vocabulary else {}
        added = topic_tokens(kb, query, query.stressed) if query.stressed else []
        scored = []
        for clause_id, hit in hits.items():
            clause = kb.clauses[clause_id]
            if not query.about_document and self._boilerplate(clause):
                continue
            doc = kb.docs[clause.doc_id]
            text = f"{doc.title}\n{' '.join(clause.path)}\n{clause.text}"
            cov = coverage(kb, topic, text, equivalent)
            score = hit.fused
            # Another region's policy is never the answer to a question about this one: it ranks below every
            # document that applies to the named region (its own, its province's, a national one), whatever its score.
            tier = 0 if applies(boosts, doc, bool(query.regions) and opt.region) else 1
            if tier == 0 and opt.region and cov >= OWN_TOPIC and any(
                    r.province != r.name and (doc.region == r.name or r.short in clause.text) for r in query.regions):
                # A clause of the city's own document (or one naming the city) that holds the topic answers a
                # question about the city before its province's document does ("深圳公司能上市吗"). Within a
                # province's own document it would only reward the clause that happens to hold every word.
                score *= OWN_TOPIC_BOOST
            score *= boosts.get(clause.doc_id, 1.0)
            if opt.coverage:
                score *= math.sqrt(0.25 + cov)
            if query.regions and opt.mention:
                # Naming places ("广州和深圳") asks for clauses about those places, wherever the document is from.
                # A document about the place itself mentions it everywhere, so only broader documents count.
                named = sum(mention(r, clause.text) for r in query.regions if doc.region != r.name)
                score *= 1.0 + MENTION_WEIGHT * named / len(query.regions)
            if opt.quantity and query.ask in FACT_KINDS and holds(query.ask, clause.text):
                # "到什么时候", "补多少钱": of clauses on the topic, the one that states a date or an amount is the
                # one that answers.
                score *= 1.0 + FACT_WEIGHT
            if query.wants_quantity and topic:
                # "多少家/几个" asks for a count: prefer clauses that state a count of the thing asked about.
                # Targets sit under generic headings (主要目标), so headings are no evidence here.
                if opt.quantity:
                    score *= 1.0 + QUANTITY_WEIGHT * counted_topic(kb, topic, clause.text, equivalent)
            elif topic and opt.heading:
                # A question naming the topic of a clause's own heading ("指导思想") is asking for that clause.
                score *= 1.0 + HEADING_WEIGHT * coverage(kb, topic, clause.heading, equivalent)
            if added:
                # The earlier question's words find its clauses; of those, the one with the follow-up's own words
                # ("投诉") answers it, not the one the earlier question was answered from again.
                score *= 1.0 + FOLLOW_UP_WEIGHT * coverage(kb, added, text, equivalent)
            passage = _window(kb, clause, hit.chunk) if hit.chunk != clause_id else ""
            # "江苏谁牵头" names no measure: who runs the whole document is said under its organisation heading
            # ("加强组织领导"), while each measure's agency note says who leads that one measure; such a clause comes
            # first among the documents that apply.
            later = heading_asked is not None and opt.heading and not heading_asked.search(clause.heading)
            scored.append((2 * tier + later, ScoredClause(clause, doc, score, hit.lexical, hit.dense, cov, passage)))
        scored.sort(key=lambda x: (x[0], -x[1].score, x[1].clause.clause_id))
        top = [s for _, s in scored[: self.k]]
        if opt.quantity:
            top = _period_first(kb, query, top)
        if kb.dense is None or vector is None:
            return top
        # A clause the lexical list found but the dense list did not still has a closeness in meaning, and
        # answerability needs it: a missing similarity is not a zero one.
        missing = [s.clause.clause_id for s in top if not s.dense]
        chunk_of = {clause_id: hits[clause_id].chunk for clause_id in missing}
        near = kb.dense.similarities(vector, list(chunk_of.values()))
        return [dataclasses.replace(s, dense=near.get(chunk_of[s.clause.clause_id], 0.0))
                if s.clause.clause_id in chunk_of else s for s in top]
