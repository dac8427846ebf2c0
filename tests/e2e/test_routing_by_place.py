"""Routing by place (issue 19), every service a real OS process on real Kafka, PostgreSQL
and Redis: an administrator adds a rule for a kecamatan (jalan-rusak in Kecamatan Gambir ->
the kecamatan's unit); a report filed through intake's web form with a kelurahan of that
kecamatan picked as its area is auto-dispatched to that unit, with the rule named in its
timeline; one filed elsewhere, and one whose area is only guessed from its words, go to
the category's own agency; removing the rule routes the next report as before.

Units (D19): a rule for a kelurahan beats the kecamatan's (most specific wins); the
kelurahan's report, left unaccepted past its working-day deadline (workflow's clock moved
into the past, its scanner running), is flagged to the parent kecamatan: a reminder, then
a breach, in the timeline, in the kecamatan officer's "escalated to us" queue and on both
its and the validator bureau's dashboards; a sibling kelurahan never sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from aduan_gateway.auth import issue_access_token
from aduan_testing.helpers import eventually
from aduan_testing.platform import Platform, running_platform
from aduan_testing.plugin import Isolation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

JSON = {"Accept": "application/json"}
KECAMATAN_GAMBIR = "31.71.01"
CIDENG = "31.71.01.1002"  # a kelurahan of Kecamatan Gambir
CILINCING = "31.72.04.1001"  # a kelurahan of Jakarta Utara
KELURAHAN_GAMBIR = "31.71.01.1001"
JAKARTA = timezone(timedelta(hours=7))


@pytest_asyncio.fixture
async def platform(isolated: Isolation, tmp_path: Path) -> AsyncIterator[Platform]:
    # The SLA scanner every half second: the test moves a clock and waits for it to fire.
    scan = {"ADUAN_WORKFLOW_SLA_SCAN_INTERVAL_S": "0.5"}
    async with running_platform(isolated, tmp_path, extra_env=scan) as plat:
        # The demo agencies (kecamatan-gambir among them) and catalogue.
        await plat.run("aduan_gateway.cli", "demo-seed", "--yes-this-is-a-demo")
        yield plat


async def test_a_rule_for_a_kecamatan_routes_its_reports_to_its_unit(platform: Platform) -> None:
    p, u = platform, platform.urls
    admin = {
        "Authorization": "Bearer "
        + issue_access_token(p.jwt_secret, "adm-1", "administrator", name="Admin")
    }
    validator = {
        "Authorization": "Bearer "
        + issue_access_token(p.jwt_secret, "val-1", "validator", name="Validator")
    }

    async def file(client: httpx.AsyncClient, title: str, **where: str) -> str:
        r = await client.post(
            f"{u['intake']}/v1/channels/web",
            data={
                "title": title,
                "text": "Lubang besar di tengah jalan, motor sering jatuh.",
                "category": "jalan-rusak",
                "submission_id": str(uuid4()),
                **where,
            },
            headers=JSON,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["report_id"])

    async def dispatched(client: httpx.AsyncClient, report_id: str) -> Any:
        r = await client.get(f"{u['gateway']}/v1/reports/{report_id}", headers=validator)
        view = r.json() if r.status_code == 200 else {}
        return view if view.get("status") == "dispatched" else None

    async with httpx.AsyncClient(timeout=20) as client:
        r = await client.put(
            f"{u['gateway']}/v1/admin/routing-rules/jalan-rusak/{KECAMATAN_GAMBIR}",
            json={"agency_id": "kecamatan-gambir"},
            headers=admin,
        )
        assert r.status_code == 200, r.text
        await p.catalogue_ready()

        # A kelurahan of Gambir, picked in the form's area box: the kecamatan's unit.
        inside = await file(client, "Jalan berlubang di Cideng", area_code=CIDENG)
        view = await eventually(lambda: dispatched(client, inside), "routing by area", timeout=60)
        assert view["agency_id"] == "kecamatan-gambir"
        notes = " ".join(t.get("reason") or "" for t in view["timeline"])
        assert f"in area {KECAMATAN_GAMBIR}" in notes, view["timeline"]

        # Elsewhere (Jakarta Utara): the category's own agency, as before.
        outside = await file(client, "Jalan berlubang di Cilincing", area_code=CILINCING)
        view = await eventually(lambda: dispatched(client, outside), "routing", timeout=60)
        assert view["agency_id"] == "dinas-bina-marga"

        # Gambir only guessed from the complaint's words (no area given: intake resolves
        # kelurahan Gambir, how "text", about 0.14 sure): below the threshold, so the
        # category's agency takes it.
        guessed = await file(client, "Jalan berlubang dekat Stasiun Gambir")
        view = await eventually(lambda: dispatched(client, guessed), "routing", timeout=60)
        assert view["agency_id"] == "dinas-bina-marga"

        # The rule removed: the next report from Gambir goes to the category's agency.
        r = await client.delete(
            f"{u['gateway']}/v1/admin/routing-rules/jalan-rusak/{KECAMATAN_GAMBIR}",
            headers=admin,
        )
        assert r.status_code == 204
        await p.catalogue_ready()
        after = await file(client, "Jalan berlubang lagi di Cideng", area_code=CIDENG)
        view = await eventually(lambda: dispatched(client, after), "routing", timeout=60)
        assert view["agency_id"] == "dinas-bina-marga"


async def test_a_kelurahan_rule_wins_and_an_overdue_report_is_flagged_to_the_kecamatan(
    platform: Platform,
) -> None:
    p, u = platform, platform.urls

    bearer = p.bearer
    admin = bearer("adm-1", "administrator")
    validator = bearer("val-1", "validator")
    kelurahan = bearer("kel-1", "agency-officer", "kelurahan-gambir")
    kecamatan = bearer("kec-1", "agency-officer", "kecamatan-gambir")
    # A sibling kelurahan of the same kecamatan (Petojo Utara), made for this test.
    sibling = bearer("kel-2", "agency-officer", "kelurahan-petojo-utara")

    async with httpx.AsyncClient(timeout=20) as client:
        r = await client.post(
            f"{u['gateway']}/v1/admin/units",
            json={
                "unit_id": "kelurahan-petojo-utara",
                "name": "Kelurahan Petojo Utara (TEST)",
                "kind": "kelurahan",
                "parent_id": "kecamatan-gambir",
                "area_codes": ["31.71.01.1003"],
            },
            headers=admin,
        )
        assert r.status_code == 201, r.text
        for area, unit in (
            (KECAMATAN_GAMBIR, "kecamatan-gambir"),
            (KELURAHAN_GAMBIR, "kelurahan-gambir"),
        ):
            r = await client.put(
                f"{u['gateway']}/v1/admin/routing-rules/jalan-rusak/{area}",
                json={"unit_id": unit},
                headers=admin,
            )
            assert r.status_code == 200, r.text
        await p.catalogue_ready()

        r = await client.post(
            f"{u['intake']}/v1/channels/web",
            data={
                "title": "Jalan berlubang di Kelurahan Gambir",
                "text": "Lubang besar di tengah jalan, motor sering jatuh.",
                "category": "jalan-rusak",
                "submission_id": str(uuid4()),
                "area_code": KELURAHAN_GAMBIR,
            },
            headers=JSON,
        )
        assert r.status_code == 201, r.text
        report_id = str(r.json()["report_id"])

        async def seen(headers: Any, want: int = 0) -> Any:
            r = await client.get(f"{u['gateway']}/v1/reports/{report_id}", headers=headers)
            view = r.json() if r.status_code == 200 else {}
            if view.get("status") != "dispatched" or len(view.get("escalations", [])) < want:
                return None
            return view

        view = await eventually(lambda: seen(validator), "routing to the kelurahan", timeout=60)
        # The most specific rule: the kelurahan's, not the kecamatan's; said as data too.
        assert view["agency_id"] == view["unit_id"] == "kelurahan-gambir"
        [auto] = [t["route"] for t in view["timeline"] if t.get("route")]
        assert auto == {
            "rule": "area",
            "category": "jalan-rusak",
            "area_code": KELURAHAN_GAMBIR,
            "agency_id": "kelurahan-gambir",
        }
        # The dispatch deadline is on the working-day calendar (08:00-16:00 Jakarta, Mon-Fri);
        # the kelurahan's officer, whose stage it is, sees it.
        mine = await seen(kelurahan)
        assert mine is not None and mine["sla_stage"] == "dispatch", mine
        due = datetime.fromisoformat(mine["due_at"]).astimezone(JAKARTA)
        assert due.weekday() < 5 and 8 <= due.hour + due.minute / 60 <= 16, due
        # Before any escalation: the kelurahan reads it, its kecamatan and sibling do not.
        for headers in (kecamatan, sibling):
            r = await client.get(f"{u['gateway']}/v1/reports/{report_id}", headers=headers)
            assert r.status_code == 404, r.text

        # Workflow's clock moved: first the reminder time, then the deadline itself.
        engine = create_async_engine(p.env["ADUAN_WORKFLOW_DATABASE_URL"])
        try:
            for column, want in (("remind_at", 1), ("due_at", 2)):
                async with engine.begin() as conn:
                    moved = await conn.execute(
                        text(
                            f"UPDATE sla_clocks SET {column} = :at "  # noqa: S608 - fixed names
                            "WHERE report_id = :id AND stage = 'dispatch' AND closed_at IS NULL"
                        ),
                        {"at": datetime.now(UTC) - timedelta(minutes=1), "id": UUID(report_id)},
                    )
                    assert moved.rowcount == 1
                view = await eventually(
                    lambda w=want: seen(kecamatan, w), f"escalation {want}", timeout=60
                )
        finally:
            await engine.dispose()

    async with httpx.AsyncClient(timeout=20) as client:
        assert [(e["kind"], e["from_unit"], e["to_unit"]) for e in view["escalations"]] == [
            ("reminder", "kelurahan-gambir", "kecamatan-gambir"),
            ("breach", "kelurahan-gambir", "kecamatan-gambir"),
        ]
        assert view["escalated_to_me"] is True
        [breach] = [
            t for t in view["timeline"] if (t.get("escalation") or {}).get("kind") == "breach"
        ]
        assert breach["reason"] == (
            "overdue at Kelurahan Gambir (DEMO), flagged to Kecamatan Gambir (DEMO) and the "
            "validator bureau"
        )
        r = await client.get(
            f"{u['gateway']}/v1/reports", params={"escalated": "true"}, headers=kecamatan
        )
        assert [i["report_id"] for i in r.json()["items"]] == [report_id]
        # Reading is not acting: the kecamatan's officer cannot accept the kelurahan's report.
        r = await client.post(
            f"{u['gateway']}/v1/reports/{report_id}/accept", json={}, headers=kecamatan
        )
        assert r.status_code == 403, r.text
        # The sibling kelurahan: still nothing.
        r = await client.get(f"{u['gateway']}/v1/reports/{report_id}", headers=sibling)
        assert r.status_code == 404
        r = await client.get(f"{u['gateway']}/v1/reports", headers=sibling)
        assert r.json()["items"] == []
        # Both dashboards count it.
        for headers in (kecamatan, validator):
            r = await client.get(f"{u['gateway']}/v1/stats/dashboard", headers=headers)
            assert r.json()["escalations"] == {"reminders": 1, "breaches": 1}, r.text
