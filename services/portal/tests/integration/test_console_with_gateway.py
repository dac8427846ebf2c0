"""The officer console against the real privacy gateway and workflow (in-process, on real
Kafka, PostgreSQL and Redis): sign-in, CSRF, role gating, session refresh, and actions that
go console -> gateway -> workflow (Kafka) -> gateway and back to the page."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from PIL import Image

from aduan_contracts import encode
from aduan_contracts.enums import Channel, Privacy, Role
from aduan_contracts.events import ReportSubmitted
from aduan_contracts.topics import REPORT_INTAKE
from aduan_contracts.values import GeoPoint, Location
from aduan_gateway.adapters.identity import create_agency, create_user
from aduan_gateway.auth import issue_access_token
from aduan_gateway.bootstrap import build as build_gateway
from aduan_gateway.config import Settings as GatewaySettings
from aduan_kit.db import transaction
from aduan_kit.runtime import ServiceRuntime
from aduan_portal.bootstrap import build as build_portal
from aduan_portal.config import Settings as PortalSettings
from aduan_portal.console_session import COOKIE_NAME, SessionStore
from aduan_portal.public_gateway import PublicGateway
from aduan_testing.helpers import eventually
from aduan_testing.plugin import Isolation
from aduan_workflow.bootstrap import build as build_workflow
from aduan_workflow.config import Settings as WorkflowSettings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PASSWORD = "console-test-password-1"
AGENCY = "dinas-uji"
NEW_PASSWORD = "sandi-yang-panjang-sekali"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION = re.compile(r'name="expected_version" value="(\d+)"')


@dataclass
class Platform:
    iso: Isolation
    portal_app: FastAPI
    portal_runtime: ServiceRuntime
    gateway_runtime: ServiceRuntime
    producer: AIOKafkaProducer
    settings: PortalSettings
    gateway_app: FastAPI

    def browser(self) -> httpx.AsyncClient:
        """A client with its own cookie jar, like one officer's browser."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.portal_app), base_url="http://portal.test"
        )

    def sessions(self) -> SessionStore:
        return SessionStore(
            lambda: self.portal_runtime.redis,
            self.settings.redis_prefix,
            self.settings.console_session_ttl_s,
        )

    async def submit(
        self, privacy: Privacy = Privacy.PRIVATE, receipt_code: str | None = None
    ) -> uuid.UUID:
        """A report as intake publishes it; workflow makes it `received`."""
        report_id = uuid.uuid4()
        event = ReportSubmitted(
            report_id=report_id,
            receipt_code=receipt_code
            or f"ADU-{uuid.uuid4().hex[:4].upper()}-{uuid.uuid4().hex[:4].upper()}",
            channel=Channel.WEB,
            channel_message_id=f"web.{uuid.uuid4().hex}",
            text="Lubang besar di depan sekolah, membahayakan pengendara motor.",
            title="Jalan berlubang depan sekolah",
            category_hint="jalan-rusak",
            location=Location(
                point=GeoPoint(lat=-6.2, lon=106.8), address="Jl. Kenanga 3", area="Menteng"
            ),
            privacy=privacy,
            received_at=datetime.now(UTC),
        )
        await self.producer.send_and_wait(
            f"{self.iso.namespace}.{REPORT_INTAKE.name}",
            encode(event),
            key=str(report_id).encode(),
        )
        return report_id


@pytest_asyncio.fixture
async def platform(isolated: Isolation, tmp_path: Path) -> AsyncIterator[Platform]:
    def common(service: str) -> dict[str, object]:
        return {
            "kafka_bootstrap_servers": isolated.kafka,
            "database_url": isolated.database(service),
            "redis_url": isolated.redis_url,
            "redis_prefix": f"{isolated.redis_prefix}{service}:",
            "topic_namespace": isolated.namespace,
            "environment": "test",
        }

    gateway_app, gateway_runtime = build_gateway(
        GatewaySettings(**common("gateway"), blob_root=str(tmp_path / "blobs"))  # type: ignore[arg-type]
    )
    workflow_app, _ = build_workflow(WorkflowSettings(**common("workflow")))  # type: ignore[arg-type]
    settings = PortalSettings(**common("portal"))  # type: ignore[arg-type]
    portal_app, portal_runtime = build_portal(
        settings, gateway_transport=httpx.ASGITransport(app=gateway_app)
    )
    async with AsyncExitStack() as stack:
        for app in (gateway_app, workflow_app, portal_app):
            await stack.enter_async_context(app.router.lifespan_context(app))
        async with transaction(gateway_runtime.sessions) as session:
            await create_agency(session, AGENCY, "Dinas Uji")
            for username, role, agency in (
                ("tiket-uji", Role.TICKET_ADMIN, None),
                ("petugas-uji", Role.AGENCY_OFFICER, AGENCY),
                ("validator-uji", Role.VALIDATOR, None),
                ("admin-uji", Role.ADMINISTRATOR, None),
            ):
                await create_user(session, username, PASSWORD, role, agency, f"{username} (UJI)")
        producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
        await producer.start()
        stack.push_async_callback(producer.stop)
        yield Platform(
            isolated, portal_app, portal_runtime, gateway_runtime, producer, settings, gateway_app
        )


