"""Officers at work in the console, in Debian Chromium, on the platform as `make up` runs it
(five services and the sinks as OS processes, real Kafka, PostgreSQL and Redis, demo data):

1. an agency officer's follow-up is cut off by a session that expired on the server: the
   login page says the follow-up was NOT done, after signing in the typed note is back in
   the form, and the report did not move;
2. a ticket-admin dispatches several triage reports at once to one agency: exactly the
   ticked ones leave triage and appear in that agency's queue;
3. the photo rules: the uploading officer sees their own follow-up photo, the citizen's
   photos of a private report stay locked until a validator opens them for themselves with
   a reason (found in the administrator's access log), and grants to oneself or to an
   officer of another agency are refused with the reason;
4. "Kembalikan" (not our authority): the success message, no error next to it, the
   officer's own queue, and the report back with the ticket-admin;
5. the agency officer sees where the problem is (address, point, map) but never who
   reported it (canary name, phone and e-mail are nowhere in the page's HTML) nor when it
   was filed to the minute.

Screenshots go to test-artifacts/screenshots/ (and docs/screenshots/ with
ADUAN_UPDATE_DOC_SCREENSHOTS=1)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page
from redis.asyncio import Redis

from aduan_kit.photos import clean_photo
from aduan_testing.browser import (
    DEMO_PASSWORD,
    assert_labelled,
    assert_no_iso_datetime,
    assert_nothing_exact,
    assert_nothing_personal,
    console_login,
    expect_success,
    jpeg,
    open_report,
    shot,
    wait_status,
)
from aduan_testing.helpers import eventually
from aduan_testing.platform import Platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

UPDATE_DOCS = os.environ.get("ADUAN_UPDATE_DOC_SCREENSHOTS") == "1"
# This run's reports, told apart from the demo data (letters first: a bare hex tag can read
# as a licence plate, which the gateway hides from officer text).
TAG = "alur" + uuid.uuid4().hex[:6]
# Canary identity: a name, phone and e-mail nobody else uses, so finding any of them on an
# agency officer's page can only mean the reporter's identity leaked.
NAME = "Wiraswasti Kencanawungu"
PHONE_NO = "081377246810"
EMAIL = "wiraswasti.kencana@example.org"
CANARIES = (NAME, "Kencanawungu", PHONE_NO, "+6281377246810", "81377246810", EMAIL, "wiraswasti.")
ADDRESS = "Jl. Cikini Raya No. 73"
POINT = (-6.19052, 106.83917)  # Cikini, Menteng
WIB = timezone(timedelta(hours=7))
SESSION_COOKIE = "aduan_console"


# --- helpers -------------------------------------------------------------------------------


async def file_report(
    platform: Platform,
    title: str,
    *,
    category: str = "jalan-rusak",
    public: bool = False,
    photo: bytes | None = None,
) -> dict[str, Any]:
    """File through intake's web form (the real channel) as a citizen who gives their
    name, e-mail and (in the text) phone; the JSON receipt."""
    form = {
        "title": title,
        "text": (
            f"Saya {NAME}, sudah seminggu begini dan makin parah. "
            f"Kalau perlu hubungi saya di {PHONE_NO} atau {EMAIL}."
        ),
        "category": category,
        "name": NAME,
        "contact": EMAIL,
        "public": "on" if public else "",
        "lat": str(POINT[0]),
        "lon": str(POINT[1]),
        "address": ADDRESS,
        "area": "Menteng",
        "submission_id": str(uuid.uuid4()),
    }
    files = {"photos": ("warga.jpg", photo, "image/jpeg")} if photo else None
    async with httpx.AsyncClient(timeout=20) as client:
        r = await client.post(
            f"{platform.urls['intake']}/v1/channels/web",
            data=form,
            files=files,
            headers={"Accept": "application/json"},
        )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def gateway_login(platform: Platform, username: str) -> dict[str, Any]:
    """The gateway's token pair for a demo user (`access_token`, `user_id`, ...)."""
    async with httpx.AsyncClient(timeout=15) as client:
        r = await client.post(
            f"{platform.urls['gateway']}/v1/auth/login",
            json={"username": username, "password": DEMO_PASSWORD},
        )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def as_validator(platform: Platform, report_id: str) -> dict[str, Any]:
    """The report as the gateway holds it for a full-access role (the truth to compare the
    console against). A report filed a moment ago reaches the gateway's read model through
    Kafka after intake's answer (the gateway polls at most every 200 ms under load), so a
    404 is "not yet" for a while, as it is for an officer; any other answer fails at once."""
    token = (await gateway_login(platform, "demo-validator"))["access_token"]
    async with httpx.AsyncClient(timeout=15) as client:

        async def held() -> dict[str, Any] | None:
            r = await client.get(
                f"{platform.urls['gateway']}/v1/reports/{report_id}",
                headers={"Authorization": f"Bearer {token}"},
            )
            if r.status_code == 404:
                return None
            assert r.status_code == 200, r.text
            return dict(r.json())

        found: dict[str, Any] = await eventually(held, f"the gateway to hold {report_id}")
    return found


