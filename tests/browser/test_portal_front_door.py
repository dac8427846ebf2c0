"""The citizen's front door in Debian Chromium, on a phone (390x844) and a desktop, on the
platform as `make up` runs it: file on the map with a photo, a bad contact answered by a
page that keeps the text, the acknowledgement linking to tracking, the same form sent again
filing once, English with ?lang=en, the clear-filters link; page weight and time to
interactive measured on the phone and printed (docs/portal.md)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid

import httpx
import pytest
from playwright.async_api import Browser, Page

from aduan_testing.browser import DESKTOP, PHONE, assert_labelled, jpeg, new_context, shot
from aduan_testing.platform import Platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

UPDATE_DOCS = os.environ.get("ADUAN_UPDATE_DOC_SCREENSHOTS") == "1"
TEXT = "Saluran air di depan SD Negeri 03 mampet, air meluap ke jalan setiap hujan."


async def weight_and_timing(page: Page) -> dict[str, float]:
    """Bytes transferred for the page and its resources, and the navigation's timing (ms
    from the start): what a 3G phone pays to open it."""
    figures: dict[str, float] = await page.evaluate(
        """() => {
             const nav = performance.getEntriesByType('navigation')[0];
             const res = performance.getEntriesByType('resource');
             const bytes = (nav.transferSize || nav.encodedBodySize)
               + res.reduce((s, r) => s + (r.transferSize || r.encodedBodySize || 0), 0);
             return {bytes, requests: res.length + 1,
                     dom_interactive_ms: nav.domInteractive,
                     load_ms: nav.loadEventEnd};
           }"""
    )
    return figures


async def tap_map(page: Page) -> None:
    """Tap the filing map a little off its centre (a click scrolls it into view first)."""
    the_map = page.locator("#file-map")
    box = await the_map.bounding_box()
    assert box is not None
    await the_map.click(position={"x": box["width"] * 0.55, "y": box["height"] * 0.45})


async def test_file_on_a_phone_with_map_and_photo_once(
    platform: Platform, browser: Browser
) -> None:
    portal = platform.urls["portal"]
    context = await new_context(browser, PHONE, phone=True)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await page.goto(f"{portal}/")
        await page.get_by_role("link", name="Laporkan masalah").first.click()
        await page.wait_for_selector("#file-form")
        figures = await weight_and_timing(page)
        print("front door /lapor on a phone:", json.dumps(figures))
        await assert_labelled(page, "the filing form")
        # The map is there (script on), private is preselected.
        await page.wait_for_selector(
            "#file-map:not([hidden]) .leaflet-container, #file-map.leaflet-container"
        )
        assert await page.is_checked("input[name=visibility][value=private]")
        await page.select_option("#category", "saluran")
        await page.fill("#text", TEXT)
        await tap_map(page)
        assert await page.input_value("#lat") and await page.input_value("#lon"), errors
        assert "Titik dipilih" in await page.inner_text("#point-status")
        await page.fill("#area", "Menteng")
        await page.set_input_files(
            "#photos", files=[{"name": "saluran.jpg", "mimeType": "image/jpeg", "buffer": jpeg(7)}]
        )
        await page.fill("#name", "Rudi Hartono")
        await page.fill("#contact", "nomor saya nol delapan")
        await shot(page, "portal-file-phone", update_docs=UPDATE_DOCS)
        await page.click("#file-submit")

        # A contact that cannot be used: a page in Indonesian, the text kept, nothing sent.
        await page.wait_for_selector("#file-error")
        assert "Kontak ini tidak dapat kami pakai" in await page.inner_text("#file-error")
        assert await page.input_value("#text") == TEXT
        assert await page.input_value("#lat")  # the point is kept too
        assert "pilih lagi" in await page.inner_text("#map-fieldset ~ fieldset")
        await shot(page, "portal-file-error-phone", update_docs=UPDATE_DOCS)

        await page.fill("#contact", "rudi.hartono@example.org")
        await page.set_input_files(
            "#photos", files=[{"name": "saluran.jpg", "mimeType": "image/jpeg", "buffer": jpeg(7)}]
        )
        await page.click("#file-submit")
        await page.wait_for_selector("#receipt-code")
        receipt = (await page.inner_text("#receipt-code")).strip()
        assert re.fullmatch(r"ADU-[0-9A-Z]{4}-[0-9A-Z]{4}", receipt)
        summary = await page.inner_text("#filed-summary")
        assert "Menteng" in summary and "Rudi" not in summary
        await shot(page, "portal-filed-phone", update_docs=UPDATE_DOCS)

        # The same complaint sent again from the form (Back, reload, send): same receipt.
        await page.goto(f"{portal}/lapor")
        await page.select_option("#category", "saluran")
        await page.fill("#text", TEXT)
        await page.fill("#area", "Menteng")
        await page.fill("#name", "Rudi Hartono")
        await page.fill("#contact", "rudi.hartono@example.org")
        await page.set_input_files(
            "#photos", files=[{"name": "saluran.jpg", "mimeType": "image/jpeg", "buffer": jpeg(7)}]
        )
        await tap_map(page)
        await page.click("#file-submit")
        await page.wait_for_selector("#receipt-code")
        assert (await page.inner_text("#receipt-code")).strip() == receipt
        assert "sudah terkirim sebelumnya" in await page.inner_text("main")

        # The acknowledgement's link opens tracking (once the gateway has the report).
        await page.click("#track-link")
        for _ in range(60):
            if await page.locator("#tracked-heading").count():
                break
            await page.wait_for_timeout(1000)
            await page.reload()
        assert receipt in await page.inner_text("#tracked-heading")
        await shot(page, "portal-track-phone", update_docs=UPDATE_DOCS)
    finally:
        await context.close()


async def test_front_door_in_english_and_clear_filters(
    platform: Platform, browser: Browser
) -> None:
    portal = platform.urls["portal"]
    context = await new_context(browser, DESKTOP)
    page = await context.new_page()
    try:
        await page.goto(f"{portal}/lapor?lang=en")
        await page.wait_for_selector("#file-form")
        body = await page.inner_text("main")
        for english in ("Report a problem", "Where is it?", "Use my location", "Send report"):
            assert english in body, english
        for indonesian in ("Kirim laporan", "Ceritakan masalahnya", "Kategori"):
            assert indonesian not in body, indonesian
        await shot(page, "portal-file-desktop-en", update_docs=UPDATE_DOCS)
        await page.fill("#text", "short")
        await page.evaluate("document.getElementById('text').removeAttribute('required')")
        await page.click("#file-submit")
        await page.wait_for_selector("#file-error")
        assert "at least 10 characters" in await page.inner_text("#file-error")

        # Home: a filter, then the clear-filters link brings the whole list back.
        await page.goto(f"{portal}/?category=jalan-rusak")
        link = page.get_by_role("link", name="Hapus saringan")
        assert await link.count() == 1
        await link.click()
        await page.wait_for_load_state()
        assert page.url.rstrip("/") == portal.rstrip("/")
        home = await weight_and_timing(page)
        print("home page on a desktop:", json.dumps(home))
    finally:
        await context.close()


async def test_already_reported_offers_me_too(platform: Platform, browser: Browser) -> None:
    """An open public report of the same category near the chosen point is offered before
    sending; "Saya juga mengalami ini" joins the new report to it."""
    portal = platform.urls["portal"]
    point = (-6.2001, 106.8470)
    async with httpx.AsyncClient(timeout=15) as client:
        r = await client.post(
            f"{platform.urls['intake']}/v1/channels/web",
            data={
                "title": "Sampah menumpuk di pasar Rumput",
                "text": "Sampah menumpuk tiga hari di sisi timur pasar, bau menyengat.",
                "category": "sampah",
                "public": "on",
                "lat": str(point[0]),
                "lon": str(point[1]),
                "submission_id": str(uuid.uuid4()),
            },
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 201, r.text
        primary = r.json()["report_id"]
        for _ in range(60):
            near = await client.get(
                f"{portal}/api/nearby",
                params={"category": "sampah", "lat": point[0], "lon": point[1]},
            )
            if any(i["report_id"] == primary for i in near.json()):
                break
            await asyncio.sleep(1)
        else:
            raise AssertionError("the public report never reached the portal")

    context = await new_context(browser, DESKTOP)
    page = await context.new_page()
    try:
        await page.goto(f"{portal}/lapor")
        await page.wait_for_selector("#file-map.leaflet-container")
        # The point as the map would set it, then the category: the form looks around.
        await page.evaluate(
            "([la, lo]) => { document.getElementById('lat').value = la;"
            " document.getElementById('lon').value = lo; }",
            [str(point[0]), str(point[1])],
        )
        await page.select_option("#category", "sampah")
        await page.wait_for_selector(f"#nearby:not([hidden]) [data-report-id='{primary}']")
        assert "Sampah menumpuk di pasar Rumput" in await page.inner_text("#nearby-list")
        await page.click(f"[data-report-id='{primary}']")
        assert "digabung" in await page.inner_text("#follow-status")
        assert await page.input_value("#follows") == primary
        await page.fill("#text", "Sama, sampah di sisi timur pasar belum diangkut.")
        await page.fill("#contact", "warga.pasar@example.org")
        await shot(page, "portal-file-already-reported", update_docs=UPDATE_DOCS)
        await page.click("#file-submit")
        await page.wait_for_selector("#filed-follows")
    finally:
        await context.close()


async def test_reporter_sees_reason_and_outcome_rates_and_reopens(
    platform: Platform, browser: Browser
) -> None:
    """After proving the contact given: the rejection reason on one report; on a completed
    one the agency's outcome, a rating and a reopening, in plain words on a phone."""
    gw, portal = platform.urls["gateway"], platform.urls["portal"]
    email = f"pelapor.{uuid.uuid4().hex[:6]}@example.org"

    bearer = platform.bearer
    ticket, validator = bearer("t-1", "ticket-admin"), bearer("v-1", "validator")
    crew = bearer("bm-1", "agency-officer", "dinas-bina-marga")
    reason = "Jalan ini milik pengelola kawasan swasta, bukan jalan kota."
    outcome = "Lubang ditambal aspal panas sepanjang dua meter."
    async with httpx.AsyncClient(timeout=20) as api:

        async def file(text: str) -> tuple[str, str]:
            r = await api.post(
                f"{platform.urls['intake']}/v1/channels/web",
                data={
                    "text": text,
                    "category": "jalan-rusak",
                    "contact": email,
                    "submission_id": str(uuid.uuid4()),
                },
                headers={"Accept": "application/json"},
            )
            assert r.status_code == 201, r.text
            return r.json()["report_id"], r.json()["receipt_code"]

        async def status_of(rid: str) -> str | None:
            r = await api.get(f"{gw}/v1/reports/{rid}", headers=validator)
            return r.json()["status"] if r.status_code == 200 else None

        async def until(rid: str, wanted: str) -> None:
            for _ in range(60):
                if await status_of(rid) == wanted:
                    return
                await asyncio.sleep(1)
            raise AssertionError(f"{rid} never {wanted}")

        async def act(rid: str, action: str, headers: dict[str, str], **body: str) -> None:
            r = await api.post(f"{gw}/v1/reports/{rid}/{action}", json=body, headers=headers)
            assert r.status_code == 200, (action, r.text)

        rejected, rejected_code = await file("Jalan di dalam kompleks ruko rusak parah.")
        fixed, fixed_code = await file("Lubang besar di Jl. Cikini Raya depan apotek.")
        await until(rejected, "dispatched")
        await act(rejected, "return", crew, reason="Bukan jalan kota, milik kawasan.")
        await until(rejected, "coordination")
        await act(rejected, "reject", ticket, reason=reason)
        await until(fixed, "dispatched")
        await act(fixed, "accept", crew)
        r = await api.post(
            f"{gw}/v1/reports/{fixed}/follow-ups",
            data={"note": outcome},
            files={"photos": ("after.jpg", jpeg(3), "image/jpeg")},
            headers=crew,
        )
        assert r.status_code == 200, r.text
        await until(fixed, "awaiting_validation")
        await act(fixed, "validate", validator)
        await until(fixed, "completed")

    context = await new_context(browser, PHONE, phone=True)
    page = await context.new_page()
    try:
        await page.goto(f"{portal}/track/{rejected_code}")
        assert "Tidak dapat diproses" in await page.inner_text(".tracked")
        await page.fill("#prove-contact", email)
        await page.click("#prove-form button[type=submit]")
        await page.wait_for_selector("#mine")
        mine = await page.inner_text("#mine-timeline")
        assert reason in mine and "milik kawasan." not in mine  # the return stays internal
        await shot(page, "portal-track-reason-phone", update_docs=UPDATE_DOCS)

        await page.goto(f"{portal}/track/{fixed_code}")
        await page.fill("#prove-contact", email)
        await page.click("#prove-form button[type=submit]")
        await page.wait_for_selector("#rate-form")
        mine = await page.inner_text("#mine-timeline")
        assert outcome in mine
        # Officers' working notes (auto-routing, an agency's return) are not the reporter's.
        assert "auto-routed" not in mine and "Alasan" not in mine
        await page.check("#rate-form input[name=score][value='5']")
        await page.fill("#rate-comment", "Cepat dan rapi.")
        await page.click("#rate-form button[type=submit]")
        await page.wait_for_selector("#reporter-notice")
        assert "5 dari 5" in await page.inner_text("#rated")
        await shot(page, "portal-track-outcome-phone", update_docs=UPDATE_DOCS)
        await page.fill("#reopen-reason", "Tambalannya retak lagi setelah hujan semalam.")
        await page.click("#reopen-form button[type=submit]")
        await page.wait_for_selector("#reporter-notice")
        assert "dibuka kembali" in await page.inner_text("#reporter-notice")
    finally:
        await context.close()
