"""Where a command's reply may go (the broker's topic list, cached)."""

from __future__ import annotations

import math
import re
import time

from aiokafka.admin import AIOKafkaAdminClient

from aduan_kit.logging import get_logger

__all__ = ["ReplyTopics"]

log = get_logger(__name__)

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class ReplyTopics:
    """Where a command's reply may go: the caller's `reply_to` topic when it exists and is
    not another contract's topic, else the shared replies topic.

    Topics are not auto-created, and the outbox relay sends rows strictly in order, so a
    reply queued for a missing topic would stall every later status change; hence the
    check against the broker's topic list (cached, refreshed at most once per second on a
    miss, and done before the transaction so no row lock waits on Kafka).
    """

    def __init__(self, bootstrap_servers: str, default: str, reserved: set[str]) -> None:
        self.default = default
        self._bootstrap = bootstrap_servers
        self._reserved = reserved
        self._known: set[str] = set()
        self._listed_at = -math.inf

    async def _list_topics(self) -> set[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            return set(await admin.list_topics())
        finally:
            await admin.close()

    async def resolve(self, wanted: str) -> str:
        if not wanted:
            return self.default
        if not _TOPIC_NAME.match(wanted) or wanted in self._reserved or wanted.endswith(".dlq"):
            log.warning("reply_to names a topic that may not carry replies; using the default")
            return self.default
        if wanted not in self._known and time.monotonic() - self._listed_at >= 1.0:
            self._known = await self._list_topics()
            self._listed_at = time.monotonic()
        if wanted not in self._known:
            log.warning("reply_to names a topic that does not exist; using the default")
            return self.default
        return wanted
