"""The answerer contract: every intent has one answerer, and every answerer, given a plan, cites only clauses of
the plan (its evidence or its ranked clauses); the assistant stamps what the plan knows onto the answer."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import TypeAdapter

import qa.answer.checklist
from qa.answer.base import Answerer
from qa.answer.checklist import Checklists
from qa.answer.extractive import ExtractiveAnswerer
from qa.answer.llm.answerer import LLMAnswerer
from qa.answer.registry import answerers
from qa.assistant import Assistant
from qa.decide.intent import Intent
from qa.decide.relevance import TOPIC_PRESENT
from qa.plan import Plan
from qa.records import Answer, Outcome
from qa.render.plain import plain_text
from qa.render.record import answer_json
from qa.service.loader import open_assistant
from qa.settings import Settings
from qa.surfaces.http.schemas import AskResponse
from tests.conftest import CORPUS

# A question of every intent, as the lexical-only index plans it, and what its answer is.
CASES = [
    (Intent.COURTESY, "谢谢", (), Outcome.COURTESY),
    (Intent.PROFILE, "我是深圳的一家动漫企业，有哪些政策可以申请？", (), Outcome.ANSWER),
    (Intent.COMPARE, "广东和江苏在金融支持上有什么不同？", (), Outcome.ANSWER),
    (Intent.CLARIFY, "有钱拿吗", (), Outcome.CLARIFY),
    (Intent.FACTS, "江苏这个政策是哪几个部门一起出的", (), Outcome.ANSWER),
    (Intent.SECTION, "广东的保障措施有哪些？", (), Outcome.ANSWER),
    (Intent.SECTION, "深圳措施第十四条", (), Outcome.ANSWER),
    (Intent.ANSWER, "江苏有哪些文化产业基金可以用？", (), Outcome.ANSWER),
    (Intent.RELATED, "深圳支持电竞比赛吗", (), Outcome.RELATED),
    (Intent.REFUSE, "怎么办理护照？", (), Outcome.REFUSE),
    (Intent.REFUSE, "！！！", (), Outcome.REFUSE),
]


@pytest.fixture(scope="module")
def lexical(lexical_index: Path) -> Assistant:
    """Return an assistant over the lexical-only index: planning and answering need no dense vectors."""
    return open_assistant(Settings(corpus_dir=CORPUS, index_dir=lexical_index, embedding_backend="none"),
                          build_if_missing=False)


def cited_within(answer: Answer, plan: Plan) -> bool:
    """Return True when every clause the answer cites is among the plan's evidence or ranked clauses."""
    allowed = {s.clause.clause_id for s in (*plan.evidence, *plan.retrieved)}
    return all(c.clause_id in allowed for c in answer.citations)


def test_every_intent_has_exactly_one_answerer(lexical: Assistant) -> None:
    registry = answerers(lexical.kb, ExtractiveAnswerer(), lambda question: True, Checklists(lexical.kb))
    assert list(registry) == list(Intent)
    assert all(isinstance(a, Answerer) for a in registry.values())
    assert {intent for intent, *_ in CASES} == set(Intent), "every intent has a question in the contract"


@pytest.mark.parametrize(("intent", "question", "history", "outcome"), CASES, ids=lambda c: getattr(c, "name", None))
def test_an_answerer_cites_only_the_clauses_of_its_plan(lexical: Assistant, intent: Intent, question: str,
                                                        history: tuple[str, ...], outcome: Outcome) -> None:
    plan = lexical.plan(question, history)
    assert plan.intent is intent
    answer = lexical.answerers[intent].answer(plan)
    assert cited_within(answer, plan), [c.clause_id for c in answer.citations]
    assert bool(answer.citations) is (outcome in (Outcome.ANSWER, Outcome.RELATED))
    # The assistant stamps the question, the ranked clauses and the outcome once, whatever the answerer.
    stamped = lexical.ask(question, history)
    assert (stamped.question, stamped.retrieved, stamped.outcome) == (question, plan.retrieved, outcome)
    assert stamped.answerable is (outcome in (Outcome.ANSWER, Outcome.RELATED))
    # The JSON keeps its words: the API schema validates every outcome.
    assert TypeAdapter(AskResponse).validate_python(answer_json(stamped))["outcome"] == outcome.value


@pytest.mark.parametrize("reply", ["江苏设立了文化产业基金[C1]。另见[C9]。", "无法回答"])
def test_the_llm_answerer_cites_only_its_evidence(lexical: Assistant, reply: str) -> None:
    """A model's citation of a clause it was not given is dropped; a model that cannot answer falls back to quotes."""
    plan = lexical.plan("江苏有哪些文化产业基金可以用？")
    answer = LLMAnswerer(FakeListChatModel(responses=[reply]), ExtractiveAnswerer()).answer(plan)
    assert answer.citations and cited_within(answer, plan)


def test_the_json_outcome_is_a_plain_word() -> None:
    """`outcome` is emitted as the enum's word (a str, as before the enum), `answerable` as a bool."""
    record = answer_json(Answer(outcome=Outcome.CLARIFY))
    assert json.loads(json.dumps(record))["outcome"] == "clarify" and record["answerable"] is False


def test_related_clauses_that_hold_the_topic_are_not_introduced_as_nothing_found(lexical: Assistant) -> None:
    """"没有找到明确规定" is said only when the best related clause lacks the question's topic: one that holds it
    ("深圳给钱吗" and 专项资金) is introduced as related to what was asked."""
    plan = lexical.plan("深圳支持电竞比赛吗")
    assert plan.intent is Intent.RELATED and plan.evidence[0].coverage < TOPIC_PRESENT
    assert plain_text(lexical.answerers[Intent.RELATED].answer(plan)).startswith("没有找到明确规定")
    held = dataclasses.replace(plan, evidence=(dataclasses.replace(plan.evidence[0], coverage=1.0),
                                               *plan.evidence[1:]))
    text = plain_text(lexical.answerers[Intent.RELATED].answer(held))
    assert "没有找到" not in text and text.startswith("以下条款与您问的内容有关")


def test_a_profile_plan_holds_only_the_clauses_its_checklist_cites(lexical: Assistant) -> None:
    """A profile's evidence is what its checklist cites, not every applicable measure's clause and document (at a
    million clauses ~a quarter of the measures, read and held for the question)."""
    question = "我是深圳一家做动漫的小企业，有哪些政策可以申请？"
    plan = lexical.plan(question)
    answer = lexical.answerers[Intent.PROFILE].answer(plan)
    assert plan.intent is Intent.PROFILE and answer.citations
    assert [s.clause.clause_id for s in plan.evidence] == [c.clause_id for c in answer.citations]


def test_a_profile_question_makes_its_checklist_once(lexical: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan's evidence and the answer come from one checklist (at a million clauses each took ~10 s)."""
    made = []
    real = qa.answer.checklist.checklist_answer

    def counted(*args: object) -> Answer:
        made.append(args)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(qa.answer.checklist, "checklist_answer", counted)
    answer = lexical.ask("我是江苏一家做游戏的小企业，能享受哪些扶持？")
    assert answer.citations and len(made) == 1
