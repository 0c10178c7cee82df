"""WeChat Official Account and WeCom callbacks: signatures, encryption and XML through wechatpy."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from qa.errors import ConfigError
from qa.settings import Settings
from qa.surfaces.errors import CallbackInvalid, CallbackRejected
from qa.surfaces.wechat.bridge import ChatBridge
from qa.surfaces.wechat.replay import ReplayGuard

log = logging.getLogger(__name__)
XML_DECL_ENCODING = re.compile(r"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']""")
MSG_ID = re.compile(r"\d{1,20}")
# Unix seconds as WeChat sends them (10 digits until 2286). A longer number does not fit a float: it was an
# unauthenticated 500 (OverflowError) before the signature was looked at.
TIMESTAMP = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class Incoming:
    """The query string WeChat signs a callback with."""

    signature: str = ""
    msg_signature: str = ""
    timestamp: str = ""
    nonce: str = ""
    echostr: str = ""
    encrypt_type: str = ""


def _fresh(timestamp: str, max_age: int) -> None:
    """Reject a callback whose timestamp is missing or too far from now (a replayed request)."""
    if not TIMESTAMP.fullmatch(timestamp):
        raise CallbackRejected("时间戳无效：应为不超过 12 位数字的 Unix 秒数")
    age = abs(time.time() - int(timestamp))
    if age > max_age:
        raise CallbackRejected(f"时间戳相差 {int(age)} 秒，超过 {max_age} 秒")


