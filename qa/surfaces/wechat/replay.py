"""Replay protection for signed callbacks: each (timestamp, nonce) pair is accepted with one payload only."""

from __future__ import annotations

import hashlib
import threading
import time

from qa.stores.base import Nonces
from qa.stores.outage import OUTAGES, WriteOutage
from qa.surfaces.errors import CallbackRejected


class ReplayGuard:
    """The (timestamp, nonce) pairs of accepted callbacks, shared by every server process through a store.

    A signature stays valid for `max_age` seconds either side of now, so a pair is kept for twice that (plus a
    minute of clock skew) and then forgotten: a replay older than that fails the timestamp check instead."""

    def __init__(self, store: Nonces, max_age: int) -> None:
        self.store = store
        self.keep = 2 * max_age + 60
        self.outage = WriteOutage(f"回调防重放记录（{store.where}）", "改为记在本进程内存中，其他进程看不到")
        # While the store cannot be written: pairs seen by this process, so a replay to it is still caught.
        self._memory: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._memory_lock = threading.Lock()

    def check(self, channel: str, timestamp: str, nonce: str, payload: str) -> None:
        """Record a verified callback; raise CallbackRejected when its (timestamp, nonce) came with another payload.

        The same pair with the same payload is let through: should WeChat retry an identical request, the reply
        comes from the (channel, user, MsgId) reply store and nothing is answered twice. The payload is the
        decrypted XML in safe mode, so only the holder of the AES key could produce a second one."""
        digest = hashlib.sha256(payload.encode()).hexdigest()
        try:
            first = self.store.first_digest(channel, timestamp, nonce, digest, self.keep)
        except OUTAGES as exc:  # a full disk or a lost database must not stop every callback
            self.outage.failed(exc)
            first = self._remembered(channel, timestamp, nonce, digest)
        if first != digest:
            raise CallbackRejected("timestamp/nonce 已被另一条消息使用（疑似重放）")

    def _remembered(self, channel: str, timestamp: str, nonce: str, digest: str) -> str:
        """Return the digest first seen in this process for this pair, keeping pairs for as long as the store would."""
        now = time.time()
        with self._memory_lock:
            self._memory = {k: v for k, v in self._memory.items() if v[1] >= now - self.keep}
            return self._memory.setdefault((channel, timestamp, nonce), (digest, now))[0]
