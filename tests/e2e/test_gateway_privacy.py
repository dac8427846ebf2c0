"""The privacy gateway with the real intake, workflow and notifier (in one process each as
an ASGI app, all on real Kafka, PostgreSQL and Redis): officer actions answered with
workflow's verdict, the authorization matrix (role x endpoint x ownership, exact field
sets), photo grants, reporter self-service, the canary test over logs, public responses,
the public topic and exports, and erasure reaching every service and the Kafka log."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from cryptography.exceptions import InvalidTag
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from aduan_contracts.enums import Role
from aduan_contracts.serialization import decode
from aduan_contracts.topics import PUBLIC_REPORTS, REPORT_INTAKE, REPORTER_KEYS, TopicSpec
from aduan_contracts.values import SealedIdentity
from aduan_gateway.adapters.tables import ACCESS_LOG, AGENCIES, USERS
from aduan_gateway.adapters.tables import REPORTER_KEYS as GATEWAY_KEYS
from aduan_gateway.auth import issue_access_token
from aduan_gateway.bootstrap import build as build_gateway
from aduan_gateway.config import Settings as GatewaySettings
from aduan_gateway.domain.views import (
    AgencyReportView,
    AgencyTimelineEntry,
    FollowUpView,
    FullReportView,
    FullTimelineEntry,
    LocationView,
    ReporterReportView,
    ReporterTimelineEntry,
)
from aduan_intake.adapters.tables import REPORTER_KEYS as INTAKE_KEYS
from aduan_intake.bootstrap import build as build_intake
from aduan_intake.config import Settings as IntakeSettings
from aduan_kit.crypto import open_identity
from aduan_notifier.bootstrap import build as build_notifier
from aduan_notifier.config import Settings as NotifierSettings
from aduan_notifier.tables import REPORTER_KEYS as NOTIFIER_KEYS
from aduan_testing.plugin import Isolation
from aduan_workflow.bootstrap import build as build_workflow
from aduan_workflow.config import Settings as WorkflowSettings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

T = TypeVar("T")
JWT = "e2e-gateway-secret-" + uuid4().hex
# Canaries: synthetic personal data that must never leave where it belongs.
NIK = "3171012345678901"
PHONE = "081298765432"
EMAIL = "canary.reporter@example.org"
NAME = "Kanari Wibisono"
# SPEC Revision 2: the reveal is an explicit action with a reason.
REVEAL_REASON = "court-order-12-2026"
PLATE = "B 4321 KNR"


@dataclass
class Platform:
    iso: Isolation
    gateway: httpx.AsyncClient
    intake: httpx.AsyncClient
    apps: dict[str, FastAPI]
    log: io.StringIO = field(default_factory=io.StringIO)

    def sessions(self, name: str) -> Any:
        return self.apps[name].state.runtime.sessions

    async def file(
        self, text_: str, contact: str, public: bool, photo: bytes | None = None, **extra: str
    ) -> dict[str, Any]:
        form = {
            "title": "Aduan uji",
            "text": text_,
            "name": NAME,
            "contact": contact,
            "public": "on" if public else "",
            "lat": "-6.1862",
            "lon": "106.8341",
            "address": "Jl. Kanari No. 7",
            "area": "Gambir",
            "submission_id": str(uuid4()),
        } | extra
        files = {"photos": ("p.jpg", photo, "image/jpeg")} if photo else None
        r = await self.intake.post(
            "/v1/channels/web", data=form, files=files, headers={"Accept": "application/json"}
        )
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body


# The tokens below are minted when the module is imported, i.e. when pytest collects the
# whole suite: in `make test` these tests run some 20 minutes later, past the gateway's
# default 15-minute access token, and every call got 401 (the CI failures of 2026-12-03
# were that, not slowness). They last as long as any suite may run.
TOKEN_TTL_S = 6 * 3600


def bearer(
    role: Role, sub: str | None = None, agency: str | None = None, head: bool = False
) -> dict[str, str]:
    token = issue_access_token(
        JWT,
        sub or f"{role.value}-1",
        role,
        agency_id=agency,
        name=f"Petugas {role.value}",
        ttl_s=TOKEN_TTL_S,
        unit_head=head,
    )
    return {"Authorization": f"Bearer {token}"}


ADMIN = bearer(Role.ADMINISTRATOR)
TICKET = bearer(Role.TICKET_ADMIN)
VALIDATOR = bearer(Role.VALIDATOR)
DBM = bearer(Role.AGENCY_OFFICER, "sari-dbm", "dbm")
DLH = bearer(Role.AGENCY_OFFICER, "budi-dlh", "dlh")
# Units (issue 19): dbm and dlh become sibling kelurahan of one kecamatan below; its head
# reads both (acts on neither), its other officers read neither.
KEC_HEAD = bearer(Role.AGENCY_OFFICER, "camat-kec", "kec-uji", head=True)
KEC = bearer(Role.AGENCY_OFFICER, "staf-kec", "kec-uji")
PUBLIC = bearer(Role.PUBLIC)


async def eventually(check: Callable[[], Awaitable[T | None]], what: str, timeout: float = 45) -> T:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def jpeg(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(out, format="JPEG")
    return out.getvalue()


@pytest_asyncio.fixture
async def platform(isolated: Isolation, tmp_path: Path) -> AsyncIterator[Platform]:
    blobs = str(tmp_path / "blobs")

    def common(name: str) -> dict[str, Any]:
        return {
            "kafka_bootstrap_servers": isolated.kafka,
            "database_url": isolated.database(name),
            "redis_url": isolated.redis_url,
            "redis_prefix": f"{isolated.redis_prefix}{name}:",
            "topic_namespace": isolated.namespace,
            "environment": "test",
        }

    apps = {
        "intake": build_intake(IntakeSettings(**common("intake"), blob_root=blobs))[0],
        "workflow": build_workflow(WorkflowSettings(**common("workflow")))[0],
        "notifier": build_notifier(NotifierSettings(**common("notifier")))[0],
        "gateway": build_gateway(
            GatewaySettings(**common("gateway"), blob_root=blobs, jwt_secret=JWT)
        )[0],
    }
    async with AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        # Every service's JSON log lines, as they would reach stdout (same formatter).
        sink = io.StringIO()
        handler = logging.StreamHandler(sink)
        handler.setFormatter(logging.getLogger().handlers[0].formatter)
        logging.getLogger().addHandler(handler)
        stack.callback(logging.getLogger().removeHandler, handler)
        clients = {
            name: await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=apps[name]),
                    base_url=f"http://{name}",
                    timeout=30,
                )
            )
            for name in ("gateway", "intake")
        }
        yield Platform(isolated, clients["gateway"], clients["intake"], apps, sink)


async def ready(p: Platform, report_id: str, status: str | None = None) -> dict[str, Any]:
    last: list[str] = []

    async def seen() -> dict[str, Any] | None:
        r = await p.gateway.get(f"/v1/reports/{report_id}", headers=ADMIN)
        last[:] = [f"{r.status_code} {r.text[:300]}"]
        if r.status_code != 200:
            return None
        body: dict[str, Any] = r.json()
        return body if status is None or body["status"] == status else None

    # Generous: four services share this process and join their consumer groups at once;
    # a loaded CI machine took over 30 s for the first report once.
    try:
        return await eventually(
            seen, f"report {report_id} {status or 'known'} in the gateway", timeout=90
        )
    except AssertionError as exc:
        # Say what the gateway answered last: a timeout alone hid a 4xx/5xx once in CI.
        raise AssertionError(f"{exc}; the gateway's last answer: {last}") from None


async def act(
    p: Platform, report_id: str, action: str, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await p.gateway.post(f"/v1/reports/{report_id}/{action}", json=body, headers=headers)


async def reporter_token(p: Platform, receipt: str, contact: str) -> dict[str, str]:
    async def key_held() -> bool:
        # The key comes on its own topic and may trail the report: wait for it rather
        # than spend the receipt code's few tries.
        async with p.sessions("gateway")() as session:
            held = await session.scalar(
                text(
                    "SELECT k.key IS NOT NULL FROM reports r JOIN reporter_keys k "
                    "ON k.key_id = r.reporter_key_id WHERE r.receipt_code = :code"
                ),
                {"code": receipt},
            )
        return bool(held)

    await eventually(key_held, f"the reporter key of {receipt} in the gateway")
    r = await p.gateway.post(
        "/v1/reporter/session", json={"receipt_code": receipt, "contact": contact}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def keys_of(model: type[Any]) -> set[str]:
    return set(model.model_fields)


def assert_allowed_fields(body: dict[str, Any], role_view: type[Any]) -> None:
    """The response carries exactly its role's allow-list, nested parts included."""
    assert set(body) == keys_of(role_view), set(body) ^ keys_of(role_view)
    entry_model: type[Any] = {
        FullReportView: FullTimelineEntry,
        AgencyReportView: AgencyTimelineEntry,
        ReporterReportView: ReporterTimelineEntry,
    }[role_view]  # type: ignore[index]
    for entry in body["timeline"]:
        assert set(entry) == keys_of(entry_model)
        if entry.get("follow_up") and role_view is not ReporterReportView:
            assert set(entry["follow_up"]) == keys_of(FollowUpView)
    if body.get("location"):
        assert set(body["location"]) <= keys_of(LocationView)