def csrf(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def login(
    client: httpx.AsyncClient,
    username: str,
    password: str = PASSWORD,
    page_url: str = "/console/login",
) -> httpx.Response:
    """Sign in through the login form at `page_url` (its hidden fields, `next` among them,
    are posted as the browser would)."""
    page = await client.get(page_url)
    assert page.status_code == 200
    data = {"csrf_token": csrf(page.text), "username": username, "password": password}
    kept = re.search(r'name="next" value="([^"]*)"', page.text)
    if kept:
        data["next"] = kept.group(1)
    return await client.post("/console/login", data=data)


async def settled(client: httpx.AsyncClient, report_id: uuid.UUID) -> str:
    """The report page once the console no longer says a change is being applied (the
    gateway's read model follows workflow's event a moment after the reply)."""

    async def probe() -> str | None:
        page = await client.get(f"/console/reports/{report_id}")
        assert page.status_code == 200, page.text
        return None if 'id="applying"' in page.text else page.text

    text: str = await eventually(probe, "the action's result on the report page", timeout=20)
    return text


@dataclass
class Acted:
    first: str  # the page the redirect leads to (with the flash message)
    page: str  # the same page once the change shows


async def act(client: httpx.AsyncClient, report_id: uuid.UUID, action: str, **fields: str) -> Acted:
    """Submit an action form from the report page, as a browser would (CSRF and version
    taken from the page)."""
    page = await client.get(f"/console/reports/{report_id}")
    assert page.status_code == 200, page.text
    version = VERSION.search(page.text)
    data = {"csrf_token": csrf(page.text), **fields}
    if version:
        data.setdefault("expected_version", version.group(1))
    posted = await client.post(f"/console/reports/{report_id}/actions/{action}", data=data)
    assert posted.status_code == 303, posted.text
    assert posted.headers["location"] == f"/console/reports/{report_id}"
    first = await client.get(posted.headers["location"])
    return Acted(first.text, await settled(client, report_id))


def status_of(html: str) -> str:
    match = re.search(r'id="report-status" data-status="([a-z_]+)"', html)
    assert match, "no status on the page"
    return match.group(1)


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 90, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


async def login_csrf_role_gating_and_logout(platform: Platform) -> None:
    async with platform.browser() as browser:
        # Not signed in: every console page sends you to the login page.
        first = await browser.get("/console/")
        assert first.status_code == 303
        assert first.headers["location"] == "/console/login?reason=required"

        # A link to a report (an e-mail, a bookmark): the login page keeps where it led,
        # and signing in there lands on it, not on the queue.
        wanted = f"/console/reports/{uuid.uuid4()}"
        deep = await browser.get(wanted)
        assert deep.status_code == 303
        assert deep.headers["location"] == (
            f"/console/login?reason=required&next={wanted.replace('/', '%2F')}"
        )
        landed = await login(browser, "petugas-uji", page_url=deep.headers["location"])
        assert landed.status_code == 303 and landed.headers["location"] == wanted
        browser.cookies.clear()  # signed out again for what follows

        # A login POST without the login form's token is refused before the gateway is asked.
        await browser.get("/console/login")
        forged = await browser.post(
            "/console/login",
            data={"csrf_token": "forged", "username": "petugas-uji", "password": PASSWORD},
        )
        assert forged.status_code == 403
        assert COOKIE_NAME not in browser.cookies

        # A wrong password: the gateway's reason, shown on the login page.
        page = await browser.get("/console/login")
        wrong = await browser.post(
            "/console/login",
            data={"csrf_token": csrf(page.text), "username": "petugas-uji", "password": "nope"},
        )
        assert wrong.status_code == 401
        assert 'id="login-error"' in wrong.text
        assert COOKIE_NAME not in browser.cookies

        signed_in = await login(browser, "petugas-uji")
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "path=/console" in cookie
        # Only an opaque id leaves the server: no token in the cookie.
        assert "." not in browser.cookies[COOKIE_NAME]

        home = await browser.get("/console/")
        assert home.headers["location"] == "/console/agency"
        queue = await browser.get("/console/agency")
        assert queue.status_code == 200
        assert queue.headers["cache-control"] == "no-store"
        assert 'id="whoami-username">petugas-uji<' in queue.text

        # Role gating: an agency officer cannot open the triage queue or the admin pages.
        for path in ("/console/triage", "/console/validation", "/console/admin/users"):
            refused = await browser.get(path)
            assert refused.status_code == 403, path
            assert "bukan untuk peran Anda" in refused.text

        # A POST without the session's CSRF token is refused (and never reaches the gateway).
        no_csrf = await browser.post(
            f"/console/reports/{uuid.uuid4()}/actions/accept", data={"expected_version": "2"}
        )
        assert no_csrf.status_code == 403
        assert "Formulir ini kedaluwarsa" in no_csrf.text

        # Logout ends the session in Redis; the old cookie no longer opens anything.
        old_cookie = browser.cookies[COOKIE_NAME]
        out = await browser.post("/console/logout", data={"csrf_token": csrf(queue.text)})
        assert out.headers["location"] == "/console/login?reason=logged_out"
        assert await platform.sessions().load(old_cookie) is None
        browser.cookies.set(COOKIE_NAME, old_cookie, domain="portal.test", path="/console")
        again = await browser.get("/console/agency")
        assert again.status_code == 303
        # Signing in again leads back to the page that was asked for.
        assert again.headers["location"] == "/console/login?reason=expired&next=%2Fconsole%2Fagency"


async def expired_access_token_is_refreshed_and_a_dead_session_goes_to_login(
    platform: Platform,
) -> None:
    async with platform.browser() as browser:
        assert (await login(browser, "validator-uji")).status_code == 303
        store = platform.sessions()
        sid = browser.cookies[COOKIE_NAME]
        session = await store.load(sid)
        assert session is not None
        old_refresh = session.refresh_token
        session.access_expires_at = time.time() - 1  # as if the access token had expired
        await store.save_auth(session)

        # Several requests of one page at once (a page and its photos): one refresh only.
        # A second refresh with the rotated-away token would make the gateway revoke the
        # whole session (reuse detection), and every later request would fail.
        pages = await asyncio.gather(*(browser.get("/console/validation") for _ in range(4)))
        assert [p.status_code for p in pages] == [200] * 4
        renewed = await store.load(sid)
        assert renewed is not None
        assert renewed.refresh_token != old_refresh  # rotated by the gateway
        assert renewed.access_expires_at > time.time()
        # Later requests still work on the renewed tokens (the session was not revoked).
        renewed.access_expires_at = time.time() - 1
        await store.save_auth(renewed)
        assert (await browser.get("/console/validation")).status_code == 200
        renewed = await store.load(sid)
        assert renewed is not None

        # The refresh token revoked at the gateway (e.g. signed out elsewhere): back to login.
        await platform.portal_app.state.console_gateway.logout(renewed.refresh_token)
        renewed.access_expires_at = time.time() - 1
        await store.save_auth(renewed)
        gone = await browser.get("/console/validation")
        assert gone.status_code == 303
        assert gone.headers["location"] == "/console/login?reason=expired"
        assert await store.load(sid) is None


async def test_report_lifecycle_through_the_console(platform: Platform) -> None:
    # The public pages name agencies from the gateway's public list (no token); a gateway
    # that cannot be reached leaves the codes.
    public = PublicGateway(
        "http://gateway.test", 2.0, httpx.ASGITransport(app=platform.gateway_app)
    )
    assert await public.agency_names() == {AGENCY: "Dinas Uji"}
    assert await PublicGateway("http://127.0.0.1:9", 0.5).agency_names() == {}

    report_id = await platform.submit()
    duplicate_id = await platform.submit()  # the same pothole, reported again nearby
    async with (
        platform.browser() as tiket,
        platform.browser() as petugas,
        platform.browser() as validator,
    ):
        assert (await login(tiket, "tiket-uji")).status_code == 303
        assert (await login(petugas, "petugas-uji")).status_code == 303
        assert (await login(validator, "validator-uji")).status_code == 303

        async def in_triage() -> bool:
            return f'id="report-row-{report_id}"' in (await tiket.get("/console/triage")).text

        await eventually(in_triage, "the report in the triage queue")

        async def duplicate_in_triage() -> bool:
            page = await tiket.get("/console/triage")
            return f'id="report-row-{duplicate_id}"' in page.text

        await eventually(duplicate_in_triage, "the second report in the triage queue")

        # The second report suggests the first as a duplicate; merging it takes the pick.
        second = await tiket.get(f"/console/reports/{duplicate_id}")
        assert f'id="merge-into-{report_id}"' in second.text
        acted = await act(tiket, duplicate_id, "merge", primary_report_id=str(report_id))
        assert status_of(acted.page) == "merged"

        detail = await tiket.get(f"/console/reports/{report_id}")
        assert 'id="dispatch-form"' in detail.text
        assert 'id="confidentiality-label"' in detail.text
        assert "Jl. Kenanga 3" in detail.text  # a full-access role sees the address
        stale_version = VERSION.search(detail.text)
        assert stale_version

        # Dispatch: console -> gateway -> workflow -> reply, shown as a flash message.
        acted = await act(tiket, report_id, "dispatch", agency_id=AGENCY, note="tolong dicek")
        assert "Status sekarang: Disposisi" in acted.first
        assert status_of(acted.page) == "dispatched"

        # A form from before the dispatch: the gateway's 409, explained.
        posted = await tiket.post(
            f"/console/reports/{report_id}/actions/coordinate",
            data={"csrf_token": csrf(detail.text), "expected_version": stale_version.group(1)},
        )
        assert posted.status_code == 303
        page = await tiket.get(posted.headers["location"])
        # Workflow's English refusal, said in the console's language.
        assert "sudah diubah orang lain sejak Anda membukanya" in page.text
        assert "Tindakan Anda belum dilakukan" in page.text
        assert "expected, report is at" not in page.text
        assert status_of(page.text) == "dispatched"

        # A reason is required for a rejection: refused in the console, nothing sent.
        rejected = await tiket.post(
            f"/console/reports/{report_id}/actions/reject",
            data={"csrf_token": csrf(detail.text), "reason": " "},
        )
        page = await tiket.get(rejected.headers["location"])
        assert "Alasan wajib diisi" in page.text
        assert status_of(page.text) == "dispatched"

        # The agency officer sees it in their queue, with the agency's (coarse) view.
        agency_queue = await petugas.get("/console/agency")
        assert f'id="report-row-{report_id}"' in agency_queue.text
        acted = await act(petugas, report_id, "accept")
        assert status_of(acted.page) == "in_progress"
        # SPEC Revision 2: the agency's crew sees where the problem is (not when it came).
        assert "Jl. Kenanga 3" in acted.page
        assert 'id="report-received"' not in acted.page

        # Follow-up with a photo: multipart forwarded to the gateway.
        form = await petugas.get(f"/console/reports/{report_id}")
        version = VERSION.search(form.text)
        assert version
        posted = await petugas.post(
            f"/console/reports/{report_id}/follow-ups",
            data={
                "csrf_token": csrf(form.text),
                "expected_version": version.group(1),
                "note": "Lubang sudah ditambal dan dipadatkan.",
            },
            files=[("photos", ("sesudah.jpg", jpeg(), "image/jpeg"))],
        )
        assert posted.status_code == 303
        text = await settled(petugas, report_id)
        assert status_of(text) == "awaiting_validation", text
        assert "Lubang sudah ditambal" in text
        officer_id = re.search(r'id="whoami-user-id">([^<]+)<', text)
        assert officer_id

        # The validator's queue lists it, with the follow-up's photo: the agency's evidence,
        # which validators judge (SPEC Revision 2).
        queue = await validator.get("/console/validation")
        assert f'id="report-row-{report_id}"' in queue.text
        page = await validator.get(f"/console/reports/{report_id}")
        assert 'class="follow-up"' in page.text
        # Workflow's evidence check (the photo has no EXIF), said in Indonesian from its
        # fields, not workflow's English summary.
        assert (
            "1 foto diperiksa; tidak ada foto yang memuat waktu pengambilan; lokasi tidak "
            "dapat dibandingkan (laporan atau foto tanpa lokasi)."
        ) in page.text
        assert "capture time" not in page.text
        # The grant form offers the agency's officer by name (from the gateway's list).
        assert '<select id="grant-officer" name="officer">' in page.text
        assert (
            f'<option value="{officer_id.group(1)}">petugas-uji (UJI) (petugas-uji)</option>'
        ) in page.text
        assert "follow-up-label" in page.text
        assert "follow-up-photos-locked" not in page.text
        assert 'class="follow-up-photo"' in page.text

        # The uploading agency sees its own follow-up photo (it was locked to them before).
        page = await petugas.get(f"/console/reports/{report_id}")
        assert "follow-up-photos-locked" not in page.text

        page = await validator.get(f"/console/reports/{report_id}")
        # A pick and a typed id that disagree: refused in the console, nothing granted.
        clash = await validator.post(
            f"/console/reports/{report_id}/grants",
            data={
                "csrf_token": csrf(page.text),
                "officer": officer_id.group(1),
                "grantee": "u-someone-else",
                "hours": "2",
            },
        )
        page = await validator.get(clash.headers["location"])
        assert "jangan keduanya" in page.text and 'id="no-grants"' in page.text
        granted = await validator.post(
            f"/console/reports/{report_id}/grants",
            data={"csrf_token": csrf(page.text), "officer": officer_id.group(1), "hours": "2"},
        )
        assert granted.status_code == 303
        page = await validator.get(granted.headers["location"])
        assert f"diberikan kepada {officer_id.group(1)}" in page.text
        assert "petugas-uji (UJI) (petugas-uji)<br><small>" in page.text  # named in the table
        grant_id = re.search(r'id="revoke-([0-9a-f-]{36})"', page.text)
        assert grant_id

        officer_page = await petugas.get(f"/console/reports/{report_id}")
        sha = re.search(r'class="follow-up-photo" data-sha256="([0-9a-f]{64})"', officer_page.text)
        assert sha, "the uploading agency's officer sees its follow-up photo"
        photo = await petugas.get(f"/console/reports/{report_id}/photos/{sha.group(1)}")
        assert photo.status_code == 200
        assert photo.headers["content-type"] == "image/jpeg"
        assert photo.content[:2] == b"\xff\xd8"
        assert "no-store" in photo.headers["cache-control"]

        revoked = await validator.post(
            f"/console/reports/{report_id}/grants/{grant_id.group(1)}/revoke",
            data={"csrf_token": csrf(page.text)},
        )
        assert revoked.status_code == 303
        page = await validator.get(revoked.headers["location"])
        assert f'id="revoke-{grant_id.group(1)}"' not in page.text
        # The follow-up photo is the agency's own evidence, grant or not.
        photo = await petugas.get(f"/console/reports/{report_id}/photos/{sha.group(1)}")
        assert photo.status_code == 200

        # The validator completes it.
        acted = await act(validator, report_id, "validate", note="sesuai")
        assert "Status sekarang: Selesai" in acted.first
        assert status_of(acted.page) == "completed"


async def administrator_pages(platform: Platform) -> None:
    async with platform.browser() as admin:
        assert (await login(admin, "admin-uji")).status_code == 303
        home = await admin.get("/console/")
        assert home.headers["location"] == "/console/admin"
        agencies = await admin.get("/console/admin/agencies")
        assert agencies.status_code == 200
        created = await admin.post(
            "/console/admin/agencies",
            data={"csrf_token": csrf(agencies.text), "agency_id": "dinas-baru", "name": "Baru"},
        )
        assert created.status_code == 303
        page = await admin.get("/console/admin/agencies")
        assert "Instansi dinas-baru dibuat." in page.text
        # A duplicate: the gateway's 409 reason, verbatim.
        again = await admin.post(
            "/console/admin/agencies",
            data={"csrf_token": csrf(page.text), "agency_id": "dinas-baru", "name": "Baru"},
        )
        assert again.status_code == 303
        page = await admin.get("/console/admin/agencies")
        assert "agency exists" in page.text

        users = await admin.get("/console/admin/users")
        assert users.status_code == 200
        made = await admin.post(
            "/console/admin/users",
            data={
                "csrf_token": csrf(users.text),
                "username": "petugas-baru",
                "password": NEW_PASSWORD,
                "role": "agency-officer",
                "agency_id": "dinas-baru",
                "display_name": "Petugas Baru",
            },
        )
        assert made.status_code == 303
        page = await admin.get("/console/admin/users")
        assert "Pengguna petugas-baru dibuat." in page.text
        row = re.search(
            r'<tr id="user-petugas-baru" data-user-id="([^"]+)" data-active="true"', page.text
        )
        assert row

        # Signed in before the deactivation below: the next refresh is refused.
        early = platform.browser()
        assert (await login(early, "petugas-baru", NEW_PASSWORD)).status_code == 303

        # Deactivate: the account can no longer sign in.
        off = await admin.post(
            f"/console/admin/users/{row.group(1)}/active",
            data={"csrf_token": csrf(page.text), "active": "false"},
        )
        assert off.status_code == 303
        page = await admin.get("/console/admin/users")
        assert 'id="user-petugas-baru" data-user-id="' in page.text
        assert re.search(
            r'id="user-petugas-baru" data-user-id="[^"]+" data-active="false"', page.text
        )
        async with platform.browser() as other:
            refused = await login(other, "petugas-baru", NEW_PASSWORD)
            assert refused.status_code == 401
        store = platform.sessions()
        sid = early.cookies[COOKIE_NAME]
        session = await store.load(sid)
        assert session is not None
        session.access_expires_at = time.time() - 1
        await store.save_auth(session)
        ended = await early.get("/console/agency")
        assert ended.status_code == 303
        assert ended.headers["location"] == "/console/login?reason=expired"
        assert await store.load(sid) is None
        await early.aclose()

        # Categories: save one routed to the new agency, then retire it.
        cats = await admin.get("/console/admin/categories")
        assert cats.status_code == 200
        saved = await admin.post(
            "/console/admin/categories",
            data={
                "csrf_token": csrf(cats.text),
                "code": "trotoar-uji",
                "name_id": "Trotoar rusak",
                "name_en": "Broken pavement",
                "agency_id": "dinas-baru",
            },
        )
        assert saved.status_code == 303
        cats = await admin.get("/console/admin/categories")
        assert "Kategori trotoar-uji disimpan." in cats.text
        assert 'id="category-trotoar-uji"' in cats.text
        assert '<option value="dinas-baru" selected>' in cats.text
        # Routes by area (issue 19): a kecamatan picked from the list, a kelurahan typed as
        # its code; a code not in the Kemendagri list refused with the gateway's reason.
        assert 'id="area-routes-none-trotoar-uji"' in cats.text
        assert '<option value="31.71.01">Kec. Gambir (31.71.01)</option>' in cats.text
        for area in ({"area_pick": "31.71.01"}, {"area_code": "3171011001"}):
            added = await admin.post(
                "/console/admin/categories/trotoar-uji/routes",
                data={"csrf_token": csrf(cats.text), "agency_id": "dinas-baru", **area},
            )
            assert added.status_code == 303
            cats = await admin.get("/console/admin/categories")
            assert "disimpan: laporan baru di sana" in cats.text
        assert 'id="area-route-trotoar-uji-31-71-01"' in cats.text
        assert 'id="area-route-trotoar-uji-31-71-01-1001"' in cats.text
        assert "Kec. Gambir, Kota Jakarta Pusat <code>31.71.01</code>" in cats.text
        refused = await admin.post(
            "/console/admin/categories/trotoar-uji/routes",
            data={"csrf_token": csrf(cats.text), "agency_id": "dinas-baru", "area_code": "31.99"},
        )
        assert refused.status_code == 303
        cats = await admin.get("/console/admin/categories")
        assert "Kemendagri" in cats.text and 'data-kind="error"' in cats.text
        removed = await admin.post(
            "/console/admin/categories/trotoar-uji/routes/31.71.01/remove",
            data={"csrf_token": csrf(cats.text)},
        )
        assert removed.status_code == 303
        cats = await admin.get("/console/admin/categories")
        assert "Rute trotoar-uji di Kec. Gambir, Kota Jakarta Pusat dihapus." in cats.text
        assert 'id="area-route-trotoar-uji-31-71-01"' not in cats.text
        assert 'id="area-route-trotoar-uji-31-71-01-1001"' in cats.text
        # Retired, never deleted: it stays listed (old reports keep its name), marked.
        retired = await admin.post(
            "/console/admin/categories/trotoar-uji/retire", data={"csrf_token": csrf(cats.text)}
        )
        assert retired.status_code == 303
        cats = await admin.get("/console/admin/categories")
        assert "Kategori trotoar-uji dipensiunkan" in cats.text
        assert 'id="category-retired-trotoar-uji"' in cats.text
        assert 'id="category-reactivate-trotoar-uji"' in cats.text

        # The access log: the administrator's own read of a report is there, by report id
        # (the gateway's filter) and by actor (the console's).
        report_id = await platform.submit()

        async def readable() -> str | None:
            page = await admin.get(f"/console/reports/{report_id}")
            return page.text if page.status_code == 200 else None

        report_page = await eventually(readable, "the report readable by the administrator")
        admin_id = re.search(r'id="whoami-user-id">([^<]+)<', report_page)
        assert admin_id
        log_page = await admin.get(
            "/console/admin/access-log",
            params={"report_id": str(report_id), "actor": admin_id.group(1)},
        )
        assert log_page.status_code == 200
        assert 'id="access-log"' in log_page.text
        assert f'data-subject="{admin_id.group(1)}" data-report-id="{report_id}"' in log_page.text
        nobody = await admin.get("/console/admin/access-log", params={"actor": "nobody"})
        assert 'id="no-entries"' in nobody.text
        assert "Tidak ada akun staf dengan nama pengguna atau nama nobody" in nobody.text
        # Issue 14: by username (what an administrator knows), filtered by the gateway over
        # the whole log, shown with the officer's name, newest first.
        by_name = await admin.get("/console/admin/access-log", params={"actor": "ADMIN-UJI"})
        assert f'data-subject="{admin_id.group(1)}" data-report-id="{report_id}"' in by_name.text
        assert "admin-uji (UJI) (<code>admin-uji</code>)" in by_name.text
        assert "Tidak ada akun staf" not in by_name.text
        ids = [int(i) for i in re.findall(r'<tr id="access-(\d+)"', by_name.text)]
        assert ids and ids == sorted(ids, reverse=True)


async def test_sign_in_sessions_and_administration(platform: Platform) -> None:
    """One platform for three checks (starting gateway, workflow and portal takes ~15 s on
    the shared machine): sign-in, CSRF, role gating, logout; token refresh and expiry; the
    administrator's pages."""
    await login_csrf_role_gating_and_logout(platform)
    await expired_access_token_is_refreshed_and_a_dead_session_goes_to_login(platform)
    await administrator_pages(platform)


async def test_a_ticket_admin_moderates_a_public_report_and_the_portal_follows(
    platform: Platform,
) -> None:
    """Issue 13, hole 10: hidden from the portal, shown again, corrected; from the console,
    through the gateway (audited) and its public topic to the portal's own read model."""
    report_id = await platform.submit(Privacy.PUBLIC)
    async with platform.browser() as tiket, platform.browser() as visitor:
        assert (await login(tiket, "tiket-uji")).status_code == 303

        async def public_page() -> str | None:
            page = await visitor.get(f"/reports/{report_id}")
            return page.text if page.status_code == 200 else None

        shown = await eventually(public_page, "the public report on the portal", timeout=30)
        assert "Lubang besar di depan sekolah" in shown
        page = await settled(tiket, report_id)
        assert 'id="moderation-section"' in page

        async def moderate(**fields: str) -> str:
            page = await tiket.get(f"/console/reports/{report_id}")
            posted = await tiket.post(
                f"/console/reports/{report_id}/moderation",
                data={"csrf_token": csrf(page.text), **fields},
            )
            assert posted.status_code == 303, posted.text
            return (await tiket.get(posted.headers["location"])).text

        flashed = await moderate(op="hide")
        assert "Laporan disembunyikan dari portal." in flashed

        async def gone() -> bool:
            return (await visitor.get(f"/reports/{report_id}")).status_code == 404

        await eventually(gone, "the hidden report gone from the portal", timeout=10)
        listed = await visitor.get("/api/reports")
        assert str(report_id) not in listed.text

        await moderate(op="show")
        await moderate(
            op="correct",
            title="Jalan berlubang",
            text="Lubang besar di depan sekolah, kata Pak Darto (0812-1111-2222).",
        )

        async def corrected() -> str | None:
            text = await public_page()
            return text if text is not None and "kata Pak Darto" in text else None

        page_text = await eventually(corrected, "the corrected text on the portal", timeout=10)
        assert "0812-1111-2222" not in page_text  # a correction is scrubbed like any text
        # An empty correction is refused by the console before the gateway is asked.
        assert "Teks publik wajib diisi." in await moderate(op="correct", text="")
    # Other roles have no moderation in the console.
    async with platform.browser() as validator:
        assert (await login(validator, "validator-uji")).status_code == 303
        page = await validator.get(f"/console/reports/{report_id}")
        assert 'id="moderation-section"' not in page.text
        refused = await validator.post(
            f"/console/reports/{report_id}/moderation",
            data={"csrf_token": csrf(page.text), "op": "hide"},
        )
        assert refused.status_code == 403


async def test_an_agency_returning_a_report_lands_on_its_queue_with_one_message(
    platform: Platform,
) -> None:
    """Issue 14: after "Kembalikan" the officer saw the success message and "Terjadi
    kesalahan - Tidak ditemukan" together: the console sent them back to a report their
    agency may no longer open."""
    report_id = await platform.submit()
    async with platform.browser() as tiket, platform.browser() as petugas:
        assert (await login(tiket, "tiket-uji")).status_code == 303
        assert (await login(petugas, "petugas-uji")).status_code == 303

        async def in_triage() -> bool:
            return f'id="report-row-{report_id}"' in (await tiket.get("/console/triage")).text

        await eventually(in_triage, "the report in the triage queue")
        acted = await act(tiket, report_id, "dispatch", agency_id=AGENCY, note="tolong dicek")
        assert status_of(acted.page) == "dispatched"

        page = await settled(petugas, report_id)
        version = VERSION.search(page)
        assert version
        posted = await petugas.post(
            f"/console/reports/{report_id}/actions/return",
            data={
                "csrf_token": csrf(page),
                "expected_version": version.group(1),
                "reason": "bukan wewenang dinas kami",
            },
        )
        assert posted.status_code == 303, posted.text
        assert posted.headers["location"] == "/console/agency"
        queue = await petugas.get(posted.headers["location"])
        assert queue.status_code == 200
        assert "Tindakan tercatat" in queue.text
        assert "Terjadi kesalahan" not in queue.text and "Tidak ditemukan" not in queue.text

        async def back_in_triage() -> bool:
            return f'id="report-row-{report_id}"' in (await tiket.get("/console/triage")).text

        await eventually(back_in_triage, "the report back in triage")


async def test_a_call_centre_officer_opens_a_report_by_the_receipt_code_read_out(
    platform: Platform,
) -> None:
    """Issue 14: "Buka laporan menurut ID" rejected `ADU-XXXX-XXXX`."""
    code = "ADU-" + uuid.uuid4().hex[:4].upper() + "-9X10"
    report_id = await platform.submit(receipt_code=code)
    async with platform.browser() as tiket, platform.browser() as petugas:
        assert (await login(tiket, "tiket-uji")).status_code == 303
        assert (await login(petugas, "petugas-uji")).status_code == 303

        async def in_triage() -> bool:
            return f'id="report-row-{report_id}"' in (await tiket.get("/console/triage")).text

        await eventually(in_triage, "the report in the triage queue")
        queue = await tiket.get("/console/triage")
        assert "Buka laporan menurut ID atau kode tanda terima" in queue.text
        # As heard on the phone: lower case, spaces, the letter o for zero.
        spoken = code.lower().replace("-", " ").replace("0", "o")
        went = await tiket.get("/console/go", params={"report_id": spoken})
        assert went.status_code == 303
        assert went.headers["location"] == f"/console/reports/{report_id}"

        missing = await tiket.get("/console/go", params={"report_id": "ADU-0000-0000"})
        assert missing.status_code == 303
        after = await tiket.get(missing.headers["location"], follow_redirects=True)
        assert "Tidak ada laporan dengan ID atau kode tanda terima ADU-0000-0000." in after.text

        # The agency's officer never sees receipt codes: told so, in Indonesian, plainly.
        refused = await petugas.get("/console/go", params={"report_id": code})
        assert refused.status_code == 303
        after = await petugas.get(refused.headers["location"], follow_redirects=True)
        assert "Kode tanda terima hanya dapat dicari oleh admin tiket" in after.text
        assert "Buka laporan menurut ID</label>" in after.text


async def test_an_action_cut_off_by_an_expired_session_keeps_the_text_and_says_so(
    platform: Platform,
) -> None:
    """Issue 14: an expired session during an action dropped the typed text, landed on the
    login page and never said the action did not happen."""
    report_id = await platform.submit()
    reason = "Laporan ini bukan wewenang kami: saluran air milik pengelola kawasan."
    async with platform.browser() as tiket, platform.browser() as other:
        assert (await login(tiket, "tiket-uji")).status_code == 303

        async def in_triage() -> bool:
            return f'id="report-row-{report_id}"' in (await tiket.get("/console/triage")).text

        await eventually(in_triage, "the report in the triage queue")
        page = await tiket.get(f"/console/reports/{report_id}")
        version = VERSION.search(page.text)
        assert version
        # Names, not codes: the channel, privacy and the agency's queue header.
        assert re.search(r'id="report-channel"[^>]*>Situs web<', page.text)
        assert re.search(r'id="report-privacy"[^>]*>Rahasia', page.text)
        sid = tiket.cookies[COOKIE_NAME]
        await platform.sessions().delete(sid)  # the session expires while the form is open

        posted = await tiket.post(
            f"/console/reports/{report_id}/actions/reject",
            data={
                "csrf_token": csrf(page.text),
                "expected_version": version.group(1),
                "reason": reason,
            },
        )
        assert posted.status_code == 303
        location = posted.headers["location"]
        assert location.startswith("/console/login?reason=expired_action")
        login_page = await tiket.get(location)
        assert "tindakan itu BELUM dilakukan" in login_page.text
        assert 'role="alert"' in login_page.text

        # Another officer on another browser never gets the text.
        assert (await login(other, "validator-uji")).status_code == 303
        seen = await other.get(f"/console/reports/{report_id}")
        assert reason not in seen.text

        # Signing in again goes back to the report, the text in its form, the action undone.
        signed = await tiket.post(
            "/console/login",
            data={
                "csrf_token": csrf(login_page.text),
                "username": "tiket-uji",
                "password": PASSWORD,
                "next": f"/console/reports/{report_id}",
            },
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == f"/console/reports/{report_id}"
        back = await tiket.get(signed.headers["location"])
        assert f">{reason}</textarea>" in back.text
        assert "Tindakan itu belum dilakukan" in back.text
        assert status_of(back.text) == "received"  # nothing was rejected
        # Shown once: the draft is gone after it was given back.
        again = await tiket.get(f"/console/reports/{report_id}")
        assert reason not in again.text


async def test_queue_filters_and_names_in_the_console(platform: Platform) -> None:
    """Issue 14: queues had no search or filters, and codes showed instead of names."""
    first = await platform.submit()
    async with platform.browser() as tiket:
        assert (await login(tiket, "tiket-uji")).status_code == 303

        async def in_triage() -> bool:
            return f'id="report-row-{first}"' in (await tiket.get("/console/triage")).text

        await eventually(in_triage, "the report in the triage queue")
        acted = await act(tiket, first, "dispatch", agency_id=AGENCY, note="cek")
        assert status_of(acted.page) == "dispatched"
        second = await platform.submit()

        async def second_in_triage() -> bool:
            return f'id="report-row-{second}"' in (await tiket.get("/console/triage")).text

        await eventually(second_in_triage, "the second report in the triage queue")
        page = await tiket.get(f"/console/reports/{first}")
        assert re.search(r'id="report-agency"[^>]*>Dinas Uji<', page.text)

        # Text search and status filter narrow the queue (full-access role).
        found = await tiket.get("/console/triage", params={"q": "sekolah", "status": "received"})
        assert f'id="report-row-{second}"' in found.text
        none = await tiket.get("/console/triage", params={"q": "tidak-ada-kata-ini"})
        assert 'id="queue-empty"' in none.text
        assert "Tidak ada laporan yang cocok dengan saringan ini." in none.text
        wrong_area = await tiket.get("/console/triage", params={"area": "Kebayoran"})
        assert f'id="report-row-{second}"' not in wrong_area.text
        right_area = await tiket.get("/console/triage", params={"area": "Menteng"})
        assert f'id="report-row-{second}"' in right_area.text
        # The queue as CSV, with its filters; exact times for the full-access role.
        exported = await tiket.get("/console/triage/export.csv", params={"status": "received"})
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        assert "attachment" in exported.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert str(second) in [r["report_id"] for r in rows]
        assert str(first) not in [r["report_id"] for r in rows]  # dispatched: not received
        row = next(r for r in rows if r["report_id"] == str(second))
        assert row["title"] == "Jalan berlubang depan sekolah" and row["receipt_code"]
        assert row["received_at"].endswith("WIB") and row["area"] == "Menteng"

    async with platform.browser() as petugas:
        assert (await login(petugas, "petugas-uji")).status_code == 303
        queue = await petugas.get("/console/agency")
        assert f'id="report-row-{first}"' in queue.text
        assert 'id="filter-q"' not in queue.text  # no text probing for an agency officer
        exported = await petugas.get("/console/agency/export.csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert [r["report_id"] for r in rows] == [str(first)]
        # The month, never the exact time or the receipt code; the agency by name.
        assert "received_at" not in rows[0] and "receipt_code" not in rows[0]
        assert rows[0]["month"] and rows[0]["agency"] == "Dinas Uji"
        assert (await petugas.get("/console/triage/export.csv")).status_code == 403
        assert re.search(r'id="whoami-agency"[^>]*>Dinas Uji<', queue.text)
        # The agency officer sees where the problem is (SPEC Revision 2).
        page = await petugas.get(f"/console/reports/{first}")
        assert 'id="report-point"' in page.text and "Jl. Kenanga 3" in page.text


async def test_internal_notes_stay_among_officers_and_are_audited(platform: Platform) -> None:
    """Issue 14: internal notes on a report, officers only, audited like any read."""
    report_id = await platform.submit()
    note = "Warga menelepon lagi dari 0812-9988-7766, minta dipercepat sebelum hujan."
    async with platform.browser() as tiket, platform.browser() as petugas:
        assert (await login(tiket, "tiket-uji")).status_code == 303
        assert (await login(petugas, "petugas-uji")).status_code == 303

        async def in_triage() -> bool:
            return f'id="report-row-{report_id}"' in (await tiket.get("/console/triage")).text

        await eventually(in_triage, "the report in the triage queue")
        page = await tiket.get(f"/console/reports/{report_id}")
        assert 'id="no-notes"' in page.text
        posted = await tiket.post(
            f"/console/reports/{report_id}/notes",
            data={"csrf_token": csrf(page.text), "note": note},
        )
        assert posted.status_code == 303
        page = await tiket.get(posted.headers["location"])
        assert "Catatan tersimpan." in page.text
        # Written with the usual patterns scrubbed: a phone typed into a note is hidden.
        assert "Warga menelepon lagi dari" in page.text
        assert "0812-9988-7766" not in page.text and "9988" not in page.text

        # Not the agency's report yet: its officer cannot read the notes (404, not 403).
        status, _ = await petugas_notes(platform, petugas, report_id)
        assert status == 404
        acted = await act(tiket, report_id, "dispatch", agency_id=AGENCY, note="cek")
        assert status_of(acted.page) == "dispatched"
        agency_page = await settled(petugas, report_id)
        assert "Warga menelepon lagi dari" in agency_page
        assert "tiket-uji (UJI)" in agency_page  # who wrote it, by name

    # Never in the report itself (what any view, the reporter's included, is built from).
    gateway = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.gateway_app), base_url="http://gateway.test"
    )
    async with gateway:
        token = issue_token(platform, Role.ADMINISTRATOR)
        view = await gateway.get(f"/v1/reports/{report_id}", headers=token)
        assert view.status_code == 200 and "Warga menelepon" not in view.text
        log = await gateway.get(
            "/v1/audit/access-log", params={"report_id": str(report_id)}, headers=token
        )
        assert log.status_code == 200
        assert any(e["fields"] == ["notes"] for e in log.json())


async def petugas_notes(
    platform: Platform, browser: httpx.AsyncClient, report_id: uuid.UUID
) -> tuple[int, str]:
    """The notes as the agency officer's own token reads them from the gateway."""
    session = await platform.sessions().load(browser.cookies[COOKIE_NAME])
    assert session is not None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.gateway_app), base_url="http://gateway.test"
    ) as gateway:
        r = await gateway.get(
            f"/v1/reports/{report_id}/notes",
            headers={"Authorization": f"Bearer {session.access_token}"},
        )
    return r.status_code, r.text


