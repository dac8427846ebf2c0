"""Per-sender rate limit in Redis: a sliding window (two fixed-window counters, the older
weighted by its overlap), shared by every replica.

Sender addresses are personal data, so the Redis key carries an HMAC of the address, not
the address itself.

One command per post: a server-side script counts and, on the window's first hit, sets
the expiry (redis-py's `register_script`: EVALSHA, the script loaded again if the server
lost it). The MULTI / INCR / EXPIRE / EXEC pipeline it replaces was four commands, and
redis-py's pipeline machinery around them was 8 % of intake's CPU on a filing (issue 18).

Each hit has its own deadline (`timeout_s`, then the post is let through): intake's Redis
client has no socket timeout of its own (`IntakeRuntime`), because redis-py enforces that
timeout around every command's write (`asyncio.wait_for`, a task on Python 3.11) and read
(a timeout context): 0.07 -> 0.05 client CPU-ms a command (docs/performance.md, issue 18's
twenty-sixth step).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from aduan_kit.logging import get_logger

__all__ = ["SlidingWindowLimiter", "Verdict"]

log = get_logger(__name__)

LIMITED = Counter("aduan_intake_rate_limited_total", "Posts refused by the rate limit", ["scope"])
UNCHECKED = Counter(
    "aduan_intake_rate_limit_unchecked_total", "Posts let through because Redis failed"
)


# The count in this window after this hit, and the previous window's count. A key lives two
# windows (it is read as the previous window in the next one); the expiry is set on its
# first hit only, atomically with the count. Both keys carry the sender's hash in braces so
# a Redis Cluster keeps them in one slot.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local previous = redis.call('GET', KEYS[2])
return {count, tonumber(previous) or 0}
"""


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: int
    count: int  # posts in the current window, this one included (refused ones count too)


class SlidingWindowLimiter:
    """At most `limit` posts in any `window_s` seconds (approximately): the previous
    window's count weighted by how much of it still overlaps the sliding window, plus the
    current window's count.

    A fixed window let a burst of twice the limit through across a window's edge (the
    limit's posts at second 59, the limit's again at second 60); a sliding estimate does
    not. Refused posts count too, so a sender who keeps hammering stays refused."""

    def __init__(
        self,
        redis: Callable[[], Redis],
        prefix: str,
        limit: int,
        window_s: int,
        secret: str,
        clock: Callable[[], float] = time.time,
        timeout_s: float = 2.0,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self.limit = limit
        self.window_s = window_s
        self._secret = secret.encode()
        self._clock = clock
        self._script: AsyncScript | None = None  # registered on the first hit
        # The longest a post waits for its count (connecting included) before it is let
        # through unchecked.
        self.timeout_s = timeout_s

    def _who(self, sender: str) -> str:
        return hmac.new(self._secret, sender.encode(), hashlib.sha256).hexdigest()[:32]

    def _key(self, scope: str, who: str, window: int) -> str:
        return f"{self._prefix}ratelimit:{scope}:{{{who}}}:{window}"

    async def hit(self, scope: str, sender: str) -> Verdict:
        now = self._clock()
        window = int(now // self.window_s)
        who = self._who(sender)  # once for both windows' keys
        keys = [self._key(scope, who, window), self._key(scope, who, window - 1)]
        try:
            redis = self._redis()
            if self._script is None:
                self._script = redis.register_script(_HIT)
            # On a timeout redis-py drops the connection the answer was due on (it closes
            # a connection on any exception mid-command), so no late answer is misread.
            async with asyncio.timeout(self.timeout_s):
                count, previous = await self._script(
                    keys=keys, args=[2 * self.window_s + 1], client=redis
                )
        except (RedisError, OSError, TimeoutError) as exc:
            # Fail open: losing a citizen's complaint because the cache blinked is worse
            # than letting a burst through for a moment. The counter makes it visible.
            UNCHECKED.inc()
            log.warning("rate limit unchecked: redis failed", error=type(exc).__name__)
            return Verdict(allowed=True, retry_after_s=0, count=0)
        count, previous = int(count), int(previous)
        elapsed = now - window * self.window_s
        estimate = previous * (1 - elapsed / self.window_s) + count
        if estimate <= self.limit:
            return Verdict(allowed=True, retry_after_s=0, count=count)
        LIMITED.labels(scope).inc()
        return Verdict(
            allowed=False, retry_after_s=self._retry_after(count, previous, elapsed), count=count
        )

    def _retry_after(self, count: int, previous: int, elapsed: float) -> int:
        """Seconds until one more post would be allowed if the sender sends nothing before."""
        w, room = self.window_s, self.limit - count - 1
        if room >= 0 and previous > 0:
            # Later in this window, once enough of the previous one has slid out.
            wait = w * (1 - room / previous) - elapsed
        else:
            # In the next window, once enough of this one has slid out.
            wait = (w - elapsed) + w * max(0.0, 1 - (self.limit - 1) / count)
        return max(1, math.ceil(wait - 1e-6))  # 40.000000001 s is 40 s
