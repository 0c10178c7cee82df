"""WeChat Official Account and WeCom callbacks over real HTTP: signatures, safe mode, retries, paging and pushes.

Payloads are built, signed and encrypted with wechatpy exactly as WeChat's servers send them; the only stand-ins
are the LLM (tests/openai_stub.py) and WeChat's customer-service API (tests/wechat_api_stub.py)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import xmltodict
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise import parse_message as parse_wecom_message
from wechatpy.enterprise.crypto import PrpCrypto as WeComPrpCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

from qa.settings import Settings
from qa.stores.pseudonyms import pseudonym, stored_salt
from qa.surfaces.http.app import create_app
from tests.conftest import CORPUS, ready_service, serve_http
from tests.openai_stub import Script, Stub, openai_stub
from tests.wechat_api_stub import WeChatAPI, wechat_api

pytestmark = pytest.mark.server

TOKEN = "policyqaWxToken42"
AES_KEY = base64.b64encode(bytes(range(1, 33))).decode().rstrip("=")
APPID = "wx5e1c0a7b3d9f2468"
APP_SECRET = "wxsecret0f1e2d3c4b5a69788796a5b4c"
ACCOUNT = "gh_3a7c9e1b5d2f"
WECOM_TOKEN = "policyqaWecomToken77"
WECOM_AES_KEY = base64.b64encode(bytes(range(101, 133))).decode().rstrip("=")
CORP_ID = "ww8d2e4f6a1c3b5d7e"
AGENT_ID = "1000002"
SECRETS = (TOKEN, AES_KEY, APP_SECRET, WECOM_TOKEN, WECOM_AES_KEY)

JIANGSU_FUNDS = "江苏有哪些文化产业基金可以用？"
GUANGDONG_MEASURES = "广东的保障措施有哪些？"
LLM_QUESTION = "广东要建成多少家国家文化和科技融合示范基地？"
GOOD = "到2025年，广东将建成12家左右特色鲜明、示范性较强的国家文化和科技融合示范基地【C1】。"
MORE_HINT = "回复“更多”查看余下内容"
TIGHT_MAX_BYTES = 300

# Every response body any test receives, checked for secrets as it arrives and again at the end.
BODIES: list[bytes] = []
_MSG_IDS = itertools.count(int(time.time() * 1000) * 1000)

assert len(AES_KEY) == 43 and len(WECOM_AES_KEY) == 43


def _now() -> str:
    """Return the current Unix time as WeChat puts it in the query string."""
    return str(int(time.time()))


def _sha1_sorted(*parts: str) -> str:
    """Return WeChat's signature: sha1 of the sorted parts concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _user() -> str:
    """Return a fresh openid-like user id."""
    return "o6_bm" + secrets.token_urlsafe(17)[:23]


def _msg_id() -> str:
    """Return a fresh 64-bit-ish MsgId."""
    return str(next(_MSG_IDS))


def _signed(token: str = TOKEN, timestamp: str | None = None) -> dict[str, str]:
    """Return the plaintext-mode query string: signature over token/timestamp/nonce."""
    ts, nonce = timestamp or _now(), secrets.token_hex(5)
    return {"signature": _sha1_sorted(token, ts, nonce), "timestamp": ts, "nonce": nonce}


def _text_xml(user: str, content: str, msg_id: str | None = None, to: str = ACCOUNT, extra: str = "") -> str:
    """Return a text message as WeChat posts it."""
    return (f"<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{_now()}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id or _msg_id()}</MsgId>{extra}</xml>")


def _record(response: httpx.Response, *decrypted: str) -> httpx.Response:
    """Keep a response body (and its decrypted form) and fail at once if it carries a secret."""
    BODIES.append(response.content)
    BODIES.extend(d.encode() for d in decrypted)
    for body in (response.content, *(d.encode() for d in decrypted)):
        leaked = [s for s in SECRETS if s.encode() in body]
        assert not leaked, f"secret in response body: {body[:200]!r}"
    return response


