"""The dev-set metrics, vendored from shared/eval/score.py with identical definitions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any


def norm(s: str | None) -> str:
    """Return the text without whitespace."""
    return re.sub(r"\s+", "", s or "")


def rank(items: list[dict], anchors: list[str], k: int) -> int | None:
    """Return the 1-based rank of the first item containing an anchor within the top k."""
    for i, it in enumerate(items[:k], 1):
        t = norm(it.get("text", ""))
        if any(a in t for a in anchors):
            return i
    return None


def within_budget(items: list[dict], anchors: list[str], budget: int) -> bool:
    """Return True when a gold anchor lies wholly inside the first `budget` characters of ranked context."""
    used = 0
    for it in items:
        t = norm(it.get("text", ""))
        for a in anchors:
            p = t.find(a)
            if p >= 0 and used + p + len(a) <= budget:
                return True
        used += len(t)
        if used >= budget:
            return False
    return False


def score(gold: Iterable[dict], answers: Iterable[Mapping[str, Any]],
          budget: int = 1200) -> dict[str, float | int | None]:
    """Return the metrics of answers against gold records."""
    by_id = {a["id"]: a for a in answers}
    n_ans = n_out = rb = 0
    r1 = r5 = r10 = cite_ok = cite_any = false_refusal = contains_ok = contains_n = refused_ok = 0
    mrr = 0.0
    missing = []
    for g in gold:
        a = by_id.get(g["id"])
        if a is None:
            missing.append(g["id"])
            a = {"answer": "", "answerable": None, "citations": [], "retrieved": []}
        if g["answerable"]:
            n_ans += 1
            anchors = [norm(x["anchor"]) for x in g["gold"]]
            r = rank(a.get("retrieved", []), anchors, 10)
            rb += within_budget(a.get("retrieved", []), anchors, budget)
            if r:
                mrr += 1 / r
                r10 += 1
                r5 += r <= 5
                r1 += r == 1
            cites = a.get("citations", [])
            if cites:
                cite_any += 1
                if any(any(x in norm(c.get("text", "")) for x in anchors) for c in cites):
                    cite_ok += 1
            if a.get("answerable") is False:
                false_refusal += 1
            if g.get("answer_must_contain"):
                contains_n += 1
                if all(norm(x) in norm(a.get("answer", "")) for x in g["answer_must_contain"]):
                    contains_ok += 1
        else:
            n_out += 1
            if a.get("answerable") is False and not a.get("citations"):
                refused_ok += 1

    def f(x: float, n: int) -> float | None:
        return round(x / n, 3) if n else None

    return {
        "answerable": n_ans, "out_of_scope": n_out, "missing": len(missing),
        "recall@1": f(r1, n_ans), "recall@5": f(r5, n_ans), "recall@10": f(r10, n_ans), "mrr@10": f(mrr, n_ans),
        f"recall@{budget}c": f(rb, n_ans),
        "citation_acc": f(cite_ok, n_ans), "false_refusal": f(false_refusal, n_ans),
        "refusal_acc": f(refused_ok, n_out), "answer_contains": f(contains_ok, contains_n),
    }
