"""Precision and recall of measure extraction against hand-labelled clauses."""

from __future__ import annotations

from collections.abc import Iterable

from index.records import Measure
from index.store import KnowledgeBase

FIELDS = ("types", "beneficiaries", "industries", "targets")


def _values(measure: Measure, field: str) -> set[str]:
    if field == "targets":
        return {f"{t.value:g}{t.unit}{t.qualifier}" for t in measure.targets}
    return set(getattr(measure, field))


def evaluate(kb: KnowledgeBase, labelled: Iterable[dict]) -> dict[str, dict[str, float]]:
    """Return micro-averaged precision, recall and F1 per field over the labelled clauses."""
    by_key = {(m.doc_id.split("-")[0], m.label): m for m in kb.measures}
    counts = {f: [0, 0, 0] for f in FIELDS}  # true positives, predicted, gold
    for item in labelled:
        measure = by_key.get((item["doc"], item["clause"]))
        for field in FIELDS:
            if field not in item:
                continue
            # Targets compare by value, unit and qualifier ("12家左右"); a repeated target counts once.
            gold = set(item[field])
            got = _values(measure, field) if measure else set()
            counts[field][0] += len(gold & got)
            counts[field][1] += len(got)
            counts[field][2] += len(gold)
    out = {}
    for field, (tp, predicted, gold_n) in counts.items():
        p = tp / predicted if predicted else 1.0
        r = tp / gold_n if gold_n else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        out[field] = {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f1, 3), "labelled": gold_n}
    return out
