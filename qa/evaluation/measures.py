"""Precision and recall of measure extraction against hand-labelled clauses."""

from __future__ import annotations

from collections.abc import Iterable

from index.knowledge import KnowledgeBase
from index.lang.terms import OTHER
from index.records import Measure

FIELDS = ("measure", "types", "beneficiaries", "industries", "targets")


def _values(measure: Measure | None, field: str) -> set[str]:
    if measure is None:
        return set()
    if field == "targets":
        return {f"{t.value:g}{t.unit}{t.qualifier}" for t in measure.targets}
    if not measure.grants:
        return set()
    # 其他 says no type was found; it is not a value to be right or wrong about.
    return set(getattr(measure, field)) - {OTHER}


def evaluate(kb: KnowledgeBase, labelled: Iterable[dict]) -> dict[str, dict[str, float]]:
    """Return micro-averaged precision, recall and F1 per field over the labelled clauses.

    `measure` scores telling measures from clauses that grant nothing; types, beneficiaries and industries are
    scored on the clauses labelled as measures; targets on every clause that lists them."""
    by_key = {(m.doc_id.split("-")[0], m.label): m for m in kb.measures}
    counts = {f: [0, 0, 0] for f in FIELDS}  # true positives, predicted, gold
    for item in labelled:
        measure = by_key.get((item["doc"], item["clause"]))
        is_measure = item.get("measure", True)
        found = measure is not None and measure.grants
        counts["measure"][0] += int(is_measure and found)
        counts["measure"][1] += int(found)
        counts["measure"][2] += int(is_measure)
        for field in FIELDS[1:]:
            if field not in item or (field != "targets" and not is_measure):
                continue
            # Targets compare by value, unit and qualifier ("12家左右"); a repeated target counts once.
            gold = set(item[field])
            got = _values(measure, field)
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