def _settings(**overrides: Any) -> Settings:
    """Return Settings over the bundled corpus, ignoring QA_* variables of the developer's shell."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("QA_") and not key.startswith("QA_TEST_"):
                mp.delenv(key)
        return Settings(corpus_dir=CORPUS, **overrides)


def stored_questions(db: Path, user: str) -> list[str]:
    """Return the questions the conversation store holds for a user, found by the user's keyed pseudonym."""
    key = pseudonym(stored_salt(Path(f"{db}.salt")), user)
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT question FROM questions WHERE user = ? ORDER BY at", (key,)).fetchall()
    return [q for (q,) in rows]


@dataclass
class Server:
    """A running app: base URL, its conversation database and an HTTP client."""

    url: str
    db: Path
    client: httpx.Client = field(repr=False)

    def get(self, path: str, params: dict[str, str]) -> httpx.Response:
        """GET and record the response."""
        return _record(self.client.get(path, params=params))

    def post(self, path: str, params: dict[str, str], body: bytes | str) -> httpx.Response:
        """POST raw XML and record the response."""
        return _record(self.client.post(path, params=params, content=body.encode() if isinstance(body, str) else body))

    def ask(self, user: str, text: str, msg_id: str | None = None) -> str:
        """Send a plaintext, signed text message and return the Content of the text reply to that user."""
        response = self.post("/wechat", _signed(), _text_xml(user, text, msg_id))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        reply = parse_message(response.text)
        assert reply.type == "text" and reply.target == user and reply.source == ACCOUNT, response.text
        return str(reply.content)

    def questions(self, user: str) -> list[str]:
        """Return the questions stored for a user (rows of the SQLite `questions` table)."""
        return stored_questions(self.db, user)

    def replied(self, msg_id: str) -> bool:
        """Return whether the reply to a message id has been stored (the answer is finished)."""
        with closing(sqlite3.connect(self.db)) as conn:
            return conn.execute("SELECT 1 FROM message_replies WHERE msg_id = ?", (msg_id,)).fetchone() is not None



@contextmanager
def _serve(settings: Settings, service: object | None = None) -> Iterator[Server]:
    """Serve create_app(settings) on 127.0.0.1 and yield it with a client."""
    app = create_app(settings, service or ready_service(settings))
    with serve_http(app) as url, httpx.Client(base_url=url, timeout=20, trust_env=False) as client:
        yield Server(url, settings.conversations_db, client)


