"""The gateway as `make up` runs it: two HTTP worker processes on one port (uvicorn's
supervisor). Exactly one of them runs the read model's consumer; when that worker dies,
the supervisor's replacement takes the consumer over, and complaints filed afterwards
still reach the read model, answered by either worker."""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from aduan_testing.helpers import eventually
from aduan_testing.platform import Platform, running_platform
from aduan_testing.plugin import Isolation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest_asyncio.fixture
async def platform(isolated: Isolation, tmp_path: Path) -> AsyncIterator[Platform]:
    two = {"ADUAN_GATEWAY_HTTP_WORKERS": "2"}
    async with running_platform(isolated, tmp_path, extra_env=two) as plat:
        yield plat


def _workers_started(plat: Platform) -> list[dict[str, Any]]:
    """The gateway's "worker started" log lines, in order."""
    lines = []
    for raw in plat.logs["gateway"].read_text(errors="replace").splitlines():
        if raw.startswith("{") and '"gateway worker started"' in raw:
            lines.append(json.loads(raw))
    return lines


async def _file_public(client: httpx.AsyncClient, intake: str, title: str) -> str:
    form = {
        "title": title,
        "text": "Lampu jalan mati sejak minggu lalu, gelap sekali di malam hari.",
        "contact": "",
        "public": "on",
        "lat": "-6.1862",
        "lon": "106.8341",
        "area": "Gambir",
        "submission_id": str(uuid.uuid4()),
    }
    r = await client.post(
        f"{intake}/v1/channels/web", data=form, headers={"Accept": "application/json"}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["report_id"])


async def _public_everywhere(gateway: str, report_id: str) -> bool:
    """The public view answered the same by every worker (a dozen tries reach both)."""
    bodies = set()
    for _ in range(12):
        # A new connection each time: the kernel spreads connections over the workers.
        async with httpx.AsyncClient(timeout=5) as fresh:
            r = await fresh.get(f"{gateway}/v1/public/reports/{report_id}")
        if r.status_code != 200:
            return False
        bodies.add(r.content)
    return len(bodies) == 1


async def test_one_worker_consumes_and_its_replacement_takes_over(platform: Platform) -> None:
    u = platform.urls
    started = await eventually(
        lambda: _ready(platform, 2), "both gateway workers logged their start"
    )
    assert sorted(line["consumes"] for line in started) == [False, True]
    consumer_pid = next(line["pid"] for line in started if line["consumes"])

    async with httpx.AsyncClient(timeout=10) as client:
        before = await _file_public(client, u["intake"], "Lampu jalan mati di Jl. Kwitang")
        await eventually(lambda: _public_everywhere(u["gateway"], before), "projected, both answer")

        # The consuming worker dies (an out-of-memory kill, say): uvicorn starts another.
        os.kill(consumer_pid, signal.SIGKILL)
        after_kill = await eventually(lambda: _ready(platform, 3), "a replacement worker")
        replacement = after_kill[-1]
        assert replacement["pid"] != consumer_pid
        assert replacement["consumes"] is True, "the replacement took the consumer over"

        later = await _file_public(client, u["intake"], "Lampu jalan mati di Jl. Kramat")
        await eventually(
            lambda: _public_everywhere(u["gateway"], later), "projected after the kill"
        )


async def _ready(platform: Platform, count: int) -> list[dict[str, Any]] | None:
    lines = _workers_started(platform)
    return lines if len(lines) >= count else None