async def topic_records(p: Platform, spec: TopicSpec) -> list[tuple[bytes | None, bytes]]:
    topic = spec.qualified(p.iso.namespace)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=p.iso.kafka, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, n) for n in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        out: list[tuple[bytes | None, bytes]] = []
        while any([await consumer.position(tp) < end[tp] for tp in tps]):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                out += [(r.key, r.value) for r in records if r.value is not None]
        return out
    finally:
        await consumer.stop()


# --- 1. actions, the authorization matrix, photo grants ---------------------------------------


async def test_actions_matrix_and_photo_grants(platform: Platform) -> None:
    p = platform
    photo = jpeg((200, 30, 30))
    mine = await p.file("Lampu jalan mati total", "0812-1111-2222", public=False, photo=photo)
    theirs = await p.file("Got mampet di gang", "0813-3333-4444", public=True)
    other_agency = await p.file("Sampah liar menumpuk", "0814-5555-6666", public=False)
    unassigned = await p.file("Pohon tumbang", "0815-7777-8888", public=False)
    rid, pub, dlh_id, un_id = (
        mine["report_id"],
        theirs["report_id"],
        other_agency["report_id"],
        unassigned["report_id"],
    )
    for report in (rid, pub, dlh_id, un_id):
        await ready(p, report, "received")

    # Triage, answered at once with workflow's verdict.
    r = await act(p, rid, "dispatch", TICKET, agency_id="dbm", note="jalan kota")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "dispatched" and r.json()["version"] == 2
    assert (await act(p, pub, "dispatch", TICKET, agency_id="dbm")).status_code == 200
    assert (await act(p, dlh_id, "dispatch", TICKET, agency_id="dlh")).status_code == 200
    # The actor comes from the token: a body cannot name one.
    r = await act(p, un_id, "coordinate", TICKET, actor={"id": "x", "role": "administrator"})
    assert r.status_code == 422
    # The gateway refuses roles that may not act, and hides reports an agency may not see.
    r = await act(p, rid, "dispatch", VALIDATOR, agency_id="dbm")
    assert r.status_code == 403 and "may not dispatch" in r.json()["detail"]
    await ready(p, dlh_id, "dispatched")
    assert (await act(p, dlh_id, "accept", DBM)).status_code == 404
    # Workflow's own refusal comes back with its reason: dispatching twice is a conflict.
    r = await act(p, rid, "dispatch", TICKET, agency_id="dlh")
    assert r.status_code == 409 and r.json()["detail"]
    r = await act(p, rid, "accept", DBM, expected_version=1)
    assert r.status_code == 409  # stale version

    await ready(p, rid, "dispatched")
    r = await act(p, rid, "accept", DBM)
    assert r.status_code == 200 and r.json()["status"] == "in_progress"

    after = jpeg((30, 200, 30))
    r = await p.gateway.post(
        f"/v1/reports/{rid}/follow-ups",
        data={"note": "Lampu sudah diganti"},
        files={"photos": ("after.jpg", after, "image/jpeg")},
        headers=DBM,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "awaiting_validation"
    r = await p.gateway.post(
        f"/v1/reports/{rid}/follow-ups",
        data={"note": "bukan foto"},
        files={"photos": ("x.jpg", b"not an image", "image/jpeg")},
        headers=DBM,
    )
    assert r.status_code == 422 and "photo refused" in r.json()["detail"]

    view = await ready(p, rid, "awaiting_validation")
    follow_up = next(t["follow_up"] for t in view["timeline"] if t["follow_up"])
    assert follow_up["confidentiality_label"] == "Privat"
    assert follow_up["officer_name"] == "Petugas agency-officer"
    assert follow_up["photos_locked"] and follow_up["photos"] == []
    assert view["photos_locked"] and view["photos"] == []  # rule 3, even for the admin

    r = await act(p, rid, "validate", VALIDATOR, note="ok")
    assert r.status_code == 200 and r.json()["status"] == "completed"
    done = await ready(p, rid, "completed")
    assert done["status_label"] == "Selesai"

    # --- photo grants: locked until a validator grants a named officer ------------------
    shas: list[str] = []
    async with p.sessions("gateway")() as session:
        row = (
            await session.execute(
                text("SELECT photos FROM reports WHERE report_id = :id"), {"id": UUID(rid)}
            )
        ).scalar_one()
        shas.append(row[0]["sha256"])
    shas.append(follow_up_sha := (await _follow_up_sha(p, rid)))
    # The citizen's photo of a private report is locked for every role; the follow-up's
    # photo is the agency's evidence: the uploading agency and validators see it (SPEC
    # Revision 2), nobody else without a grant.
    for headers in (DBM, VALIDATOR, ADMIN, TICKET):
        r = await p.gateway.get(f"/v1/reports/{rid}/photos/{shas[0]}", headers=headers)
        assert r.status_code == 403 and "locked" in r.json()["detail"]
    for headers in (DBM, VALIDATOR):
        r = await p.gateway.get(f"/v1/reports/{rid}/photos/{follow_up_sha}", headers=headers)
        assert r.status_code == 200, r.text
    for headers in (ADMIN, TICKET):
        r = await p.gateway.get(f"/v1/reports/{rid}/photos/{follow_up_sha}", headers=headers)
        assert r.status_code == 403
    as_agency = (await p.gateway.get(f"/v1/reports/{rid}", headers=DBM)).json()
    tl = next(t["follow_up"] for t in as_agency["timeline"] if t["follow_up"])
    assert tl["photos"] and not tl["photos_locked"] and as_agency["photos_locked"]

    # A validator opens the citizen's photos for themselves only by the explicit action,
    # with a reason (audited), never through a grant to themselves.
    r = await p.gateway.post(
        f"/v1/reports/{rid}/photos/open", json={"reason": "cek"}, headers=VALIDATOR
    )
    assert r.status_code == 422
    r = await p.gateway.post(
        f"/v1/reports/{rid}/photos/open", json={"reason": "bandingkan foto warga"}, headers=DBM
    )
    assert r.status_code == 403
    r = await p.gateway.post(
        f"/v1/reports/{rid}/photos/open",
        json={"reason": "bandingkan foto warga dengan foto TL"},
        headers=VALIDATOR,
    )
    assert r.status_code == 201, r.text
    opened = r.json()
    assert opened["grantee"] == opened["granted_by"] == "validator-1"
    r = await p.gateway.get(f"/v1/reports/{rid}/photos/{shas[0]}", headers=VALIDATOR)
    assert r.status_code == 200
    r = await p.gateway.delete(
        f"/v1/reports/{rid}/photo-grants/{opened['grant_id']}", headers=VALIDATOR
    )
    assert r.status_code == 200
    r = await p.gateway.post(
        f"/v1/reports/{rid}/photo-grants",
        json={"grantee": "sari-dbm", "hours": 2, "reason": "cek lokasi"},
        headers=DBM,
    )
    assert r.status_code == 403  # only validators grant
    # Grants go only to existing, active officers of the report's agency (SPEC Revision 2):
    # nobody's id, another agency's officer and the validator themselves are refused.
    async with p.sessions("gateway")() as session, session.begin():
        for agency in ("dbm", "dlh"):
            await session.execute(
                pg_insert(AGENCIES).values(agency_id=agency, name=agency).on_conflict_do_nothing()
            )
        for user_id, agency in (("sari-dbm", "dbm"), ("budi-dlh", "dlh")):
            await session.execute(
                pg_insert(USERS)
                .values(
                    user_id=user_id,
                    username=user_id,
                    password_hash="-",  # never signs in here: the test mints its tokens
                    role=Role.AGENCY_OFFICER.value,
                    agency_id=agency,
                )
                .on_conflict_do_nothing()
            )
    for grantee, why in (
        ("u-nobody", "not a user"),
        ("budi-dlh", "not an officer of the agency"),
        ("validator-1", "no self-grants"),
    ):
        r = await p.gateway.post(
            f"/v1/reports/{rid}/photo-grants",
            json={"grantee": grantee, "hours": 2, "reason": "cek lokasi"},
            headers=VALIDATOR,
        )
        assert r.status_code == 422 and why in r.json()["detail"], (grantee, r.text)
    r = await p.gateway.post(
        f"/v1/reports/{rid}/photo-grants",
        json={"grantee": "sari-dbm", "hours": 2, "reason": "cek lokasi"},
        headers=VALIDATOR,
    )
    assert r.status_code == 201, r.text
    grant = r.json()
    assert grant["active"] and grant["granted_by"] == "validator-1"
    redis = p.apps["gateway"].state.runtime.redis
    cache_key = f"{p.iso.redis_prefix}gateway:grant:{rid}:sari-dbm"
    assert 0 < await redis.pttl(cache_key) <= 2 * 3600 * 1000
    got = await p.gateway.get(f"/v1/reports/{rid}/photos/{shas[0]}", headers=DBM)
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(got.content)).size == (32, 24)
    assert got.content != photo  # what is served is the stripped copy, not the upload
    # Redis is a cache: without the key the database still decides (and refills it).
    await redis.delete(cache_key)
    assert (
        await p.gateway.get(f"/v1/reports/{rid}/photos/{shas[0]}", headers=DBM)
    ).status_code == 200
    assert await redis.exists(cache_key)
    # Another officer of the same agency has no grant.
    other_dbm = bearer(Role.AGENCY_OFFICER, "andi-dbm", "dbm")
    assert (
        await p.gateway.get(f"/v1/reports/{rid}/photos/{shas[0]}", headers=other_dbm)
    ).status_code == 403
    granted_view = (await p.gateway.get(f"/v1/reports/{rid}", headers=DBM)).json()
    assert granted_view["photos"] and not granted_view["photos_locked"]
    listed = (await p.gateway.get(f"/v1/reports/{rid}/photo-grants", headers=VALIDATOR)).json()
    assert [g["grant_id"] for g in listed if g["active"]] == [grant["grant_id"]]
    r = await p.gateway.delete(
        f"/v1/reports/{rid}/photo-grants/{grant['grant_id']}", headers=VALIDATOR
    )
    assert r.status_code == 200 and r.json()["revoked_by"] == "validator-1"
    assert not await redis.exists(cache_key)
    assert (
        await p.gateway.get(f"/v1/reports/{rid}/photos/{shas[0]}", headers=DBM)
    ).status_code == 403
    listed = (await p.gateway.get(f"/v1/reports/{rid}/photo-grants", headers=ADMIN)).json()
    assert all(g["revoked_at"] is not None and not g["active"] for g in listed)

    # Photo reads are in the access log.
    async with p.sessions("gateway")() as session:
        logged = (
            await session.execute(
                select(ACCESS_LOG.c.subject, ACCESS_LOG.c.fields).where(
                    ACCESS_LOG.c.report_id == UUID(rid)
                )
            )
        ).all()
    assert ("sari-dbm", [f"photo:{shas[0]}"]) in [(s, f) for s, f in logged]
    assert (
        "validator-1",
        ["photos.open", "reason:bandingkan foto warga dengan foto TL"],
    ) in [(s, f) for s, f in logged]

    # --- the authorization matrix: role x endpoint x ownership --------------------------
    # The unit tree (issue 19): dbm and dlh under one kecamatan, as sibling kelurahan.
    r = await p.gateway.post(
        "/v1/admin/units",
        json={"unit_id": "kec-uji", "name": "Kecamatan Uji", "kind": "kecamatan"},
        headers=ADMIN,
    )
    assert r.status_code == 201, r.text
    for unit in ("dbm", "dlh"):
        r = await p.gateway.patch(
            f"/v1/admin/units/{unit}",
            json={"parent_id": "kec-uji", "kind": "kelurahan"},
            headers=ADMIN,
        )
        assert r.status_code == 200, r.text
    me = await reporter_token(p, mine["receipt_code"], "+6281211112222")
    someone = await reporter_token(p, theirs["receipt_code"], "081333334444")
    cases = {
        "own agency": rid,  # dispatched to dbm, private, completed
        "public": pub,  # dispatched to dbm, public
        "other agency": dlh_id,  # dispatched to dlh, private
        "unassigned": un_id,  # received, private
    }
    callers: dict[str, dict[str, str] | None] = {
        "anonymous": None,
        "public": PUBLIC,
        "agency dbm": DBM,
        "agency dlh": DLH,
        "head of their kecamatan": KEC_HEAD,
        "officer of their kecamatan": KEC,
        "validator": VALIDATOR,
        "ticket-admin": TICKET,
        "administrator": ADMIN,
        "reporter (owner of own agency case)": me,
        "reporter (owner of public case)": someone,
    }

    def expected_read(caller: str, case: str) -> tuple[int, type[Any] | None]:
        if caller == "anonymous":
            return 401, None
        if caller == "public":
            return 403, None
        if caller in ("validator", "ticket-admin", "administrator"):
            return 200, FullReportView
        if caller == "agency dbm":
            return (200, AgencyReportView) if case in ("own agency", "public") else (404, None)
        if caller == "agency dlh":
            return (200, AgencyReportView) if case == "other agency" else (404, None)
        if caller == "head of their kecamatan":
            return (200, AgencyReportView) if case != "unassigned" else (404, None)
        if caller == "officer of their kecamatan":
            return 404, None
        owner_of = {
            "reporter (owner of own agency case)": "own agency",
            "reporter (owner of public case)": "public",
        }[caller]
        return (200, ReporterReportView) if case == owner_of else (404, None)

    checked = 0
    for caller, headers in callers.items():
        for case, report in cases.items():
            status, model = expected_read(caller, case)
            r = await p.gateway.get(f"/v1/reports/{report}", headers=headers or {})
            assert r.status_code == status, (caller, case, r.status_code, r.text)
            if model is not None:
                assert_allowed_fields(r.json(), model)
                assert NAME not in r.text and "0812-1111-2222" not in r.text
                if model is not ReporterReportView:
                    assert "+62" not in r.text  # contacts never reach officers
            checked += 1
        # Lists: the same scope rules, the same allow-lists.
        r = await p.gateway.get("/v1/reports?limit=100", headers=headers or {})
        if caller == "anonymous":
            assert r.status_code == 401
        elif caller == "public":
            assert r.status_code == 403
        else:
            assert r.status_code == 200
            seen = {i["report_id"] for i in r.json()["items"]}
            allowed = {rep for case, rep in cases.items() if expected_read(caller, case)[0] == 200}
            assert seen == allowed, (caller, seen, allowed)
            case_of = {rep: case for case, rep in cases.items()}
            for item in r.json()["items"]:
                model = expected_read(caller, case_of[item["report_id"]])[1]
                assert model is not None
                assert_allowed_fields(item, model)
    assert checked == len(callers) * len(cases)

    # Administration endpoints: administrators only.
    for caller, headers in callers.items():
        for path in (
            "/v1/audit/access-log",
            f"/v1/reports/{rid}/reporter-identity?reason={REVEAL_REASON}",
        ):
            r = await p.gateway.get(path, headers=headers or {})
            want = 401 if headers is None else 200 if caller == "administrator" else 403
            assert r.status_code == want, (caller, path, r.status_code)
        r = await p.gateway.get(f"/v1/reports/{rid}/photo-grants", headers=headers or {})
        want = 401 if headers is None else 200 if caller in ("validator", "administrator") else 403
        assert r.status_code == want, (caller, "grants", r.status_code)
    identity = (
        await p.gateway.get(
            f"/v1/reports/{rid}/reporter-identity?reason={REVEAL_REASON}", headers=ADMIN
        )
    ).json()
    assert identity["name"] == NAME and identity["contact"] == "+6281211112222"

    # Actions: every endpoint x every caller on the completed own-agency case; allowed
    # roles reach workflow and get its refusal (409: not in this status).
    OFFICERS = {
        "agency dbm",
        "agency dlh",
        "head of their kecamatan",
        "officer of their kecamatan",
    }
    actions: dict[str, tuple[set[str], dict[str, Any]]] = {
        "dispatch": ({"ticket-admin"}, {"agency_id": "dbm"}),
        "coordinate": ({"ticket-admin"}, {}),
        "reject": ({"ticket-admin"}, {"reason": "spam sekali"}),
        "merge": ({"ticket-admin"}, {"primary_report_id": pub}),
        "accept": (OFFICERS, {}),
        "return": (OFFICERS, {"reason": "bukan wewenang"}),
        "resume": (OFFICERS, {}),
        "validate": ({"validator"}, {}),
        "reject-follow-up": ({"validator"}, {"reason": "foto kurang jelas"}),
        "field-verification": ({"validator"}, {}),
        "field-verification/result": ({"validator"}, {"confirmed": True, "result": "sudah"}),
        "reopen": (
            {"reporter (owner of own agency case)", "reporter (owner of public case)"},
            {"reason": "lampu mati lagi"},
        ),
    }
    for action, (roles, body) in actions.items():
        for caller, headers in callers.items():
            if action == "reopen" and caller == "reporter (owner of own agency case)":
                continue  # the real reopen, below
            r = await act(p, rid, action, headers or {}, **body)
            if headers is None:
                want = 401
            elif caller not in roles:
                want = 403
            elif caller in (
                "agency dlh",
                "officer of their kecamatan",
                "reporter (owner of public case)",
            ):
                want = 404  # allowed role, someone else's report: not even its existence
            elif caller == "head of their kecamatan":
                want = 403  # reads its sub-units' reports; acting stays with the assigned unit
            else:
                want = 409
            assert r.status_code == want, (action, caller, r.status_code, r.text)
    r = await p.gateway.post(f"/v1/reports/{rid}/follow-ups", data={"note": "lagi"}, headers=DLH)
    assert r.status_code == 404
    r = await p.gateway.post(
        f"/v1/reports/{rid}/follow-ups", data={"note": "lagi"}, headers=KEC_HEAD
    )
    assert r.status_code == 403
    r = await p.gateway.post(
        f"/v1/reports/{rid}/follow-ups", data={"note": "lagi"}, headers=VALIDATOR
    )
    assert r.status_code == 403

    # The reporter reopens their own completed report.
    r = await act(p, rid, "reopen", me, reason="lampu mati lagi")
    assert r.status_code == 200 and r.json()["status"] == "in_progress"


