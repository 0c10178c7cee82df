"""Keep secrets out of logs, error pages and stored rows: known secret values and credential query parameters."""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, SecretStr

# Query parameters that carry a credential in WeChat/WeCom and OpenAI-style URLs: ?secret=…&corpsecret=…&access_token=…
CREDENTIAL_PARAM = re.compile(
    r"(?i)\b(secret|corpsecret|appsecret|access_token|api[_-]?key|key|token|password)=([^&\s'\"<>)]+)"
)
# user:password@ in a URL (a Chroma or LLM URL with basic auth)
URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s:]+:[^/@\s]+@")
MASK = "***"
# An absolute path (POSIX or Windows) inside a message: not after a letter, digit, "." or ":" or "/", so URLs,
# fractions and "和/或" are left alone; it ends at whitespace, a quote, a bracket or Chinese punctuation.
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/\\])(?:[A-Za-z]:[\\/]|/)[^\s'\"<>()\[\]{}:：，。；、（）【】]+")
HIDDEN_PATH = "[路径]"
# A shorter "secret" would mask ordinary words in every log line.
MIN_SECRET_CHARS = 6

_lock = threading.Lock()
_secrets: set[str] = set()


def register(values: Iterable[str | SecretStr]) -> None:
    """Remember secret values (tokens, AES keys, AppSecret, corpsecret, API keys) so redact() masks them."""
    with _lock:
        for value in values:
            raw = value.get_secret_value() if isinstance(value, SecretStr) else value
            if raw and len(raw) >= MIN_SECRET_CHARS:
                _secrets.add(raw)


def register_settings(settings: BaseModel) -> None:
    """Register every SecretStr field of a settings object, and redact every log record from now on."""
    register(v for name in type(settings).model_fields if isinstance(v := getattr(settings, name), SecretStr))
    install()


def redact(text: str) -> str:
    """Return text with credential query parameters, URL passwords and registered secret values masked."""
    text = CREDENTIAL_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = URL_USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)  # longest first: one secret may contain another
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def public(text: str) -> str:
    """Return text fit for a public response (health check, the page, a 503): secrets masked, server paths hidden.

    The full text goes to the server's log; a path tells an outsider how the server is laid out."""
    return ABSOLUTE_PATH.sub(HIDDEN_PATH, redact(text))


def describe(exc: BaseException) -> str:
    """Return a one-line, redacted description of an exception (type and message, no traceback)."""
    return redact(f"{type(exc).__name__}: {exc}".replace("\n", " "))


def _clean(arg: object) -> object:
    """Return a log argument unchanged unless its text holds a secret; then its redacted text."""
    if arg is None or isinstance(arg, int | float):
        return arg  # keeps %d and %.1f working; numbers carry no secret
    shown = str(arg)
    hidden = redact(shown)
    return arg if hidden == shown else hidden


def install() -> None:
    """Redact every log record of this process, whichever logger or handler it reaches (uvicorn's included).

    A record factory, not a handler filter: a filter on one logger misses records propagated from its children and
    handlers added later (uvicorn's). Arguments are redacted one by one, so formatters that unpack them (uvicorn's
    access log) still work. The traceback is formatted and redacted here, because exception messages (requests'
    "Max retries exceeded with url: /cgi-bin/token?...&secret=...") are where the secrets are."""
    old = logging.getLogRecordFactory()
    if getattr(old, "redacting", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = old(*args, **kwargs)
        record.msg = redact(record.msg) if isinstance(record.msg, str) else _clean(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    factory.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