def issue_token(platform: Platform, role: Role) -> dict[str, str]:
    secret = platform.gateway_runtime.settings.jwt_secret  # type: ignore[attr-defined]
    token = issue_access_token(secret, f"{role.value}-test", role)
    return {"Authorization": f"Bearer {token}"}


async def test_an_agency_officer_assigns_a_report_and_finds_it_under_my_reports(
    platform: Platform,
) -> None:
    """Issue 14: assignment inside an agency to a named officer, and a "my reports" view."""
    report_id = await platform.submit()
    async with transaction(platform.gateway_runtime.sessions) as session:
        colleague = await create_user(
            session, "rekan-uji", PASSWORD, Role.AGENCY_OFFICER, AGENCY, "Rekan Uji"
        )
    async with platform.browser() as tiket, platform.browser() as petugas:
        assert (await login(tiket, "tiket-uji")).status_code == 303
        assert (await login(petugas, "petugas-uji")).status_code == 303

        async def in_triage() -> bool:
            return f'id="report-row-{report_id}"' in (await tiket.get("/console/triage")).text

        await eventually(in_triage, "the report in the triage queue")
        acted = await act(tiket, report_id, "dispatch", agency_id=AGENCY, note="cek")
        assert status_of(acted.page) == "dispatched"
        page = await settled(petugas, report_id)
        assert 'id="assign-form"' in page and "Belum ditugaskan" in page
        assert f'<option value="{colleague.user_id}">Rekan Uji</option>' in page
        posted = await petugas.post(
            f"/console/reports/{report_id}/assignee",
            data={"csrf_token": csrf(page), "assignee": colleague.user_id},
        )
        assert posted.status_code == 303
        after = await petugas.get(posted.headers["location"])
        assert "Laporan ditugaskan kepada Rekan Uji." in after.text
        assert f'data-assignee-id="{colleague.user_id}"' in after.text
        # Not mine: "only my reports" leaves it out for the officer who assigned it.
        mine = await petugas.get("/console/agency", params={"mine": "1"})
        assert f'id="report-row-{report_id}"' not in mine.text
        assert 'id="filter-mine"' in mine.text
        every = await petugas.get("/console/agency")
        assert f'id="report-row-{report_id}"' in every.text

    async with platform.browser() as rekan:
        assert (await login(rekan, "rekan-uji")).status_code == 303
        mine = await rekan.get("/console/agency", params={"mine": "1"})
        assert f'id="report-row-{report_id}"' in mine.text