async def _follow_up_sha(p: Platform, rid: str) -> str:
    async with p.sessions("gateway")() as session:
        fu = (
            await session.execute(
                text(
                    "SELECT follow_up FROM timeline "
                    "WHERE report_id = :id AND follow_up IS NOT NULL "
                    "ORDER BY version LIMIT 1"
                ),
                {"id": UUID(rid)},
            )
        ).scalar_one()
    sha: str = fu["photos"][0]["sha256"]
    return sha


# --- 2. canaries, self-service, open surfaces, erasure -----------------------------------------


async def test_canaries_self_service_and_erasure(platform: Platform) -> None:
    p = platform
    canary_text = f"Saya {NAME}, NIK {NIK}, telp {PHONE}, email {EMAIL}. Mobil {PLATE} parkir liar."
    public = await p.file(canary_text, EMAIL, public=True)
    private = await p.file("Rahasia: " + canary_text, PHONE, public=False)
    for report in (public, private):
        await ready(p, report["report_id"])
    pid, xid = public["report_id"], private["report_id"]

    # Self-service: receipt code plus the contact given; anything else is one answer.
    wrong = await p.gateway.post(
        "/v1/reporter/session", json={"receipt_code": private["receipt_code"], "contact": EMAIL}
    )
    unknown = await p.gateway.post(
        "/v1/reporter/session", json={"receipt_code": "ADU-0000-0000", "contact": PHONE}
    )
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()
    me = await reporter_token(p, private["receipt_code"], "+62 812-9876-5432")
    mine = (await p.gateway.get("/v1/reports", headers=me)).json()["items"]
    assert [i["report_id"] for i in mine] == [xid]
    assert mine[0]["text"].startswith("Rahasia")  # the reporter sees their own in full

    # An officer reads it; the reporter's export says who, when and which fields.
    assert (await p.gateway.get(f"/v1/reports/{xid}", headers=VALIDATOR)).status_code == 200
    export = (await p.gateway.get("/v1/reporter/export", headers=me)).json()
    assert export["identity"] == {"name": NAME, "contact": "+6281298765432", "handle": None}
    assert [r["report_id"] for r in export["reports"]] == [xid]
    reads = [a for a in export["accesses"] if a["reader"] == "validator-1"]
    assert reads and "text" in reads[0]["fields"] and reads[0]["role"] == "validator"
    assert (await p.gateway.get("/v1/reporter/export", headers=VALIDATOR)).status_code == 403

    # Public surfaces: the public report redacted, the private one absent everywhere.
    await ready(p, pid)

    async def public_listed() -> list[Any] | None:
        items = (await p.gateway.get("/v1/public/reports")).json()["items"]
        return items or None

    surfaces = {
        "public list": json.dumps(await eventually(public_listed, "public list")),
        "public report": (await p.gateway.get(f"/v1/public/reports/{pid}")).text,
        "open311 list": (await p.gateway.get("/open311/v2/requests.json")).text,
        "open311 one": (await p.gateway.get(f"/open311/v2/requests/{pid}.json")).text,
        "csv": (await p.gateway.get("/v1/public/export.csv")).text,
        "geojson": (await p.gateway.get("/v1/public/export.geojson")).text,
    }
    for name, body in surfaces.items():
        assert pid in body, name
        assert xid not in body, f"private report on {name}"
        for canary in (NIK, PHONE, EMAIL, NAME, PLATE, "Jl. Kanari", "-6.1862", "106.8341"):
            assert canary not in body, f"{canary!r} on {name}"
    assert (await p.gateway.get(f"/open311/v2/requests/{xid}.json")).status_code == 404
    assert (await p.gateway.get(f"/v1/public/reports/{xid}")).status_code == 404
    rows = list(csv.DictReader(io.StringIO(surfaces["csv"])))
    assert [r["report_id"] for r in rows] == [pid] and rows[0][
        "area"
    ] == "Gambir, Kec. Gambir, Kota Jakarta Pusat"
    geo = json.loads(surfaces["geojson"])
    # Only the ~1 km grid cell reaches open data, never the point itself (canaries above).
    [geometry] = [f["geometry"] for f in geo["features"]]
    assert geometry["type"] == "Point"
    assert geometry["coordinates"] == pytest.approx([106.83, -6.19])
    one = json.loads(surfaces["open311 one"])[0]
    assert (
        one["status"] == "open"
        and "lat" not in one
        and one["address"] == "Gambir, Kec. Gambir, Kota Jakarta Pusat"
    )

    async def projected() -> list[tuple[bytes | None, bytes]] | None:
        got = await topic_records(p, PUBLIC_REPORTS)
        return got or None

    on_topic = await eventually(projected, "public projection")
    assert {key for key, _ in on_topic} == {pid.encode()}
    for _, value in on_topic:
        for canary in (NIK, PHONE, EMAIL, NAME, PLATE, "Jl. Kanari", "-6.1862"):
            assert canary.encode() not in value

    # --- erasure: the reporter asks; intake shreds; every holder drops the key ----------
    sealed = SealedIdentity.model_validate((await _intake_event(p, xid))["reporter"])
    r = await p.gateway.post("/v1/reporter/erasure", headers=me)
    assert r.status_code == 202

    async def erased_everywhere() -> bool:
        async with p.sessions("gateway")() as s:
            gw = await s.scalar(
                select(GATEWAY_KEYS.c.key).where(GATEWAY_KEYS.c.key_id == sealed.key_id)
            )
        async with p.sessions("intake")() as s:
            it = (
                await s.execute(
                    select(INTAKE_KEYS.c.key, INTAKE_KEYS.c.shredded_at).where(
                        INTAKE_KEYS.c.key_id == sealed.key_id
                    )
                )
            ).one()
        async with p.sessions("notifier")() as s:
            nt = await s.scalar(
                select(NOTIFIER_KEYS.c.key).where(NOTIFIER_KEYS.c.key_id == sealed.key_id)
            )
        return gw is None and it.key is None and it.shredded_at is not None and nt is None

    await eventually(erased_everywhere, "key shredded in intake, gateway and notifier")
    # The Kafka log still holds the sealed copy; no service holds a key that opens it, and
    # the keys topic's latest record for that key id is the shredding (compaction drops
    # the earlier record carrying the key).
    keys_log = [(k, decode(REPORTER_KEYS, v)) for k, v in await topic_records(p, REPORTER_KEYS)]
    latest = [e for k, e in keys_log if k == str(sealed.key_id).encode()][-1]
    assert latest.event_type == "ReporterKeyShredded"
    other_keys = [
        base64.b64decode(e.key)
        for _, e in keys_log
        if e.event_type == "ReporterKeyIssued" and e.key_id != sealed.key_id
    ]
    for key in other_keys:
        with pytest.raises(InvalidTag):
            open_identity(sealed, key)
    async with p.sessions("gateway")() as s:
        held = (
            (await s.execute(select(GATEWAY_KEYS.c.key).where(GATEWAY_KEYS.c.key.is_not(None))))
            .scalars()
            .all()
        )
        left = await s.scalar(
            text("SELECT sealed_identity FROM reports WHERE report_id = :id"), {"id": UUID(xid)}
        )
    assert left is None  # the gateway dropped its sealed copy too
    for key in held:
        with pytest.raises(InvalidTag):
            open_identity(sealed, key)
    r = await p.gateway.get(
        f"/v1/reports/{xid}/reporter-identity?reason={REVEAL_REASON}", headers=ADMIN
    )
    assert r.status_code == 410
    again = await p.gateway.post(
        "/v1/reporter/session", json={"receipt_code": private["receipt_code"], "contact": PHONE}
    )
    assert again.status_code == 404
    # The report stays for statistics, with the same pseudonym.
    kept = (await p.gateway.get(f"/v1/reports/{xid}", headers=VALIDATOR)).json()
    assert kept["reporter"] and kept["reporter"].startswith("Pelapor-")

    # No canary in any service's logs.
    logs = p.log.getvalue()
    assert "report_id" in logs  # the sink did capture the services' lines
    for canary in (NIK, PHONE, EMAIL, NAME, PLATE, "+6281298765432", "Jl. Kanari"):
        assert canary not in logs, f"{canary!r} leaked into logs"


async def _intake_event(p: Platform, report_id: str) -> dict[str, Any]:
    for key, value in await topic_records(p, REPORT_INTAKE):
        if key == report_id.encode():
            event: dict[str, Any] = json.loads(value)
            return event
    raise AssertionError("report not on the intake topic")
