"""The LAPOR! SP4N pull on real PostgreSQL, Kafka and Redis, against a local HTTP server
serving LAPOR!-shaped records (tests/fixtures/lapor_records.json) page by page: records are
filed once, a re-pull files nothing twice, an edited record amends its report, unreadable
records are skipped, and the scheduled loop runs inside the service."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from aduan_contracts import decode
from aduan_contracts.enums import Channel, Privacy
from aduan_contracts.events import ReportAmended, ReportSubmitted
from aduan_contracts.topics import REPORT_INTAKE
from aduan_intake.adapters.tables import SYNC_CURSORS
from aduan_intake.entrypoints.channels.lapor import LaporPuller

pytestmark = pytest.mark.integration

TOKEN = "lapor-api-token-for-tests"


def lapor_server(provider: Any, records: list[dict[str, Any]]) -> None:
    """Two records per page; `updated_since` filters, `cursor` pages (as the docstring of
    aduan_intake.entrypoints.channels.lapor describes the API)."""

    async def reports(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"message": "Unauthenticated."}, status_code=401)
        since = request.query_params.get("updated_since")
        limit = int(request.query_params.get("limit", "2"))
        start = int(request.query_params.get("cursor", "0"))
        from datetime import datetime

        def fresh(r: dict[str, Any]) -> bool:
            if not since:
                return True
            return datetime.fromisoformat(r["updated_at"]) >= datetime.fromisoformat(since)

        chosen = [r for r in records if fresh(r)]
        page = chosen[start : start + limit]
        nxt = str(start + limit) if start + limit < len(chosen) else None
        return JSONResponse({"data": page, "meta": {"next_cursor": nxt}})

    provider.routes["/api/v1/laporan"] = reports


async def test_lapor_pull_upserts_by_id_and_never_files_twice(
    intake: Any, provider: Any, topics: Any, fixtures_dir: Path
) -> None:
    records = json.loads((fixtures_dir / "lapor_records.json").read_text())
    lapor_server(provider, records)
    settings = {
        "lapor_api_url": f"{provider.url}/api/v1/laporan",
        "lapor_api_token": TOKEN,
        "lapor_page_limit": 2,
        # The loop runs, but this test drives the pulls itself.
        "lapor_poll_interval_s": 3600,
    }
    # LAPOR!'s `kategori` is kept only when it is a code of the catalogue.
    await topics.publish_categories("jalan-rusak")
    async with intake(**settings) as run:
        puller = next(p for p in run.runtime.background if isinstance(p, LaporPuller))

        async def cursor_now() -> str | None:
            async with run.runtime.sessions() as session:
                value: str | None = await session.scalar(
                    select(SYNC_CURSORS.c.cursor).where(SYNC_CURSORS.c.source == "lapor")
                )
            return value

        # The scheduled first pull runs at start-up; wait until it got through both pages.
        for _ in range(100):
            if await cursor_now() and len(provider.seen) >= 2:
                break
            await asyncio.sleep(0.1)
        first = await puller.pull_once()
        again = await puller.pull_once()
        edited = copy.deepcopy(records[0])
        edited["isi"] += " Update: lubang bertambah lebar."
        edited["updated_at"] = "2026-11-21T10:00:00+07:00"
        records[0] = edited
        after_edit = await puller.pull_once()
        repeat_edit = await puller.pull_once()
        cursor = await cursor_now()
        events = [decode(REPORT_INTAKE, r.value) for r in await topics.read(REPORT_INTAKE.name, 3)]
    # The scheduled pull already filed both readable records: the manual pulls add nothing.
    assert (first.filed, again.filed) == (0, 0)
    assert first.duplicates >= 1 and first.refused in (0, 1)
    assert (after_edit.amended, repeat_edit.amended) == (1, 0)
    assert cursor == "2026-11-21T03:00:00+00:00"
    submitted = [e for e in events if isinstance(e, ReportSubmitted)]
    amended = [e for e in events if isinstance(e, ReportAmended)]
    assert len(submitted) == 2 and len(amended) == 1
    road = next(e for e in submitted if e.channel_message_id == "LPR-9871201")
    assert road.channel is Channel.LAPOR
    assert road.privacy is Privacy.PRIVATE
    assert road.category_hint == "jalan-rusak"
    assert road.location is not None and road.location.area == "Rambutan, Ciracas, Jakarta Timur"
    anonymous = next(e for e in submitted if e.channel_message_id == "LPR-9871202")
    assert anonymous.reporter is None  # "anonim": nothing of the reporter is kept
    assert amended[0].report_id == road.report_id
    assert "bertambah lebar" in amended[0].text
    # Every request carried the token; the LAPOR! record with no content was never filed.
    assert all(s[2].get("authorization") == f"Bearer {TOKEN}" for s in provider.seen)
    assert await topics.count(REPORT_INTAKE.name) == 3


async def test_a_lapor_outage_is_retried_on_the_next_pull(
    intake: Any, provider: Any, topics: Any, fixtures_dir: Path
) -> None:
    records = json.loads((fixtures_dir / "lapor_records.json").read_text())
    down = {"yes": True}

    async def flaky(request: Request) -> Response:
        if down["yes"]:
            return Response("maintenance", status_code=503)
        return JSONResponse({"data": records[:1], "meta": {"next_cursor": None}})

    provider.routes["/api/v1/laporan"] = flaky
    settings = {
        "lapor_api_url": f"{provider.url}/api/v1/laporan",
        "lapor_api_token": TOKEN,
        "lapor_poll_interval_s": 0.2,
    }
    async with intake(**settings):
        await asyncio.sleep(0.6)
        assert len(provider.seen) >= 2  # the loop kept trying
        down["yes"] = False
        got = await topics.read(REPORT_INTAKE.name, 1, timeout=15)
    assert len(got) == 1