async def test_an_administrator_reveals_identity_only_with_a_reason(platform: Platform) -> None:
    """Issue 14 / SPEC Revision 2: identity only through the administrators' audited reveal
    action with a reason. This report came without an identity: the gateway's 410 is said."""
    report_id = await platform.submit()
    async with platform.browser() as admin, platform.browser() as tiket:
        assert (await login(admin, "admin-uji")).status_code == 303
        assert (await login(tiket, "tiket-uji")).status_code == 303

        async def in_triage() -> bool:
            return f'id="report-row-{report_id}"' in (await tiket.get("/console/triage")).text

        await eventually(in_triage, "the report in the triage queue")
        page = await admin.get(f"/console/reports/{report_id}")
        assert 'id="reveal-form"' in page.text
        assert 'id="reveal-form"' not in (await tiket.get(f"/console/reports/{report_id}")).text
        short = await admin.post(
            f"/console/reports/{report_id}/reveal",
            data={"csrf_token": csrf(page.text), "reason": "cek"},
        )
        assert short.status_code == 303
        after = await admin.get(short.headers["location"])
        assert "Alasan wajib diisi (minimal 10 karakter)." in after.text
        # A ticket-admin cannot post it at all.
        own = await tiket.get(f"/console/reports/{report_id}")
        refused = await tiket.post(
            f"/console/reports/{report_id}/reveal",
            data={"csrf_token": csrf(own.text), "reason": "perintah pengadilan 12/2026"},
        )
        assert refused.status_code == 403
        posted = await admin.post(
            f"/console/reports/{report_id}/reveal",
            data={"csrf_token": csrf(after.text), "reason": "perintah pengadilan 12/2026"},
        )
        assert posted.status_code == 303
        after = await admin.get(posted.headers["location"])
        assert "no identity" in after.text  # the gateway's 410, verbatim in the message


