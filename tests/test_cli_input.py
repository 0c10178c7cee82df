"""The command line given bad input, as a real subprocess: a message naming the problem, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

QUESTION = "江苏有哪些文化产业基金可以用？"


def _cli(*args: object) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(HF_HUB_OFFLINE="1", PYTHONIOENCODING="utf-8", QA_LOG_QUESTIONS="false")
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