@pytest.fixture(scope="module")
def main(bundled_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app with the Official Account in plaintext mode and WeCom callbacks, default limits."""
    settings = _settings(index_dir=bundled_index, conversations_db=tmp_path_factory.mktemp("wx") / "conv.sqlite",
                         wechat_token=TOKEN, wechat_appid=APPID,
                         wecom_token=WECOM_TOKEN, wecom_aes_key=WECOM_AES_KEY, wecom_corp_id=CORP_ID,
                         wecom_agent_id=AGENT_ID)
    with _serve(settings) as server:
        yield server


@pytest.fixture(scope="module")
def safe(bundled_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app with the Official Account in safe mode: an EncodingAESKey is set, so only encrypted callbacks."""
    settings = _settings(index_dir=bundled_index, conversations_db=tmp_path_factory.mktemp("wx") / "conv.sqlite",
                         wechat_token=TOKEN, wechat_aes_key=AES_KEY, wechat_appid=APPID)
    with _serve(settings) as server:
        yield server


@pytest.fixture(scope="module")
def tight(bundled_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app with small replies (300 bytes) and at most 3 questions per user per minute."""
    settings = _settings(index_dir=bundled_index, conversations_db=tmp_path_factory.mktemp("wx") / "conv.sqlite",
                         wechat_token=TOKEN, wechat_max_bytes=TIGHT_MAX_BYTES, rate_limit_per_minute=3)
    with _serve(settings) as server:
        yield server


@pytest.fixture(scope="module")
def stub() -> Iterator[Stub]:
    """A scripted chat-completions server on 127.0.0.1."""
    with openai_stub() as s:
        yield s


@pytest.fixture(scope="module")
def wx_api() -> Iterator[WeChatAPI]:
    """A fake WeChat API (access token, customer-service messages) on 127.0.0.1."""
    with wechat_api(APPID, APP_SECRET) as api:
        yield api


@pytest.fixture(scope="module")
def llm_apps(bundled_index: Path, tmp_path_factory: pytest.TempPathFactory, stub: Stub,
             wx_api: WeChatAPI) -> Iterator[tuple[Server, Server]]:
    """LLM answer mode with a 0.5 s reply window: one app that can push (AppSecret set), one that cannot."""
    folder = tmp_path_factory.mktemp("wx")
    common: dict[str, Any] = {"index_dir": bundled_index, "llm_base_url": stub.base_url, "llm_model": "stub-model",
                              "llm_api_key": "sk-test-secret", "llm_timeout": 10, "wechat_reply_seconds": 0.5,
                              "wechat_token": TOKEN, "wechat_appid": APPID}
    pushing = _settings(**common, conversations_db=folder / "push.sqlite", wechat_secret=APP_SECRET,
                        wechat_api_base=f"{wx_api.base_url}/cgi-bin/")
    silent = _settings(**common, conversations_db=folder / "silent.sqlite")
    service = ready_service(pushing)
    with _serve(pushing, service) as push_server, _serve(silent, service) as silent_server:
        yield push_server, silent_server


# 1. URL verification (GET)


def test_url_verification_returns_echostr(main: Server) -> None:
    """A correctly signed GET echoes echostr as plain text."""
    echostr = secrets.token_hex(9)
    response = main.get("/wechat", {**_signed(), "echostr": echostr})
    assert response.status_code == 200
    assert response.text == echostr
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("query", [
    pytest.param(lambda: {**_signed(), "signature": _sha1_sorted("wrong-token", "1", "2")}, id="bad-signature"),
    pytest.param(lambda: _signed(timestamp=str(int(time.time()) - 3600)), id="stale-timestamp"),
    pytest.param(lambda: _signed(token="wrong-token"), id="signed-with-another-token"),
    pytest.param(lambda: {}, id="no-signature"),
])
def test_url_verification_rejects(main: Server, query: Any) -> None:
    """A bad signature, another token, a missing signature or an hour-old timestamp: 403, no echo."""
    response = main.get("/wechat", {**query(), "echostr": "echo-me-not"})
    assert response.status_code == 403
    assert "echo-me-not" not in response.text


# 2. Plaintext messages (POST)


def test_text_message_gets_cited_answer(main: Server) -> None:
    """A signed text message gets a text reply to the same user that quotes and cites the clause."""
    user = _user()
    content = main.ask(user, JIANGSU_FUNDS)
    assert "紫金文化产业基金" in content and "【1】" in content and "《" in content
    assert main.questions(user) == [JIANGSU_FUNDS]


@pytest.mark.parametrize("query", [
    pytest.param(lambda: {**_signed(), "signature": "0" * 40}, id="bad-signature"),
    pytest.param(lambda: _signed(timestamp=str(int(time.time()) - 3600)), id="stale-timestamp"),
    pytest.param(lambda: _signed(token="wrong-token"), id="signed-with-another-token"),
    pytest.param(lambda: {}, id="no-signature"),
])
def test_unsigned_text_message_is_rejected_unprocessed(main: Server, query: Any) -> None:
    """403 for a bad, foreign, missing or stale signature, and the question is never asked."""
    user = _user()
    response = main.post("/wechat", query(), _text_xml(user, JIANGSU_FUNDS))
    assert response.status_code == 403
    assert "紫金" not in response.text
    assert main.questions(user) == []


# 3. Safe mode (AES)


def _encrypted_post(crypto: WeChatCrypto | WeComCrypto, inner: str, to: str,
                    extra: str = "") -> tuple[dict[str, str], str]:
    """Return the query string and body WeChat posts in safe mode: ToUserName + Encrypt, signed by msg_signature."""
    ts, nonce = _now(), secrets.token_hex(5)
    envelope = xmltodict.parse(crypto.encrypt_message(inner, nonce, ts))["xml"]
    assert envelope["TimeStamp"] == ts and envelope["Nonce"] == nonce
    body = (f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>{extra}"
            f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>")
    return {"msg_signature": envelope["MsgSignature"], "timestamp": ts, "nonce": nonce}, body


def _decrypt_reply(crypto: WeChatCrypto | WeComCrypto, response: httpx.Response) -> str:
    """Return the plaintext XML of an encrypted reply, checking its own msg_signature."""
    assert response.status_code == 200, response.text
    envelope = xmltodict.parse(response.text)["xml"]
    assert set(envelope) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    xml = str(crypto.decrypt_message(response.text, envelope["MsgSignature"], envelope["TimeStamp"],
                                     envelope["Nonce"]))
    _record(response, xml)
    return xml


def test_safe_mode_message_gets_encrypted_cited_answer(safe: Server) -> None:
    """An AES-encrypted message is answered with an encrypted reply that decrypts to the cited answer."""
    crypto, user = WeChatCrypto(TOKEN, AES_KEY, APPID), _user()
    query, body = _encrypted_post(crypto, _text_xml(user, JIANGSU_FUNDS), ACCOUNT)
    # WeChat also sends the plain signature and the openid beside msg_signature in safe mode.
    query = {**query, "signature": _sha1_sorted(TOKEN, query["timestamp"], query["nonce"]), "encrypt_type": "aes",
             "openid": user}
    response = safe.post("/wechat", query, body)
    assert JIANGSU_FUNDS not in response.text and "紫金" not in response.text
    reply = parse_message(_decrypt_reply(crypto, response))
    assert reply.type == "text" and reply.target == user and reply.source == ACCOUNT
    assert "紫金文化产业基金" in reply.content and "【1】" in reply.content and "《" in reply.content
    assert safe.questions(user) == [JIANGSU_FUNDS]


@pytest.mark.parametrize("case", ["wrong-msg-signature", "other-aes-key", "stale-timestamp"])
def test_safe_mode_rejects_forged_message(safe: Server, case: str) -> None:
    """A wrong msg_signature, a ciphertext under another key or a stale timestamp: 403, nothing processed."""
    user = _user()
    key = base64.b64encode(bytes(range(50, 82))).decode().rstrip("=") if case == "other-aes-key" else AES_KEY
    query, body = _encrypted_post(WeChatCrypto(TOKEN, key, APPID), _text_xml(user, JIANGSU_FUNDS), ACCOUNT)
    if case == "wrong-msg-signature":
        query["msg_signature"] = _sha1_sorted("wrong-token", query["timestamp"], query["nonce"], "x")
    if case == "stale-timestamp":
        ts = str(int(time.time()) - 3600)
        envelope = xmltodict.parse(WeChatCrypto(TOKEN, AES_KEY, APPID).encrypt_message(
            _text_xml(user, JIANGSU_FUNDS), query["nonce"], ts))["xml"]
        query, body = ({"msg_signature": envelope["MsgSignature"], "timestamp": ts, "nonce": query["nonce"]},
                       f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt>{envelope['Encrypt']}</Encrypt></xml>")
    response = safe.post("/wechat", {**query, "encrypt_type": "aes"}, body)
    assert response.status_code == 403
    assert safe.questions(user) == []


# 4. Retries


def test_retries_of_one_msgid_are_answered_once(main: Server) -> None:
    """WeChat's three deliveries of one MsgId get the same reply; the question is asked and stored once."""
    user, msg_id = _user(), _msg_id()
    replies = [main.ask(user, JIANGSU_FUNDS, msg_id) for _ in range(3)]
    assert replies[0] == replies[1] == replies[2]
    assert "紫金文化产业基金" in replies[0]
    assert main.questions(user) == [JIANGSU_FUNDS]


# 5. Hostile and oversized bodies

XXE = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       "<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
       "<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>&xxe;</Content>"
       "<MsgId>{msg_id}</MsgId></xml>")
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
          + "]><xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
          "<CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>&lol9;</Content>"
          "<MsgId>{msg_id}</MsgId></xml>")


