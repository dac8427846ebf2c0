"""Intake reads the one category catalogue from the gateway's compacted topic, on real
Kafka and PostgreSQL: a category published before intake starts is known at once (start-up
reads the topic to its end), one published while it runs is accepted on the web form and
the citizen app, a retired one is refused with the valid codes, free text typed as a
category is refused without being repeated, and the stored copy survives a restart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from pydantic import SecretStr

from aduan_contracts.events import ReportSubmitted
from aduan_contracts.serialization import decode
from aduan_contracts.topics import REPORT_INTAKE

pytestmark = pytest.mark.integration

APP_KEY = "app-key-for-catalogue-test-0123456789"
JSON = {"Accept": "application/json"}
TEXT = "Got di depan rumah tersumbat sampah, air meluap ke jalan"


async def eventually(check: Callable[[], Any], timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not reached in time"
        await asyncio.sleep(0.1)


async def test_structured_channels_file_only_into_active_catalogue_codes(
    intake: Callable[..., AbstractAsyncContextManager[Any]], topics: Any
) -> None:
    await topics.publish_categories("saluran", "banjir")
    async with intake(app_keys=[SecretStr(APP_KEY)]) as run:
        client = run.client
        # Known from the first request on: start-up read the topic to its end.
        listed = (await client.get("/v1/categories")).json()
        assert [c["code"] for c in listed] == ["banjir", "saluran"]
        form = await client.get("/v1/channels/web")
        assert '<option value="saluran">' in form.text

        ok = await client.post(
            "/v1/channels/web", data={"text": TEXT, "category": "saluran"}, headers=JSON
        )
        assert ok.status_code == 201, ok.text

        # Free text in the category field: refused, the valid codes named, the words not
        # repeated; the citizen's report is not filed under an invented category.
        typed = await client.post(
            "/v1/channels/web",
            data={"text": TEXT, "category": "got mampet di RT 05"},
            headers=JSON,
        )
        assert typed.status_code == 422
        assert typed.json()["field"] == "category"
        assert typed.json()["reason"] == (
            "is not a code of the category catalogue; valid codes: banjir, saluran"
        )
        assert "RT 05" not in typed.text

        # An administrator adds a category while intake runs: accepted once it arrives.
        await topics.publish_categories("pohon-tumbang")

        async def listed_new() -> bool:
            codes = [c["code"] for c in (await client.get("/v1/categories")).json()]
            return "pohon-tumbang" in codes

        await eventually(listed_new)
        app_body = {
            "client_report_id": str(uuid.uuid4()),
            "text": "Pohon besar tumbang menutup jalan",
            "category": "pohon-tumbang",
            "reporter": {"user_id": "app-user-1"},
        }
        app = await client.post(
            "/v1/channels/app/reports", json=app_body, headers={"X-App-Key": APP_KEY}
        )
        assert app.status_code == 201, app.text

        # ... and retires it: new filings refused with the reason and the valid codes.
        await topics.publish_categories("pohon-tumbang", version=2, active=False)

        async def gone() -> bool:
            codes = [c["code"] for c in (await client.get("/v1/categories")).json()]
            return "pohon-tumbang" not in codes

        await eventually(gone)
        again = await client.post(
            "/v1/channels/app/reports",
            json={**app_body, "client_report_id": str(uuid.uuid4())},
            headers={"X-App-Key": APP_KEY},
        )
        assert again.status_code == 422
        assert again.json()["reason"] == (
            "is retired: it takes no new reports; valid codes: banjir, saluran"
        )

    events = [decode(REPORT_INTAKE, r.value) for r in await topics.read(REPORT_INTAKE.name, 2)]
    filed = sorted(e.category_hint for e in events if isinstance(e, ReportSubmitted))
    assert filed == ["pohon-tumbang", "saluran"]
    assert await topics.count(REPORT_INTAKE.name) == 2

    # A restart: the stored copy (and the topic) give the same catalogue back.
    async with intake(app_keys=[SecretStr(APP_KEY)]) as run:
        retired = await run.client.post(
            "/v1/channels/web", data={"text": TEXT, "category": "pohon-tumbang"}, headers=JSON
        )
        assert retired.status_code == 422 and "retired" in retired.json()["reason"]
        assert [c["code"] for c in (await run.client.get("/v1/categories")).json()] == [
            "banjir",
            "saluran",
        ]
