"""Messaging channels (WeChat, WeCom): text in, plain-text reply out, slow answers pushed later."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from qa.render.plain import chat_text
from qa.service import Service
from qa.service.redact import describe
from qa.settings import Settings
from qa.stores.base import Conversations

log = logging.getLogger(__name__)
EXAMPLES = ("江苏有哪些文化产业基金可以用？", "深圳文化科技型企业用房有什么政策？", "广东的保障措施有哪些？")
WELCOME = ("您好，我是政策问答助手。请直接用文字提问，我会摘录政策原文并注明出处条款。例如：\n"
           + "\n".join(f"{i}. {q}" for i, q in enumerate(EXAMPLES, 1)) + "\n回复“新对话”可重新开始。")
NOT_TEXT = "目前只能回答文字提问。请用文字描述您想了解的政策问题，例如：" + EXAMPLES[0]
EMPTY = f"请直接输入您想咨询的政策问题，例如“{EXAMPLES[0]}”。"
COMING = "问题已收到，正在查阅政策原文，答案稍后发送给您。"
MORE_HINT = "回复“更多”查看余下内容"
MORE_WORDS = {"更多", "more", "继续"}
RESET_WORDS = {"新对话", "重新开始", "清空"}
NOT_READY = "知识库正在准备中，请稍后再问。"
LIMITED = "您提问太频繁了，请 {seconds} 秒后再试。"


class RateLimiter:
    """At most `limit` messages per user per minute (in this process)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._swept = time.monotonic()
        self._lock = threading.Lock()

    def wait_seconds(self, user: str) -> int:
        """Return 0 and count the message when allowed, else how many seconds until the next is."""
        now = time.monotonic()
        with self._lock:
            seen = self._seen[user]
            while seen and seen[0] <= now - 60:
                seen.popleft()
            if len(seen) >= self.limit:
                return int(60 - (now - seen[0])) + 1
            seen.append(now)
            if now - self._swept > 60:
                # Users who have gone quiet are forgotten, so memory does not grow with everyone who ever wrote.
                self._seen = defaultdict(deque, {u: s for u, s in self._seen.items() if s[-1] > now - 60})
                self._swept = now
            return 0


def paginate(text: str, max_bytes: int) -> list[str]:
    """Return the text split into pages of at most `max_bytes` UTF-8 bytes (hint included), each filled at
    least halfway, breaking at a line end, else a sentence end, else a comma, else anywhere."""
    budget = max_bytes - len(more_hint(999).encode())
    pages: list[str] = []
    rest = text.strip()
    while len(rest.encode()) > budget:
        window = rest.encode()[:budget].decode(errors="ignore")
        cut = _break(window)
        pages.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        pages.append(rest)
    return pages or [""]


def _break(window: str) -> int:
    """Return where to end a page within `window`: the last good break point in its second half."""
    for marks in ("\n", "。；！？", "，、："):
        at = max(window.rfind(m) for m in marks)
        if at >= len(window) // 2:
            return at + 1
    return len(window)


def more_hint(left: int) -> str:
    """Return the line that tells the user how to see the rest of a long reply."""
    return f"\n\n{MORE_HINT}（还有{left}页）"


