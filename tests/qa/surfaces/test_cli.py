"""Tests for the command line (`python -m qa`), run as a real subprocess, and for the vendored scorer."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from index.chunking import chunk_document
from index.loading import load_file
from index.parsed import parse_document
from index.store import open_index
from qa.evaluation.metrics import score
from qa.settings import Settings
from tests.conftest import ROOT

CORPUS = ROOT / "data" / "policies"
SHARED_SCORER = ROOT.parent / "shared" / "eval" / "score.py"
COPIED = ("jiangsu-culture-tech-2020.txt", "shenzhen-culture-tech-2012.txt")
SHENZHEN = "shenzhen-culture-tech-2012.txt"
EDIT_FROM, EDIT_TO = "陶瓷、漆器", "陶瓷、玉雕、漆器"
BAD_FILES = {"empty.txt": ("", "文件为空"), "junk.pdf": ("this is not a pdf", "PDF")}
FUND_QUESTION = "江苏有哪些文化产业基金可以用？"
FUND_ANCHOR = "紫金文化产业基金"
METRIC_KEYS = ("recall@1", "recall@5", "citation_acc", "refusal_acc", "false_refusal", "answer_contains")
# Our own questions about the bundled documents; anchors are copied from the documents' text.
GOLD = [
    {"id": "g1", "question": "深圳对文化科技有哪些专项资金支持？", "answerable": True,
     "gold": [{"doc": "SZ", "anchor": "专项资金向文化与科技领域倾斜"}], "answer_must_contain": ["专项资金"]},
    {"id": "g2", "question": "广东如何保护水下文化遗产？", "answerable": True,
     "gold": [{"doc": "GD", "anchor": "高标准建设广东省水下文化遗产保护中心"}], "answer_must_contain": ["水下"]},
    {"id": "g3", "question": "江苏的文化大数据体系怎么建设？", "answerable": True,
     "gold": [{"doc": "JS", "anchor": "率先探索建设物理分散、逻辑集中"}], "answer_must_contain": []},
    {"id": "g4", "history": ["深圳的文化科技人才政策有哪些？"], "question": "那财政上有什么支持？", "answerable": True,
     "gold": [{"doc": "SZ", "anchor": "加大财政对文化科技投入力度"}], "answer_must_contain": []},
    {"id": "g5", "question": "个人所得税怎么申报？", "answerable": False, "gold": [], "answer_must_contain": []},
]
BATCH = [
    {"id": "b1", "question": FUND_QUESTION},
    {"id": "b2", "question": "那财政上有什么支持？", "history": ["深圳的文化科技人才政策有哪些？"]},
    {"id": "b3", "question": "广东如何保护水下文化遗产？"},
]


def run_cli(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m qa` from the project folder, offline, without the developer's QA_* settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    base.update(HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8", **(env or {}))
    return subprocess.run([sys.executable, "-m", "qa", *map(str, args)], cwd=ROOT, env=base, capture_output=True,
                          text=True, encoding="utf-8", timeout=300, check=False)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """Write records as JSON lines and return the path."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    """Return the records of a JSON lines file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def chunk_hashes(corpus: Path) -> dict[str, list[str]]:
    """Return the chunk content hashes of each document of a corpus, as the pipeline computes them."""
    out = {}
    for name in COPIED:
        doc, clauses = parse_document(Path(name).stem, load_file(corpus / name, 10**7))
        out[name] = [c.content_hash for c in chunk_document(doc, clauses, Settings().chunk_chars)]
    return out


def skipped_lines(summary: str) -> dict[str, str]:
    """Return file -> reason of the summary's skipped-file lines."""
    return dict(re.findall(r"^\s*跳过 (\S+)：(.+)$", summary, flags=re.M))


@pytest.fixture(scope="module")
def first_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """Build a corpus of two real documents and two unreadable files; return corpus, index, result."""
    root = tmp_path_factory.mktemp("cli-build")
    corpus, index = root / "corpus", root / "index"
    corpus.mkdir()
    for name in COPIED:
        shutil.copy(CORPUS / name, corpus / name)
    for name, (content, _) in BAD_FILES.items():
        (corpus / name).write_text(content, encoding="utf-8")
    result = run_cli("build", "--corpus", corpus, "--index", index, "--quiet")
    return corpus, index, result


@pytest.mark.subprocess
def test_build_summary_counts_and_skipped(first_build: tuple[Path, Path, subprocess.CompletedProcess[str]]
                                          ) -> None:
    """The first build exits 0 and reports files, clauses, chunks, fresh vectors and each skipped file's reason."""
    corpus, _, result = first_build
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    clauses = sum(len(parse_document(Path(n).stem, load_file(corpus / n, 10**7))[1]) for n in COPIED)
    chunks = sum(map(len, chunk_hashes(corpus).values()))
    assert f"已索引 {len(COPIED)} 个文件，{clauses} 个条款，{chunks} 个检索单元" in result.stdout
    assert f"新计算 {chunks} 个、复用 0 个向量" in result.stdout
    reasons = skipped_lines(result.stdout)
    assert set(reasons) == set(BAD_FILES), result.stdout
    for name, (_, reason) in BAD_FILES.items():
        assert reason in reasons[name], (name, reasons[name])


