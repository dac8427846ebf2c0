"""Per-sender rate limit in Redis: a sliding window (two fixed-window counters, the older
weighted by its overlap), shared by every replica.

Sender addresses are personal data, so the Redis key carries an HMAC of the address, not
the address itself.

One script call counts every post queued meanwhile (issue 18, twenty-seventh step): a
post's hit is queued when its request begins (`later`) and the verdict is fetched when
somebody needs it (`PendingHit.verdict`): intake's group commit asks for the verdicts of
its whole group at once, so a group of filings costs one EVALSHA, not one each (the
limiter's round trip was 15 % of intake's CPU at 100 filings/s, one per post). The
server-side script counts and, on a window's first hit, sets the expiry (redis-py's
`register_script`: EVALSHA, the script loaded again if the server lost it). A verdict
nobody asks for (a post refused for its content) is still counted within
`max_delay_s`. A batch's keys span several senders, so it needs one Redis (or a proxy
that keeps a script's keys together); a Redis Cluster would need the batch split by slot.

A sender refused here is refused again without asking Redis until the time its refusal
named (`_refused`, per process): such a post never has its body read, and is still
counted with the next call, so the shared count stays what every post made it. The time
named is exact for a sender who sends nothing before (`_retry_after`), and posts sent
meanwhile only push the shared count's answer later, so this never refuses a post that
Redis would have let through (other replicas' clocks aside).

Each call has its own deadline (`timeout_s`, then its posts are let through): intake's
Redis client has no socket timeout of its own (`IntakeRuntime`), because redis-py enforces
that timeout around every command's write (`asyncio.wait_for`, a task on Python 3.11) and
read (a timeout context): 0.07 -> 0.05 client CPU-ms a command (docs/performance.md, issue
18's twenty-sixth step).
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

__all__ = ["PendingHit", "SlidingWindowLimiter", "Verdict"]

log = get_logger(__name__)

LIMITED = Counter("aduan_intake_rate_limited_total", "Posts refused by the rate limit", ["scope"])
UNCHECKED = Counter(
    "aduan_intake_rate_limit_unchecked_total", "Posts let through because Redis failed"
)


# For each hit (two keys each: this window's, the previous window's), the count in this
# window after the hit and the previous window's count. A key lives two windows (it is read
# as the previous window in the next one); the expiry is set on its first hit only,
# atomically with the count. Both keys carry the sender's hash in braces so a Redis Cluster
# would keep one sender's keys in one slot.
_HIT = """
local out = {}
for i = 1, #KEYS, 2 do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
  out[i] = count
  out[i + 1] = tonumber(redis.call('GET', KEYS[i + 1])) or 0
