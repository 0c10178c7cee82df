"""The assistant: condense the question -> plan (intent, retrieve, decide) -> the intent's answerer -> stamp."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from index.embedding import PolicyEmbeddings
from index.knowledge import KnowledgeBase
from index.lang.regions import gazetteer
from index.lang.script import is_traditional, to_simplified
from index.lang.tokens import frequency, segment, tokenize
from index.records import PolicyDoc
from qa.answer.base import Answerer
from qa.answer.checklist import Checklists
from qa.answer.comparison import comparison_evidence
from qa.answer.courtesy import courtesy_answer
from qa.answer.extractive import ExtractiveAnswerer
from qa.answer.facts import facts_evidence, names_document
from qa.answer.overview import section_evidence
from qa.answer.registry import answerers
from qa.decide.answerability import model_for
from qa.decide.intent import Intent, intent_of
from qa.decide.relevance import EXAMPLE, decide, not_found
from qa.decide.validity import validity_notes
from qa.plan import Plan
from qa.records import Answer, Notice, Outcome, ScoredClause
from qa.retrieve.hybrid import HybridRetriever, applies, region_boosts
from qa.retrieve.rerank import load_reranker
from qa.settings import Settings
from qa.understand.abbreviation import Abbreviations
from qa.understand.asks import Ask, ask_of
from qa.understand.query import MAX_QUESTION_CHARS, Query, encodable, parse_query
from qa.understand.references import label_forms, reference
from qa.understand.rewrite import condense_with_llm, rewrite
from qa.understand.spelling import Speller

if TYPE_CHECKING:
    from qa.retrieve.langchain import PolicyRetriever

# Suggestion verdicts an assistant remembers, oldest dropped first: the candidates are a fixed set (headed
# clauses), but a large corpus has many of them.
MAX_VETTED_SUGGESTIONS = 4096


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
        self.checklists = Checklists(kb)
        self.answerers = answerers(kb, answerer or extractive, self._answerable, self.checklists)
        self._vetted: dict[str, bool] = {}  # suggestion -> answerable, for this knowledge base
        self._vetted_lock = threading.Lock()

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
        plan = self.plan(question, history, doc_ids)
        for part in self.answerers[plan.intent].stream(plan):
            yield self._stamp(part, plan) if isinstance(part, Answer) else part

    def plan(self, question: str, history: Sequence[str] = (), doc_ids: set[str] | None = None) -> Plan:
        """Return what to do with a question and what to answer it from."""
        # "谢谢" after an answer is not a follow-up to it: it gets a polite reply, no search.
        if courtesy_answer(to_simplified(question)) is not None:
            return Plan(Intent.COURTESY, question, Query("", (), False))
        query = self.understand(question, history)
        return self._referenced(question, history, query, doc_ids) or self._find(question, query, doc_ids)

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
        merged = text or rewrite(question, earlier)
        query = parse_query(merged, self.speller, self.abbreviations)
        if earlier and merged != question:
            # A follow-up is merged with the question before it ("……补贴多少，去哪申请"): what it asks is its own,
            # and, when the earlier question's topic was carried over, so are the words it adds.
            own_words = tokenize(question)
            carried = any(len(t) > 1 and t not in own_words and gazetteer().get(t) is None for t in query.tokens)
            query = dataclasses.replace(query, stressed=tuple(own_words) if carried else ())
            if (own := ask_of(question)) is not Ask.GENERAL:
                query = dataclasses.replace(query, ask=own)
        lexical = self.kb.lexical
        weights = {t: lexical.idf(t) or lexical.unseen_idf() for t in query.tokens}
        return dataclasses.replace(query, weights=tuple(weights.items()))

    def _find(self, question: str, query: Query, doc_ids: set[str] | None) -> Plan:
        """Return the plan for a question as its intent and the clauses found make it."""
        intent, section = intent_of(self.kb, query, doc_ids)
        if intent is Intent.REFUSE:
            return Plan(intent, question, query, reason=f"请直接输入您想咨询的政策问题，例如“{EXAMPLE}”。")
        if intent is Intent.PROFILE:
            return Plan(intent, question, query, evidence=self.checklists.evidence(query))
        if intent is Intent.COMPARE:
            return Plan(intent, question, query, evidence=comparison_evidence(self.kb, query))
        if intent is Intent.CLARIFY:
            return Plan(intent, question, query)
        retrieved = tuple(self._search(query, doc_ids))
        if intent is Intent.FACTS:
            doc = self._document_of(query, retrieved)
            stating = facts_evidence(self.kb, query, doc) if doc is not None else ()
            if doc is not None and stating:
                # What the answer relies on comes first in the ranked evidence, as it does for every other answer.
                cited = {s.clause.clause_id for s in stating}
                ranked = (*stating, *(s for s in retrieved if s.clause.clause_id not in cited))
                return Plan(intent, question, query, ranked, stating, doc_id=doc.doc_id)
            # The document meant states none of the facts asked for: the question is read for its topic.
            intent, section = intent_of(self.kb, dataclasses.replace(query, about_document=False), doc_ids)
        if intent is Intent.SECTION and section is not None:
            return self._section(question, query, section.clause_id, retrieved)
        limit = self.settings.llm_context_clauses if self.model is not None else self.settings.max_answer_clauses
        decision = decide(self.kb, query, retrieved, limit, self.answerability)
        # A question the chosen scope does not answer clearly may be answered outside it: say so instead. Without a
        # scope, a clause that may answer it in the place asked about is shown ("北京小饭馆房租能减吗" is not sent to
        # Hubei's rent rule), unless what it names is another region's ("深圳的紫金文化产业基金").
        unclear = decision.outcome is Outcome.REFUSE or (decision.outcome is Outcome.RELATED and (
            doc_ids is not None or decision.named_elsewhere))
        elsewhere = self._elsewhere(query, doc_ids) if unclear else ""
        if decision.outcome is Outcome.REFUSE or elsewhere:
            reason = decision.reason or not_found(self.kb, query)
            if elsewhere and doc_ids is not None:
                reason = f"当前查询范围内的文件中没有找到与“{query.asked}”相关的规定。"
            return Plan(Intent.REFUSE, question, query, retrieved, reason=reason + elsewhere)
        intent = Intent.RELATED if decision.outcome is Outcome.RELATED else Intent.ANSWER
        return Plan(intent, question, query, retrieved, decision.evidence)

    def _section(self, question: str, query: Query, clause_id: str, retrieved: tuple[ScoredClause, ...]) -> Plan:
        """Return the plan that lists a section's items, or quotes the one clause referred to."""
        section = self.kb.clauses[clause_id]
        evidence = section_evidence(self.kb, section)
        # The section the answer lists, then its items, come first in the ranked evidence, as what every other
        # answer relies on does ("十大工程包括哪些" is answered by 二、 itself, not by the item ranked first).
        first = [section, *(s.clause for s in evidence if s.clause.clause_id != clause_id)]
        shown = {c.clause_id for c in first}
        best = retrieved[0].score if retrieved else 0.0
        ranked = (*(ScoredClause(c, self.kb.docs[c.doc_id], best) for c in first),
                  *(s for s in retrieved if s.clause.clause_id not in shown))
        return Plan(Intent.SECTION, question, query, ranked, evidence, section=clause_id)

    def _referenced(self, question: str, history: Sequence[str], query: Query,
                    doc_ids: set[str] | None) -> Plan | None:
        """Return the clause a question points at by number: the n-th item of the previous answer ("第二条具体
        说说"), else the clause numbered so in the documents asked about ("深圳措施第十四条"); None otherwise."""
        ref = reference(to_simplified(question))
        if ref is None:
            return None
        if history and not ref.is_part:
            earlier = self.ask(history[-1], history[:-1], doc_ids)
            if len(earlier.citations) >= ref.number > 0 and earlier.answerable:
                return self._section(question, query, earlier.citations[ref.number - 1].clause_id, earlier.retrieved)
        regional = region_boosts(self.kb, query)
        forms = label_forms(ref)
        matches = [c for c in self.kb.clauses_labelled(forms) if applies(regional, self.kb.docs[c.doc_id])
                   and (doc_ids is None or c.doc_id in doc_ids)]
        # The named region's own document first; a reference must be unambiguous to be followed.
        matches.sort(key=lambda c: -regional.get(c.doc_id, 1.0))
        if len(matches) == 1 or (len(matches) > 1 and regional.get(matches[0].doc_id, 1.0) >
                                 regional.get(matches[1].doc_id, 1.0)):
            return self._section(question, query, matches[0].clause_id, ())
        return None

    def _document_of(self, query: Query, retrieved: Sequence[ScoredClause]) -> PolicyDoc | None:
        """Return the document a question about a document means: the named region's own, else the best ranked
        one; None when the question is about something else."""
        regional = region_boosts(self.kb, query)
        own = [d for d, boost in regional.items() if boost == max(regional.values())]
        doc = self.kb.docs[own[0]] if len(own) == 1 else retrieved[0].doc if retrieved else None
        return doc if doc is not None and names_document(self.kb, query, doc) else None

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
        # A clause on the topic elsewhere is named even when it does not state the detail asked for (how to apply).
        if decision.outcome is not Outcome.ANSWER and not decision.unstated:
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

    def _stamp(self, answer: Answer, plan: Plan) -> Answer:
        """Return the answer with what the plan knows (question, query, ranked evidence, outcome) and its notices
        (truncation, a province answering for its city, out-of-date documents), in the user's script."""
        query = plan.query
        notices = []
        if query.truncated:
            notices.append(f"问题过长，仅按开头和结尾共 {MAX_QUESTION_CHARS} 个字回答。")
        if query.injected:
            notices.append("问题中要求改变助手规则的内容已忽略，仅回答其中的政策问题。")
        if plan.intent in (Intent.ANSWER, Intent.RELATED):
            cited = {s.doc.region for s in plan.evidence}
            broader = [r for r in query.regions if r.name not in cited and r.province in cited]
            notices += [f"已收录的{r.name}文件中没有直接规定，以下为{r.province}的相关规定。" for r in broader]
        cited_docs = dict.fromkeys(c.doc_id for c in answer.citations)
        warnings = validity_notes((self.kb.docs[d] for d in cited_docs), self.settings.current_date)
        return dataclasses.replace(
            answer, question=plan.question, query=query.text, retrieved=plan.retrieved,
            outcome=plan.outcome(bool(answer.citations)),
            parts=(*map(Notice, notices), *answer.parts, *map(Notice, warnings)),
            traditional=is_traditional(plan.question))

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