@pytest.mark.parametrize("template", [XXE, LAUGHS], ids=["xxe-file", "billion-laughs"])
def test_entity_xml_is_rejected_unprocessed(main: Server, template: str) -> None:
    """Correctly signed XML with a DOCTYPE/ENTITY: 403, no file content, nothing asked."""
    user = _user()
    body = template.format(to=ACCOUNT, user=user, ts=_now(), msg_id=_msg_id())
    start = time.monotonic()
    response = main.post("/wechat", _signed(), body)
    assert response.status_code == 403
    assert time.monotonic() - start < 5
    assert "root:" not in response.text and "lollol" not in response.text
    assert main.questions(user) == []


def _padded(user: str, size: int) -> str:
    """Return a valid text message padded with an unknown element to over `size` bytes."""
    return _text_xml(user, JIANGSU_FUNDS, extra=f"<Padding>{'x' * size}</Padding>")


def test_body_over_cap_is_413(main: Server) -> None:
    """A signed body over max_request_bytes (64 KiB) is refused with 413 and not processed."""
    user = _user()
    response = main.post("/wechat", _signed(), _padded(user, 70_000))
    assert response.status_code == 413
    assert main.questions(user) == []


def test_chunked_body_over_cap_is_413(main: Server) -> None:
    """The cap also holds for a body sent with Transfer-Encoding: chunked (no Content-Length)."""
    user = _user()
    body = _padded(user, 70_000).encode()
    response = _record(main.client.post("/wechat", params=_signed(), content=iter([body[:40_000], body[40_000:]])))
    assert "content-length" not in response.request.headers
    assert main.questions(user) == [], "an over-cap chunked body was processed"
    assert response.status_code == 413


