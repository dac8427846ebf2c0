"""`cancel_and_wait`: what every part's `stop()` does with its background loop."""

from __future__ import annotations

import asyncio

import pytest

from aduan_kit.tasks import cancel_and_wait


async def test_a_running_loop_is_ended_and_its_cleanup_has_run() -> None:
    cleaned: list[str] = []

    async def loop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append("closed")

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.done() and task.cancelled() and cleaned == ["closed"]


async def test_an_error_on_the_way_out_is_not_swallowed() -> None:
    async def loop() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            raise RuntimeError("the connection would not close")

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="would not close"):
        await cancel_and_wait(task)


async def test_nothing_started_is_nothing_to_stop() -> None:
    await cancel_and_wait(None)


async def test_a_caller_given_up_on_is_cancelled_not_left_waiting() -> None:
    """A stop that takes too long is cancelled by whoever waits for it (a shutdown's
    grace period): the cancellation must reach it, not be taken for the loop's own."""
    release = asyncio.Event()

    async def stubborn() -> None:
        while True:
            try:
                await release.wait()
                return
            except asyncio.CancelledError:
                continue  # a loop that (wrongly) does not end when cancelled

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(cancel_and_wait(task), 0.2)
    assert not task.done()
    release.set()
    await task


async def test_a_loop_that_ends_by_itself_on_cancel_is_not_an_error() -> None:
    async def quiet() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return  # ends normally

    task = asyncio.create_task(quiet())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert task.done() and not task.cancelled()
