"""WeChat and WeCom callbacks probed as an attacker and a careless client would, over real HTTP with real
wechatpy crypto: safe mode cannot be bypassed, a (timestamp, nonce) signs one message, retries are per user,
and malformed XML is a 4xx, never a 500."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

from qa.surfaces.http.app import create_app
from tests.conftest import ready_service, serve_http
from tests.qa.surfaces.test_wechat import (
    ACCOUNT,
    AES_KEY,
    APPID,
    CORP_ID,
    GUANGDONG_MEASURES,
    JIANGSU_FUNDS,
    TOKEN,
    WECOM_AES_KEY,
    WECOM_TOKEN,
    _msg_id,
    _now,
    _settings,
    _sha1_sorted,
    _signed,
    _text_xml,
    _user,
    stored_questions,
)

pytestmark = pytest.mark.server


def _encrypted(xml: str, enterprise: bool = False) -> tuple[dict[str, str], str]:
    """Return (query, body) of a safe-mode callback as WeChat / WeCom post it."""
    crypto = WeComCrypto(WECOM_TOKEN, WECOM_AES_KEY, CORP_ID) if enterprise else WeChatCrypto(TOKEN, AES_KEY, APPID)
    ts, nonce = _now(), secrets.token_hex(5)
    body = crypto.encrypt_message(xml, nonce, ts)
    params = {"msg_signature": xmltodict.parse(body)["xml"]["MsgSignature"], "timestamp": ts, "nonce": nonce}
    if not enterprise:  # the Official Account also sends the plaintext-mode signature beside it
        params.update(encrypt_type="aes", signature=_sha1_sorted(TOKEN, ts, nonce))
    return params, body


@pytest.fixture(scope="module")
def servers(bundled_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Two apps over one service: safe mode (Official Account with an AES key, and WeCom), and plaintext mode."""
    folder = tmp_path_factory.mktemp("wxsec")
    safe = _settings(index_dir=bundled_index, conversations_db=folder / "safe.sqlite", wechat_token=TOKEN,
                     wechat_aes_key=AES_KEY, wechat_appid=APPID, wecom_token=WECOM_TOKEN,
                     wecom_aes_key=WECOM_AES_KEY, wecom_corp_id=CORP_ID)
    plain = _settings(index_dir=bundled_index, conversations_db=folder / "plain.sqlite", wechat_token=TOKEN)
    service = ready_service(safe)
    with serve_http(create_app(safe, service)) as s, serve_http(create_app(plain, service)) as p:
        yield {"safe": s, "plain": p, "safe_db": str(folder / "safe.sqlite"), "plain_db": str(folder / "plain.sqlite")}


def test_with_aes_key_plaintext_callback_is_rejected(servers: dict[str, str]) -> None:
    """The signature/timestamp/nonce captured from a safe-mode callback cannot sign a plaintext body."""
    params, body = _encrypted(_text_xml(_user(), JIANGSU_FUNDS))
    assert httpx.post(f"{servers['safe']}/wechat", params=params, content=body, timeout=30).status_code == 200
    captured = {k: params[k] for k in ("signature", "timestamp", "nonce")}
    attacker = _user()
    forged = httpx.post(f"{servers['safe']}/wechat", params=captured, content=_text_xml(attacker, JIANGSU_FUNDS),
                        timeout=30)
    assert forged.status_code == 403 and "安全模式" in forged.json()["detail"]
    assert stored_questions(Path(servers["safe_db"]), attacker) == []


def test_seen_timestamp_nonce_with_another_body_is_rejected(servers: dict[str, str]) -> None:
    """A signed query string used once cannot carry another message; the identical request (a retry) gets the
    same reply and is answered once."""
    query, user = _signed(), _user()
    body = _text_xml(user, JIANGSU_FUNDS, _msg_id())
    first = httpx.post(f"{servers['plain']}/wechat", params=query, content=body, timeout=30)
    retry = httpx.post(f"{servers['plain']}/wechat", params=query, content=body, timeout=30)
    assert first.status_code == retry.status_code == 200
    # The same reply (its XML is rendered anew, so its CreateTime may be a second later).
    assert xmltodict.parse(first.text)["xml"]["Content"] == xmltodict.parse(retry.text)["xml"]["Content"]
    forged = _text_xml(_user(), GUANGDONG_MEASURES, _msg_id())
    assert httpx.post(f"{servers['plain']}/wechat", params=query, content=forged, timeout=30).status_code == 403
    assert stored_questions(Path(servers["plain_db"]), user) == [JIANGSU_FUNDS]


