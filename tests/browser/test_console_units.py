"""Routing by place and escalation up the line (issue 19), in Debian Chromium, on the
platform as `make up` runs it (five services and the sinks as OS processes, real Kafka,
PostgreSQL and Redis, demo data):

1. an administrator creates a kecamatan unit (Tebet) under the Suku Dinas Bina Marga
   Jakarta Selatan on the Units page (creating it twice is refused inside the form), an
   officer for it and a head for the Suku Dinas (unit head set on the users page), and a
   route for potholes in Kecamatan Tebet to the new unit on the categories page;
2. a citizen files a pothole on the portal's form, picking a kelurahan of Tebet from the
   area list and tapping the map;
3. it lands in the new unit's queue (its officer signs in), routed by that rule;
4. the clock is moved: the report's running SLA clock in workflow's database is set past
   its reminder, then past its deadline, and workflow's own scanner (every 2 s in these
   tests) fires the reminder, then the breach;
5. the Suku Dinas head sees the report flagged "Terlambat di <unit>" in the "escalated to
   us" view and the escalation in the report's timeline; the validator bureau sees it in
   its escalated view and on its dashboard.

Screenshots: test-artifacts/screenshots/console-units-*.png (and docs/screenshots/ with
ADUAN_UPDATE_DOC_SCREENSHOTS=1)."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from aduan_testing.browser import (
    DEMO_PASSWORD,
    DOC_SCREENSHOTS,
    SCREENSHOTS,
    assert_labelled,
    console_login,
    new_context,
    shot,
)
from aduan_testing.platform import Platform
from aduan_testing.plugin import Isolation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

UPDATE_DOCS = os.environ.get("ADUAN_UPDATE_DOC_SCREENSHOTS") == "1"
TAG = uuid.uuid4().hex[:6]
UNIT = f"kec-tebet-{TAG}"
UNIT_NAME = f"Kecamatan Tebet {TAG}"
PARENT = "sudin-bina-marga-jaksel"  # demo unit: Jakarta Selatan's Suku Dinas Bina Marga
TEBET = "31.74.01"
KELURAHAN = "Tebet Timur, Kec. Tebet, Kota Jakarta Selatan"  # 31.74.01.1001
CATEGORY = "jalan-rusak"
OFFICER = f"petugas-tebet-{TAG}"
HEAD = f"kepala-sudin-{TAG}"
PASSWORD = f"Sandi-uji-{TAG}-2026"


async def picture(page: Page, name: str, *, full_page: bool = True) -> None:
    """A screenshot under test-artifacts/screenshots, and into docs/screenshots when asked
    (these are not in the shared curated list, so copied here)."""
    await shot(page, name, full_page=full_page, update_docs=False)
    if UPDATE_DOCS:
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(
            shutil.copyfile, SCREENSHOTS / f"{name}.png", DOC_SCREENSHOTS / f"{name}.png"
        )


async def eventually(
    check: Callable[[], Awaitable[Any]], what: str, timeout: float = 60, every: float = 1
) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


async def success_flash(page: Page) -> str:
    flashes = page.locator("#flash p.flash")
    await flashes.first.wait_for(timeout=15_000)
    kinds = [await f.get_attribute("data-kind") for f in await flashes.all()]
    texts = await flashes.all_inner_texts()
    assert kinds == ["success"], (
        f"expected one success message, got {list(zip(kinds, texts, strict=True))}"
    )
    return texts[0]


async def as_validator(platform: Platform, path: str, **params: Any) -> Any:
    async with httpx.AsyncClient(base_url=platform.urls["gateway"], timeout=15) as client:
        login = await client.post(
            "/v1/auth/login", json={"username": "demo-validator", "password": DEMO_PASSWORD}
        )
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        r = await client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return r.json()


async def login_as(browser: Browser, portal: str, username: str, password: str) -> Page:
    context = await new_context(browser)
    page = await context.new_page()
    await page.goto(f"{portal}/console/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-submit")
    await page.wait_for_selector("#whoami", timeout=15_000)
    return page


async def move_clock(iso: Isolation, report_id: str, column: str) -> int:
    """Set the report's running "dispatch" SLA clock's `column` (remind_at or due_at) a
    minute into the past in workflow's own database: the scanner then finds it due, as it
    would once the working hours ran out. (A dispatched report runs two clocks, accepting
    and the follow-up; the one that runs out first is moved.)"""
    engine = create_async_engine(iso.database("workflow"))
    try:
        async with engine.begin() as conn:
            moved = await conn.execute(
                text(
                    f"UPDATE sla_clocks SET {column} = now() - interval '1 minute' "  # noqa: S608
                    "WHERE report_id = :rid AND stage = 'dispatch' AND closed_at IS NULL"
                ),
                {"rid": report_id},
            )
            return int(moved.rowcount or 0)
    finally:
        await engine.dispose()


async def test_a_route_for_a_kecamatan_its_queue_and_escalation_to_the_parent_unit(
    platform: Platform, browser: Browser, browser_isolated: Isolation
) -> None:
    portal = platform.urls["portal"]

    # --- 1. the administrator: a unit, its officer, the parent's head, a route -------------
    admin_ctx, admin = await console_login(browser, portal, "demo-admin")
    await admin.click("#nav-units")
    await admin.wait_for_selector("#units-title")
    assert await admin.locator(f"#unit-{PARENT}").count() == 1, "the demo Suku Dinas unit"
    await admin.fill("#new-unit-name", UNIT_NAME)
    await admin.fill("#new-unit-id", UNIT)
    await admin.select_option("#new-unit-kind", "kecamatan")
    await admin.select_option("#new-unit-parent", PARENT)
    await admin.select_option("#new-unit-areas", [TEBET])
    await assert_labelled(admin, "units page")
    await admin.click("#create-unit-submit")
    assert UNIT in await success_flash(admin)
    row = admin.locator(f"#unit-{UNIT}")
    assert await row.get_attribute("data-parent-id") == PARENT
    parent_depth = int(await admin.get_attribute(f"#unit-{PARENT}", "data-depth") or "0")
    assert await row.get_attribute("data-depth") == str(parent_depth + 1)
    assert "Kec. Tebet, Kota Jakarta Selatan" in await row.inner_text()  # the official name
    # The same id again: the gateway's refusal inside the form, what was typed kept.
    await admin.fill("#new-unit-name", UNIT_NAME)
    await admin.fill("#new-unit-id", UNIT)
    await admin.select_option("#new-unit-kind", "kecamatan")
    await admin.click("#create-unit-submit")
    error = admin.locator("#create-unit-error")
    await error.wait_for(timeout=15_000)
    assert "taken" in (await error.inner_text()).lower()
    assert await admin.input_value("#new-unit-id") == UNIT
    await picture(admin, "console-units-tree")
    # Editing: the Suku Dinas under its own new sub-unit would be a cycle, refused inside
    # that unit's form; the new unit's areas widened with a typed kelurahan code.
    await admin.click(f"#unit-edit-{PARENT} summary")
    await admin.select_option(f"#unit-{PARENT}-parent", UNIT)
    await admin.click(f"#unit-save-{PARENT}")
    cycle = admin.locator(f"#unit-{PARENT}-error")
    await cycle.wait_for(timeout=15_000)
    assert "cycle" in (await cycle.inner_text()).lower()
    assert await admin.get_attribute(f"#unit-{PARENT}", "data-parent-id") != UNIT
    await admin.click(f"#unit-edit-{UNIT} summary")
    await admin.fill(f"#unit-{UNIT}-typed", "3174011002")  # Kelurahan Tebet Barat
    await admin.click(f"#unit-save-{UNIT}")
    await success_flash(admin)
    areas = await admin.locator(f"#unit-{UNIT} .area-chip").evaluate_all(
        "cs => cs.map(c => c.dataset.areaCode)"
    )
    assert areas == [TEBET, "31.74.01.1002"], areas
    assert await admin.get_attribute(f"#unit-{UNIT}", "data-parent-id") == PARENT

    # The unit's officer and the Suku Dinas head (users page: create, then unit head).
    await admin.click("#nav-users")
    for username, unit in ((OFFICER, UNIT), (HEAD, PARENT)):
        await admin.fill("#new-username", username)
        await admin.fill("#new-password", PASSWORD)
        await admin.fill("#new-display-name", f"{username} (uji)")
        await admin.select_option("#new-role", "agency-officer")
        await admin.select_option("#new-agency", unit)
        await admin.click("#create-user-submit")
        await success_flash(admin)
        assert await admin.get_attribute(f"#user-{username} td.user-unit", "data-unit-id") == unit
    await admin.check(f"#user-unit-head-{HEAD}")
    await admin.click(f"#user-unit-save-{HEAD}")
    await success_flash(admin)
    head_cell = admin.locator(f"#user-{HEAD} td.user-unit")
    assert await head_cell.get_attribute("data-unit-head") == "true"
    await head_cell.scroll_into_view_if_needed()
    await picture(admin, "console-units-users", full_page=False)

    # The route: potholes in Kecamatan Tebet go to the new unit (the kota's route to the
    # Suku Dinas stays: the most specific wins).
    await admin.click("#nav-categories")
    form = admin.locator(f"#area-route-form-{CATEGORY}")
    await admin.select_option(f"#route-{CATEGORY}-pick", TEBET)
    await admin.select_option(f"#route-{CATEGORY}-unit", UNIT)
    await form.locator(f"#area-route-add-{CATEGORY}").click()
    await success_flash(admin)
    route = admin.locator(f"#area-route-{CATEGORY}-{TEBET.replace('.', '-')}")
    assert await route.locator(f".route-unit[data-unit-id='{UNIT}']").count() == 1
    await route.scroll_into_view_if_needed()
    await picture(admin, "console-units-route", full_page=False)  # the long catalogue: the route
    await admin_ctx.close()
    await platform.catalogue_ready()  # workflow routes by the new rule before anyone files

    # --- 2. a citizen files on the portal's form: a kelurahan of Tebet and the map ---------
    citizen_ctx = await new_context(browser)
    citizen = await citizen_ctx.new_page()
    await citizen.goto(f"{portal}/lapor")
    await citizen.select_option("#category", CATEGORY)
    await citizen.fill("#title", f"Lubang besar di Jl. Tebet Raya {TAG}")
    await citizen.fill(
        "#text", "Lubang selebar satu meter di lajur kiri, sudah dua motor jatuh minggu ini."
    )

    async def area_picked() -> bool:
        # The area list is fetched by the page's script; the code is set once the typed
        # label is one of it.
        await citizen.fill("#area", KELURAHAN)
        return await citizen.input_value("#area-code") == "31.74.01.1001"

    await eventually(area_picked, "the area list's code for Tebet Timur", timeout=20)
    if await citizen.locator("#file-map").is_visible():
        box = await citizen.locator("#file-map").bounding_box()
        assert box is not None
        await citizen.locator("#file-map").click(
            position={"x": box["width"] * 0.5, "y": box["height"] * 0.5}
        )
        assert await citizen.input_value("#lat"), "the map tap set no point"
    await citizen.fill("#contact", f"warga.tebet.{TAG}@example.org")
    await citizen.click("#file-submit")
    receipt = (await citizen.locator("#receipt-code").inner_text(timeout=30_000)).strip()
    await citizen_ctx.close()

    async def dispatched() -> dict[str, Any] | None:
        found = await as_validator(platform, "/v1/reports", receipt_code=receipt)
        items = found["items"] if isinstance(found, dict) else found
        return items[0] if items and items[0]["status"] == "dispatched" else None

    filed = await eventually(dispatched, "the report auto-dispatched", timeout=90)
    report_id = filed["report_id"]
    assert filed["agency_id"] == UNIT, f"routed to {filed['agency_id']}, not the Tebet unit"

    # --- 3. the unit's queue ---------------------------------------------------------------
    officer = await login_as(browser, portal, OFFICER, PASSWORD)
    await officer.click("#nav-agency")
    assert await officer.inner_text("#whoami-agency") == UNIT_NAME
    await officer.wait_for_selector(f"#report-row-{report_id}", timeout=30_000)
    await picture(officer, "console-units-unit-queue")
    await officer.goto(f"{portal}/console/reports/{report_id}")
    # Why it came here, in the console's language, the area by its official name.
    reasons = " ".join(await officer.locator("#timeline .reason").all_inner_texts())
    # Said from the dispatch's structured route (rule, category, area, unit), not from
    # workflow's English note.
    assert "Dasar disposisi: aturan rute kategori" in reasons
    assert "Kec. Tebet, Kota Jakarta Selatan" in reasons
    await officer.context.close()

    # --- 4. the clock moves: reminder, then breach -----------------------------------------
    async def escalations(kind: str) -> list[dict[str, Any]]:
        view = await as_validator(platform, f"/v1/reports/{report_id}")
        return [e for e in view.get("escalations") or () if e["kind"] == kind]

    assert await move_clock(browser_isolated, report_id, "remind_at") == 1
    [reminder] = await eventually(lambda: escalations("reminder"), "the reminder escalated")
    assert (reminder["from_unit"], reminder["to_unit"]) == (UNIT, PARENT)
    assert await move_clock(browser_isolated, report_id, "due_at") == 1
    [breach] = await eventually(lambda: escalations("breach"), "the breach escalated")
    assert (breach["from_unit"], breach["to_unit"]) == (UNIT, PARENT)

    # --- 5. the parent unit's head and the validator bureau --------------------------------
    head = await login_as(browser, portal, HEAD, PASSWORD)
    await head.goto(f"{portal}/console/agency?escalated=1")
    row = head.locator(f"#report-row-{report_id}")
    await row.wait_for(timeout=30_000)
    assert await head.locator("#filter-escalated").is_checked()
    badge = row.locator(".badge.escalation")
    assert await badge.get_attribute("data-escalation") == "breach"
    assert await badge.get_attribute("data-unit-id") == UNIT
    assert f"Terlambat di {UNIT_NAME}" in await badge.inner_text()
    await picture(head, "console-units-escalated-queue")
    # The unit filter: the head's scope offers the sub-unit; filtering by it keeps the row.
    options = await head.locator("#filter-unit option").evaluate_all("os => os.map(o => o.value)")
    assert PARENT in options and UNIT in options
    await head.goto(f"{portal}/console/agency?unit={UNIT}&wilayah={TEBET}")
    await head.wait_for_selector(f"#report-row-{report_id}", timeout=15_000)
    await head.goto(f"{portal}/console/reports/{report_id}")
    entries = head.locator("#timeline .escalation-entry")
    await entries.first.wait_for(timeout=15_000)
    kinds = [await e.get_attribute("data-escalation") for e in await entries.all()]
    assert kinds == ["reminder", "breach"], kinds
    texts = await entries.all_inner_texts()
    assert f"Terlambat di {UNIT_NAME}" in texts[1] and "Biro" in texts[1]
    assert "overdue at" not in (await head.inner_text("#timeline"))  # said in Indonesian
    # The head reads it; acting stays with the unit it is assigned to.
    assert await head.get_attribute("#read-only-unit", "data-unit-id") == UNIT
    assert await head.locator("#accept-form, #assign-form").count() == 0
    await picture(head, "console-units-escalated-report")
    await head.goto(f"{portal}/console/dashboard")
    await head.wait_for_selector("#escalation-breaches")
    assert int(await head.inner_text("#escalation-breaches")) >= 1
    assert await head.locator(f"#unit-row-{UNIT}").count() == 1, "the sub-unit's figures"
    await picture(head, "console-units-head-dashboard")
    await head.context.close()

    validator_ctx, validator = await console_login(browser, portal, "demo-validator")
    await validator.goto(f"{portal}/console/validation?escalated=1")
    await validator.wait_for_selector(f"#report-row-{report_id}", timeout=15_000)
    await validator.goto(f"{portal}/console/dashboard")
    breaches = int(await validator.inner_text("#escalation-breaches"))
    assert breaches >= 1, "the bureau's dashboard counts the breach"
    await picture(validator, "console-units-bureau-dashboard")
    await validator_ctx.close()
