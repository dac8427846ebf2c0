"""The officer console's work tools in Debian Chromium, on the platform as `make up` runs
it: an action cut off by an expired session keeps the typed text and says plainly it did
not happen; the return flow ("bukan wewenang kami") without a false error; bulk dispatch by
a ticket-admin; the photo rules of SPEC Revision 2 (the uploading agency sees its own
follow-up photo, a validator opens a private report's photos only by the audited action,
no self-grants)."""

from __future__ import annotations

import asyncio
import os
import uuid

import httpx
import pytest
from playwright.async_api import Browser, Page
from redis.asyncio import Redis

from aduan_testing.browser import (
    DEMO_PASSWORD,
    console_login,
    expect_success,
    jpeg,
    open_report,
    shot,
    wait_status,
)
from aduan_testing.platform import Platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

UPDATE_DOCS = os.environ.get("ADUAN_UPDATE_DOC_SCREENSHOTS") == "1"


async def file(
    platform: Platform, title: str, category: str, photo: bytes | None = None
) -> tuple[str, str]:
    async with httpx.AsyncClient(timeout=20) as client:
        r = await client.post(
            f"{platform.urls['intake']}/v1/channels/web",
            data={
                "title": title,
                "text": f"{title}: sudah berhari-hari, mohon segera ditangani.",
                "category": category,
                "contact": f"warga.{uuid.uuid4().hex[:6]}@example.org",
                "lat": "-6.1900",
                "lon": "106.8230",
                "submission_id": str(uuid.uuid4()),
            },
            files={"photos": ("foto.jpg", photo, "image/jpeg")} if photo else None,
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 201, r.text
        return r.json()["report_id"], r.json()["receipt_code"]


async def end_session_on_the_server(platform: Platform) -> int:
    """The console session expires in Redis (idle too long), the browser keeps its cookie."""
    redis = Redis.from_url(platform.env["ADUAN_PORTAL_REDIS_URL"])
    prefix = platform.env["ADUAN_PORTAL_REDIS_PREFIX"]
    try:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}console:session:*")]
        if keys:
            await redis.delete(*keys)
        return len(keys)
    finally:
        await redis.aclose()


async def sign_in_again(page: Page, username: str) -> None:
    await page.fill("#username", username)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_selector("#whoami", timeout=15_000)


async def test_expired_session_keeps_the_text_then_the_return_flow(
    platform: Platform, browser: Browser
) -> None:
    portal = platform.urls["portal"]
    report_id, _ = await file(platform, "Pohon tumbang di Jl. Diponegoro", "jalan-rusak")
    context, officer = await console_login(browser, portal, "demo-binamarga")
    try:
        await open_report(officer, portal, report_id)
        await wait_status(officer, "dispatched")
        typed = "Pohon tumbang di taman kota, wewenang Dinas Pertamanan."
        await officer.fill("#return-reason", typed)
        assert await end_session_on_the_server(platform) >= 1
        await officer.click("#return-submit")

        # The login page says plainly that the action did NOT happen.
        await officer.wait_for_selector("#login-form")
        notice = await officer.inner_text("#login-notice")
        assert "BELUM dilakukan" in notice, notice
        await shot(officer, "console-expired-action", update_docs=UPDATE_DOCS)
        await sign_in_again(officer, "demo-binamarga")
        # Back on the report, the text put back, the status unchanged.
        await officer.wait_for_selector("#return-reason")
        assert await officer.input_value("#return-reason") == typed
        restored = " ".join(await officer.locator("p.flash-info").all_inner_texts())
        assert "belum dilakukan" in restored.lower(), restored
        assert await officer.get_attribute("#report", "data-status") == "dispatched"

        # Now it is sent: the success message and the agency's queue, no false error.
        await officer.click("#return-submit")
        await officer.wait_for_selector("#queue")
        flash = await officer.inner_text("#flash")
        assert "Terjadi kesalahan" not in flash and "not found" not in flash.lower()
        await expect_success(officer)
        assert officer.url.startswith(f"{portal}/console/agency")
    finally:
        await context.close()


