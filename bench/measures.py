"""Measure extraction quality (precision/recall per field): the bundled documents, and held-out documents."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from bench.report import ROOT, append
from index.build import build_index
from index.store import open_index
from qa.evaluation.measures import evaluate
from qa.settings import Settings

DATA = ROOT / "tests" / "data"
# (name, corpus, labels): the bundled corpus, whose clauses the vocabulary was tuned on, and documents that are
# not bundled, labelled before the vocabulary was last changed and never used to tune it.
SETS = (
    ("bundled (tuning set)", ROOT / "data" / "policies", DATA / "measures_labelled.json"),
    ("held-out documents", DATA / "measure_docs", DATA / "measures_heldout.json"),
)


def scores(corpus: Path, labels: Path) -> tuple[int, dict[str, dict[str, float]]]:
    """Build a corpus (lexical only) and return the number of labelled clauses and the scores per field."""
    labelled = json.loads(labels.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(corpus_dir=corpus, index_dir=Path(tmp), embedding_backend="none")
        build_index(settings.build_config, None, progress=False)
        return len(labelled), evaluate(open_index(settings.index_dir, None), labelled)


def main() -> None:
    """Evaluate extraction on both sets and append the table."""
    rows = ["| set | field | precision | recall | F1 | labelled values |", "|---|---|---|---|---|---|"]
    for name, corpus, labels in SETS:
        n, result = scores(corpus, labels)
        rows += [f"| {name}, {n} clauses | {f} | {s['precision']} | {s['recall']} | {s['f1']} | {s['labelled']:g} |"
                 for f, s in result.items()]
    note = ("\n\n`measure` is telling a measure from a clause that grants nothing (指导思想, 主要目标, 工作机制, "
            "施行日期): labelled values are the clauses labelled as measures. Types, beneficiaries and industries "
            "are scored on those; targets (value+unit+qualifier, e.g. 12家左右) on every clause that lists them, "
            "so a subsidy amount taken for a target counts against precision. Labels: "
            "`tests/data/measures_labelled.json` (bundled) and `tests/data/measures_heldout.json` (the documents "
            "in `tests/data/measure_docs/`); how they were written is in `docs/benchmarks.md` under "
            "\"Measure extraction: labels\".")
    append("Measure extraction", "\n".join(rows) + note)


if __name__ == "__main__":
    main()
