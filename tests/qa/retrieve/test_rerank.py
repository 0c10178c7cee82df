"""The reranker slot: a local cross-encoder (QA_RERANKER_MODEL) reorders the candidates; contract-tested with a
tiny cross-encoder the test builds itself."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sentence_transformers import CrossEncoder

from index.store import open_index
from qa.assistant import Assistant
from qa.records import ScoredClause
from qa.retrieve.rerank import Reranker, load_reranker
from qa.retrieve.rerank.base import passage
from qa.retrieve.rerank.cross_encoder import CrossEncoderReranker
from qa.settings import Settings
from qa.understand.query import parse_query
from tests.conftest import CORPUS
from tests.stubs import HashingEmbeddings
from tests.tiny_models import build_tiny_cross_encoder

QUESTION = "江苏有哪些文化产业基金可以用？"


@pytest.fixture(scope="module")
def tiny_reranker_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the folder of a tiny random cross-encoder built offline with a fixed seed."""
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("ce") / "tiny-cross-encoder")


@pytest.fixture(scope="module")
def candidates(stub_assistant: Assistant) -> list[ScoredClause]:
    """Return the fused candidates of a question over the bundled corpus."""
    found = stub_assistant.retriever.search(parse_query(QUESTION))
    assert len(found) >= 5
    return found


class RerankerContract:
    """What every reranker must do; subclasses provide `reranker`."""

    @pytest.fixture
    def reranker(self) -> Reranker:
        raise NotImplementedError

    def test_returns_the_same_candidates(self, reranker: Reranker, candidates: list[ScoredClause]) -> None:
        """Reranking reorders; it neither drops nor adds a candidate."""
        out = reranker.rerank(parse_query(QUESTION), candidates)
        assert sorted(s.clause.clause_id for s in out) == sorted(s.clause.clause_id for s in candidates)

    def test_orders_by_its_own_scores(self, reranker: Reranker, candidates: list[ScoredClause]) -> None:
        """The order is the reranker's scores, best first."""
        query = parse_query(QUESTION)
        scores = dict(zip((s.clause.clause_id for s in candidates), reranker.scores(query, candidates), strict=True))
        out = [scores[s.clause.clause_id] for s in reranker.rerank(query, candidates)]
        assert out == sorted(out, reverse=True)

    def test_nothing_to_rerank(self, reranker: Reranker) -> None:
        """No candidates give no result, not an error."""
        assert reranker.rerank(parse_query(QUESTION), []) == []


class TestCrossEncoderReranker(RerankerContract):
    """A local sentence-transformers CrossEncoder."""

    @pytest.fixture
    def reranker(self, tiny_reranker_path: Path) -> Reranker:
        return CrossEncoderReranker(str(tiny_reranker_path))

    def test_scores_are_the_models_own(self, reranker: Reranker, tiny_reranker_path: Path,
                                       candidates: list[ScoredClause]) -> None:
        """The scores are what the cross-encoder itself predicts for (question, clause) pairs."""
        query = parse_query(QUESTION)
        direct = CrossEncoder(str(tiny_reranker_path), device="cpu").predict(
            [(query.focus, passage(c)) for c in candidates])
        assert reranker.scores(query, candidates) == pytest.approx([float(x) for x in direct], abs=1e-5)


def test_assistant_uses_the_configured_reranker(stub_index: Path, tiny_reranker_path: Path) -> None:
    """With QA_RERANKER_MODEL set, the retrieved clauses come in the cross-encoder's order."""
    settings = Settings(corpus_dir=CORPUS, index_dir=stub_index, reranker_model=str(tiny_reranker_path))
    embedder = HashingEmbeddings()
    assistant = Assistant(settings, open_index(stub_index, embedder), embedder)
    assert assistant.reranker is not None
    answer = assistant.ask(QUESTION)
    query = parse_query(QUESTION, assistant.speller)
    pool = assistant.retriever.search(query)
    expected = [s.clause.clause_id for s in assistant.reranker.rerank(query, pool)][: settings.top_k]
    assert [s.clause.clause_id for s in answer.retrieved] == expected
    fused = [s.clause.clause_id for s in pool][: settings.top_k]
    assert expected != fused  # a random cross-encoder reorders: the test would notice the reranker being skipped
    # The langchain retriever is the same stage: reranked and cut to top_k.
    assert [d.id for d in assistant.as_retriever().invoke(QUESTION)] == expected


def test_missing_reranker_model_warns_once_and_keeps_the_fused_order(caplog: pytest.LogCaptureFixture) -> None:
    """A model path that does not load gives one warning and no reranker, not a failure."""
    caplog.set_level(logging.WARNING)
    assert load_reranker("/nonexistent/reranker") is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "/nonexistent/reranker" in warnings[0]
