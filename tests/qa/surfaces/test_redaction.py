"""No secret reaches a log: a failed push over a real server, and every record of the process once redaction is on."""

from __future__ import annotations

import io
import logging
import socket
import time
from pathlib import Path

import httpx
import pytest
import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto

from qa.surfaces.http.app import create_app
from tests.conftest import ROOT, ready_service, serve_http
from tests.qa.surfaces.test_wechat import (
    APP_SECRET,
    APPID,
    CORP_ID,
    JIANGSU_FUNDS,
    TOKEN,
    WECOM_AES_KEY,
    WECOM_TOKEN,
    _msg_id,
    _now,
    _settings,
    _signed,
    _text_xml,
    _user,
)

WECOM_SECRET = "corpsecret0123456789abcdef"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.server
def test_failed_push_logs_no_secret(bundled_index: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Both channels answer too late for the reply window and their push API refuses the connection: the log says
    the push failed, once per channel, without the AppSecret or corpsecret that requests puts in its error."""
    caplog.set_level(logging.DEBUG)
    base = f"http://127.0.0.1:{_closed_port()}/cgi-bin/"
    settings = _settings(index_dir=bundled_index, conversations_db=tmp_path / "c.sqlite", wechat_reply_seconds=0.0,
                         wechat_token=TOKEN, wechat_appid=APPID, wechat_secret=APP_SECRET, wechat_api_base=base,
                         wecom_token=WECOM_TOKEN, wecom_aes_key=WECOM_AES_KEY, wecom_corp_id=CORP_ID,
                         wecom_secret=WECOM_SECRET, wecom_agent_id="1000002", wecom_api_base=base)
    with serve_http(create_app(settings, ready_service(settings))) as url:
        plain = httpx.post(f"{url}/wechat", params=_signed(), content=_text_xml(_user(), JIANGSU_FUNDS), timeout=30)
        crypto, ts, nonce = WeComCrypto(WECOM_TOKEN, WECOM_AES_KEY, CORP_ID), _now(), "n" + _msg_id()
        body = crypto.encrypt_message(_text_xml(_user(), JIANGSU_FUNDS, to=CORP_ID), nonce, ts)
        params = {"msg_signature": xmltodict.parse(body)["xml"]["MsgSignature"], "timestamp": ts, "nonce": nonce}
        wecom = httpx.post(f"{url}/wecom", params=params, content=body, timeout=30)
        assert plain.status_code == wecom.status_code == 200
        deadline = time.monotonic() + 20
        while caplog.text.count("推送失败") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert caplog.text.count("推送失败") == 2, caplog.text
    formatted = "\n".join(logging.Formatter("%(message)s").format(r) for r in caplog.records)
    for text in (caplog.text, formatted):
        assert APP_SECRET not in text and WECOM_SECRET not in text, text


@pytest.mark.server
def test_every_log_record_is_redacted() -> None:
    """Whatever the logger and handler: registered secret values, ?secret=/&corpsecret=/access_token= and URL
    passwords are masked in messages, arguments and tracebacks; numeric arguments still format."""
    from qa.service import redact

    redact.register([APP_SECRET])
    redact.install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("uvicorn.error.redaction-test")
    logger.addHandler(handler)
    try:
        try:
            raise ConnectionError(f"Max retries exceeded: /cgi-bin/gettoken?corpid=x&corpsecret={WECOM_SECRET}")
        except ConnectionError:
            logger.exception("failed %s after %d tries", f"http://u:pw0rd123@chroma:8000 {APP_SECRET} "
                                                          "access_token=AT123456", 3)
        logger.error(ValueError(f"secret={WECOM_SECRET}"))
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert all(s not in text for s in (WECOM_SECRET, APP_SECRET, "pw0rd123", "AT123456")), text
    assert "corpsecret=***" in text and "after 3 tries" in text and "ConnectionError" in text


def test_a_settings_error_names_the_setting_not_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """pydantic quotes the input in its messages: a bad setting beside a key must not print the key."""
    from qa.errors import ConfigError
    from qa.settings import load_settings

    monkeypatch.setenv("QA_LLM_API_KEY", "sk-settings-secret-42")
    monkeypatch.setenv("QA_WEB_PUBLIC", "false")
    monkeypatch.setenv("QA_PORT", "abc")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert "QA_PORT（当前值 'abc'）" in message and "QA_WEB_PUBLIC" in message
    assert "sk-setti" not in message


@pytest.mark.subprocess
def test_registering_settings_redacts_the_log_from_then_on() -> None:
    """The loader registers the settings before the app exists: its thread's first log lines are redacted too."""
    import subprocess
    import sys

    code = ("import logging; from qa.service.redact import register_settings; from qa.settings import Settings; "
            "register_settings(Settings(llm_api_key='sk-VeryPrivate123')); "
            "logging.getLogger('qa.service.loader').error('LLM call failed with key sk-VeryPrivate123')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert "LLM call failed with key ***" in out.stderr and "VeryPrivate" not in out.stderr, out.stderr
