"""Admin actions (upload, delete, rebuild) are token-only and hot-swap the index; the question log."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qa.settings import Settings
from qa.stores.querylog import QuestionLog
from qa.surfaces.http.app import create_app
from tests.conftest import CORPUS, ready_service, serve_http

ADMIN = {"Authorization": "Bearer admin-secret"}
NEW_DOC = ("某市动漫产业扶持办法\n一、资金扶持\n对原创动漫作品给予每部30万元奖励。\n"
           "二、人才支持\n动漫人才可申请入住星河人才公寓。\n")


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    """A server over a private copy of the corpus, with an admin token, built lexical-only."""
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", embedding_backend="none",
                        admin_token="admin-secret", log_db=tmp_path / "questions.sqlite")
    with serve_http(create_app(settings, ready_service(settings))) as url:
        yield url, settings


def _wait_rebuilt(url: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = httpx.get(f"{url}/admin/rebuild", headers=ADMIN).json()
        if state["status"] in ("done", "failed") and not state["running"]:
            return state
        time.sleep(0.2)
    raise AssertionError("rebuild did not finish")


@pytest.mark.server
def test_admin_needs_the_token(server: tuple[str, Settings]) -> None:
    """Without the admin token every admin route is refused and nothing changes."""
    url, settings = server
    files = ("x.txt", NEW_DOC.encode(), "text/plain")
    for method, path, kw in [("GET", "/admin/documents", {}), ("POST", "/admin/rebuild", {}),
                             ("POST", "/admin/documents", {"files": {"file": files}}),
                             ("DELETE", "/admin/documents/shenzhen-culture-tech-2012.txt", {})]:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            assert httpx.request(method, f"{url}{path}", headers=headers, **kw).status_code == 401
    assert not (settings.corpus_dir / "x.txt").exists()
    assert (settings.corpus_dir / "shenzhen-culture-tech-2012.txt").exists()


@pytest.mark.server
def test_admin_routes_do_not_exist_without_a_token(tmp_path: Path, bundled_index: Path) -> None:
    """With no QA_ADMIN_TOKEN the public server has no way to change the corpus."""
    settings = Settings(corpus_dir=CORPUS, index_dir=bundled_index)
    with serve_http(create_app(settings, ready_service(settings))) as url:
        assert httpx.post(f"{url}/admin/rebuild", headers=ADMIN).status_code == 404
        assert "/admin/rebuild" not in httpx.get(f"{url}/openapi.json").json()["paths"]


@pytest.mark.server
def test_upload_rebuild_and_delete_swap_the_index(server: tuple[str, Settings]) -> None:
    """An uploaded document is answerable after the rebuild; after deletion and rebuild it is cited no more."""
    url, _ = server
    # 星河 is a name no bundled document uses: before the upload nothing answers it (talent clauses may be shown as
    # possibly related, never as the answer).
    question = {"question": "动漫人才能申请星河人才公寓吗？"}
    before = httpx.post(f"{url}/api/ask", json=question, timeout=30).json()
    assert before["outcome"] in ("refuse", "related") and "星河" not in "".join(c["text"] for c in before["citations"])
    up = httpx.post(f"{url}/admin/documents", params={"rebuild": "true"}, headers=ADMIN,
                    files={"file": ("dongman.txt", NEW_DOC.encode("gb18030"), "text/plain")})
    assert up.status_code == 201 and up.json()["rebuild_started"] is True
    assert "已索引 4 个文件" in _wait_rebuilt(url)["summary"]
    answer = httpx.post(f"{url}/api/ask", json=question, timeout=30).json()
    assert answer["answerable"] and "星河人才公寓" in answer["answer"]
    gone = httpx.delete(f"{url}/admin/documents/dongman.txt", params={"rebuild": "true"}, headers=ADMIN)
    assert gone.status_code == 200
    _wait_rebuilt(url)
    after = httpx.post(f"{url}/api/ask", json=question, timeout=30).json()
    assert not any("星河人才公寓" in c["text"] for c in after["citations"])


@pytest.mark.server
@pytest.mark.parametrize("name", ["../evil.txt", ".hidden.txt", "a/b.txt", "notes.exe", "x" * 200 + ".txt"])
def test_upload_rejects_unsafe_names(server: tuple[str, Settings], name: str) -> None:
    """Path traversal, hidden files, folders, unsupported types and absurd names are refused."""
    url, settings = server
    r = httpx.post(f"{url}/admin/documents", headers=ADMIN, files={"file": (name, b"text", "text/plain")})
    assert r.status_code in (400, 422)
    assert not any(settings.corpus_dir.parent.glob("evil*"))


@pytest.mark.server
@pytest.mark.parametrize(("name", "reason"), [
    ("通知\u202efdp.txt", "U+202E"), ("年度\u200b报告.txt", "U+200B"), ("   .txt", "空白"), (" 通知.txt", "空格开头"),
    ("c:x.txt", "':'"), ("a|b.txt", "'|'"),
])
def test_upload_rejects_misleading_names(server: tuple[str, Settings], name: str, reason: str) -> None:
    """Names that show as something else (a right-to-left override, a zero-width space), as nothing (spaces) or
    name a drive or data stream on Windows were stored and listed to admins as-is: now a 400 saying why."""
    url, settings = server
    r = httpx.post(f"{url}/admin/documents", headers=ADMIN, files={"file": (name, NEW_DOC.encode(), "text/plain")})
    assert r.status_code == 400 and reason in r.json()["detail"], r.text
    assert "\u202e" not in r.text and sorted(p.name for p in settings.corpus_dir.iterdir()) == sorted(
        p.name for p in CORPUS.iterdir())


def test_questions_are_logged_with_hashed_users(tmp_path: Path) -> None:
    """The question log keeps questions for review, hashes user ids, and drops rows past retention."""
    from qa.records import Answer, Paragraph

    settings = Settings(log_db=tmp_path / "q.sqlite", log_hash_users=True, log_salt="s", log_retention_days=1)
    log = QuestionLog(settings)
    answer = Answer(question="江苏有哪些基金？", query="江苏有哪些基金？", parts=(Paragraph("…"),))
    log.record("wechat", "oOpenId123", answer, 0.05)
    row = log.rows()[0]
    assert row.question == "江苏有哪些基金？" and row.channel == "wechat"
    assert row.user != "oOpenId123" and len(row.user) == 24
    with log.write() as conn:
        conn.execute("UPDATE questions SET at = at - 2 * 86400")
    log.record("api", "", answer, 0.01)
    assert [r.channel for r in log.rows()] == ["api"]
    plain = QuestionLog(settings.model_copy(update={"log_hash_users": False, "log_db": tmp_path / "p.sqlite"}))
    plain.record("wechat", "oOpenId123", answer, 0.05)
    assert plain.rows()[0].user == "oOpenId123"