async def test_a_ticket_admin_dispatches_several_reports_at_once(platform: Platform) -> None:
    """Issue 14: bulk dispatch for ticket-admins; a report changed meanwhile is refused
    alone and named, the others go through."""
    ids = [await platform.submit() for _ in range(3)]
    async with platform.browser() as tiket:
        assert (await login(tiket, "tiket-uji")).status_code == 303

        async def all_in_triage() -> str | None:
            page = await tiket.get("/console/triage")
            return page.text if all(f'id="report-row-{i}"' in page.text for i in ids) else None

        queue = await eventually(all_in_triage, "three reports in the triage queue")
        assert 'id="bulk-form"' in queue
        versions = dict(re.findall(r'name="report" value="([0-9a-f-]{36}):(\d+)"', queue))
        assert set(versions) == {str(i) for i in ids}
        # One is dispatched by someone else first: the version the queue showed is stale.
        acted = await act(tiket, ids[2], "dispatch", agency_id=AGENCY, note="lebih dulu")
        assert status_of(acted.page) == "dispatched"
        posted = await tiket.post(
            "/console/triage/bulk-dispatch",
            data={
                "csrf_token": csrf(queue),
                "agency_id": AGENCY,
                "note": "disposisi massal",
                "report": [f"{i}:{versions[str(i)]}" for i in ids],
            },
        )
        assert posted.status_code == 303 and posted.headers["location"] == "/console/triage"
        after = await tiket.get("/console/triage")
        assert "2 laporan didisposisikan." in after.text
        assert "1 laporan tidak didisposisikan:" in after.text and str(ids[2])[:8] in after.text
        for report_id in ids[:2]:
            page = await settled(tiket, report_id)
            assert status_of(page) == "dispatched"