async def test_bulk_dispatch_from_triage(platform: Platform, browser: Browser) -> None:
    portal = platform.urls["portal"]
    # "sampah" has no agency in the demo routing: it waits in triage.
    picked = []
    for n in (1, 2):
        picked.append((await file(platform, f"Sampah liar {n} di kali Ciliwung", "sampah"))[0])
    context, tiket = await console_login(browser, portal, "demo-tiket")
    try:
        for _ in range(60):
            await tiket.goto(f"{portal}/console/triage?sort=newest")
            counts = [await tiket.locator(f"#pick-{rid}").count() for rid in picked]
            if all(counts):
                break
            await asyncio.sleep(1)
        for rid in picked:
            await tiket.check(f"#pick-{rid}")
        await tiket.select_option("#bulk-agency", "satpol-pp")
        await shot(tiket, "console-bulk-dispatch", update_docs=UPDATE_DOCS)
        await tiket.click("#bulk-submit")
        await expect_success(tiket)

        async def left_triage() -> bool:
            await tiket.goto(f"{portal}/console/triage?sort=newest")
            counts = [await tiket.locator(f"#pick-{rid}").count() for rid in picked]
            return not any(counts)

        for _ in range(60):
            if await left_triage():
                break
            await asyncio.sleep(1)
        else:
            raise AssertionError("the dispatched reports are still in triage")
        for rid in picked:
            await open_report(tiket, portal, rid)
            await wait_status(tiket, "dispatched")
            assert "Satpol PP" in await tiket.inner_text("#report-agency")
    finally:
        await context.close()


async def test_photo_rules(platform: Platform, browser: Browser) -> None:
    portal = platform.urls["portal"]
    report_id, _ = await file(platform, "Jembatan retak di Kali Pasir", "jalan-rusak", jpeg(11))

    # The agency's officer: the citizen's photos of a private report stay locked; their
    # own follow-up photo is theirs to see.
    context, officer = await console_login(browser, portal, "demo-binamarga")
    try:
        await open_report(officer, portal, report_id)
        await wait_status(officer, "dispatched")
        assert await officer.locator("#photos-locked").count() == 1
        await officer.click("#accept-submit")
        await wait_status(officer, "in_progress")
        await officer.fill("#followup-note", "Retakan ditambal dan diberi rambu.")
        await officer.set_input_files(
            "#followup-photos",
            files=[{"name": "sesudah.jpg", "mimeType": "image/jpeg", "buffer": jpeg(12)}],
        )
        await officer.click("#followup-submit")
        await wait_status(officer, "awaiting_validation")
        own = officer.locator("#timeline img")
        assert await own.count() >= 1, "the uploading officer cannot see their own TL photo"
        officer_id = await officer.get_attribute("#whoami", "data-user-id")
    finally:
        await context.close()

    # The validator: TL photos to judge; the citizen's photos only by the audited action.
    context, validator = await console_login(browser, portal, "demo-validator")
    try:
        await open_report(validator, portal, report_id)
        assert await validator.locator("#timeline img").count() >= 1
        assert await validator.locator("#photos-locked").count() == 1
        # No self-grants: a grant is for a named other officer of the report's agency.
        me = await validator.get_attribute("#whoami", "data-user-id")
        options = await validator.locator("#grant-officer option").evaluate_all(
            "os => os.map(o => o.value)"
        )
        assert me not in options and officer_id in options
        await validator.fill("#open-photos-reason", "Membandingkan foto sebelum dan sesudah.")
        await validator.click("#open-photos-submit")
        await expect_success(validator)
        await validator.wait_for_selector("#photos img.report-photo")
        await shot(validator, "console-open-photos", update_docs=UPDATE_DOCS)
    finally:
        await context.close()

    # The administrator finds the opening, with its reason, in the access log.
    context, admin = await console_login(browser, portal, "demo-admin")
    try:
        await admin.goto(f"{portal}/console/admin/access-log?report_id={report_id}")
        log_text = await admin.inner_text("main")
        assert "Membandingkan foto sebelum dan sesudah" in log_text, log_text[:2000]
    finally:
        await context.close()
