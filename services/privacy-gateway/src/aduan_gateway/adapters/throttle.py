"""Failure-driven backoff in Redis for the two sign-ins that take a guessable secret: staff
(username and password) and reporters (receipt code and contact).

Only failures count. A subject (an account, a source address, a receipt code) may fail
`free` times within `window_s`; each failure beyond that blocks it for a wait that doubles
(`base_s`, 2x, 4x, ... up to `max_s`). While blocked, the request is refused with 429 and
`Retry-After` before anything is checked, so a blocked guesser learns nothing, not even from
a right guess.

Keys hold a keyed hash (HMAC with the pseudonym secret) of the subject, never the username,
address or receipt code themselves, and the same hash is what the logs show: enough to see
that one account or one address is under attack, useless for learning who or where.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from redis.asyncio import Redis

__all__ = ["Backoff", "Throttle"]


@dataclass(frozen=True, slots=True)
class Backoff:
    free: int
    base_s: int
    max_s: int
    window_s: int = 3600

    def wait_s(self, failures: int) -> int:
        """The wait after the `failures`-th failure (0 while within the free ones)."""
        over = failures - self.free
        if over <= 0:
            return 0
        return int(min(self.max_s, self.base_s * 2 ** min(over - 1, 30)))


class Throttle:
    def __init__(self, redis: Redis, prefix: str, secret: str) -> None:
        self.redis, self.prefix, self._secret = redis, prefix, secret.encode()

    def tag(self, value: str) -> str:
        """A keyed hash of a username, address or receipt code: for keys and logs."""
        return hmac.new(self._secret, value.encode(), hashlib.sha256).hexdigest()[:20]

    def _key(self, kind: str, *tags: str) -> str:
        return f"{self.prefix}throttle:{kind}:{':'.join(tags)}"

    async def wait(self, kind: str, *tags: str) -> int:
        """Seconds the subject must still wait (0: not blocked)."""
        left = await self.redis.ttl(self._key(kind, *tags) + ":block")
        return max(int(left), 0) if left is not None else 0

    async def block(self, seconds: int, kind: str, *tags: str) -> None:
        if seconds > 0:
            await self.redis.set(self._key(kind, *tags) + ":block", b"1", ex=seconds)

    async def count(self, window_s: int, kind: str, *tags: str) -> int:
        """Count a failure within a window of `window_s` from the first; the count so far."""
        key = self._key(kind, *tags)
        # The window starts with the first failure (SET NX) and INCR keeps its expiry.
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=window_s, nx=True)
            pipe.incr(key)
            _, counted = await pipe.execute()
        return int(counted)

    async def failed(self, policy: Backoff, kind: str, *tags: str) -> int:
        """Count a failure and block the subject when past the free ones; the count."""
        counted = await self.count(policy.window_s, kind, *tags)
        await self.block(policy.wait_s(counted), kind, *tags)
        return counted

    async def clear(self, kind: str, *tags: str) -> None:
        key = self._key(kind, *tags)
        await self.redis.delete(key, key + ":block")
