"""The chat page in a real headless Chromium: a question asked during the first-start build, a cited answer,
the clause panel (also on a phone), copy, a follow-up, feedback stored in SQLite, and a refusal."""

from __future__ import annotations

import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

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


DESKTOP = {"width": 1280, "height": 1000}
PHONE = {"width": 390, "height": 844}


def _on_screen(page: object, locator: object, wait: float = 5.0) -> bool:
    """Return True once the element is inside the viewport (not just in the page), within `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        box = locator.bounding_box()  # type: ignore[attr-defined]
        height = page.viewport_size["height"]  # type: ignore[attr-defined]
        if box is not None and box["y"] >= 0 and box["y"] + min(box["height"], 40) <= height:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def _ask(page: object, question: str) -> None:
    page.fill("#question textarea", question)  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]


def test_chat_round_trip_in_a_real_browser(server: tuple[str, Path]) -> None:
    """A question asked during the first-start build is answered when the index is ready; the viewer opens on
    the best evidence, 【1】 in the answer opens its clause, copy gives plain text, feedback is one row per
    answer and is cleared by the next answer."""
    from playwright.sync_api import expect, sync_playwright

    url, feedback_db = server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=DESKTOP)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
        page = context.new_page()
        page.goto(url)
        # The first start builds the index; the page says so in plain words, with the time the step still needs,
        # and no emoji (which shows as a box where no emoji font is installed).
        status = page.locator("#build-status")
        expect(status).to_contain_text("首次启动，正在整理已收录的政策文件", timeout=30_000)
        expect(status).to_contain_text(re.compile("预计还需|正在估算剩余时间"))
        assert "索引" not in status.inner_text() and "⏳" not in status.inner_text()
        # Nothing to rate before anything was asked, but 新对话 is there; an empty submit adds no bubble.
        expect(page.locator("#helpful")).to_be_hidden()
        expect(page.locator("#new-chat")).to_be_visible()
        page.click("#question button")
        page.wait_for_timeout(1000)
        expect(page.locator("#chat .message-row")).to_have_count(0)

        # 新对话 stops a question waiting for the build: it never comes back (the page records every question the
        # chat shows from then on; the waiting answer would have put it back at its next step, every 0.5 s).
        _ask(page, "深圳文化科技型企业用房有什么政策？")
        expect(page.locator("#chat .message-row").last).to_contain_text("整理好后会自动回答", timeout=10_000)
        page.click("#new-chat")
        expect(page.locator("#chat .message-row")).to_have_count(0, timeout=10_000)
        page.evaluate("() => { window.qaShown = new Set(); new MutationObserver(() => document.querySelectorAll("
                      "'#chat [data-testid=\"user\"]').forEach((q) => q.innerText.trim() && "
                      "window.qaShown.add(q.innerText.trim())))"
                      ".observe(document.querySelector('#chat'), { subtree: true, childList: true, "
                      "characterData: true }); }")

        # Asked while the index is being built: the question waits, with progress, and is answered when ready. (Asked
        # at once after 新对话, while the stopped answer may still be ending: asked when it has ended, not dropped.)
        _ask(page, "江苏有哪些文化产业基金可以用？")
        answer = page.locator("#chat .message-row").last
        expect(answer).to_contain_text("整理好后会自动回答", timeout=10_000)
        # The next question typed while this one waits stays in the box: the answer's steps leave the box alone.
        page.fill("#question textarea", "那深圳呢？")
        expect(answer).to_contain_text("紫金文化产业基金", timeout=180_000)
        expect(page.locator("#question textarea")).to_have_value("那深圳呢？")
        assert page.evaluate("[...window.qaShown]") == ["江苏有哪些文化产业基金可以用？"]
        expect(answer).to_contain_text("依据江苏省《关于促进文化和科技深度融合的实施意见》")
        expect(page.locator("#build-status")).to_be_hidden(timeout=10_000)
        # The viewer opens on the cited clause without a click, the quote marked.
        panel = page.locator("#clause-panel")
        expect(panel).to_contain_text("苏科高发〔2020〕120号")
        expect(panel.locator("mark")).to_contain_text("紫金文化产业基金")
        expect(page.locator("#citations label").first).to_contain_text("附件 四、（二）")
        page.screenshot(path=str(ARTIFACTS / "chat-desktop.png"))

        # Copy gives the text as shown, not the Markdown/HTML source; the button speaks Chinese.
        copy = page.locator("#chat button[aria-label='复制回答']").last
        copy.click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert "紫金文化产业基金" in copied and "【1】依据江苏省" in copied, copied
        assert "<" not in copied and "\\" not in copied and "&lt;" not in copied, copied
        label = page.locator('#chat [data-testid="bot"]').last.get_attribute("aria-label") or ""
        assert label.startswith("回答：") and "<" not in label and "&lt;" not in label, label
        expect(page.get_by_role("textbox", name="您的问题")).to_have_count(1)

        # Feedback: shown once there is an answer; rating twice changes the one row.
        expect(page.locator("#helpful")).to_be_visible()
        page.fill("#comment textarea", "引用很清楚")
        page.click("#helpful")
        expect(page.locator("#feedback-status")).to_contain_text("已记录：有帮助", timeout=10_000)
        # The chosen button stays marked, for the eye and for a screen reader.
        expect(page.locator("#helpful")).to_contain_text("已选")
        expect(page.locator("#helpful")).to_have_attribute("aria-pressed", "true")
        page.click("#unhelpful")
        expect(page.locator("#feedback-status")).to_contain_text("已记录：没帮助", timeout=10_000)
        expect(page.locator("#unhelpful")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#helpful")).to_have_attribute("aria-pressed", "false")

        # A follow-up (typed above, while the first answer waited): the new region; the thanks and the comment of
        # the last answer are gone.
        page.locator("#question textarea").press("Enter")
        expect(page.locator("#chat .message-row").last).to_contain_text("深圳市", timeout=30_000)
        expect(page.locator("#chat .message-row").last).not_to_contain_text("江苏省《")
        expect(page.locator("#feedback-status")).to_have_text("", timeout=10_000)
        expect(page.locator("#comment textarea")).to_have_value("")

        # 【1】 in the earlier answer opens that answer's clause again.
        page.locator("#chat a.cite").first.click()
        expect(panel).to_contain_text("苏科高发〔2020〕120号", timeout=10_000)
        expect(page.locator("#citations label").first).to_contain_text("附件 四、（二）")

        page.click("#new-chat")
        expect(page.locator("#chat .message-row")).to_have_count(0, timeout=10_000)
        expect(page.locator("#helpful")).to_be_hidden()
        browser.close()

    with sqlite3.connect(feedback_db) as db:
        rows = db.execute("SELECT rating, comment, question FROM feedback").fetchall()
    assert rows == [("down", "引用很清楚", "江苏有哪些文化产业基金可以用？")]


def test_phone_flow(server: tuple[str, Path]) -> None:
    """At 390 px: the examples are on screen at first, a tapped citation brings its marked sentence on screen,
    and a comparison table keeps readable columns."""
    from playwright.sync_api import expect, sync_playwright

    url, _ = server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=PHONE)
        page.goto(url)
        expect(page.locator("#build-status")).to_be_hidden(timeout=180_000)
        example = page.locator("#chat button.example").first
        expect(example).to_be_visible()
        assert _on_screen(page, example, wait=0) and _on_screen(page, page.locator("#question textarea"), wait=0)
        page.screenshot(path=str(ARTIFACTS / "chat-phone-start.png"))

        _ask(page, "深圳文化科技型企业用房有什么政策？")
        expect(page.locator("#chat .message-row").last).to_contain_text("用房", timeout=30_000)
        chip = page.locator("#citations label").first
        chip.scroll_into_view_if_needed()
        chip.click()
        mark = page.locator("#clause-panel mark").first
        expect(mark).to_contain_text("用房", timeout=10_000)
        assert _on_screen(page, mark), mark.bounding_box()
        page.screenshot(path=str(ARTIFACTS / "chat-phone.png"))

        # 【1】 in the answer, from the top of the page, brings the clause on screen too.
        # (Scrolled up until the clause is below the screen: a scroll the chip tap scheduled may still come.)
        page.wait_for_function("m => { window.scrollTo(0, 0); return m.getBoundingClientRect().top > innerHeight; }",
                               arg=mark.element_handle())
        page.locator("#chat a.cite").last.click()
        assert _on_screen(page, mark), mark.bounding_box()

        _ask(page, "广东和江苏在金融支持上有什么不同？")
        # The chips change with the final answer, after the streamed steps.
        expect(page.locator("#citations")).to_contain_text("加大金融支持", timeout=30_000)
        cell = page.locator("#chat .message-row").last.locator("td").nth(1)
        expect(cell).to_contain_text("【")
        assert cell.bounding_box()["width"] >= 150, cell.bounding_box()  # not 3-4 characters a line
        browser.close()


def _new_page(p: object, width: str) -> object:
    """Return a page at desktop width, or at phone width with touch."""
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)  # type: ignore[attr-defined]
    if width == "phone":
        return browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True).new_page()
    return browser.new_context(viewport=DESKTOP).new_page()


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_first_hour_points(server: tuple[str, Path], width: str) -> None:
    """Issue 23 at both widths: a comparison readable without sideways scrolling (cards on a phone) and shown
    from its start; a question back with examples that are about money and send when clicked, the panel saying
    what happened; sidebar examples that send; the chat kept over a reload until 新对话; a traditional answer,
    its chips and its clause in traditional script; Chinese accessible names; no admin instructions."""
    from playwright.sync_api import expect, sync_playwright

    from index.lang.script import to_traditional

    url, _ = server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        page = _new_page(p, width)
        page.goto(url)
        expect(page.locator("#build-status")).to_be_hidden(timeout=180_000)
        body = page.locator("body")
        expect(body).not_to_contain_text("python -m qa build")
        expect(body).not_to_contain_text("/admin/documents")

        # A long comparison: its table fits the chat (cards on a phone), the view starts at the question.
        _ask(page, "广东和江苏在金融支持上有什么不同？")
        expect(page.locator("#citations")).to_contain_text("加大金融支持", timeout=30_000)
        table = page.locator("#chat .message-row").last.locator("table")
        fits = table.evaluate("t => t.scrollWidth <= t.clientWidth + 1 && t.getBoundingClientRect().width <= "
                              "document.querySelector('#chat').getBoundingClientRect().width")
        if width == "phone":
            assert fits, table.bounding_box()
            expect(table.locator("td").first).to_have_attribute("data-label", "地区")
            # Gradio's ↓ button no longer sits over the answer's 【n】 marks.
            assert page.locator("#chat .scroll-down-button-container").evaluate_all(
                "els => els.every(e => getComputedStyle(e).display === 'none')")
        question = page.locator('#chat [data-testid="user"]').last
        offset = question.evaluate("q => { let b = q.parentElement; while (b && !/(auto|scroll)/.test("
                                   "getComputedStyle(b).overflowY)) b = b.parentElement; "
                                   "return q.getBoundingClientRect().top - b.getBoundingClientRect().top; }")
        assert 0 <= offset < 80, offset  # the question (and the answer's start) at the top, not the sources
        assert _on_screen(page, page.locator("#new-chat"), wait=0), page.locator("#new-chat").bounding_box()
        page.screenshot(path=str(ARTIFACTS / f"first-hour-{width}.png"))
        if width == "desktop":
            page.screenshot(path=str(ROOT / "docs" / "screenshot-desktop.png"))
        else:
            page.screenshot(path=str(ROOT / "docs" / "screenshot-phone.png"))

        # A question back: examples about money, links that ask; the panel says what happened.
        page.click("#new-chat")
        expect(page.locator("#chat .message-row")).to_have_count(0, timeout=10_000)
        _ask(page, "有钱拿吗？")
        links = page.locator("#chat a.ask")
        expect(links.first).to_be_visible(timeout=30_000)
        assert not any(w in t for t in links.all_inner_texts() for w in ("指导思想", "主要目标", "总体要求"))
        expect(page.locator("#clause-panel")).to_contain_text("说得更具体")
        suggestion = links.first.inner_text()
        links.first.click()
        expect(page.locator('#chat [data-testid="user"]').last).to_have_text(suggestion, timeout=10_000)
        expect(page.locator("#citations")).to_be_visible(timeout=30_000)

        # The conversation survives a reload; 新对话 clears it for good.
        page.reload()
        expect(page.locator('#chat [data-testid="user"]')).to_have_count(2, timeout=15_000)
        page.locator("#chat a.cite").first.click()
        expect(page.locator("#clause-panel mark").first).to_be_visible(timeout=10_000)
        page.click("#new-chat")
        expect(page.locator("#chat .message-row")).to_have_count(0, timeout=10_000)
        page.reload()
        page.wait_for_timeout(2000)
        expect(page.locator("#chat .message-row")).to_have_count(0)

        # A sidebar example sends, as the examples in the chat do.
        example = page.locator("#enterprise-examples button").first
        example.scroll_into_view_if_needed()
        text = example.inner_text().strip()
        example.click()
        expect(page.locator('#chat [data-testid="user"]').last).to_have_text(text, timeout=10_000)
        expect(page.locator("#chat .message-row")).to_have_count(2, timeout=30_000)

        # Traditional script throughout: the answer (稅, not 税), the chips and the clause viewer.
        page.click("#new-chat")
        expect(page.locator("#chat .message-row")).to_have_count(0, timeout=10_000)
        _ask(page, "深圳對文化科技企業有哪些稅收優惠？")
        expect(page.locator("#citations")).to_be_visible(timeout=30_000)
        expect(page.locator("#clause-panel")).to_contain_text("原文為簡體字", timeout=10_000)
        # 新对话 came while the example's answer was still arriving: that answer did not come back.
        expect(page.locator('#chat [data-testid="user"]')).to_have_text(["深圳對文化科技企業有哪些稅收優惠？"])
        for shown in (page.locator("#chat .message-row").last, page.locator("#citations label"),
                      page.locator("#clause-panel")):
            text = "\n".join(shown.all_inner_texts())
            assert text == to_traditional(text) and "税" not in text, text

        # Every accessible name and tooltip is Chinese (Gradio's own say "Scroll down", "More tabs").
        english = page.evaluate("() => [...document.querySelectorAll('[aria-label], [title]')].flatMap(e => "
                                "[e.getAttribute('aria-label'), e.getAttribute('title')]).filter(t => t && "
                                "/^[A-Za-z][A-Za-z ]+$/.test(t))")
        assert english == [], english

        # The finder names whom to ask, as the chat's checklist does (qa.answer.checklist.contact).
        page.get_by_role("tab", name="政策速查").click()
        page.click("#finder-search")
        expect(page.locator("#finder-count")).to_contain_text("共找到", timeout=30_000)
        expect(page.locator("#finder-swipe")).to_be_visible() if width == "phone" else \
            expect(page.locator("#finder-swipe")).to_be_hidden()
        expect(page.locator("#finder-table")).to_contain_text("牵头单位：")
        page.close()


def test_refusal_state(server: tuple[str, Path]) -> None:
    """A question the documents do not answer: the question echoed as typed, no citations, a hint in the
    clause panel, and feedback possible."""
    from playwright.sync_api import expect, sync_playwright

    url, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=DESKTOP)
        page.goto(url)
        expect(page.locator("#build-status")).to_be_hidden(timeout=180_000)
        _ask(page, "個人所得稅怎麼申報？")
        reply = page.locator("#chat .message-row").last
        expect(reply).to_contain_text("“個人所得稅怎麼申報？”", timeout=30_000)
        expect(reply).to_contain_text("沒有找到")
        expect(page.locator("#citations")).to_be_hidden()
        expect(page.locator("#clause-panel")).to_contain_text("没有引用条款")
        expect(page.locator("#helpful")).to_be_visible()
        browser.close()


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
