"""The assistant: condense the question -> retrieve -> decide (answer, list a section, refuse) -> answer."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from index.build import build_index
from index.embedding import PolicyEmbeddings, load_embeddings
from index.knowledge import KnowledgeBase
from index.lang.regions import gazetteer
from index.lang.script import is_traditional, to_simplified
from index.lang.tokens import frequency, segment, tokenize
from index.records import PolicyDoc
from index.store import needs_build, open_index
from qa.answer.base import Answerer
from qa.answer.checklist import checklist_answer
from qa.answer.clarify import clarify_answer, example_clauses
from qa.answer.comparison import comparison_answer, is_comparison
from qa.answer.courtesy import courtesy_answer
from qa.answer.extractive import ExtractiveAnswerer
from qa.answer.facts import document_facts, names_document
from qa.answer.overview import clause_answer, find_section, overview_answer
from qa.answer.refusal import refusal
from qa.answer.related import related_answer
from qa.answer.suggest import suggest
from qa.decide.answerability import Outcome, model_for
from qa.decide.relevance import decide, not_found
from qa.decide.validity import validity_notes
from qa.finder import PROFILE, parse_profile, profile_question
from qa.records import Answer, Notice, ScoredClause
from qa.retrieve.hybrid import HybridRetriever, applies, region_boosts
from qa.retrieve.rerank import load_reranker
from qa.settings import Settings
from qa.understand.abbreviation import Abbreviations
from qa.understand.query import (
    MAX_QUESTION_CHARS,
    Query,
    asks_in_general,
    encodable,
    is_vague,
    names_only_places,
    parse_query,
)
from qa.understand.references import label_forms, reference
from qa.understand.rewrite import condense_with_llm, rewrite
from qa.understand.spelling import Speller
from qa.understand.wording import plain

if TYPE_CHECKING:
    from qa.retrieve.langchain import PolicyRetriever

log = logging.getLogger(__name__)

# Suggestion verdicts an assistant remembers, oldest dropped first: the candidates are a fixed set (headed
# clauses), but a large corpus has many of them.
MAX_VETTED_SUGGESTIONS = 4096


@dataclass(frozen=True)
class Found:
    """What retrieval decided: clauses to answer from (or related ones), a section to list, or why to refuse."""

    retrieved: tuple[ScoredClause, ...]
    evidence: tuple[ScoredClause, ...] = ()
    section: str | None = None
    refusal: str | None = None
    # "profile" (which measures apply to me), "compare" (regions side by side), "related" (no clear provision),
    # "clarify" (too vague to search), "facts" (about the document doc_id itself: 文号, issuer, date)
    intent: str | None = None
    doc_id: str | None = None


class Assistant:
    """Answers questions about the indexed policy documents, citing the clauses it relies on."""

    def __init__(self, settings: Settings, kb: KnowledgeBase, embeddings: PolicyEmbeddings | None,
                 answerer: Answerer | None = None) -> None:
        self.settings = settings
        self.kb = kb
        self.embeddings = embeddings
        self.reranker = load_reranker(settings.reranker_model)
        # A reranker sees more candidates than are returned, so it can lift one from below the cut.
        depth = max(settings.top_k, settings.reranker_candidates) if self.reranker else settings.top_k
        self.retriever = HybridRetriever(kb=kb, k=depth)
        self.speller = Speller(kb.lexical.vocabulary(), gazetteer().by_form, segment, frequency)
        self.abbreviations = Abbreviations(kb.lexical.vocabulary(), segment)
        self.answerability = model_for(embeddings.model_id if embeddings is not None and kb.dense else None)
        extractive = ExtractiveAnswerer()
        self.model = None
        if answerer is None and settings.llm_enabled:
            from qa.answer.llm.answerer import LLMAnswerer
            from qa.answer.llm.chat_model import chat_model

            self.model = chat_model(settings)
            answerer = LLMAnswerer(self.model, extractive)
        self.answerer = answerer or extractive
        self._vetted: dict[str, bool] = {}  # suggestion -> answerable, for this knowledge base
        self._vetted_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, build_if_missing: bool = True, progress: bool = True,
             on_progress: Callable[[str, int, int], None] | None = None) -> Assistant:
        """Return an assistant over the index, building it from the corpus first when there is none."""
        embeddings = load_embeddings(settings.embedder_config)
        if build_if_missing and needs_build(settings.index_dir, embeddings):
            log.info("首次启动：正在为 %s 建立索引", settings.corpus_dir)
            report = build_index(settings.build_config, embeddings, progress=progress, on_progress=on_progress)
            log.info(report.summary())
        return cls(settings, open_index(settings.index_dir, embeddings, settings.chroma_url), embeddings)

    def as_retriever(self) -> PolicyRetriever:
        """Return the retrieval stage as a langchain retriever, for use in other LCEL chains."""
        from qa.retrieve.langchain import PolicyRetriever

        return PolicyRetriever(understand=lambda q: self.understand(q, ()), search=self._search)

    def ask(self, question: str, history: Sequence[str] = (), doc_ids: set[str] | None = None) -> Answer:
        """Return the cited answer to a question, resolving follow-ups against earlier questions."""
        *_, answer = self.stream(question, history, doc_ids)
        assert isinstance(answer, Answer)
        return answer

    def stream(self, question: str, history: Sequence[str] = (),
               doc_ids: set[str] | None = None) -> Iterator[str | Answer]:
        """Yield draft text as the answer is written (LLM mode), then the final, verified Answer."""
        question, history = encodable(question), [encodable(h) for h in history]
        # "谢谢" after an answer is not a follow-up to it: it gets a polite reply, no search.
        polite = courtesy_answer(to_simplified(question))
        if polite is not None:
            yield dataclasses.replace(polite, question=question, traditional=is_traditional(question))
            return
        query = self.understand(question, history)
        found = self._referenced(question, history, query, doc_ids) or self._find(query, doc_ids)
        if found.evidence and found.section is None and found.intent is None:
            for part in self.answerer.stream(query, question, found.evidence, found.retrieved):
                yield self._finalise(part, query, found, question) if isinstance(part, Answer) else part
            return
        yield self._finalise(self._compose(query, found, question), query, found, question)

    def understand(self, question: str, history: Sequence[str] = ()) -> Query:
        """Return the self-contained query searched for: the LLM condenses a follow-up when configured, else rules
        do; slips are corrected and abbreviations the corpus defines expanded."""
        # Earlier turns are corrected too: "深证的政策" before "那现在还管用吗" still names 深圳.
        speller = self.speller  # None when an ablation measures reading without it
        earlier = [to_simplified(h) for h in history]
        question, earlier = to_simplified(question), [speller.correct(h)[0] if speller else h for h in earlier]
        text = None
        if self.model is not None and earlier:
            text = condense_with_llm(self.model, question, earlier)
        query = parse_query(text or rewrite(question, earlier), self.speller, self.abbreviations)
        lexical = self.kb.lexical
        weights = {t: lexical.idf(t) or lexical.unseen_idf() for t in tokenize(query.focus or query.text)}
        return dataclasses.replace(query, weights=tuple(weights.items()))

    def _find(self, query: Query, doc_ids: set[str] | None) -> Found:
        if not query.text:
            return Found((), refusal="请直接输入您想咨询的政策问题，例如“江苏有哪些文化产业基金可以用？”。")
        # "我是深圳的一家动漫企业（，有哪些政策可以申请？）" asks which measures apply; a story that ends in a specific
        # question ("…能不能纳入科技计划支持？") asks that question.
        if self.kb.measures and PROFILE.search(query.text) and asks_in_general(plain(profile_question(query.text))):
            return Found((), intent="profile")
        if self.kb.measures and is_comparison(query, self.kb):
            return Found((), intent="compare")
        if is_vague(query) or names_only_places(query):
            return Found((), intent="clarify")
        retrieved = tuple(self._search(query, doc_ids))
        if query.about_document and (doc := self._document_of(query, retrieved)) is not None:
            return Found(retrieved, intent="facts", doc_id=doc.doc_id)
        section = find_section(self.kb, query, doc_ids)
        if section is not None:
            return Found(retrieved, section=section.clause_id)
        limit = self.settings.llm_context_clauses if self.model is not None else self.settings.max_answer_clauses
        decision = decide(self.kb, query, retrieved, limit, self.answerability)
        # A question the chosen scope does not answer clearly may be answered outside it: say so instead.
        elsewhere = self._elsewhere(query, doc_ids) if decision.outcome is not Outcome.ANSWER else ""
        if decision.outcome is Outcome.REFUSE or elsewhere:
            reason = decision.reason or not_found(self.kb, query)
            if elsewhere and doc_ids is not None:
                reason = f"当前查询范围内的文件中没有找到与“{query.asked}”相关的规定。"
            return Found(retrieved, refusal=reason + elsewhere)
        return Found(retrieved, decision.evidence, intent="related" if decision.outcome is Outcome.RELATED else None)

    def _referenced(self, question: str, history: Sequence[str], query: Query,
                    doc_ids: set[str] | None) -> Found | None:
        """Return the clause a question points at by number: the n-th item of the previous answer ("第二条具体
        说说"), else the clause numbered so in the documents asked about ("深圳措施第十四条"); None otherwise."""
        ref = reference(to_simplified(question))
        if ref is None:
            return None
        if history and not ref.is_part:
            earlier = self.ask(history[-1], history[:-1], doc_ids)
            if len(earlier.citations) >= ref.number > 0 and earlier.outcome in ("answer", "related"):
                return Found(earlier.retrieved, section=earlier.citations[ref.number - 1].clause_id)
        regional = region_boosts(self.kb, query)
        forms = label_forms(ref)
        matches = [c for c in self.kb.clauses_labelled(forms) if applies(regional, self.kb.docs[c.doc_id])
                   and (doc_ids is None or c.doc_id in doc_ids)]
        # The named region's own document first; a reference must be unambiguous to be followed.
        matches.sort(key=lambda c: -regional.get(c.doc_id, 1.0))
        if len(matches) == 1 or (len(matches) > 1 and regional.get(matches[0].doc_id, 1.0) >
                                 regional.get(matches[1].doc_id, 1.0)):
            return Found((), section=matches[0].clause_id)
        return None

    def _document_of(self, query: Query, retrieved: Sequence[ScoredClause]) -> PolicyDoc | None:
        """Return the document a question about a document means: the named region's own, else the best ranked
        one; None when the document's own lines state none of the facts asked for."""
        regional = region_boosts(self.kb, query)
        own = [d for d, boost in regional.items() if boost == max(regional.values())]
        doc = self.kb.docs[own[0]] if len(own) == 1 else retrieved[0].doc if retrieved else None
        if doc is None or not names_document(self.kb, query, doc):
            return None
        return doc if document_facts(self.kb, query, "", doc, ()) is not None else None

    def _search(self, query: Query, doc_ids: set[str] | None = None) -> list[ScoredClause]:
        """Return the retrieved clauses, reordered by the reranker when one is configured, best first."""
        found = self.retriever.search(query, doc_ids)
        if self.reranker is not None:
            found = self.reranker.rerank(query, found)
        return found[: self.settings.top_k]

    def _elsewhere(self, query: Query, doc_ids: set[str] | None) -> str:
        """Return, for a question not answered within its scope or named region, which document outside them
        answers it (or "")."""
        if doc_ids is None and not query.regions:
            return ""
        # Outside a chosen scope the places the question names still hold ("江苏……" asked with 深圳 chosen looks in
        # Jiangsu's documents); without a scope, the named place is what is lifted.
        anywhere = query if doc_ids is not None else dataclasses.replace(query, regions=())
        decision = decide(self.kb, anywhere, self._search(anywhere), 1, self.answerability)
        if decision.outcome is not Outcome.ANSWER:
            return ""
        doc = decision.evidence[0].doc
        if doc_ids is not None and doc.doc_id in doc_ids:
            return ""
        if doc_ids is None:
            applies = region_boosts(self.kb, query)
            if doc.doc_id in applies or not doc.region:
                return ""
            return f"{doc.region}的文件中有相关规定（《{doc.title}》），如需参考，可以直接问“{doc.region}……”。"
        where = f"{doc.region}的《{doc.title}》" if doc.region else f"《{doc.title}》"
        return f"当前查询范围之外，{where}中有相关规定，可将查询范围改为“全部文件”后再问。"

    def _compose(self, query: Query, found: Found, question: str) -> Answer:
        """Return the answer that needs no answerer: a checklist, a comparison, a section listing, a refusal."""
        if found.intent == "profile":
            answer = checklist_answer(self.kb, query, question, parse_profile(query.text))
        elif found.intent == "compare":
            answer = comparison_answer(self.kb, query, question)
        elif found.intent == "clarify":
            examples = suggest(self.kb, example_clauses(self.kb, query), self._answerable)
            answer = clarify_answer(self.kb, query, question, examples)
        elif found.intent == "facts":
            # The document was chosen (and shown to state a fact asked for) when the question was planned.
            facts = document_facts(self.kb, query, question, self.kb.docs[found.doc_id or ""], found.retrieved)
            answer = facts or refusal(query, question, self.kb.docs.values(), not_found(self.kb, query),
                                      found.retrieved)
        elif found.intent == "related":
            answer = related_answer(query, question, found.evidence, found.retrieved)
        elif found.section is not None:
            section = self.kb.clauses[found.section]
            show = overview_answer if section.children else clause_answer
            answer = show(self.kb, query, question, section, found.retrieved)
        elif found.refusal is not None or not found.evidence:
            ideas = suggest(self.kb, found.retrieved, self._answerable)
            answer = refusal(query, question, self.kb.docs.values(), found.refusal or "", found.retrieved, ideas)
        else:
            answer = self.answerer.answer(query, question, found.evidence, found.retrieved)
        return answer

    def _finalise(self, answer: Answer, query: Query, found: Found, question: str) -> Answer:
        """Return the answer with notices (truncation, a province answering for its city) in the user's script."""
        notices = []
        if query.truncated:
            notices.append(f"问题过长，仅按开头和结尾共 {MAX_QUESTION_CHARS} 个字回答。")
        if query.injected:
            notices.append("问题中要求改变助手规则的内容已忽略，仅回答其中的政策问题。")
        if answer.answerable and found.evidence:
            cited = {s.doc.region for s in found.evidence}
            broader = [r for r in query.regions if r.name not in cited and r.province in cited]
            notices += [f"已收录的{r.name}文件中没有直接规定，以下为{r.province}的相关规定。" for r in broader]
        cited_docs = dict.fromkeys(c.doc_id for c in answer.citations)
        warnings = validity_notes((self.kb.docs[d] for d in cited_docs), self.settings.current_date)
        return dataclasses.replace(
            answer, parts=(*map(Notice, notices), *answer.parts, *map(Notice, warnings)),
            traditional=is_traditional(question))

    def _answerable(self, question: str) -> bool:
        """Return True when a question would be answered (used to vet suggestions); remembered."""
        # An assistant serves one index generation for its life (a rebuild opens a new Assistant), and a
        # generation never changes, so a verdict holds: a refusal re-vets no suggestion already vetted.
        with self._vetted_lock:
            known = self._vetted.get(question)
        if known is not None:
            return known
        query = parse_query(question, self.speller, self.abbreviations)
        verdict = decide(self.kb, query, self._search(query), 1, self.answerability).outcome is Outcome.ANSWER
        with self._vetted_lock:
            if len(self._vetted) >= MAX_VETTED_SUGGESTIONS:
                del self._vetted[next(iter(self._vetted))]  # the oldest verdict
            self._vetted[question] = verdict
        return verdict
