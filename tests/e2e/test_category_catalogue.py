"""One category catalogue (issue 16), every service a real OS process on real Kafka,
PostgreSQL and Redis: an administrator adds a category in the gateway; intake accepts it
on the web channel, the portal's form lists it and workflow auto-routes a report in it to
its agency; a change of its agency routes the next report to the new agency; retiring it
refuses new filings with a clear reason (intake and the portal's form) while the report
already filed keeps the category's name (portal page and filter, the gateway's catalogue)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import pytest_asyncio

from aduan_gateway.auth import issue_access_token
from aduan_testing.helpers import eventually
from aduan_testing.platform import Platform, running_platform
from aduan_testing.plugin import Isolation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

CODE = "trotoar-rusak"
JSON = {"Accept": "application/json"}


@pytest_asyncio.fixture
async def platform(isolated: Isolation, tmp_path: Path) -> AsyncIterator[Platform]:
    async with running_platform(isolated, tmp_path) as plat:
        # Agencies (and the demo catalogue); returns once every reader has the catalogue.
        await plat.run("aduan_gateway.cli", "demo-seed", "--yes-this-is-a-demo")
        yield plat


async def test_a_category_from_the_console_to_routing_and_retirement(platform: Platform) -> None:
    p, u = platform, platform.urls
    admin = {
        "Authorization": "Bearer "
        + issue_access_token(p.jwt_secret, "adm-1", "administrator", name="Admin")
    }
    validator = {
        "Authorization": "Bearer "
        + issue_access_token(p.jwt_secret, "val-1", "validator", name="Validator")
    }
    category = {
        "name_id": "Trotoar rusak",
        "name_en": "Broken pavement",
        "description_id": "Trotoar berlubang atau ubin lepas.",
        "description_en": "Holes or loose tiles in a pavement.",
        "keywords": ["trotoar", "ubin", "pavement"],
        "group": "Infrastruktur",
        "agency_id": "dinas-bina-marga",
    }

    async def file(client: httpx.AsyncClient, title: str) -> httpx.Response:
        return await client.post(
            f"{u['intake']}/v1/channels/web",
            data={
                "title": title,
                "text": "Ubin trotoar lepas dan berlubang, pejalan kaki tersandung.",
                "category": CODE,
                "public": "on",
                "area": "Menteng",
                "submission_id": str(uuid4()),
            },
            headers=JSON,
        )

    async def routed(client: httpx.AsyncClient, report_id: str) -> Any:
        r = await client.get(f"{u['gateway']}/v1/reports/{report_id}", headers=validator)
        view = r.json() if r.status_code == 200 else {}
        return view if view.get("status") == "dispatched" else None

    async with httpx.AsyncClient(timeout=20) as client:
        # Unknown before the administrator adds it: refused, with the valid codes.
        early = await file(client, "Sebelum kategorinya ada")
        assert early.status_code == 422
        assert early.json()["field"] == "category"
        assert "valid codes: " in early.json()["reason"] and "jalan-rusak" in early.text

        r = await client.put(
            f"{u['gateway']}/v1/admin/categories/{CODE}", json=category, headers=admin
        )
        assert r.status_code == 200, r.text
        assert (r.json()["version"], r.json()["active"]) == (1, True)
        await p.catalogue_ready()

        # Every reader has it: intake's list, the portal's form, workflow's routing.
        listed = (await client.get(f"{u['intake']}/v1/categories")).json()
        assert {"code": CODE, "group": "Infrastruktur"}.items() <= next(
            c for c in listed if c["code"] == CODE
        ).items()
        form = (await client.get(f"{u['portal']}/lapor")).text
        assert f'<option value="{CODE}">Trotoar rusak</option>' in form

        first = await file(client, "Trotoar rusak di Jl. Cikini Raya")
        assert first.status_code == 201, first.text
        view = await eventually(
            lambda: routed(client, first.json()["report_id"]), "auto-routing", timeout=60
        )
        assert (view["category"], view["agency_id"]) == (CODE, "dinas-bina-marga")

        # The agency changes: the next report goes to the new one.
        r = await client.put(
            f"{u['gateway']}/v1/admin/categories/{CODE}",
            json={**category, "agency_id": "dinas-sda"},
            headers=admin,
        )
        assert r.status_code == 200 and r.json()["version"] == 2
        await p.catalogue_ready()
        second = await file(client, "Trotoar rusak lagi")
        assert second.status_code == 201, second.text
        view = await eventually(
            lambda: routed(client, second.json()["report_id"]), "re-routing", timeout=60
        )
        assert view["agency_id"] == "dinas-sda"

        # The first report is on the public portal under its category's name.
        async def public_id() -> Any:
            page = (await client.get(f"{u['portal']}/", params={"category": CODE})).text
            found = re.search(r'href="/reports/([^"?]+)[^"]*">Trotoar rusak di Jl. Cikini', page)
            return found[1] if found else None

        pid = await eventually(public_id, "the public report", timeout=60)

        # Retired: refused for new reports, everywhere, with the reason.
        r = await client.delete(f"{u['gateway']}/v1/admin/categories/{CODE}", headers=admin)
        assert r.status_code == 204
        await p.catalogue_ready()
        refused = await file(client, "Setelah kategorinya pensiun")
        assert refused.status_code == 422
        assert refused.json()["reason"].startswith("is retired: it takes no new reports")
        assert CODE not in (await client.get(f"{u['intake']}/v1/categories")).text
        form = await client.get(f"{u['portal']}/lapor")
        assert f'<option value="{CODE}"' not in form.text
        posted = await client.post(
            f"{u['portal']}/lapor",
            data={
                "submission_id": str(uuid4()),
                "category": CODE,
                "text": "Trotoar rusak di depan kantor pos, ubin lepas semua.",
                "visibility": "private",
            },
        )
        assert posted.status_code == 422
        assert 'id="category-error"' in posted.text

        # ... while the report filed before keeps its name.
        page = (await client.get(f"{u['portal']}/reports/{pid}")).text
        assert "Trotoar rusak" in page
        en = (await client.get(f"{u['portal']}/reports/{pid}", params={"lang": "en"})).text
        assert "Broken pavement" in en
        names = {c["code"]: c for c in (await client.get(f"{u['gateway']}/v1/categories")).json()}
        assert (names[CODE]["active"], names[CODE]["name_id"]) == (False, "Trotoar rusak")
