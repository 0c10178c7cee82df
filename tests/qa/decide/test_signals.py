"""The signals answerability is judged from are a record, read by the fitted models by name."""

from __future__ import annotations

import pytest

from qa.decide.answerability import Signals, models


@pytest.mark.parametrize("family", ["e5", "static", "none"])
def test_a_model_reads_the_signals_it_was_fitted_on(family: str) -> None:
    """More of the topic found makes an answer likelier, a place the corpus lacks less likely; a model fitted
    without the dense signal ignores it."""
    model = models()[family]
    low, high = Signals(dense=0.8, coverage=0.2), Signals(dense=0.8, coverage=0.9)
    assert model.probability(high) > model.probability(low)
    assert model.probability(Signals(dense=0.8, coverage=0.9, region_miss=1.0)) < model.probability(high)
    ignores_dense = model.probability(Signals(coverage=0.9)) == model.probability(high)
    assert ignores_dense is ("dense" not in model.features)
