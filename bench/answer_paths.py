"""Answer paths that read many records (profile checklist, comparison, clarify, clause reference, section listing):
milliseconds per question (first and median of 3) and RSS, on a built index, lexical-only.

`python -m bench.answer_paths CORPUS INDEX` prints one JSON line; run it once per code version to compare.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bench.scale import memory_mb
from qa.service.loader import open_assistant
from qa.settings import Settings

QUESTIONS = {
    "profile": "我是深圳的一家动漫中小企业，能申请哪些支持？",
    "compare": "江苏和广东的文化科技政策有什么不同？",
    "clarify": "有什么政策？",
    "reference": "深圳措施第十四条",
    "listing": "广东的保障措施有哪些？",
    "retrieval": "江苏有哪些文化产业基金可以用？",
}


def main() -> None:
    """Open the index, ask each question three times and print the timings as JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", type=Path)
    p.add_argument("index", type=Path)
    args = p.parse_args()
    started = time.perf_counter()
    settings = Settings(corpus_dir=args.corpus, index_dir=args.index, embedding_backend="none")
    assistant = open_assistant(settings, build_if_missing=False)
    out: dict[str, object] = {"open_s": time.perf_counter() - started, "rss_open_mb": memory_mb()["rss_mb"]}
    for name, question in QUESTIONS.items():
        times = []
        for _ in range(3):
            t = time.perf_counter()
            answer = assistant.ask(question)
            times.append((time.perf_counter() - t) * 1000)
        out[name] = {"ms_first": times[0], "ms_median": statistics.median(times), "outcome": answer.outcome}
    out["rss_end_mb"] = memory_mb()["rss_mb"]
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