# 6. Non-text messages and events


def _message(user: str, kind: str, fields: str) -> str:
    """Return a non-text message or event as WeChat posts it."""
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{_now()}</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>{fields}</xml>")


NON_TEXT = {
    "image": "<PicUrl><![CDATA[http://mmbiz.qpic.cn/x.jpg]]></PicUrl><MediaId><![CDATA[media_1]]></MediaId>",
    "voice": "<MediaId><![CDATA[media_2]]></MediaId><Format><![CDATA[amr]]></Format>",
    "location": "<Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y><Scale>20</Scale>"
                "<Label><![CDATA[广州市天河区]]></Label>",
}


@pytest.mark.parametrize("kind", list(NON_TEXT))
def test_non_text_message_gets_help(main: Server, kind: str) -> None:
    """An image, voice or location message gets a text reply asking for a written question, with an example."""
    user = _user()
    response = main.post("/wechat", _signed(), _message(user, kind, NON_TEXT[kind] + f"<MsgId>{_msg_id()}</MsgId>"))
    assert response.status_code == 200
    reply = parse_message(response.text)
    assert reply.type == "text" and reply.target == user
    assert "文字" in reply.content and "江苏有哪些文化产业基金可以用？" in reply.content
    assert main.questions(user) == []


def test_subscribe_gets_welcome_with_examples(main: Server) -> None:
    """A new follower is welcomed with numbered example questions and the reset word."""
    user = _user()
    response = main.post("/wechat", _signed(), _message(user, "event", "<Event><![CDATA[subscribe]]></Event>"))
    reply = parse_message(response.text)
    assert reply.type == "text" and reply.target == user
    for i, example in enumerate(["江苏有哪些文化产业基金可以用？", "深圳文化科技型企业用房有什么政策？",
                                 "广东的保障措施有哪些？"], 1):
        assert f"{i}. {example}" in reply.content
    assert "新对话" in reply.content


