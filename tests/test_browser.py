"""The chat page in a real headless Chromium: first-start progress, a cited answer, the clause panel,
a follow-up, and feedback stored in SQLite."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]

if CHROMIUM is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the browser test: `make browser-deps` installs chromium")
    pytest.skip("chromium is not installed (make browser-deps)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Start app.py on 127.0.0.1 with an empty index folder, so the page sees the first-start build."""
    tmp = tmp_path_factory.mktemp("app")
    port = _free_port()
    env = {**os.environ, "QA_INDEX_DIR": str(tmp / "index"), "QA_FEEDBACK_DB": str(tmp / "feedback.sqlite"),
           "QA_PORT": str(port), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = open(tmp / "app.log", "w")  # noqa: SIM115 - closed in the teardown below
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((tmp / "app.log").read_text()) from None
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("app did not start: " + (tmp / "app.log").read_text())
    yield url, tmp / "feedback.sqlite"
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def test_chat_round_trip_in_a_real_browser(server: tuple[str, Path]) -> None:
    """Ask, see the streamed cited answer, open the clause, ask a follow-up, give feedback."""
    from playwright.sync_api import expect, sync_playwright

    url, feedback_db = server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(url)
        # The first start builds the index; the page says so instead of staying blank.
        expect(page.locator("#build-status")).to_contain_text("建立索引", timeout=30_000)
        expect(page.locator("#build-status")).to_be_hidden(timeout=120_000)

        page.fill("#question textarea", "江苏有哪些文化产业基金可以用？")
        page.keyboard.press("Enter")
        answer = page.locator("#chat .message-row").last
        expect(answer).to_contain_text("紫金文化产业基金", timeout=30_000)
        expect(answer).to_contain_text("依据江苏省《关于促进文化和科技深度融合的实施意见》")
        chip = page.locator("#citations label").first
        expect(chip).to_contain_text("附件 四、（二）")
        chip.click()
        panel = page.locator("#clause-panel")
        expect(panel).to_contain_text("苏科高发〔2020〕120号")
        expect(panel.locator("mark")).to_contain_text("紫金文化产业基金")
        page.screenshot(path=str(ARTIFACTS / "chat-desktop.png"), full_page=True)

        page.fill("#question textarea", "那深圳呢？")
        page.keyboard.press("Enter")
        expect(page.locator("#chat .message-row").last).to_contain_text("深圳市", timeout=30_000)
        expect(page.locator("#chat .message-row").last).not_to_contain_text("江苏省《")

        page.fill("#comment textarea", "引用很清楚")
        page.click("#helpful")
        expect(page.locator("#feedback-status")).to_contain_text("感谢", timeout=10_000)

        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(ARTIFACTS / "chat-phone.png"), full_page=True)
        page.click("#new-chat")
        expect(page.locator("#chat .message-row")).to_have_count(0, timeout=10_000)
        browser.close()

    with sqlite3.connect(feedback_db) as db:
        rows = db.execute("SELECT rating, comment, question, citations FROM feedback").fetchall()
    assert rows == [("up", "引用很清楚", "那深圳呢？", rows[0][3])]
    assert "shenzhen" in rows[0][3] or "guangdong" in rows[0][3]


def test_script_and_markup_in_a_question_render_as_text(server: tuple[str, Path]) -> None:
    """A question carrying HTML and script is shown literally and runs nothing."""
    from playwright.sync_api import expect, sync_playwright

    url, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url)
        expect(page.locator("#build-status")).to_be_hidden(timeout=120_000)
        page.fill("#question textarea", '<img src=x onerror=alert(1)><script>alert(2)</script>怎么办理护照？')
        page.keyboard.press("Enter")
        reply = page.locator("#chat .message-row").last
        expect(reply).to_contain_text("没有找到", timeout=30_000)
        assert page.locator("#chat img[src='x']").count() == 0
        assert dialogs == []
        browser.close()