def _safe_xml(body: bytes | str) -> str:
    """Return the XML as text once it is UTF-8, declares no other encoding and has no DOCTYPE or entities.

    WeChat and WeCom only send UTF-8. DOCTYPE/entities (XXE, billion laughs) are refused as hostile (403);
    anything else that does not parse is a bad request (400). Run on the HTTP body and again on the decrypted
    payload, which wechatpy would otherwise hand straight to xmltodict."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise CallbackInvalid(f"XML 不是 UTF-8 编码（第 {exc.start + 1} 个字节无效）；微信只发送 UTF-8") from exc
    declared = XML_DECL_ENCODING.match(text)
    if declared and declared.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise CallbackInvalid(f"XML 声明的编码是 {declared.group(1)[:20]!r}，只接受 UTF-8")
    try:
        # A str, not bytes: expat then never looks the declared encoding up ("GBK": multi-byte encodings are not
        # supported; an unknown name: LookupError), which used to escape as a 500.
        SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise CallbackRejected(f"不安全的 XML（{type(exc).__name__}）：不接受 DOCTYPE 或实体") from exc
    except (SafeET.ParseError, ValueError, LookupError) as exc:
        raise CallbackInvalid(f"无效的 XML（{type(exc).__name__}）") from exc
    return text


def _message(xml: str, parse: Callable[[str], object]) -> object:
    """Return the wechatpy message of checked XML, with the fields the bridge relies on validated (400 if not)."""
    try:
        message = parse(xml)
    except Exception as exc:  # <xml/> (None['MsgType']), no MsgType (KeyError), whatever else xmltodict raises
        raise CallbackInvalid(f"无法解析消息（{type(exc).__name__}）：需要 MsgType 等字段") from exc
    raw = getattr(message, "_data", None)
    if not isinstance(raw, dict):
        raise CallbackInvalid("消息格式无效")
    source = raw.get("FromUserName")
    if not isinstance(source, str) or not source.strip():
        raise CallbackInvalid("消息缺少 FromUserName")
    msg_id = raw.get("MsgId")
    if msg_id is not None and not (isinstance(msg_id, str) and MSG_ID.fullmatch(msg_id)):
        raise CallbackInvalid("MsgId 应为不超过 20 位的数字")
    return message


def _check_aes_key(key: str, setting: str) -> None:
    """Reject an EncodingAESKey that is not the 43 characters WeChat issues (without echoing the key)."""
    if len(key) != 43 or not re.fullmatch(r"[A-Za-z0-9+/]{43}", key):
        raise ConfigError(
            f"{setting} 应为公众号/企业微信后台生成的 43 位 EncodingAESKey（当前长度 {len(key)}）；请重新复制"
        )


def _route(bridge: ChatBridge, message: object) -> str:
    """Return the reply text for a parsed, validated wechatpy message."""
    kind = getattr(message, "type", "")
    raw: dict = message._data  # type: ignore[attr-defined]
    if kind == "text":
        content = raw.get("Content")
        # Raw fields, not wechatpy's properties: an absent <Content> would be str(None), the question "None".
        return bridge.on_text(raw["FromUserName"], content if isinstance(content, str) else "", raw.get("MsgId") or "")
    if kind == "event":
        event = getattr(message, "event", "")
        return bridge.on_subscribe() if event == "subscribe" else ""
    return bridge.on_other()


class OfficialAccount:
    """公众号 server callback: plaintext or safe mode (AES with the EncodingAESKey)."""

    def __init__(self, settings: Settings, bridge: ChatBridge, replay: ReplayGuard) -> None:
        self.token = settings.wechat_token.get_secret_value()
        self.max_age = settings.signature_max_age
        self.bridge = bridge
        self.replay = replay
        aes = settings.wechat_aes_key.get_secret_value()
        self.crypto = None
        if aes:
            from wechatpy.crypto import WeChatCrypto

            _check_aes_key(aes, "QA_WECHAT_AES_KEY")
            self.crypto = WeChatCrypto(self.token, aes, settings.wechat_appid)

    def verify_url(self, q: Incoming) -> str:
        """Return echostr when the signature over token/timestamp/nonce is right (server URL check)."""
        self._check_plain(q)
        return q.echostr

    def _check_plain(self, q: Incoming) -> None:
        from wechatpy.exceptions import InvalidSignatureException
        from wechatpy.utils import check_signature

        _fresh(q.timestamp, self.max_age)
        try:
            check_signature(self.token, q.signature, q.timestamp, q.nonce)
        except InvalidSignatureException as exc:
            raise CallbackRejected("签名无效") from exc

    def handle(self, q: Incoming, body: bytes) -> str:
        """Return the reply XML (encrypted in safe mode) for a callback, or "success" when none is due."""
        from wechatpy import create_reply, parse_message
        from wechatpy.exceptions import InvalidSignatureException

        if self.crypto is not None:
            # With an EncodingAESKey only safe (or compatible) mode is accepted: the plaintext signature covers
            # token, timestamp and nonce but not the body, so a captured query string would sign any body.
            if q.encrypt_type != "aes" or not q.msg_signature:
                raise CallbackRejected("已配置 QA_WECHAT_AES_KEY，只接受安全模式（加密）消息；"
                                       "请在公众号后台把消息加解密方式设为安全模式")
            _fresh(q.timestamp, self.max_age)
            outer = _safe_xml(body)
            try:
                decrypted = self.crypto.decrypt_message(outer, q.msg_signature, q.timestamp, q.nonce)
            except InvalidSignatureException as exc:
                raise CallbackRejected("签名无效") from exc
            except Exception as exc:  # wechatpy raises several types for a bad ciphertext or app id
                raise CallbackRejected(f"无法解密消息（{type(exc).__name__}）") from exc
            xml = _safe_xml(decrypted)
        else:
            if q.encrypt_type == "aes":
                raise CallbackRejected("收到加密消息，但未配置 QA_WECHAT_AES_KEY")
            self._check_plain(q)
            xml = _safe_xml(body)
        self.replay.check("wechat", q.timestamp, q.nonce, xml)
        message = _message(xml, parse_message)
        text = _route(self.bridge, message)
        if not text:
            return "success"
        reply = create_reply(text, message).render()
        if self.crypto is not None:
            return str(self.crypto.encrypt_message(reply, q.nonce, q.timestamp))
        return str(reply)


class WeCom:
    """企业微信 self-built app callback: always encrypted."""

    def __init__(self, settings: Settings, bridge: ChatBridge, replay: ReplayGuard) -> None:
        from wechatpy.enterprise.crypto import WeChatCrypto

        self.max_age = settings.signature_max_age
        self.bridge = bridge
        self.replay = replay
        _check_aes_key(settings.wecom_aes_key.get_secret_value(), "QA_WECOM_AES_KEY")
        self.crypto = WeChatCrypto(settings.wecom_token.get_secret_value(), settings.wecom_aes_key.get_secret_value(),
                                   settings.wecom_corp_id)

    def verify_url(self, q: Incoming) -> str:
        """Return the decrypted echostr of the URL check."""
        _fresh(q.timestamp, self.max_age)
        try:
            return str(self.crypto.check_signature(q.msg_signature, q.timestamp, q.nonce, q.echostr))
        except Exception as exc:
            raise CallbackRejected("签名无效") from exc

    def handle(self, q: Incoming, body: bytes) -> str:
        """Return the encrypted reply XML for a callback."""
        from wechatpy.enterprise import create_reply, parse_message

        _fresh(q.timestamp, self.max_age)
        outer = _safe_xml(body)
        try:
            decrypted = self.crypto.decrypt_message(outer, q.msg_signature, q.timestamp, q.nonce)
        except Exception as exc:
            raise CallbackRejected(f"签名无效或无法解密（{type(exc).__name__}）") from exc
        xml = _safe_xml(decrypted)
        self.replay.check("wecom", q.timestamp, q.nonce, xml)
        message = _message(xml, parse_message)
        text = _route(self.bridge, message)
        if not text:
            return "success"
        return str(self.crypto.encrypt_message(create_reply(text, message).render(), q.nonce, q.timestamp))


def official_account_push(settings: Settings) -> Callable[[str, str], None] | None:
    """Return a sender of customer-service text messages (客服消息), or None without an AppSecret."""
    secret = settings.wechat_secret.get_secret_value()
    if not (settings.wechat_appid and secret):
        return None
    from wechatpy.client import WeChatClient

    class Client(WeChatClient):  # type: ignore[misc]
        # wechatpy fetches the token from a fixed URL; the configured base must serve it too.
        API_BASE_URL = settings.wechat_api_base.rstrip("/") + "/"

        def fetch_access_token(self) -> dict:
            return self._fetch_access_token(  # type: ignore[no-any-return]
                url=self.API_BASE_URL + "token",
                params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret})

    client = Client(settings.wechat_appid, secret)

    def send(user: str, text: str) -> None:
        client.message.send_text(user, text)

    return send


def wecom_push(settings: Settings) -> Callable[[str, str], None] | None:
    """Return a sender of WeCom application text messages, or None without a secret and agent id."""
    secret = settings.wecom_secret.get_secret_value()
    if not (settings.wecom_corp_id and secret and settings.wecom_agent_id):
        return None
    from wechatpy.enterprise import WeChatClient

    class Client(WeChatClient):  # type: ignore[misc]
        # As above: the token URL follows the configured base.
        API_BASE_URL = settings.wecom_api_base.rstrip("/") + "/"

        def fetch_access_token(self) -> dict:
            return self._fetch_access_token(  # type: ignore[no-any-return]
                url=self.API_BASE_URL + "gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret})

    client = Client(settings.wecom_corp_id, secret)

    def send(user: str, text: str) -> None:
        client.message.send_text(settings.wecom_agent_id, user, text)

    return send