def test_unsubscribe_gets_success(main: Server) -> None:
    """Events that need no reply get the bare "success" WeChat expects."""
    response = main.post("/wechat", _signed(), _message(_user(), "event", "<Event><![CDATA[unsubscribe]]></Event>"))
    assert response.status_code == 200 and response.text == "success"


# 7. Follow-ups per user


def test_follow_up_uses_only_that_users_history(main: Server) -> None:
    """A's "那深圳呢？" continues A's fund question for Shenzhen; B's identical message is not influenced by A."""
    a, b = _user(), _user()
    assert "紫金文化产业基金" in main.ask(a, JIANGSU_FUNDS)
    follow = main.ask(a, "那深圳呢？")
    assert "深圳" in follow and "广东" in follow and "基金" in follow
    assert "江苏" not in follow and "紫金" not in follow
    fresh = main.ask(b, "那深圳呢？")
    # B has nothing to follow: a question back, nothing of A's fund question.
    assert "请说明" in fresh and "紫金" not in fresh and "【1】" not in fresh
    assert main.questions(a) == [JIANGSU_FUNDS, "那深圳呢？"] and main.questions(b) == ["那深圳呢？"]


def test_reset_word_forgets_history(main: Server) -> None:
    """After "新对话" the same follow-up is answered as if there were no history."""
    user = _user()
    main.ask(user, JIANGSU_FUNDS)
    assert "新的对话" in main.ask(user, "新对话")
    assert main.questions(user) == []
    assert "基金" not in main.ask(user, "那深圳呢？")


# 8. Paging


def _all_pages(server: Server, user: str) -> list[str]:
    """Ask the long question, then send "更多" until a reply has no hint; return every reply."""
    replies = [server.ask(user, GUANGDONG_MEASURES)]
    while MORE_HINT in replies[-1]:
        assert len(replies) < 20
        replies.append(server.ask(user, "更多"))
    return replies


def test_long_answer_is_paged_with_more(tight: Server) -> None:
    """A long answer comes in pages: each but the last ends with the hint and the count left; then none left."""
    user = _user()
    replies = _all_pages(tight, user)
    assert len(replies) >= 3
    first_left = re.search(r"回复“更多”查看余下内容（还有(\d+)页）$", replies[0])
    assert first_left and int(first_left.group(1)) == len(replies) - 1
    for i, reply in enumerate(replies[:-1]):
        assert reply.endswith(f"{MORE_HINT}（还有{len(replies) - 1 - i}页）")
    assert "保障措施" in replies[0] and "强化人才保障" in "".join(replies)
    whole = "".join(replies)
    assert all(f"【{n}】" in whole for n in range(1, 5)) and "《广东省促进文化和科技深度融合实施方案" in whole
    assert "没有更多" in tight.ask(user, "更多")
    assert tight.questions(user) == [GUANGDONG_MEASURES]


def test_every_page_fits_wechat_max_bytes(tight: Server) -> None:
    """Every reply's Content, hint included, is at most wechat_max_bytes UTF-8 bytes."""
    sizes = [len(reply.encode()) for reply in _all_pages(tight, _user())]
    assert max(sizes) <= TIGHT_MAX_BYTES, f"reply sizes in bytes: {sizes}"


def test_retry_of_more_repeats_the_same_page(tight: Server) -> None:
    """WeChat retrying one "更多" message (same MsgId) gets the same page, and no page is lost."""
    user = _user()
    assert MORE_HINT in tight.ask(user, GUANGDONG_MEASURES)
    msg_id = _msg_id()
    second = tight.ask(user, "更多", msg_id)
    assert tight.ask(user, "更多", msg_id) == second


