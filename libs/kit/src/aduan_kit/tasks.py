"""Background tasks of a service's parts (a writer, a listener, a poll loop)."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["cancel_and_wait", "why_ended"]


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` and return once it has ended, as a part's `stop()` does with its loop:
    the task's own cancellation is expected and not raised here; anything else it raised on
    the way out is. None (never started) is nothing to stop."""
    if task is None:
        return
    task.cancel()
    # Waited for with `asyncio.wait`, which raises nothing of the task's: a cancellation
    # of the caller itself (a stop that is given up on) still reaches the caller, where
    # suppressing CancelledError around `await task` swallowed it too.
    await asyncio.wait({task})
    error = None if task.cancelled() else task.exception()
    if error is not None:
        raise error


def why_ended(task: Any, loop: str) -> str:
    """Why a library's background `task` (a future) is no longer running, naming it
    `loop` ("" while it runs, or if it is not a future): for clients whose loops an
    unexpected error ends for good (aduan_kit.consumers, aduan_kit.messaging)."""
    if not isinstance(task, asyncio.Future) or not task.done():
        return ""
    if task.cancelled():
        return f"its {loop} was cancelled"
    exc = task.exception()
    cause = (exc.__cause__ or exc) if exc is not None else None
    return f"its {loop} ended ({type(cause).__name__ if cause else 'returned'})"
