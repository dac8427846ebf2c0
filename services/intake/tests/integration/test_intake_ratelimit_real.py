"""The per-sender rate limit on real Redis (adapters/ratelimit.py): the server-side script
counts per sender and window, sets the window's expiry, keeps no address, and works again
after the server has forgotten the script."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from aduan_intake.adapters.ratelimit import FixedWindowLimiter
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration


async def test_fixed_window_counts_per_sender_and_says_when_to_retry(isolated: Isolation) -> None:
    redis = Redis.from_url(isolated.redis_url)
    now = [1000.0]
    limiter = FixedWindowLimiter(
        lambda: redis,
        isolated.redis_prefix,
        limit=2,
        window_s=60,
        secret="s" * 32,
        clock=lambda: now[0],
    )
    try:
        verdicts = [await limiter.hit("web", "10.0.0.1") for _ in range(3)]
        assert [v.allowed for v in verdicts] == [True, True, False]
        assert [v.count for v in verdicts] == [1, 2, 3]
        assert verdicts[2].retry_after_s == 20  # the window [960, 1020) ends in 20 s
        assert (await limiter.hit("web", "10.0.0.2")).allowed  # another sender
        keys = [k.decode() for k in await redis.keys(f"{isolated.redis_prefix}ratelimit:*")]
        assert len(keys) == 2
        assert all("10.0.0" not in k for k in keys)  # addresses are not stored
        # The key goes with its window (set once, on the window's first hit).
        ttls = [await redis.ttl(k) for k in keys]
        assert all(0 < t <= 61 for t in ttls), ttls

        # A server that lost its scripts (restart, SCRIPT FLUSH) is sent the script again.
        await redis.script_flush()
        assert (await limiter.hit("web", "10.0.0.1")).count == 4

        now[0] = 1020.0  # the next window
        fresh = await limiter.hit("web", "10.0.0.1")
        assert fresh.allowed and fresh.count == 1
    finally:
        for k in await redis.keys(f"{isolated.redis_prefix}ratelimit:*"):
            await redis.delete(k)
        await redis.aclose()


async def test_an_unreachable_redis_lets_the_post_through() -> None:
    # Fail open (a citizen's complaint matters more than a burst): nothing listens here.
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    limiter = FixedWindowLimiter(lambda: redis, "p:", limit=1, window_s=60, secret="s" * 32)
    try:
        verdict = await limiter.hit("web", "10.0.0.1")
        assert verdict.allowed and verdict.count == 0
    finally:
        await redis.aclose()
