"""`QuietServer`: uvicorn's housekeeping tick once a second, yet an exit is not kept waiting
for it, by code or by a signal; and several workers each get one (aduan_kit.server)."""

from __future__ import annotations

import asyncio
import email.utils
import os
import signal
import subprocess
import sys
import textwrap
import time

import httpx
import pytest
import uvicorn
import uvicorn.supervisors.multiprocess as multiprocess
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from aduan_kit.server import QuietServer, QuietWorkersConfig
from aduan_testing.helpers import free_port


async def _hello(_: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


APP = Starlette(routes=[Route("/", _hello)])


async def _at_second_start() -> None:
    """Just after a whole second: where a server waiting for its next tick would wait ~1 s."""
    await asyncio.sleep(1.0 - time.time() % 1.0 + 0.02)


async def test_it_serves_with_a_current_date_ticking_once_a_second_and_stops_at_once() -> None:
    port = free_port()
    server = QuietServer(
        uvicorn.Config(APP, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    ticks = 0
    on_tick = server.on_tick

    async def counted(counter: int) -> bool:
        nonlocal ticks
        ticks += 1
        return await on_tick(counter)

    server.on_tick = counted  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
        await asyncio.sleep(0.01)
    before = ticks
    await asyncio.sleep(3.0)
    # uvicorn's own loop ticks ten times a second: ~30 here.
    assert ticks - before <= 5
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{port}/")
    assert answer.status_code == 200 and answer.text == "hello"
    # The Date header is refreshed on every tick, each on a whole second.
    date = email.utils.parsedate_to_datetime(answer.headers["date"]).timestamp()
    assert abs(date - time.time()) <= 2.0

    await _at_second_start()
    asked = time.monotonic()
    server.should_exit = True
    await asyncio.wait_for(task, timeout=5)
    assert time.monotonic() - asked < 0.6  # not the ~1 s to the next tick


def test_a_signal_stops_it_without_waiting_for_the_next_tick() -> None:
    port = free_port()
    script = textwrap.dedent(
        f"""
        import uvicorn
        from aduan_kit.server import QuietServer
        from starlette.applications import Starlette
        QuietServer(uvicorn.Config(Starlette(), host="127.0.0.1", port={port},
                                   log_config=None, lifespan="off")).run()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "the server did not start"
                assert time.monotonic() < deadline, "the server did not answer in 30 s"
                time.sleep(0.05)
        time.sleep(1.0 - time.time() % 1.0 + 0.02)  # just after its tick
        asked = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        assert time.monotonic() - asked < 0.6
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_each_worker_of_several_builds_a_quiet_server(monkeypatch: pytest.MonkeyPatch) -> None:
    # What uvicorn's supervisor does in a spawned worker: configure logging, then build
    # the worker's server from its module's `Server`.
    monkeypatch.setattr(multiprocess, "Server", uvicorn.Server)
    config = QuietWorkersConfig("aduan_kit.runtime:nothing", factory=True, workers=2)
    config.configure_logging()
    worker = multiprocess.Process(config, sockets=[])
    assert isinstance(worker.server, QuietServer)
