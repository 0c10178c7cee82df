"""The command line given bad input, as a real subprocess: a message naming the problem, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS, ROOT

pytestmark = pytest.mark.subprocess

QUESTION = "江苏有哪些文化产业基金可以用？"


def _cli(*args: object, **extra_env: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8", QA_LOG_QUESTIONS="false", **extra_env)
    argv = [sys.executable, "-m", "qa", *(a if isinstance(a, bytes) else str(a) for a in args)]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, timeout=300, check=False)


def test_non_utf8_argument_is_a_message_not_a_traceback(bundled_index: Path) -> None:
    """`ask $'\\xff\\xfe江苏'`: exit 2 naming the argument, the byte and the terminal setting to check."""
    done = _cli("ask", "--index", bundled_index, b"\xff\xfe" + "江苏".encode())
    stderr = done.stderr.decode()
    assert done.returncode == 2 and "Traceback" not in stderr, stderr[-2000:]
    assert "参数 question" in stderr and "0xff" in stderr and "LANG" in stderr


def test_batch_answers_good_lines_and_names_bad_ones(bundled_index: Path, tmp_path: Path) -> None:
    """Bad lines (truncated JSON, not an object, no question, invalid UTF-8) are reported by number on stderr;
    every good line is answered and written; the exit status says some failed."""
    lines = [json.dumps({"id": "1", "question": QUESTION}, ensure_ascii=False).encode(),
             '{"id": "2", "question": "深圳'.encode(),
             json.dumps({"id": "3", "question": "广东的保障措施有哪些？"}, ensure_ascii=False).encode(),
             b"[1, 2]", b'{"id": "5"}', b'{"id": "6", "question": "\xff"}', b"",
             json.dumps({"id": "8", "question": "深圳文化科技型企业用房有什么政策？"}, ensure_ascii=False).encode()]
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    done = _cli("batch", "--index", bundled_index, tmp_path / "in.jsonl", "-o", tmp_path / "out.jsonl")
    stderr = done.stderr.decode()
    assert done.returncode == 1 and "Traceback" not in stderr, stderr[-2000:]
    for number in (2, 4, 5, 6):
        assert f"第 {number} 行" in stderr
    assert "第 7 行" not in stderr and "不是有效的 JSON" in stderr and "question" in stderr
    out = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [o["id"] for o in out] == ["1", "3", "8"] and "紫金" in out[0]["answer"]


def test_build_of_nothing_readable_says_why_and_keeps_the_index(bundled_index: Path, tmp_path: Path) -> None:
    """A folder of an empty file, a junk PDF and a scan-like PDF: exit 2 naming each file and its reason, the
    serving index and its generations untouched (was a bm25s traceback)."""
    from tests.pdfs import blank_pdf

    index = tmp_path / "index"
    shutil.copytree(bundled_index, index)
    before = (index / "CURRENT").read_text(), sorted(p.name for p in index.glob("gen-*"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "junk.pdf").write_bytes(b"not a pdf at all")
    (bad / "scan.pdf").write_bytes(blank_pdf(2))
    done = _cli("build", "--corpus", bad, "--index", index, "--quiet")
    stderr = done.stderr.decode()
    assert done.returncode == 2 and "Traceback" not in stderr, stderr[-2000:]
    assert all(name in stderr for name in ("empty.txt", "junk.pdf", "scan.pdf", "现有索引保持不变"))
    assert ((index / "CURRENT").read_text(), sorted(p.name for p in index.glob("gen-*"))) == before


# --- issue 24: paths that cannot be read or written, and a line nested too deep --------------------------------

LEXICAL = {"QA_EMBEDDING_BACKEND": "none"}



def _refused(done: subprocess.CompletedProcess[bytes], *words: str) -> str:
    """Return stderr after checking the command failed with a message (all `words` in it), not a traceback."""
    stderr = done.stderr.decode()
    assert done.returncode != 0 and "Traceback" not in stderr, stderr[-3000:]
    assert "错误 / error" in stderr and all(w in stderr for w in words), stderr[-3000:]
    return stderr


def test_ask_with_a_file_as_index_is_a_message() -> None:
    """`ask --index /etc/passwd`: names the path and says it must be a folder (was FileExistsError)."""
    _refused(_cli("ask", QUESTION, "--index", "/etc/passwd", **LEXICAL), "/etc/passwd", "文件夹")


def test_batch_output_to_a_folder_is_a_message(lexical_index: Path, tmp_path: Path) -> None:
    """`batch -o /tmp`: refused before any question is answered (was IsADirectoryError)."""
    (tmp_path / "in.jsonl").write_text(json.dumps({"question": QUESTION}, ensure_ascii=False), encoding="utf-8")
    _refused(_cli("batch", tmp_path / "in.jsonl", "--index", lexical_index, "-o", tmp_path, **LEXICAL),
             str(tmp_path), "文件夹")


@pytest.mark.parametrize("where", ["-o", "stdout"])
def test_batch_to_a_full_disk_is_a_message(lexical_index: Path, tmp_path: Path, where: str) -> None:
    """`batch -o /dev/full` and `batch > /dev/full`: "disk full" named, exit non-zero (was OSError ENOSPC)."""
    (tmp_path / "in.jsonl").write_text(json.dumps({"question": QUESTION}, ensure_ascii=False), encoding="utf-8")
    if where == "-o":
        done = _cli("batch", tmp_path / "in.jsonl", "--index", lexical_index, "-o", "/dev/full", **LEXICAL)
    else:
        done = _stdout_to_dev_full("batch", tmp_path / "in.jsonl", "--index", lexical_index, **LEXICAL)
    _refused(done, "/dev/full" if where == "-o" else "标准输出", "空间")


def _stdout_to_dev_full(*args: object, **extra_env: str) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI with its standard output on /dev/full (every write fails with ENOSPC)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8", QA_LOG_QUESTIONS="false", **extra_env)
    with open("/dev/full", "wb") as full:
        return subprocess.run([sys.executable, "-m", "qa", *map(str, args)], cwd=ROOT, env=env, stdout=full,
                              stderr=subprocess.PIPE, timeout=300, check=False)


def _feedback_db(tmp_path: Path) -> Path:
    """Return a feedback database holding one row."""
    from qa.records import Answer, Outcome, Paragraph
    from qa.stores.feedback import FeedbackStore

    db = tmp_path / "feedback.sqlite"
    with FeedbackStore(db) as store:
        store.record(Answer(question="q", query="q", parts=(Paragraph("a"),), outcome=Outcome.REFUSE), "up", "好")
    return db


@pytest.mark.parametrize("where", ["-o", "stdout"])
def test_feedback_export_to_a_full_disk_is_a_message(tmp_path: Path, where: str) -> None:
    """`feedback export -o /dev/full` and `feedback export > /dev/full`: a message, exit non-zero."""
    db = _feedback_db(tmp_path)
    if where == "-o":
        done = _cli("feedback", "export", "--format", "csv", "--db", db, "-o", "/dev/full")
    else:
        done = _stdout_to_dev_full("feedback", "export", "--format", "csv", "--db", db)
    _refused(done, "/dev/full" if where == "-o" else "标准输出", "空间")


def test_feedback_export_to_a_folder_is_a_message(tmp_path: Path) -> None:
    """`feedback export -o <folder>`: a message naming the folder (was IsADirectoryError)."""
    _refused(_cli("feedback", "export", "--db", _feedback_db(tmp_path), "-o", tmp_path), str(tmp_path), "文件夹")


def test_build_with_output_on_a_full_disk_is_a_message(lexical_index: Path, tmp_path: Path) -> None:
    """`build > /dev/full`: the index is built, the summary cannot be printed: said on stderr, exit non-zero."""
    index = tmp_path / "index"
    shutil.copytree(lexical_index, index)
    done = _stdout_to_dev_full("build", "--corpus", CORPUS, "--index", index, "--quiet", **LEXICAL)
    _refused(done, "标准输出", "空间")


def test_deeply_nested_line_is_reported_and_the_rest_answered(lexical_index: Path, tmp_path: Path) -> None:
    """A line of 100,000 nested brackets is one bad line (was RecursionError, and the lines after it were never
    answered)."""
    lines = [json.dumps({"id": "1", "question": QUESTION}, ensure_ascii=False), "[" * 100_000 + "]" * 100_000,
             json.dumps({"id": "3", "question": "广东的保障措施有哪些？"}, ensure_ascii=False)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = _cli("batch", tmp_path / "in.jsonl", "--index", lexical_index, "-o", tmp_path / "out.jsonl", **LEXICAL)
    stderr = done.stderr.decode()
    assert done.returncode == 1 and "Traceback" not in stderr, stderr[-3000:]
    assert "第 2 行" in stderr and "嵌套" in stderr
    out = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [o["id"] for o in out] == ["1", "3"]