end
return out
"""

# Senders refused here, remembered per process: at most this many (the oldest dropped).
_REFUSED_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: int
    # Posts in the current window, this one included (refused ones count too); 0 when not
    # known (Redis failed, or the sender was refused here without asking it).
    count: int


_UNCHECKED = Verdict(allowed=True, retry_after_s=0, count=0)


@dataclass(slots=True)
class _Hit:
    scope: str
    who: str
    now: float
    window: int
    # None: counted only (the post was refused here already).
    answer: asyncio.Future[Verdict] | None


class PendingHit:
    """A post's hit, queued: `verdict()` gives the limiter's answer, one script call for
    every hit queued by then. `refused` is the answer already known without Redis."""

    __slots__ = ("_answer", "_limiter")

    def __init__(self, limiter: SlidingWindowLimiter, answer: asyncio.Future[Verdict]) -> None:
        self._limiter = limiter
        self._answer = answer

    @property
    def refused(self) -> Verdict | None:
        if self._answer.done() and not self._answer.result().allowed:
            return self._answer.result()
        return None

    async def verdict(self) -> Verdict:
        if not self._answer.done():
            await self._limiter._settle(self._answer)
        return self._answer.result()


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
        max_delay_s: float = 0.1,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self.limit = limit
        self.window_s = window_s
        self._secret = secret.encode()
        self._clock = clock
        self._script: AsyncScript | None = None  # registered on the first call
        # The longest a call waits for its counts (connecting included) before its posts
        # are let through unchecked.
        self.timeout_s = timeout_s
        # The longest a queued hit waits to be counted when nobody asks for its verdict.
        self.max_delay_s = max_delay_s
        self._queue: list[_Hit] = []
        self._flight: asyncio.Task[None] | None = None  # the call under way
        self._timer: asyncio.TimerHandle | None = None
        self._refused: dict[tuple[str, str], float] = {}  # (scope, who) -> refused until
        self.calls = 0  # script calls made (tests and measurements read it)

    def _who(self, sender: str) -> str:
        return hmac.new(self._secret, sender.encode(), hashlib.sha256).hexdigest()[:32]

    def _key(self, scope: str, who: str, window: int) -> str:
        return f"{self._prefix}ratelimit:{scope}:{{{who}}}:{window}"

    async def hit(self, scope: str, sender: str) -> Verdict:
        """Count a post and answer at once (with whatever else is queued)."""
        return await self.later(scope, sender).verdict()

    def later(self, scope: str, sender: str) -> PendingHit:
        """Queue a post's hit; its verdict is fetched with others' when asked for."""
        loop = asyncio.get_running_loop()
        now = self._clock()
        who = self._who(sender)
        window = int(now // self.window_s)
        answer: asyncio.Future[Verdict] = loop.create_future()
        until = self._refused.get((scope, who))
        if until is not None and until > now:
            LIMITED.labels(scope).inc()
            answer.set_result(
                Verdict(allowed=False, retry_after_s=max(1, math.ceil(until - now - 1e-6)), count=0)
            )
            self._queue.append(_Hit(scope, who, now, window, None))  # counted all the same
        else:
            if until is not None:
                del self._refused[(scope, who)]
            self._queue.append(_Hit(scope, who, now, window, answer))
        if self._timer is None:
            self._timer = loop.call_later(self.max_delay_s, self._on_timer)
        return PendingHit(self, answer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._queue and self._flight is None:
            self._flight = asyncio.get_running_loop().create_task(self._flush())

    async def _settle(self, answer: asyncio.Future[Verdict]) -> None:
        while not answer.done():
            flight = self._flight
            if flight is None:
                flight = self._flight = asyncio.get_running_loop().create_task(self._flush())
            # Shielded: a request that goes away does not cancel the others' call.
            await asyncio.shield(flight)

    async def _flush(self) -> None:
        batch, self._queue = self._queue, []
        try:
            if batch:
                await self._count(batch)
        except Exception as exc:
            # A fault of ours must not hold citizens' posts either: through, and said.
            UNCHECKED.inc(sum(hit.answer is not None and not hit.answer.done() for hit in batch))
            log.error("rate limit unchecked: unexpected error", error=type(exc).__name__)
        finally:
            self._flight = None
            if self._queue and self._timer is None:
                # Queued during the call and not asked for yet: counted soon anyway.
                self._timer = asyncio.get_running_loop().call_later(
                    self.max_delay_s, self._on_timer
                )
            for hit in batch:  # never left waiting, whatever happened
                if hit.answer is not None and not hit.answer.done():
                    hit.answer.set_result(_UNCHECKED)

    async def _count(self, batch: list[_Hit]) -> None:
        keys: list[str] = []
        for hit in batch:
            keys += (
                self._key(hit.scope, hit.who, hit.window),
                self._key(hit.scope, hit.who, hit.window - 1),
            )
        try:
            redis = self._redis()
            if self._script is None:
                self._script = redis.register_script(_HIT)
            self.calls += 1
            # On a timeout redis-py drops the connection the answer was due on (it closes
            # a connection on any exception mid-command), so no late answer is misread.
            async with asyncio.timeout(self.timeout_s):
                counts = await self._script(keys=keys, args=[2 * self.window_s + 1], client=redis)
        except (RedisError, OSError, TimeoutError) as exc:
            # Fail open: losing a citizen's complaint because the cache blinked is worse
            # than letting a burst through for a moment. The counter makes it visible.
            UNCHECKED.inc(sum(hit.answer is not None for hit in batch))
            log.warning("rate limit unchecked: redis failed", error=type(exc).__name__)
            return
        for n, hit in enumerate(batch):
            if hit.answer is not None:
                hit.answer.set_result(
                    self._verdict(hit, int(counts[2 * n]), int(counts[2 * n + 1]))
                )

    def _verdict(self, hit: _Hit, count: int, previous: int) -> Verdict:
        elapsed = hit.now - hit.window * self.window_s
        estimate = previous * (1 - elapsed / self.window_s) + count
        if estimate <= self.limit:
            return Verdict(allowed=True, retry_after_s=0, count=count)
        LIMITED.labels(hit.scope).inc()
        wait = self._retry_after(count, previous, elapsed)
        if len(self._refused) >= _REFUSED_MAX:
            self._refused.pop(next(iter(self._refused)))
        self._refused[(hit.scope, hit.who)] = hit.now + wait
        return Verdict(allowed=False, retry_after_s=max(1, math.ceil(wait - 1e-6)), count=count)

    def _retry_after(self, count: int, previous: int, elapsed: float) -> float:
        """Seconds until one more post would be allowed if the sender sends nothing before
        (40.000000001 s is 40 s once rounded up for the sender)."""
        w, room = self.window_s, self.limit - count - 1
        if room >= 0 and previous > 0:
            # Later in this window, once enough of the previous one has slid out.
            wait = w * (1 - room / previous) - elapsed
        else:
            # In the next window, once enough of this one has slid out.
            wait = (w - elapsed) + w * max(0.0, 1 - (self.limit - 1) / count)
        return max(0.0, wait)
