"""The signals answerability is judged from are a record, read by the fitted models by name."""

from __future__ import annotations

import statistics

import pytest

from qa.assistant import Assistant
from qa.decide.answerability import (
    REFERENCE_SAMPLE,
    Signals,
    dense_reference,
    models,
    probes,
    reference_chunks,
    signals,
)


@pytest.mark.parametrize("family", ["e5", "static", "none"])
def test_a_model_reads_the_signals_it_was_fitted_on(family: str) -> None:
    """More of the topic found makes an answer likelier, a place the corpus lacks less likely; a model fitted
    without the dense signal ignores it."""
    model = models()[family]
    low, high = Signals(dense=0.03, coverage=0.2), Signals(dense=0.03, coverage=0.9)
    assert model.probability(high) > model.probability(low)
    assert model.probability(Signals(dense=0.03, coverage=0.9, region_miss=1.0)) < model.probability(high)
    ignores_dense = model.probability(Signals(coverage=0.9)) == model.probability(high)
    assert ignores_dense is ("dense" not in model.features)


def test_closeness_is_read_against_what_an_unrelated_question_reaches(stub_assistant: Assistant) -> None:
    """The dense signal is the best clause's cosine less the median best cosine of the everyday probe questions over
    a sample of the same corpus (all of this small one), so corpora where everything is a little closer are judged
    alike."""
    kb = stub_assistant.kb
    assert kb.dense is not None
    assert len(reference_chunks(kb)) == len(kb.chunks) < REFERENCE_SAMPLE
    best = [kb.dense.nearest(kb.dense.vector(q), 1)[0][1] for q in probes()]
    assert len(best) >= 50
    assert dense_reference(kb) == pytest.approx(statistics.median(best))
    query = stub_assistant.understand("江苏有哪些文化产业基金可以用？")
    retrieved = stub_assistant._search(query)
    top = max(s.dense for s in retrieved[:5])
    assert signals(kb, query, retrieved).dense == pytest.approx(top - dense_reference(kb))
