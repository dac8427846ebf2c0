"""The citizen app API, staff entry, the web form's photo upload and Open311 GeoReport v2 on
real PostgreSQL, Kafka and Redis. Open311 is driven by a plain HTTP client (the standard
library's urllib) over a real socket, as a third-party civic app would."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import jwt
import pytest
from PIL import Image

from aduan_contracts import decode
from aduan_contracts.enums import Channel, Privacy, Role
from aduan_contracts.events import ReportSubmitted
from aduan_contracts.topics import REPORT_INTAKE, REPORTER_KEYS
from aduan_kit.blobs import FilesystemBlobStore
from aduan_kit.crypto import open_identity

pytestmark = pytest.mark.integration

APP_KEY = "app-key-for-tests-0123456789"
JWT_SECRET = "intake-test-jwt-secret-0123456789abcdef"
OPEN311_KEY = "open311-key-for-tests"


def token(role: str = "ticket-admin", secret: str = JWT_SECRET, ttl: int = 600) -> str:
    now = int(time.time())
    claims = {
        "sub": "op-17",
        "role": role,
        "agency_id": "biro-pemerintahan",
        "name": "Agus Santoso",
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


async def test_citizen_app_json_multipart_duplicates_keys_and_bad_input(
    intake: Any, topics: Any, fixtures_dir: Path, exif_jpeg: bytes
) -> None:
    body = json.loads((fixtures_dir / "app_report.json").read_text())
    key = {"X-App-Key": APP_KEY}
    await topics.publish_categories("saluran")  # the catalogue the app's category is from
    async with intake(app_keys=[APP_KEY, "other-app-key"]) as run:
        c = run.client
        first = await c.post("/v1/channels/app/reports", json=body, headers=key)
        again = await c.post("/v1/channels/app/reports", json=body, headers=key)
        with_photo = {**body, "client_report_id": "1e8a2f7c-0b4d-4c55-a0f1-2d3e4f5a6b7c"}
        multipart = await c.post(
            "/v1/channels/app/reports",
            data={"report": json.dumps(with_photo)},
            files=[("photos", ("foto.jpg", exif_jpeg, "image/jpeg"))],
            headers=key,
        )
        no_key = await c.post("/v1/channels/app/reports", json=body)
        bad_key = await c.post(
            "/v1/channels/app/reports", json=body, headers={"X-App-Key": "guess"}
        )
        broken = await c.post(
            "/v1/channels/app/reports",
            content=b'{"client_report_id": ',
            headers={**key, "Content-Type": "application/json"},
        )
        far = {**body, "client_report_id": "2e8a2f7c-0b4d-4c55-a0f1-2d3e4f5a6b7c"}
        far["location"] = {"lat": 123.0, "lon": 106.8}
        impossible = await c.post("/v1/channels/app/reports", json=far, headers=key)
        gif = io.BytesIO()
        Image.new("RGB", (4, 4)).save(gif, "GIF")
        wrong_media = await c.post(
            "/v1/channels/app/reports",
            data={"report": json.dumps({**body, "client_report_id": far["client_report_id"]})},
            files=[("photos", ("a.gif", gif.getvalue(), "image/gif"))],
            headers=key,
        )
        xml = await c.post(
            "/v1/channels/app/reports",
            content=b"<report/>",
            headers={**key, "Content-Type": "application/xml"},
        )
        records = await topics.read(REPORT_INTAKE.name, 2)
        keys = [decode(REPORTER_KEYS, r.value) for r in await topics.read(REPORTER_KEYS.name, 1)]
        events = [decode(REPORT_INTAKE, r.value) for r in records]
        photo_event = next(e for e in events if e.photos)
        stored = await FilesystemBlobStore(run.settings.blob_root).get(photo_event.photos[0].sha256)

    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert again.json()["receipt_code"] == first.json()["receipt_code"]
    assert multipart.status_code == 201, multipart.text
    assert (no_key.status_code, bad_key.status_code) == (401, 403)
    assert broken.status_code == 400
    assert impossible.status_code == 422 and impossible.json()["field"] == "location.lat"
    assert wrong_media.status_code == 415
    assert xml.status_code == 415
    assert len(events) == 2
    plain = next(e for e in events if not e.photos)
    assert plain.channel is Channel.APP
    assert plain.channel_message_id == body["client_report_id"]
    assert plain.location is not None and plain.location.area == "Cempaka Putih"
    assert b"PhoneMaker" not in stored
    assert plain.reporter is not None
    k = next(k for k in keys if k.key_id == plain.reporter.key_id)
    identity = open_identity(plain.reporter, base64.b64decode(k.key))
    assert identity == {
        "name": "Rudi Hartono",
        "contact": "+6281299887766",
        "handle": "jaki-user-889120",
        "reply": {"push_token": "fcm:dGVzdC1kZXZpY2UtdG9rZW4"},
    }
    assert await topics.count(REPORT_INTAKE.name) == 2


async def test_staff_entry_records_the_officer_and_refuses_bad_tokens(
    intake: Any, topics: Any, fixtures_dir: Path, exif_jpeg: bytes
) -> None:
    body = json.loads((fixtures_dir / "staff_call_centre.json").read_text())
    bearer = {"Authorization": f"Bearer {token()}"}
    await topics.publish_categories("pohon-tumbang")
    async with intake(jwt_secret=JWT_SECRET) as run:
        c = run.client
        first = await c.post("/v1/channels/staff/reports", json=body, headers=bearer)
        again = await c.post("/v1/channels/staff/reports", json=body, headers=bearer)
        letter = {
            **body,
            "channel": "letter",
            "entry_id": "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
            "text": "Surat dari RW 03 tentang saluran air yang tidak pernah dibersihkan.",
        }
        scanned = await c.post(
            "/v1/channels/staff/reports",
            data={"report": json.dumps(letter)},
            files=[("photos", ("halaman1.jpg", exif_jpeg, "image/jpeg"))],
            headers=bearer,
        )
        missing = await c.post("/v1/channels/staff/reports", json=body)
        other = token(secret="someone-elses-secret-0123456789abcdef")
        forged = await c.post(
            "/v1/channels/staff/reports", json=body, headers={"Authorization": f"Bearer {other}"}
        )
        expired = await c.post(
            "/v1/channels/staff/reports",
            json=body,
            headers={"Authorization": f"Bearer {token(ttl=-60)}"},
        )
        officer = await c.post(
            "/v1/channels/staff/reports",
            json=body,
            headers={"Authorization": f"Bearer {token(role='agency-officer')}"},
        )
        future = {**body, "entry_id": "9a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"}
        future["received_at"] = "2099-01-01T00:00:00+07:00"
        in_future = await c.post("/v1/channels/staff/reports", json=future, headers=bearer)
        unknown_channel = await c.post(
            "/v1/channels/staff/reports", json={**body, "channel": "fax"}, headers=bearer
        )
        events = [decode(REPORT_INTAKE, r.value) for r in await topics.read(REPORT_INTAKE.name, 2)]

    assert first.status_code == 201, first.text
    assert (again.status_code, again.json()["receipt_code"]) == (200, first.json()["receipt_code"])
    assert scanned.status_code == 201, scanned.text
    assert (missing.status_code, forged.status_code, expired.status_code) == (401, 401, 401)
    assert expired.json()["reason"] == "token expired"
    assert officer.status_code == 403
    assert (in_future.status_code, in_future.json()["field"]) == (422, "received_at")
    assert unknown_channel.status_code == 422
    call = next(e for e in events if e.channel is Channel.CALL_CENTRE)
    assert isinstance(call, ReportSubmitted)
    assert call.entered_by is not None
    assert (call.entered_by.id, call.entered_by.role) == ("op-17", Role.TICKET_ADMIN)
    assert call.entered_by.display_name == "Agus Santoso"
    assert call.received_at.isoformat() == "2026-11-24T07:05:00+00:00"
    assert call.privacy is Privacy.PRIVATE
    letter_event = next(e for e in events if e.channel is Channel.LETTER)
    assert len(letter_event.photos) == 1


async def test_web_form_photo_upload_is_stripped_and_stored(
    intake: Any, topics: Any, exif_jpeg: bytes
) -> None:
    limit = max(1024, len(exif_jpeg) + 100)
    async with intake(photo_max_bytes=limit) as run:
        answer = await run.client.post(
            "/v1/channels/web",
            data={"text": "Trotoar amblas di depan halte Harmoni", "public": "on"},
            files=[("photos", ("a.jpg", exif_jpeg, "image/jpeg"))],
            headers={"Accept": "application/json"},
        )
        too_big = await run.client.post(
            "/v1/channels/web",
            data={"text": "Trotoar amblas di depan halte Harmoni"},
            files=[("photos", ("a.jpg", exif_jpeg + b"\0" * limit, "image/jpeg"))],
            headers={"Accept": "application/json"},
        )
        event = decode(REPORT_INTAKE, (await topics.read(REPORT_INTAKE.name, 1))[0].value)
        stored = await FilesystemBlobStore(run.settings.blob_root).get(event.photos[0].sha256)
    assert answer.status_code == 201, answer.text
    assert event.photos[0].content_type == "image/jpeg"
    assert event.photos[0].size_bytes == len(stored)
    assert b"PhoneMaker" not in stored
    assert too_big.status_code == 413 and too_big.json()["error"] == "invalid_photo"
    assert await topics.count(REPORT_INTAKE.name) == 1


def _plain_post(url: str, fields: dict[str, str]) -> tuple[int, Any]:
    """POST form-encoded with nothing but the standard library."""
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(url, data=data, method="POST")  # noqa: S310
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _plain_get(url: str) -> tuple[int, Any]:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310
        return resp.status, json.loads(resp.read())


async def test_open311_georeport_v2_from_a_plain_http_client(
    intake: Any, serve: Any, topics: Any
) -> None:
    await topics.publish_categories("jalan-rusak", "lampu-jalan", "sampah")
    async with intake(open311_api_keys=[OPEN311_KEY]) as run, serve(run.app) as base:
        root = f"{base}/open311/v2"
        status, services = await asyncio.to_thread(_plain_get, f"{root}/services.json")
        request = {
            "api_key": OPEN311_KEY,
            "service_code": "lampu-jalan",
            "lat": "-6.2088",
            "long": "106.8456",
            "address_string": "Jl. Sudirman Kav. 1",
            "email": "pelapor@example.org",
            "first_name": "Maya",
            "last_name": "Putri",
            "device_id": "device-abc-123",
            "description": "Lampu jalan di depan gedung mati, area sangat gelap di malam hari.",
            "media_url": "https://example.org/photo.jpg",
        }
        created = await asyncio.to_thread(_plain_post, f"{root}/requests.json", request)
        retried = await asyncio.to_thread(_plain_post, f"{root}/requests.json", request)
        no_key = await asyncio.to_thread(
            _plain_post, f"{root}/requests.json", {**request, "api_key": "wrong"}
        )
        unknown = await asyncio.to_thread(
            _plain_post, f"{root}/requests.json", {**request, "service_code": "ufo"}
        )
        incomplete = await asyncio.to_thread(
            _plain_post,
            f"{root}/requests.json",
            {"api_key": OPEN311_KEY, "service_code": "sampah", "lat": "91"},
        )
        event = decode(REPORT_INTAKE, (await topics.read(REPORT_INTAKE.name, 1))[0].value)

    assert status == 200
    codes = {s["service_code"] for s in services}
    assert {"jalan-rusak", "lampu-jalan", "sampah"} <= codes
    lamp = next(s for s in services if s["service_code"] == "lampu-jalan")
    assert lamp["metadata"] is True and lamp["type"] == "batch"  # the privacy attribute
    assert set(lamp) >= {"service_code", "service_name", "description", "keywords", "group"}
    assert created[0] == 201, created
    assert isinstance(created[1], list) and len(created[1]) == 1
    # The id of the public report is not known at once: a token (the receipt code).
    receipt = created[1][0]["token"]
    assert receipt == event.receipt_code
    assert retried[0] == 200 and retried[1][0]["token"] == receipt
    assert no_key[0] == 403 and no_key[1][0]["code"] == 403
    assert unknown[0] == 404 and "service_code not found" in unknown[1][0]["description"]
    assert "ufo" not in unknown[1][0]["description"]  # never echoes what was typed
    assert incomplete[0] == 400
    descriptions = " ".join(e["description"] for e in incomplete[1])
    assert "description is required" in descriptions and "lat" in descriptions
    assert all(set(e) == {"code", "description"} for e in incomplete[1])
    assert event.channel is Channel.OPEN311
    assert event.privacy is Privacy.PRIVATE  # no attribute[privacy]=public
    assert event.category_hint == "lampu-jalan"
    assert event.location is not None and event.location.point is not None
    assert await topics.count(REPORT_INTAKE.name) == 1
