"""Hybrid retrieval: BM25 and dense hits fused by reciprocal rank, a soft preference for named regions."""

from __future__ import annotations

import math
import re
from collections import defaultdict

from index.lexical import tokenize
from index.store import KnowledgeBase
from index.text import CJK
from qa.query import Query
from qa.records import ScoredClause

RRF_K = 60
CANDIDATES = 50
# A document about the named region itself is preferred over the province's document that covers it.
EXACT_REGION_BOOST = 1.3
PROVINCE_BOOST = 1.1
OTHER_REGION = 0.5
QUANTITY_WEIGHT = 0.6
COUNT_WINDOW = 40
HEADING_WEIGHT = 0.3
UNSEEN_WEIGHT = 2.0
MENTION_WEIGHT = 0.15
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


def counted_topic(kb: KnowledgeBase, topic: list[str], text: str) -> float:
    """Return how well the words right after a stated count ("50家以上……示范基地") match the topic."""
    best = 0.0
    counts = list(COUNTED.finditer(text))
    for i, m in enumerate(counts):
        # The thing counted runs to the end of the phrase or to the next count in an enumeration.
        stop = min(m.end() + COUNT_WINDOW, counts[i + 1].start() if i + 1 < len(counts) else len(text))
        window = re.split(r"[，。；]", text[m.end() : stop], maxsplit=1)[0]
        best = max(best, coverage(kb, topic, window))
    return best


def content_tokens(query: Query, tokens: list[str]) -> list[str]:
    """Return the query tokens that carry its topic: region names only say where to look."""
    names = {form for r in query.regions for form in (r.name, r.short)}
    return [t for t in dict.fromkeys(tokens) if len(t) > 1 and t not in names and not any(t in n for n in names)]


def topic_tokens(kb: KnowledgeBase, query: Query, tokens: list[str]) -> list[str]:
    """Return the topic tokens, without Latin-script noise the corpus never uses when the question is Chinese
    ("…基金可以用？'; DROP TABLE --" is a question about funds)."""
    topic = content_tokens(query, tokens)
    if any(CJK.search(t) for t in topic):
        topic = [t for t in topic if CJK.search(t) or kb.lexical.idf(t) is not None]
    return topic


def coverage(kb: KnowledgeBase, tokens: list[str], text: str) -> float:
    """Return the IDF-weighted share of topic tokens found in a text; tokens the corpus never uses weigh most."""
    unique = list(dict.fromkeys(tokens))
    if not unique:
        return 1.0
    idfs = {t: kb.lexical.idf(t) for t in unique}
    # A term the corpus never uses is strong evidence that the question is about something else.
    ceiling = max([v for v in idfs.values() if v is not None], default=1.0) * UNSEEN_WEIGHT or 1.0
    weights = {t: (v if v is not None else ceiling) for t, v in idfs.items()}
    # A token that is part of a longer token (文化 in 文化产业) is counted through the longer one.
    text = text.lower()
    covered = sum(w for t, w in weights.items() if t in text)
    return covered / sum(weights.values())


class HybridRetriever:
    """Clause-level retrieval over a KnowledgeBase: BM25 and dense hits fused, then weighed by region and topic."""

    def __init__(self, kb: KnowledgeBase, k: int = 10) -> None:
        self.kb = kb
        self.k = k

    def search(self, query: Query, doc_ids: set[str] | None = None) -> list[ScoredClause]:
        """Return the top clauses for a query, best first, each with its fused score and coverage."""
        kb = self.kb
        tokens = tokenize(query.text)
        ranked_lists = [kb.lexical.search(tokens, CANDIDATES)]
        if kb.dense is not None:
            ranked_lists.append(kb.dense.search(query.text, CANDIDATES))
        signals: dict[str, dict[str, float]] = defaultdict(lambda: {"rrf": 0.0, "lexical": 0.0, "dense": 0.0})
        for source, hits in zip(("lexical", "dense"), ranked_lists, strict=False):
            for rank, (chunk_id, raw) in enumerate(hits, 1):
                chunk = kb.chunks.get(chunk_id)
                if chunk is None or (doc_ids is not None and chunk.doc_id not in doc_ids):
                    continue
                s = signals[chunk.clause_id]
                # A clause split into chunks counts once per list, through its best chunk.
                if s[source] == 0.0:
                    s["rrf"] += 1.0 / (RRF_K + rank)
                    s[source] = raw
        boosts = region_boosts(kb, query)
        topic = topic_tokens(kb, query, tokens)
        scored = []
        for clause_id, s in signals.items():
            clause = kb.clauses[clause_id]
            doc = kb.docs[clause.doc_id]
            text = f"{doc.title}\n{' '.join(clause.path)}\n{clause.text}"
            cov = coverage(kb, topic, text)
            # Another region's policy is never the answer to a question about this one; keep it low in the list.
            regional = boosts.get(clause.doc_id, OTHER_REGION if boosts else 1.0)
            score = s["rrf"] * regional * math.sqrt(0.25 + cov)
            if query.regions:
                # Naming places ("广州和深圳") asks for clauses about those places, wherever the document is from.
                # A document about the place itself mentions it everywhere, so only broader documents count.
                named = sum(1 for r in query.regions if r.short in clause.text and doc.region != r.name)
                score *= 1.0 + MENTION_WEIGHT * named / len(query.regions)
            if query.wants_quantity and topic:
                # "多少家/几个" asks for a count: prefer clauses that state a count of the thing asked about.
                # Targets sit under generic headings (主要目标), so headings are no evidence here.
                score *= 1.0 + QUANTITY_WEIGHT * counted_topic(kb, topic, clause.text)
            elif topic:
                # A question naming the topic of a clause's own heading ("指导思想") is asking for that clause.
                score *= 1.0 + HEADING_WEIGHT * coverage(kb, topic, clause.heading)
            scored.append(ScoredClause(clause, doc, score, s["lexical"], s["dense"], cov))
        scored.sort(key=lambda x: x.score, reverse=True)
        return scored[: self.k]