async def test_the_agency_dashboard_in_the_console(platform: Platform) -> None:
    """Issue 14: an agency dashboard (counts only), charts with a data table."""
    report_id = await platform.submit(privacy=Privacy.PRIVATE)
    async with platform.browser() as tiket, platform.browser() as petugas:
        assert (await login(tiket, "tiket-uji")).status_code == 303
        assert (await login(petugas, "petugas-uji")).status_code == 303

        async def in_triage() -> bool:
            return f'id="report-row-{report_id}"' in (await tiket.get("/console/triage")).text

        await eventually(in_triage, "the report in the triage queue")
        acted = await act(tiket, report_id, "dispatch", agency_id=AGENCY, note="cek")
        assert status_of(acted.page) == "dispatched"
        await settled(petugas, report_id)
        page = await petugas.get("/console/dashboard")
        assert page.status_code == 200
        assert 'id="nav-dashboard"' in page.text
        assert "Dasbor — Dinas Uji" in page.text
        assert '<dd data-status="dispatched">1</dd>' in page.text  # the private one, counted
        # Its own agency only: no agency to pick; a unit of its scope and an area, yes.
        assert 'id="dash-agency"' not in page.text
        assert '<option value="dinas-uji">Dinas Uji</option>' in page.text
        assert 'id="dash-wilayah"' in page.text
        assert str(report_id) not in page.text and "Jalan berlubang" not in page.text
        city = await tiket.get("/console/dashboard")
        assert "Seluruh kota" in city.text and 'id="dashboard-filters"' in city.text


