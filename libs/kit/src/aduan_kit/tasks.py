"""Background tasks of a service's parts (a writer, a listener, a poll loop)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` and return once it has ended, as a part's `stop()` does with its loop:
    the task's own cancellation is expected and not raised here; anything else it raised on
    the way out is. None (never started) is nothing to stop."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
