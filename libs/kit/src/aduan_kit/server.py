"""uvicorn's server with its housekeeping tick once a second instead of ten times.

uvicorn's `Server.main_loop` wakes every 100 ms to refresh the `Date` header (once a second
of those) and to notice `should_exit`. That is ~2 CPU-ms a second per idle process on the
machines these services were measured on (a bare app: 2.3 ms/s against 0.3 with a 1-s tick,
docs/performance.md), eight uvicorn processes in a stack, and idle is nearly all a city's
bill at its real rate (a complaint every few minutes). `QuietServer` wakes on each whole
second (when the header's value changes) and at once when an exit is asked for: a signal
(uvicorn's `handle_exit` sets `should_exit`) or code setting `should_exit`, so stopping is
no slower than before.

Several HTTP workers (`serve` with a factory): uvicorn's supervisor builds each worker's
server in the worker from its module-level `Server`, so `QuietWorkersConfig` puts
`QuietServer` there from the first call uvicorn makes in a spawned worker
(`configure_logging`). Both rest on uvicorn's `main_loop`/`on_tick` and supervisor as of
0.54 (uv.lock); tests/unit of aduan_kit check that shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import uvicorn
import uvicorn.supervisors.multiprocess as _multiprocess

__all__ = ["QuietServer", "QuietWorkersConfig"]

# uvicorn refreshes the Date header on ticks whose counter is a multiple of this.
_TICKS_A_SECOND = 10


class QuietServer(uvicorn.Server):
    """A `uvicorn.Server` whose main loop wakes once a second, or when told to exit."""

    def __init__(self, config: uvicorn.Config) -> None:
        self._exit_asked: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._should_exit = False
        super().__init__(config)

    @property
    def should_exit(self) -> bool:
        return self._should_exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._should_exit = value
        loop, asked = self._loop, self._exit_asked
        if value and loop is not None and asked is not None and not loop.is_closed():
            # Safe from a signal handler and from another thread alike.
            loop.call_soon_threadsafe(asked.set)

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._exit_asked = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            # Every tick of ours is a whole second: uvicorn's `on_tick` refreshes the Date
            # header on counters that are multiples of ten.
            counter = (counter + _TICKS_A_SECOND) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit_asked.wait(), 1.0 - time.time() % 1.0)
            should_exit = await self.on_tick(counter)


class QuietWorkersConfig(uvicorn.Config):
    """`uvicorn.Config` for several workers whose servers are `QuietServer`s.

    uvicorn calls `configure_logging` first thing in each spawned worker, before it builds
    that worker's server from the supervisor module's `Server`; the swap happens in each
    process that runs this (the supervisor builds no server of its own)."""

    def configure_logging(self) -> None:
        super().configure_logging()
        _multiprocess.Server = QuietServer  # type: ignore[attr-defined]