async def test_administrators_keep_reply_templates_and_report_forms_offer_them(
    platform: Platform,
) -> None:
    """Issue 14: reply templates for follow-ups, returns, rejections and questions, kept by
    administrators (/console/admin/templates) and offered in a report's forms, in the
    console's language; retired ones are no longer offered."""
    report_id = await platform.submit()
    async with (
        platform.browser() as admin,
        platform.browser() as tiket,
        platform.browser() as petugas,
    ):
        for browser, username in (
            (admin, "admin-uji"),
            (tiket, "tiket-uji"),
            (petugas, "petugas-uji"),
        ):
            assert (await login(browser, username)).status_code == 303

        page = await admin.get("/console/admin/templates")
        assert page.status_code == 200
        assert 'id="nav-templates"' in page.text and 'id="create-template-form"' in page.text
        assert 'id="no-templates-return"' in page.text

        async def create(kind: str, title: str, body_id: str, body_en: str) -> httpx.Response:
            form = await admin.get("/console/admin/templates")
            return await admin.post(
                "/console/admin/templates",
                data={
                    "csrf_token": csrf(form.text),
                    "kind": kind,
                    "title": title,
                    "body_id": body_id,
                    "body_en": body_en,
                },
            )

        made = await create(
            "return",
            "Bukan wewenang",
            "Lokasi ini bukan wewenang dinas kami.",
            "This place is not our agency's.",
        )
        assert made.status_code == 303, made.text
        assert made.headers["location"].startswith("/console/admin/templates#template-")
        kept_id = made.headers["location"].split("#template-")[1]
        listed = await admin.get("/console/admin/templates")
        assert "Template Bukan wewenang dibuat." in listed.text
        assert f'id="template-{kept_id}" data-kind="return" data-active="true"' in listed.text
        old = await create("return", "Usang", "Teks lama sekali.", "An old text.")
        old_id = old.headers["location"].split("#template-")[1]
        await create("reject", "Tidak jelas", "Lokasi tidak jelas.", "The place is unclear.")

        # What the gateway refuses comes back named, in a flash message; nothing is made.
        blank = await create("question", " ", "Kapan?", "x" * 1001)
        assert blank.status_code == 303
        refused = await admin.get(blank.headers["location"])
        assert "title: must not be blank" in refused.text
        assert "body_id: at least 10 characters for a question" in refused.text
        assert "body_en: at most 1000 characters for a question" in refused.text
        assert 'id="no-templates-question"' in refused.text

        # Edit (both languages) and retire.
        edit_page = await admin.get("/console/admin/templates")
        edited = await admin.post(
            f"/console/admin/templates/{kept_id}",
            data={
                "csrf_token": csrf(edit_page.text),
                "kind": "return",
                "title": "Bukan wewenang kami",
                "body_id": "Lokasi ini bukan wewenang Dinas Uji.",
                "body_en": "This place is not under Dinas Uji.",
                "active": "true",
            },
        )
        assert edited.status_code == 303
        assert (
            "Template Bukan wewenang kami disimpan."
            in (await admin.get("/console/admin/templates")).text
        )
        retire_page = await admin.get("/console/admin/templates")
        retired = await admin.post(
            f"/console/admin/templates/{old_id}/retire", data={"csrf_token": csrf(retire_page.text)}
        )
        assert retired.status_code == 303
        after = await admin.get("/console/admin/templates")
        assert f'id="template-{old_id}" data-kind="return" data-active="false"' in after.text
        assert f'id="template-retire-{old_id}"' not in after.text

        # Only administrators: an officer gets the console's 403 page (and the gateway
        # would refuse the write anyway).
        refused_page = await petugas.get("/console/admin/templates")
        assert refused_page.status_code == 403
        forged = await petugas.post(
            f"/console/admin/templates/{kept_id}/retire",
            data={"csrf_token": csrf((await petugas.get("/console/agency")).text)},
        )
        assert forged.status_code == 403

        # The triage reject form offers the reject template; dispatch, and the agency's
        # return form offers the active return template only, in the console's language.
        async def in_triage() -> bool:
            return f'id="report-row-{report_id}"' in (await tiket.get("/console/triage")).text

        await eventually(in_triage, "the report in the triage queue")
        triage_page = await tiket.get(f"/console/reports/{report_id}")
        assert 'id="reject-reason-template"' in triage_page.text
        assert "Lokasi tidak jelas." in triage_page.text
        assert "Bukan wewenang" not in triage_page.text  # a return template: not here
        acted = await act(tiket, report_id, "dispatch", agency_id=AGENCY)
        assert status_of(acted.page) == "dispatched"

        officer_page = await settled(petugas, report_id)
        picker = re.search(r'<select id="return-reason-template".*?</select>', officer_page, re.S)
        assert picker is not None
        assert 'data-text="Lokasi ini bukan wewenang Dinas Uji."' in picker.group(0)
        assert ">Bukan wewenang kami<" in picker.group(0)
        assert "Usang" not in picker.group(0)  # retired
        assert 'src="/console/static/console-replies.js"' in officer_page
        await petugas.get("/console/lang/en?next=/console/")
        english = await petugas.get(f"/console/reports/{report_id}")
        assert 'data-text="This place is not under Dinas Uji."' in english.text
        # The return itself, in English: the flash says the new status in English too
        # (the gateway's label is Indonesian).
        version = VERSION.search(english.text)
        assert version
        returned = await petugas.post(
            f"/console/reports/{report_id}/actions/return",
            data={
                "csrf_token": csrf(english.text),
                "expected_version": version.group(1),
                "reason": "This place is not under Dinas Uji.",
            },
        )
        assert returned.status_code == 303, returned.text
        queue = await petugas.get(returned.headers["location"])
        # A return goes back to the ticket-admins' coordination (English: "Coordination",
        # not the gateway's "Koordinasi").
        assert "Action recorded. The status is now: Coordination." in queue.text
        assert "Koordinasi" not in queue.text
        script = await petugas.get("/console/static/console-replies.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