@pytest.mark.subprocess
def test_rebuild_up_to_date_then_reuses_vectors(
    first_build: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    """An unchanged rebuild says so and publishes nothing; after one edit only the changed clause's chunks are
    embedded."""
    corpus, index, first = first_build
    assert first.returncode == 0, first.stderr
    generations = sorted(p.name for p in index.glob("gen-*"))
    current = (index / "CURRENT").read_text()
    same = run_cli("build", "--corpus", corpus, "--index", index, "--quiet")
    assert same.returncode == 0, same.stderr
    # Behaviour, not speed (speed is in bench/): nothing is parsed, embedded or published again.
    assert re.search(r"索引已是最新：2 个文件，\d+ 个条款", same.stdout), same.stdout
    assert "新计算" not in same.stdout
    assert ((index / "CURRENT").read_text(), sorted(p.name for p in index.glob("gen-*"))) == (current, generations)
    assert set(skipped_lines(same.stdout)) == set(BAD_FILES)

    before = chunk_hashes(corpus)
    doc = corpus / SHENZHEN
    text = doc.read_text(encoding="utf-8")
    assert text.count(EDIT_FROM) == 1
    doc.write_text(text.replace(EDIT_FROM, EDIT_TO), encoding="utf-8")
    after = chunk_hashes(corpus)
    known = {h for hashes in before.values() for h in hashes}
    changed = {h for hashes in after.values() for h in hashes} - known
    total = sum(map(len, after.values()))
    edited = run_cli("build", "--corpus", corpus, "--index", index, "--quiet")
    assert edited.returncode == 0, edited.stderr
    counts = re.search(r"新计算 (\d+) 个、复用 (\d+) 个向量", edited.stdout)
    assert counts, edited.stdout
    assert 0 < len(changed) < total
    assert (int(counts.group(1)), int(counts.group(2))) == (len(changed), total - len(changed))


@pytest.mark.subprocess
def test_ask_json_and_plain(bundled_index: Path) -> None:
    """`ask --json` gives a cited, answerable record; the plain answer is the same text with its 依据《…》 line."""
    as_json = run_cli("ask", FUND_QUESTION, "--json", "--index", bundled_index)
    assert as_json.returncode == 0, as_json.stderr
    record = json.loads(as_json.stdout)
    assert record["answerable"] is True
    assert record["citations"]
    for citation in record["citations"]:
        assert citation["doc_title"] and citation["clause"] and citation["text"]
    assert any(FUND_ANCHOR in c["text"] for c in record["citations"])
    plain = run_cli("ask", FUND_QUESTION, "--index", bundled_index)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.strip() == record["answer"].strip()
    assert FUND_ANCHOR in plain.stdout
    for citation in record["citations"]:
        # 依据《标题》…, or 依据江苏省《标题》… when the title does not name the region.
        assert re.search(rf"依据[^《\n]{{0,8}}《{re.escape(citation['doc_title'])}》", plain.stdout), plain.stdout


@pytest.mark.subprocess
def test_ask_out_of_scope_lists_coverage(bundled_index: Path) -> None:
    """An out-of-scope question is refused without citations, naming every document the knowledge base holds."""
    result = run_cli("ask", "怎么办理护照？", "--json", "--index", bundled_index)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["answerable"] is False and record["citations"] == []
    titles = [d.title for d in open_index(bundled_index, None).docs.values()]
    assert len(titles) == 3
    for title in titles:
        assert f"《{title}》" in record["answer"]


@pytest.mark.subprocess
def test_batch_writes_one_record_per_question(bundled_index: Path, tmp_path: Path) -> None:
    """`batch` writes one record per input line, in order, with ranked evidence and history applied."""
    out = tmp_path / "out.jsonl"
    result = run_cli("batch", write_jsonl(tmp_path / "in.jsonl", BATCH), "-o", out, "--index", bundled_index)
    assert result.returncode == 0, result.stderr
    records = read_jsonl(out)
    assert [r["id"] for r in records] == [q["id"] for q in BATCH]
    for record in records:
        assert {"id", "answer", "answerable", "citations", "retrieved"} <= set(record)
        assert 0 < len(record["retrieved"]) <= 10
        for item in record["retrieved"]:
            assert {"doc_title", "clause", "text", "score"} <= set(item)
        scores = [item["score"] for item in record["retrieved"]]
        assert scores == sorted(scores, reverse=True)
    follow_up = records[1]
    assert "深圳" in follow_up["query"] and follow_up["answerable"] is True
    assert all(c["doc_id"].startswith("shenzhen") for c in follow_up["citations"]), follow_up["citations"]


@pytest.fixture(scope="module")
def eval_run(bundled_index: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[list[dict], list[dict], subprocess.CompletedProcess[str]]:
    """Run `eval` on the hand-written gold file; return gold, the answers written with -o, and the result."""
    folder = tmp_path_factory.mktemp("cli-eval")
    answers = folder / "answers.jsonl"
    result = run_cli("eval", write_jsonl(folder / "gold.jsonl", GOLD), "--index", bundled_index, "-o", answers)
    return GOLD, (read_jsonl(answers) if answers.exists() else []), result


@pytest.mark.subprocess
def test_eval_prints_metrics(eval_run: tuple[list[dict], list[dict], subprocess.CompletedProcess[str]]) -> None:
    """`eval` prints one JSON line of metrics, equal to scoring the answers it wrote."""
    gold, answers, result = eval_run
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    metrics = json.loads(lines[0])
    for key in METRIC_KEYS:
        assert key in metrics
        assert metrics[key] is not None and 0.0 <= metrics[key] <= 1.0, (key, metrics[key])
    assert (metrics["answerable"], metrics["out_of_scope"], metrics["missing"]) == (4, 1, 0)
    assert metrics == score(gold, answers)
    assert metrics["refusal_acc"] == 1.0 and metrics["false_refusal"] == 0.0 and metrics["recall@5"] == 1.0


@pytest.mark.subprocess
@pytest.mark.parametrize(("env", "args", "expected"), [
    pytest.param({}, ("build", "--corpus", "/nonexistent", "--index", "{tmp}/index", "--quiet"),
                 ("文档目录", "/nonexistent", "不存在", "--corpus"), id="missing-corpus"),
    pytest.param({"QA_NOT_A_SETTING": "1"}, ("ask", "x", "--index", "{tmp}/index"),
                 ("未知的配置项", "QA_NOT_A_SETTING", *(f"QA_{n.upper()}" for n in Settings.model_fields)),
                 id="unknown-setting"),
])
def test_user_errors_exit_2_without_traceback(env: dict[str, str], args: tuple[str, ...], expected: tuple[str, ...],
                                              tmp_path: Path) -> None:
    """Errors the user can fix exit with code 2 and a Chinese message on stderr, not a traceback."""
    result = run_cli(*(a.format(tmp=tmp_path) for a in args), env=env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("错误 / error:") or "\n错误 / error:" in result.stderr, result.stderr
    for part in expected:
        assert part in result.stderr, (part, result.stderr)
    assert not (tmp_path / "index").exists()


@pytest.fixture(scope="module")
def shared_scorer() -> ModuleType:
    """Return the shared evaluation script, imported from its path."""
    if not SHARED_SCORER.exists():
        pytest.skip(f"{SHARED_SCORER} is not checked out beside the project")
    spec = importlib.util.spec_from_file_location("shared_score", SHARED_SCORER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.subprocess
def test_vendored_scorer_matches_shared_on_cli_answers(
    shared_scorer: ModuleType, eval_run: tuple[list[dict], list[dict], subprocess.CompletedProcess[str]],
) -> None:
    """qa.evaluation.metrics gives the shared script's numbers on the answers the CLI wrote."""
    gold, answers, result = eval_run
    assert result.returncode == 0 and answers, result.stderr
    assert score(gold, answers) == shared_scorer.score(gold, answers)


ANSWERED = {"answer": "紫金文化产业基金", "answerable": True,
            "citations": [{"text": "用好紫金文化产业基金"}],
            "retrieved": [{"text": "无关" * 700}, {"text": "用好 紫金文化 产业基金"}]}


@pytest.mark.parametrize(("answers", "budget"), [
    pytest.param([{"id": "a", **ANSWERED}, {"id": "o", "answer": "", "answerable": False, "citations": []}], 1200,
                 id="answered-beyond-budget"),
    pytest.param([{"id": "a", **ANSWERED}], 3000, id="missing-out-of-scope-answer"),
    pytest.param([{"id": "a", "answer": "", "answerable": False, "citations": [], "retrieved": []},
                  {"id": "o", "answer": "", "answerable": True, "citations": [{"text": "x"}]}], 1200,
                 id="false-refusal-and-wrong-answer"),
    pytest.param([], 1200, id="all-missing"),
])
def test_vendored_scorer_matches_shared_on_edge_cases(shared_scorer: ModuleType, answers: list[dict],
                                                      budget: int) -> None:
    """qa.evaluation.metrics and the shared script agree on missing answers, budgets, refusals and whitespace
    in anchors."""
    gold = [
        {"id": "a", "question": "q", "answerable": True, "gold": [{"doc": "JS", "anchor": "紫金文化 产业基金"}],
         "answer_must_contain": ["紫金"]},
        {"id": "o", "question": "q", "answerable": False, "gold": [], "answer_must_contain": []},
    ]
    ours = score(gold, answers, budget)
    assert ours == shared_scorer.score(gold, answers, budget)
    assert f"recall@{budget}c" in ours