async def expire_session_on_server(platform: Platform, context: BrowserContext) -> None:
    """This browser's console session ends in Redis, as an idle session's TTL runs out; the
    browser keeps its (now useless) cookie, as a real browser would."""
    cookies = [c for c in await context.cookies() if c.get("name") == SESSION_COOKIE]
    assert len(cookies) == 1, f"no console session cookie: {await context.cookies()}"
    digest = hashlib.sha256(str(cookies[0]["value"]).encode()).hexdigest()
    key = f"{platform.env['ADUAN_PORTAL_REDIS_PREFIX']}console:session:{digest}"
    redis = Redis.from_url(platform.env["ADUAN_PORTAL_REDIS_URL"])
    try:
        assert await redis.delete(key) == 1, f"no session {key} in Redis"
    finally:
        await redis.aclose()


async def until(
    page: Page, url: str, ready: Callable[[Page], Awaitable[bool]], what: str, timeout: float = 60
) -> None:
    """Load `url` until `ready` holds (bounded): the gateway's read model follows workflow's
    events a moment after an action."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await page.goto(url, wait_until="domcontentloaded")
        if await ready(page):
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what} at {url}")
        await asyncio.sleep(1)


async def flash_texts(page: Page, kind: str) -> list[str]:
    return await page.locator(f'#flash p.flash[data-kind="{kind}"]').all_inner_texts()


async def photo_shown(page: Page, selector: str) -> None:
    """The image is in the page and actually loaded (not a broken picture)."""
    img = page.locator(selector).first
    await img.scroll_into_view_if_needed()
    await page.wait_for_function(
        "sel => { const i = document.querySelector(sel); return i && i.complete "
        "&& i.naturalWidth > 0 }",
        arg=selector,
        timeout=15_000,
    )


async def submit(page: Page, button: str) -> None:
    """Press a form's button and wait for the page the POST leads to (its 303's target)."""
    async with page.expect_navigation():
        await page.click(button)


def upload(photo: bytes, name: str = "sesudah.jpg") -> dict[str, Any]:
    return {"name": name, "mimeType": "image/jpeg", "buffer": photo}


# --- 1. an action cut off by an expired session ----------------------------------------------


async def test_expired_session_keeps_the_follow_up_note_and_says_it_was_not_done(
    platform: Platform, browser: Browser
) -> None:
    portal = platform.urls["portal"]
    filed = await file_report(platform, f"Jalan ambles di Jl. Cikini {TAG}")
    report_id = filed["report_id"]

    context, officer = await console_login(browser, portal, "demo-binamarga")
    try:
        await open_report(officer, portal, report_id)
        await wait_status(officer, "dispatched")
        await submit(officer, "#accept-submit")
        await expect_success(officer)
        await wait_status(officer, "in_progress")
        version = await officer.input_value("#followup-form input[name=expected_version]")

        # A long note typed over a coffee break; meanwhile the session expired on the server.
        note = (
            f"Lubang sudah diurug sirtu dan dipadatkan, lalu ditutup aspal dingin "
            f"sepanjang 3 meter. Rambu sementara dipasang sampai aspal mengeras. {TAG}"
        )
        await officer.fill("#followup-note", note)
        await officer.set_input_files("#followup-photos", upload(jpeg(21, POINT)))
        await expire_session_on_server(platform, context)
        await submit(officer, "#followup-submit")

        # The login page says, as an alert, that the follow-up was NOT sent.
        await officer.wait_for_selector("#login-form")
        assert "reason=expired_action" in officer.url, officer.url
        notice = officer.locator("#login-notice")
        assert await notice.get_attribute("role") == "alert"
        notice_text = await notice.inner_text()
        assert "BELUM dilakukan" in notice_text, notice_text
        assert "teks yang tadi Anda ketik" in notice_text, notice_text
        await shot(officer, "console-expired-follow-up-login", update_docs=UPDATE_DOCS)

        # Nothing reached workflow: same status, same version, no follow-up.
        truth = await as_validator(platform, report_id)
        assert truth["status"] == "in_progress", truth["status"]
        assert str(truth["status_version"]) == version, (truth["status_version"], version)
        assert not [e for e in truth["timeline"] if e.get("follow_up")], truth["timeline"]

        # Signing in again leads back to the report with the note in its form.
        await officer.fill("#username", "demo-binamarga")
        await officer.fill("#password", DEMO_PASSWORD)
        await submit(officer, "#login-submit")
        await officer.wait_for_selector("#report")
        assert officer.url.endswith(f"/console/reports/{report_id}"), officer.url
        assert await officer.input_value("#followup-note") == note
        restored = " ".join(await officer.locator("#report p.flash-info").all_inner_texts())
        assert "belum dilakukan" in restored, restored
        assert "pilih lagi" in restored, restored  # the chosen photo must be chosen again
        assert await officer.get_attribute("#report", "data-status") == "in_progress"
        assert await officer.locator("section.follow-up").count() == 0
        assert await officer.input_value("#followup-form input[name=expected_version]") == version
        await shot(officer, "console-expired-follow-up-restored", update_docs=UPDATE_DOCS)

        # The text is given back once: it is the officer's to send now (the photo, which a
        # browser cannot be handed back, is chosen again).
        await officer.set_input_files("#followup-photos", upload(jpeg(22, POINT)))
        await submit(officer, "#followup-submit")
        await expect_success(officer)
        await wait_status(officer, "awaiting_validation")
        assert note in await officer.inner_text("section.follow-up .note")
    finally:
        await context.close()


# --- 2. bulk dispatch from triage ------------------------------------------------------------


async def test_ticket_admin_dispatches_several_triage_reports_at_once(
    platform: Platform, browser: Browser
) -> None:
    portal = platform.urls["portal"]
    # "Sampah" has no routing rule in the demo data: these wait in triage.
    titles = [f"Sampah menumpuk di Jl. Kramat {n} {TAG}" for n in (1, 2, 3, 4)]
    ids = [(await file_report(platform, t, category="sampah"))["report_id"] for t in titles]
    picked, left = ids[:3], ids[3]
    mine = f"{portal}/console/triage?q={TAG}&sort=newest"

    tiket_ctx, tiket = await console_login(browser, portal, "demo-tiket")
    try:

        async def all_in_triage(p: Page) -> bool:
            return all([await p.locator(f"#pick-{rid}").count() == 1 for rid in ids])

        await until(tiket, mine, all_in_triage, "the four reports in triage")
        for rid in picked:
            await tiket.check(f"#pick-{rid}")
        await tiket.select_option("#bulk-agency", "dinas-sda")
        await tiket.fill("#bulk-note", "Tumpukan sampah menyumbat saluran: mohon ditangani.")
        await assert_labelled(tiket, "the triage queue with bulk dispatch")
        await shot(tiket, "console-bulk-dispatch-picked", update_docs=UPDATE_DOCS)
        await submit(tiket, "#bulk-submit")
        assert tiket.url.endswith("/console/triage"), tiket.url
        assert await flash_texts(tiket, "success") == ["3 laporan didisposisikan."]
        assert await flash_texts(tiket, "error") == []

        # The three leave triage; the one not ticked stays.
        async def dispatched_left(p: Page) -> bool:
            gone = [await p.locator(f"#report-row-{rid}").count() == 0 for rid in picked]
            return all(gone)

        await until(tiket, mine, dispatched_left, "the dispatched reports to leave triage")
        row = tiket.locator(f"#report-row-{left}")
        assert await row.count() == 1, "the report that was not ticked left triage too"
        assert await row.get_attribute("data-status") == "received"
    finally:
        await tiket_ctx.close()

    # Dinas SDA's officer finds the three in the agency queue, dispatched to them.
    sda_ctx, sda = await console_login(browser, portal, "demo-sda")
    try:

        async def all_queued(p: Page) -> bool:
            return all([await p.locator(f"#report-row-{rid}").count() == 1 for rid in picked])

        await until(sda, f"{portal}/console/agency?sort=newest", all_queued, "the agency queue")
        for rid in picked:
            row = sda.locator(f"#report-row-{rid}")
            assert await row.get_attribute("data-status") == "dispatched"
        assert await sda.locator(f"#report-row-{left}").count() == 0
        await shot(sda, "console-bulk-dispatch-agency-queue", update_docs=UPDATE_DOCS)
        await sda.click(f"#open-{picked[0]}")
        await wait_status(sda, "dispatched")
        assert await sda.get_attribute("#report-agency", "data-agency-id") == "dinas-sda"
        timeline = await sda.inner_text("#timeline")
        assert "Tumpukan sampah menyumbat saluran" in timeline, timeline
    finally:
        await sda_ctx.close()


# --- 3. the photo rules -----------------------------------------------------------------------


async def test_photo_rules_own_follow_up_photo_audited_opening_and_refused_grants(
    platform: Platform, browser: Browser
) -> None:
    portal = platform.urls["portal"]
    citizen_photo = jpeg(31, POINT)
    citizen_sha = hashlib.sha256(clean_photo(citizen_photo)[0]).hexdigest()
    filed = await file_report(
        platform, f"Trotoar retak di Jl. Cikini {TAG}", public=False, photo=citizen_photo
    )
    report_id = filed["report_id"]
    citizen_url = f"{portal}/console/reports/{report_id}/photos/{citizen_sha}"
    reason = f"Membandingkan foto warga dengan foto tindak lanjut {TAG}"

    # The agency's officer: the citizen's photo locked; their own follow-up photo shown.
    officer_ctx, officer = await console_login(browser, portal, "demo-binamarga")
    try:
        await open_report(officer, portal, report_id)
        await wait_status(officer, "dispatched")
        await officer.wait_for_selector("#photos-locked")
        assert await officer.locator("img.report-photo").count() == 0
        await submit(officer, "#accept-submit")
        await expect_success(officer)
        await wait_status(officer, "in_progress")
        tl_photo = jpeg(32, POINT)  # taken on site now, after the report
        tl_sha = hashlib.sha256(clean_photo(tl_photo)[0]).hexdigest()
        await officer.fill("#followup-note", "Retakan ditambal beton, trotoar rata kembali.")
        await officer.set_input_files("#followup-photos", upload(tl_photo))
        await submit(officer, "#followup-submit")
        await expect_success(officer)
        await wait_status(officer, "awaiting_validation")
        own = f"img.follow-up-photo[data-sha256='{tl_sha}']"
        await photo_shown(officer, own)
        assert await officer.locator(".follow-up-photos-locked").count() == 0
        tl_url = f"{portal}/console/reports/{report_id}/photos/{tl_sha}"
        # Faces and plates are blurred off the request path (issue 20): 202 until then.
        got = await officer.request.get(tl_url)
        for _ in range(100):
            if got.status != 202:
                break
            await asyncio.sleep(0.2)
            got = await officer.request.get(tl_url)
        assert got.status == 200, got.status
        # The blurred copy, never the stored original.
        body = await got.body()
        assert body[:2] == b"\xff\xd8" and hashlib.sha256(body).hexdigest() != tl_sha
        assert await officer.locator("#photos-locked").count() == 1  # still the citizen's
        assert (await officer.request.get(citizen_url)).status in (403, 404)
        # The citizen's photos locked above, the officer's own follow-up photo below.
        await officer.locator("#photos").evaluate("e => e.scrollIntoView({block: 'start'})")
        await shot(officer, "console-own-follow-up-photo", full_page=False, update_docs=UPDATE_DOCS)
    finally:
        await officer_ctx.close()

    validator_id = (await gateway_login(platform, "demo-validator"))["user_id"]
    other_agency_officer = (await gateway_login(platform, "demo-sda"))["user_id"]
    val_ctx, validator = await console_login(browser, portal, "demo-validator")
    try:
        await open_report(validator, portal, report_id)
        await wait_status(validator, "awaiting_validation")
        await photo_shown(validator, f"img.follow-up-photo[data-sha256='{tl_sha}']")
        assert await validator.locator("#photos-locked").count() == 1
        assert await validator.locator("img.report-photo").count() == 0
        assert (await validator.request.get(citizen_url)).status in (403, 404)

        # A grant to oneself is refused, with the reason.
        await validator.fill("#grant-grantee", validator_id)
        await validator.fill("#grant-reason", "Saya perlu melihat fotonya.")
        await submit(validator, "#grant-submit")
        errors = await flash_texts(validator, "error")
        # In the console's language (the gateway's English reason is not shown).
        assert len(errors) == 1 and "kepada diri sendiri" in errors[0], errors
        assert "no self-grants" not in errors[0]
        assert await flash_texts(validator, "success") == []
        # So is a grant to an officer of another agency (Dinas SDA; the report is Bina
        # Marga's).
        await validator.fill("#grant-grantee", other_agency_officer)
        await submit(validator, "#grant-submit")
        errors = await flash_texts(validator, "error")
        assert len(errors) == 1 and "petugas aktif dari instansi" in errors[0], errors
        await validator.locator("#flash").scroll_into_view_if_needed()
        await shot(validator, "console-grant-refused", full_page=False, update_docs=UPDATE_DOCS)
        for refused in (validator_id, other_agency_officer):
            assert await validator.locator(f"#grants tr[data-grantee='{refused}']").count() == 0
        assert await validator.locator("#photos-locked").count() == 1

        # The explicit, audited way: "open photos" with a reason.
        await validator.fill("#open-photos-reason", reason)
        await submit(validator, "#open-photos-submit")
        assert await flash_texts(validator, "success") == [
            "Foto dibuka untuk Anda selama 1 jam (tercatat di log akses)."
        ]
        await photo_shown(validator, f"img.report-photo[data-sha256='{citizen_sha}']")
        assert await validator.locator("#photos-locked").count() == 0
        assert await validator.locator("#open-photos-form").count() == 0
        assert (await validator.request.get(citizen_url)).status == 200
        # The message, the facts and the photos in one picture.
        await validator.set_viewport_size({"width": 1280, "height": 1320})
        await validator.evaluate("window.scrollTo(0, 0)")
        await shot(
            validator, "console-validator-opened-photos", full_page=False, update_docs=UPDATE_DOCS
        )
    finally:
        await val_ctx.close()

    # Opened for the validator only: the agency's officer is still locked out.
    officer_ctx, officer = await console_login(browser, portal, "demo-binamarga")
    try:
        await open_report(officer, portal, report_id)
        assert await officer.locator("#photos-locked").count() == 1
        assert await officer.locator("img.report-photo").count() == 0
        assert (await officer.request.get(citizen_url)).status in (403, 404)
    finally:
        await officer_ctx.close()

    # The administrator finds the opening, by the validator, with its reason.
    admin_ctx, admin = await console_login(browser, portal, "demo-admin")
    try:
        await admin.goto(
            f"{portal}/console/admin/access-log?report_id={report_id}&actor=demo-validator"
        )
        opened = admin.locator(
            f"#access-log tr[data-subject='{validator_id}']", has_text="photos.open"
        )
        assert await opened.count() == 1, await admin.inner_text("main")
        entry = await opened.inner_text()
        assert f"reason:{reason}" in entry, entry
        assert "Validator DEMO" in entry, entry
        await opened.evaluate("e => e.scrollIntoView({block: 'center'})")
        await shot(
            admin, "console-access-log-photos-opened", full_page=False, update_docs=UPDATE_DOCS
        )
    finally:
        await admin_ctx.close()


# --- 4. the return flow -----------------------------------------------------------------------


async def test_return_not_our_authority_succeeds_without_error_and_lands_on_the_queue(
    platform: Platform, browser: Browser
) -> None:
    portal = platform.urls["portal"]
    title = f"Pohon tumbang di taman Cikini {TAG}"
    filed = await file_report(platform, title)
    report_id = filed["report_id"]
    reason = "Pohon di taman kota: wewenang Dinas Pertamanan, bukan Bina Marga."

    context, officer = await console_login(browser, portal, "demo-binamarga")
    try:
        await open_report(officer, portal, report_id)
        await wait_status(officer, "dispatched")
        await officer.fill("#return-reason", reason)
        await submit(officer, "#return-submit")
        assert officer.url == f"{portal}/console/agency", officer.url
        assert await flash_texts(officer, "success") == [
            "Tindakan tercatat. Status sekarang: Koordinasi."
        ]
        assert await flash_texts(officer, "error") == []
        body = await officer.inner_text("body")
        for wrong in ("Terjadi kesalahan", "Tidak ditemukan", "not found", "Not Found"):
            assert wrong not in body, f"the queue after a return says {wrong!r}"
        await shot(officer, "console-return-done", update_docs=UPDATE_DOCS)

        # No longer the agency's: it leaves their queue.
        async def gone(p: Page) -> bool:
            return await p.locator(f"#report-row-{report_id}").count() == 0

        await until(officer, f"{portal}/console/agency", gone, "the report to leave the queue")
    finally:
        await context.close()

    # Back with the ticket-admin, in coordination, with the agency's reason.
    tiket_ctx, tiket = await console_login(browser, portal, "demo-tiket")
    try:

        async def in_triage(p: Page) -> bool:
            row = p.locator(f"#report-row-{report_id}")
            return await row.count() == 1 and await row.get_attribute("data-status") == (
                "coordination"
            )

        await until(tiket, f"{portal}/console/triage?q={TAG}", in_triage, "the returned report")
        await tiket.click(f"#open-{report_id}")
        await wait_status(tiket, "coordination")
        assert reason in await tiket.inner_text("#timeline")
        assert await tiket.get_attribute("#report-agency", "data-agency-id") == ""
        assert await tiket.locator("#dispatch-form").count() == 1
    finally:
        await tiket_ctx.close()


# --- 5. where, not who, not when --------------------------------------------------------------


def filing_time_forms(received_at: str) -> list[str]:
    """The ways a page could write the filing time or its exact day."""
    at = datetime.fromisoformat(received_at.replace("Z", "+00:00"))
    forms = []
    for local in (at.astimezone(WIB), at.astimezone(UTC)):
        forms += [
            local.strftime("%d-%m-%Y %H:%M"),
            local.strftime("%d-%m-%Y"),
            local.strftime("%Y-%m-%d"),
            local.strftime("%d/%m/%Y"),
        ]
    return forms


async def test_agency_officer_sees_where_but_not_who_or_when(
    platform: Platform, browser: Browser
) -> None:
    portal = platform.urls["portal"]
    title = f"Gorong-gorong jebol di Jl. Cikini {TAG}"
    filed = await file_report(platform, title, public=False)
    report_id = filed["report_id"]
    truth = await as_validator(platform, report_id)
    exact = filing_time_forms(str(truth["received_at"]))
    # The identity is there to leak: the administrator can open it (with a reason).
    admin_token = (await gateway_login(platform, "demo-admin"))["access_token"]
    async with httpx.AsyncClient(timeout=15) as client:
        r = await client.get(
            f"{platform.urls['gateway']}/v1/reports/{report_id}/reporter-identity",
            params={"reason": f"Uji kebocoran identitas pada konsol {TAG}"},
            headers={"Authorization": f"Bearer {admin_token}"},
        )
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["contact"]) == (NAME, EMAIL), r.json()

    # The contrast: a full-access role does see the exact filing time on the same page.
    val_ctx, validator = await console_login(browser, portal, "demo-validator")
    try:
        await open_report(validator, portal, report_id)
        assert exact[0] in await validator.inner_text("#report-received")
    finally:
        await val_ctx.close()

    context, officer = await console_login(browser, portal, "demo-binamarga")
    try:

        async def queued(p: Page) -> bool:
            return await p.locator(f"#report-row-{report_id}").count() == 1

        await until(officer, f"{portal}/console/agency?sort=newest", queued, "the agency queue")
        queue_html = await officer.content()
        assert_nothing_personal(queue_html, CANARIES, "the agency queue's HTML")
        for form in exact:
            assert form not in queue_html, f"the agency queue shows the filing time {form!r}"
        csv = await officer.request.get(f"{portal}/console/agency/export.csv")
        assert csv.status == 200, csv.status
        csv_text = await csv.text()
        assert title in csv_text
        assert_nothing_personal(csv_text, CANARIES, "the agency queue's CSV")
        for form in exact:
            assert form not in csv_text, f"the agency CSV shows the filing time {form!r}"

        await officer.click(f"#open-{report_id}")
        await wait_status(officer, "dispatched")
        # Where: the address, the point and the map with its marker.
        assert await officer.inner_text("#report-address") == ADDRESS
        point = await officer.inner_text("#report-point")
        assert f"{POINT[0]:.5f}, {POINT[1]:.5f}" in point, point
        await officer.wait_for_selector("#report-map[data-ready='1'] .leaflet-marker-icon")
        # Not who: no canary anywhere in the markup (attributes, scripts, hidden fields).
        html = await officer.content()
        assert_nothing_personal(html, CANARIES, "the agency officer's report page HTML")
        reporter = await officer.inner_text("#reporter")
        assert reporter.strip() not in ("", NAME), reporter
        # Not when: the month only, no filing date or time in any form, and no clock time
        # in the timeline.
        assert await officer.locator("#report-received").count() == 0
        assert (await officer.inner_text("#report-month")).strip()
        for form in exact:
            assert form not in html, f"the agency officer's page shows the filing time {form!r}"
        assert_no_iso_datetime(html, "the agency officer's report page HTML")
        assert_nothing_exact(await officer.inner_text("#timeline"), "the officer's timeline")
        await officer.evaluate("window.scrollTo(0, 0)")
        await shot(
            officer, "console-agency-where-not-who", full_page=False, update_docs=UPDATE_DOCS
        )
    finally:
        await context.close()
