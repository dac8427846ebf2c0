"""Small helpers that integration and end-to-end tests share (import them; never import
from a conftest)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

__all__ = ["eventually", "free_port"]


def free_port() -> int:
    """A TCP port nobody listens on right now, for a server the test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
