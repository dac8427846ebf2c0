"""A worker among several on one port ends itself when its background loops stay dead
(aduan_kit.runtime.end_when_dead): a supervisor's probe may never reach it three times in
a row, so the worker must not wait for one."""

from __future__ import annotations

import asyncio

from aduan_kit.runtime import end_when_dead


async def test_a_worker_dead_for_three_checks_ends_itself() -> None:
    ended: list[int] = []
    checks: list[int] = []

    def dead() -> list[str]:
        checks.append(1)
        return ["consumer of intake.report-submitted.v1"]

    await asyncio.wait_for(
        end_when_dead(dead, interval_s=0.001, end=lambda: ended.append(len(checks))),
        timeout=5,
    )
    assert ended == [3], "ended once, at the third failed check"


async def test_a_worker_that_recovers_between_checks_keeps_running() -> None:
    # Dead, dead, alive again (the consumer's restart in place worked), dead, dead: never
    # three in a row, so the worker is not ended.
    answers = iter([["relay"], ["relay"], [], ["relay"], ["relay"], []] * 3)
    ended: list[bool] = []
    task = asyncio.create_task(
        end_when_dead(lambda: next(answers, []), interval_s=0.001, end=lambda: ended.append(True))
    )
    await asyncio.sleep(0.2)
    task.cancel()
    assert ended == []