class ChatBridge:
    """Answers chat messages once per message id, within the channel's reply window or by a later push."""

    def __init__(self, service: Service, store: Conversations, settings: Settings,
                 push: Callable[[str, str], None] | None = None, channel: str = "wechat") -> None:
        self.channel = channel
        self.service = service
        self.store = store
        self.settings = settings
        self.push = push
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chat-answer")
        self._pending: dict[str, Future[str]] = {}
        self._will_push: set[str] = set()
        # Re-entrant: a future that is already done runs its callback (which takes this lock) at once, in the
        # thread that adds it while holding the lock.
        self._lock = threading.RLock()

    def on_subscribe(self) -> str:
        """Return the welcome message for a new follower."""
        return WELCOME

    def on_other(self) -> str:
        """Return the reply to an image, voice, location or other non-text message."""
        return NOT_TEXT

    def on_text(self, user: str, text: str, msg_id: str) -> str:
        """Return the reply to a text message; a retry of the same message id gets the same answer.

        A retry is recognised by (channel, user, MsgId): MsgIds are not unique across accounts, and another user
        naming someone's MsgId must get an answer to their own message, not the other's reply."""
        key = f"{user}\x00{msg_id}" if msg_id else ""
        with self._lock:
            # Checked under the lock so a retry cannot slip between a finished answer and its record.
            if msg_id and (done := self.store.reply_for(self.channel, user, msg_id)) is not None:
                return done
            future = self._pending.get(key) if key else None
            if future is None:
                reply_now = self._immediate(user, text.strip())
                if reply_now is not None:
                    if msg_id:
                        # A retried "更多" must get the same page, not the next one.
                        self.store.save_reply(self.channel, user, msg_id, reply_now)
                    return reply_now
                future = self._pool.submit(self._answer, user, text.strip())
                if key:
                    self._pending[key] = future
                    future.add_done_callback(lambda f: self._remember(user, msg_id, f))
        if self.settings.wechat_reply_seconds > 0:
            # 0 pushes every answer: result(timeout=0) would still return one that happened to finish already.
            try:
                return future.result(timeout=self.settings.wechat_reply_seconds)
            except FutureTimeout:
                pass
        if self.push is None:
            # No push channel: keep the whole answer for "更多" once it is ready.
            future.add_done_callback(lambda f: self.store.push_front(user, self._result(f)))
            return "查询时间较长，请稍后回复“更多”查看答案。"
        with self._lock:
            # A message without MsgId cannot be retried: it is always pushed.
            first = not key or key not in self._will_push
            if key:
                self._will_push.add(key)
        if first:
            # Missed the passive window: deliver through the customer-service API when ready.
            future.add_done_callback(lambda f: self._push(user, f, key))
        return COMING

    def _immediate(self, user: str, text: str) -> str | None:
        """Return a reply that needs no retrieval (empty message, paging, reset, limits), or None."""
        if not text:
            return EMPTY
        if text.lower() in MORE_WORDS:
            page, left = self.store.next_page(user)
            if page is None:
                return "没有更多内容了，请继续提问。"
            # A first page kept for a late answer already carries its hint.
            return page + (more_hint(left) if left and MORE_HINT not in page else "")
        if text in RESET_WORDS:
            self.store.reset(user)
            return "已开始新的对话，请提问。"
        wait = self.limiter.wait_seconds(user)
        if wait:
            return LIMITED.format(seconds=wait)
        if not self.service.ready:
            return NOT_READY
        return None

    def _answer(self, user: str, text: str) -> str:
        """Return the first page of the answer, keeping the rest for "更多"."""
        answer = self.service.ask(self.channel, user, text, self.store.history(user))
        self.store.add_question(user, text)
        pages = paginate(chat_text(answer), self.settings.wechat_max_bytes)
        self.store.set_pages(user, pages[1:])
        return pages[0] + (more_hint(len(pages) - 1) if len(pages) > 1 else "")

    def _remember(self, user: str, msg_id: str, future: Future[str]) -> None:
        """Keep the reply so WeChat's retries of this message are served from it."""
        self.store.save_reply(self.channel, user, msg_id, self._result(future))
        with self._lock:
            self._pending.pop(f"{user}\x00{msg_id}", None)

    def _push(self, user: str, future: Future[str], key: str) -> None:
        assert self.push is not None
        try:
            self.push(user, self._result(future))
        except Exception as exc:  # the push API failing must not crash the worker; the log says why
            # One line, no traceback: requests' messages carry the token URL (?secret=…, ?corpsecret=…).
            log.error("客服消息推送失败：%s", describe(exc))
        finally:
            # Retries from now on are served the stored reply (kept before this callback ran).
            with self._lock:
                self._will_push.discard(key)

    @staticmethod
    def _result(future: Future[str]) -> str:
        try:
            return future.result()
        except Exception:  # never drop the user's message silently
            log.exception("回答失败")
            return "抱歉，查询时出现问题，请稍后再试。"