# 9. Rate limit


def test_fourth_message_in_a_minute_is_limited(tight: Server) -> None:
    """With 3 per minute the 4th question gets the friendly limit message and is not asked; others are not hit."""
    user = _user()
    for _ in range(3):
        assert "紫金文化产业基金" in tight.ask(user, JIANGSU_FUNDS)
    limited = tight.ask(user, JIANGSU_FUNDS)
    found = re.fullmatch(r"您提问太频繁了，请 (\d+) 秒后再试。", limited)
    assert found and 1 <= int(found.group(1)) <= 61, limited
    assert tight.questions(user) == [JIANGSU_FUNDS] * 3
    assert "紫金文化产业基金" in tight.ask(_user(), JIANGSU_FUNDS)


# 10. Slow answers


def test_slow_answer_is_pushed_as_customer_service_message(llm_apps: tuple[Server, Server], stub: Stub,
                                                           wx_api: WeChatAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the reply window the user gets "问题已收到…", then the cited answer through the customer-service API."""
    # Any HTTPS request to the real WeChat servers goes to the stub as a proxy CONNECT, which it refuses and records.
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, wx_api.base_url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    server, _ = llm_apps
    stub.reply(Script(GOOD, delay=2.0))
    calls, user = len(stub.requests), _user()
    start = time.monotonic()
    passive = server.ask(user, LLM_QUESTION)
    assert time.monotonic() - start < 1.8
    assert passive.startswith("问题已收到") and "12家" not in passive
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and not wx_api.sent and not wx_api.connects:
        time.sleep(0.05)
    print("WeChat API requests:", wx_api.paths())
    assert not wx_api.connects, f"the push went to the real WeChat API: {wx_api.paths()}"
    assert [f"{r['method']} {r['path']}" for r in wx_api.requests] == [
        "GET /cgi-bin/token", "POST /cgi-bin/message/custom/send"], wx_api.paths()
    assert wx_api.requests[0]["query"] == {"grant_type": "client_credential", "appid": APPID, "secret": APP_SECRET}
    assert wx_api.requests[1]["query"]["access_token"] == wx_api.access_token
    (sent,) = wx_api.sent
    assert sent["touser"] == user and sent["msgtype"] == "text"
    content = sent["text"]["content"]
    assert "12家左右" in content and "【1】" in content and "《广东省促进文化和科技深度融合实施方案" in content
    assert len(stub.requests) == calls + 1


def test_slow_answer_without_push_is_fetched_with_more(llm_apps: tuple[Server, Server], stub: Stub) -> None:
    """Without an AppSecret a slow answer is announced, and "更多" then shows it as promised."""
    _, server = llm_apps
    stub.reply(Script(GOOD, delay=1.5))
    user, msg_id = _user(), _msg_id()
    passive = server.ask(user, LLM_QUESTION, msg_id)
    assert "更多" in passive and "12家" not in passive
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and not server.replied(msg_id):
        time.sleep(0.05)
    later = server.ask(user, "更多")
    assert "12家左右" in later and "【1】" in later, later


# 11. WeCom


def _wecom_query(echostr: str, token: str = WECOM_TOKEN) -> dict[str, str]:
    """Return WeCom's URL-check query: msg_signature over token/timestamp/nonce/encrypted echostr."""
    ts, nonce = _now(), secrets.token_hex(5)
    return {"msg_signature": _sha1_sorted(token, ts, nonce, echostr), "timestamp": ts, "nonce": nonce,
            "echostr": echostr}


def _wecom_echostr(plain: str) -> str:
    """Return echostr encrypted with the EncodingAESKey and corp id, as WeCom sends it."""
    key = base64.b64decode(WECOM_AES_KEY + "=")
    return WeComPrpCrypto(key).encrypt(plain, CORP_ID).decode()


def test_wecom_url_verification_returns_decrypted_echostr(main: Server) -> None:
    """A signed, encrypted echostr is answered with its plaintext."""
    plain = "wecom-check-" + secrets.token_hex(6)
    response = main.get("/wecom", _wecom_query(_wecom_echostr(plain)))
    assert response.status_code == 200 and response.text == plain


@pytest.mark.parametrize("case", ["bad-signature", "stale-timestamp"])
def test_wecom_url_verification_rejects(main: Server, case: str) -> None:
    """A wrong msg_signature or an hour-old timestamp: 403 without the plaintext."""
    plain = "wecom-check-" + secrets.token_hex(6)
    echostr = _wecom_echostr(plain)
    query = _wecom_query(echostr, token="wrong-token")
    if case == "stale-timestamp":
        ts = str(int(time.time()) - 3600)
        query = {**query, "timestamp": ts, "msg_signature": _sha1_sorted(WECOM_TOKEN, ts, query["nonce"], echostr)}
    response = main.get("/wecom", query)
    assert response.status_code == 403 and plain not in response.text


def test_wecom_encrypted_text_gets_cited_answer(main: Server) -> None:
    """An encrypted WeCom text message is answered with an encrypted reply holding the cited answer."""
    crypto, user = WeComCrypto(WECOM_TOKEN, WECOM_AES_KEY, CORP_ID), "zhangsan" + secrets.token_hex(3)
    inner = _text_xml(user, JIANGSU_FUNDS, to=CORP_ID, extra=f"<AgentID>{AGENT_ID}</AgentID>")
    query, body = _encrypted_post(crypto, inner, CORP_ID, extra=f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID>")
    response = main.post("/wecom", query, body)
    reply = parse_wecom_message(_decrypt_reply(crypto, response))
    assert reply.type == "text" and reply.target == user and reply.source == CORP_ID
    assert "紫金文化产业基金" in reply.content and "【1】" in reply.content and "《" in reply.content
    assert main.questions(user) == [JIANGSU_FUNDS]


def test_wecom_message_with_bad_signature_is_rejected(main: Server) -> None:
    """An encrypted WeCom message with a wrong msg_signature: 403, nothing processed."""
    crypto, user = WeComCrypto(WECOM_TOKEN, WECOM_AES_KEY, CORP_ID), "lisi" + secrets.token_hex(3)
    query, body = _encrypted_post(crypto, _text_xml(user, JIANGSU_FUNDS, to=CORP_ID), CORP_ID)
    response = main.post("/wecom", {**query, "msg_signature": "f" * 40}, body)
    assert response.status_code == 403
    assert main.questions(user) == []


# 12. Secrets


def test_no_secret_in_any_response(main: Server) -> None:
    """The token, AES keys and AppSecret appear in no response body, including errors (and all earlier tests')."""
    user = _user()
    main.get("/wechat", {**_signed(), "echostr": "x"})
    main.get("/wechat", {"signature": "0", "timestamp": _now(), "nonce": "1", "echostr": "x"})
    main.post("/wechat", {"signature": "0", "timestamp": _now(), "nonce": "1"}, _text_xml(user, "你好"))
    main.post("/wechat", {"encrypt_type": "aes", "msg_signature": "0", "timestamp": _now(), "nonce": "1"},
              f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt>bm90IGNpcGhlcnRleHQ=</Encrypt></xml>")
    main.post("/wechat", _signed(), "<xml><Content>unterminated")
    main.post("/wechat", _signed(), _padded(user, 70_000))
    main.get("/wecom", {"msg_signature": "0", "timestamp": _now(), "nonce": "1", "echostr": "eA=="})
    main.post("/wecom", {"msg_signature": "0", "timestamp": _now(), "nonce": "1"}, "<xml><Encrypt>x</Encrypt></xml>")
    assert len(BODIES) >= 8
    for body in BODIES:
        assert not [s for s in SECRETS if s.encode() in body], body[:200]