def test_a_msgid_retry_is_recognised_per_user(servers: dict[str, str]) -> None:
    """Another user naming the same MsgId gets an answer to their own question, not the first user's reply."""
    msg_id = _msg_id()
    first = httpx.post(f"{servers['plain']}/wechat", params=_signed(),
                       content=_text_xml(_user(), JIANGSU_FUNDS, msg_id), timeout=30)
    other = httpx.post(f"{servers['plain']}/wechat", params=_signed(),
                       content=_text_xml(_user(), GUANGDONG_MEASURES, msg_id), timeout=30)
    assert first.status_code == other.status_code == 200
    assert "紫金" in first.text and "紫金" not in other.text


@pytest.mark.parametrize("path", ["/wechat", "/wecom"])
@pytest.mark.parametrize("declared", ["GBK", "x-nope"])
def test_unsigned_xml_in_another_encoding_is_4xx(servers: dict[str, str], path: str, declared: str) -> None:
    """XML declaring GBK or an unknown encoding, without a signature: refused, not a 500 with a traceback."""
    xml = f'<?xml version="1.0" encoding="{declared}"?>' + _text_xml("o_u", "江苏基金", "1")
    body = xml.encode("gbk") if declared == "GBK" else xml.encode()
    params = {"timestamp": _now(), "nonce": "n1", "msg_signature": "0" * 40, "signature": "0" * 40}
    response = httpx.post(f"{servers['safe']}{path}", params=params, content=body, timeout=30)
    assert response.status_code in (400, 403) and "Traceback" not in response.text


@pytest.mark.parametrize("body", [
    ('<?xml version="1.0" encoding="GBK"?>' + _text_xml("o_u", "江苏基金", "1")).encode("gbk"),
    ('<?xml version="1.0" encoding="x-nope"?>' + _text_xml("o_u", "abc", "2")).encode(),
    "<xml><FromUserName>o_u</FromUserName><Content>江苏基金</Content></xml>".encode("gbk"),
    b"<xml/>",
    b"<xml><FromUserName>o_u</FromUserName><Content>hi</Content></xml>",
    _text_xml("o_u", JIANGSU_FUNDS, "abc").encode(),
    "<xml><MsgType>text</MsgType><Content>江苏基金</Content><MsgId>6</MsgId></xml>".encode(),
], ids=["gbk", "unknown-encoding", "not-utf8", "empty-xml", "no-msgtype", "msgid-not-numeric", "no-fromusername"])
def test_bad_signed_plaintext_callback_is_400(servers: dict[str, str], body: bytes) -> None:
    response = httpx.post(f"{servers['plain']}/wechat", params=_signed(), content=body, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["detail"]


DTD_INSIDE = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><ToUserName>x</ToUserName>'
              '<FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>'
              '<Content>&a;</Content><MsgId>7</MsgId></xml>')


@pytest.mark.parametrize("enterprise", [False, True], ids=["wechat", "wecom"])
@pytest.mark.parametrize(("inner", "status"), [(DTD_INSIDE, 403), ("<xml/>", 400), (_text_xml("u", "x", "zz"), 400)],
                         ids=["doctype-inside", "empty-xml", "msgid-not-numeric"])
def test_bad_decrypted_payload_is_4xx(servers: dict[str, str], inner: str, status: int, enterprise: bool) -> None:
    """A validly encrypted payload is checked like a plaintext body: DOCTYPE/entities 403, malformed 400."""
    params, body = _encrypted(inner, enterprise=enterprise)
    path = "/wecom" if enterprise else "/wechat"
    assert httpx.post(f"{servers['safe']}{path}", params=params, content=body, timeout=30).status_code == status


@pytest.mark.parametrize("content", ["<Content></Content>", ""], ids=["empty", "missing"])
def test_empty_content_is_not_asked_as_none(servers: dict[str, str], content: str) -> None:
    """An empty or missing <Content> gets a prompt to type a question; nothing is asked or stored ("None")."""
    user = _user()
    body = (f"<xml><ToUserName>{ACCOUNT}</ToUserName><FromUserName>{user}</FromUserName><MsgType>text</MsgType>"
            f"{content}<MsgId>{_msg_id()}</MsgId></xml>")
    response = httpx.post(f"{servers['plain']}/wechat", params=_signed(), content=body, timeout=30)
    assert response.status_code == 200 and "请直接输入" in response.text
    assert stored_questions(Path(servers["plain_db"]), user) == []
