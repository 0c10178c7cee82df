"""Keyed pseudonyms for user ids (WeChat openids are personal data) and the random key kept beside a store."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from qa.stores.errors import StoreUnavailable


def stored_salt(path: Path) -> bytes:
    """Return the random key kept in `path`, creating it once (mode 0600) for every process that shares the store.

    Written to a temporary file and linked into place, so a concurrent process never reads it half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # atomic, and fails when another process linked its key first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    value = path.read_text(encoding="ascii").strip()
    if len(value) < 32:
        raise StoreUnavailable(f"密钥文件 {path} 内容无效（应为 64 位十六进制）；请删除它后重启，或设置 QA_LOG_SALT")
    return value.encode()


def salt_for(configured: SecretStr, store: Path) -> bytes:
    """Return QA_LOG_SALT when set, else the key kept beside the store (`<store>.salt`)."""
    return configured.get_secret_value().encode() or stored_salt(Path(f"{store}.salt"))


def pseudonym(salt: bytes, user: str) -> str:
    """Return the user id as stored: an HMAC-SHA256 under the salt, which no one without the key can invert."""
    return hmac.new(salt, user.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:24]
