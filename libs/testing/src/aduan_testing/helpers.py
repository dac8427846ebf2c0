"""Small helpers that integration and end-to-end tests share (import them; never import
from a conftest)."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import make_url

__all__ = ["connect_raw", "eventually", "free_port"]


_HANDED_OUT: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A TCP port nobody listens on right now, for a server the test starts.

    Chosen below the kernel's ephemeral range: a port the kernel picked for us (bind to 0)
    is one it may give to any outgoing connection (to Kafka, PostgreSQL...) in the seconds
    before the server binds it, which failed a CI run with "address already in use". Random
    so that concurrent test processes rarely try the same one; never twice in one process.
    """
    low, _ = _ephemeral_range()
    floor = max(1024, low - 12000)
    for _ in range(200):
        port = random.randrange(floor, low)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free TCP port in {floor}-{low}")


async def eventually(
    probe: Callable[[], Awaitable[Any]], what: str, timeout: float = 30.0, every: float = 0.2
) -> Any:
    """Poll until `probe` returns something truthy (the platform is asynchronous); an HTTP
    error counts as "not yet". Fails naming `what` and the last answer seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while loop.time() < deadline:
        try:
            last = await probe()
            if last:
                return last
        except httpx.HTTPError as exc:
            last = exc
        await asyncio.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


async def connect_raw(url: str) -> asyncpg.Connection:
    """A plain asyncpg connection to a service database given by its SQLAlchemy URL
    (`postgresql+asyncpg://...`), for tests that write or read rows as they are stored."""
    raw = make_url(url).set(drivername="postgresql")
    return await asyncpg.connect(raw.render_as_string(hide_password=False))
