"""Provider webhooks on real PostgreSQL, Kafka and Redis, with the providers' documented
payloads (tests/fixtures): WhatsApp Cloud API, Messenger, Instagram, X Account Activity and
the SMS gateway. Each: valid delivery filed, redelivery answered with the same receipt,
bad or missing signature refused, malformed payload refused; and two intake processes
receiving the same WhatsApp delivery at the same moment file it once."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from aduan_contracts import decode
from aduan_contracts.enums import Channel, Privacy
from aduan_contracts.events import ReportSubmitted
from aduan_contracts.topics import REPORT_INTAKE, REPORTER_KEYS
from aduan_intake.adapters.tables import SUBMISSIONS
from aduan_intake.bootstrap import build
from aduan_kit.blobs import FilesystemBlobStore
from aduan_kit.crypto import open_identity

pytestmark = pytest.mark.integration

APP_SECRET = "meta-app-secret-for-tests-0123456789"
VERIFY = "verify-token-for-tests"
X_SECRET = "x-consumer-secret-for-tests-0123456789"
SMS_TOKEN = "twilio-auth-token-for-tests"
SMS_URL = "https://aduan.example.go.id/v1/channels/sms"
JSON_CT = {"Content-Type": "application/json"}


def hub(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", **JSON_CT}


def load(fixtures: Path, name: str) -> bytes:
    return (fixtures / name).read_bytes()


async def events(topics: Any, want: int) -> list[ReportSubmitted]:
    return [decode(REPORT_INTAKE, r.value) for r in await topics.read(REPORT_INTAKE.name, want)]


async def sealed_identity(topics: Any, event: ReportSubmitted) -> dict[str, Any]:
    keys = [decode(REPORTER_KEYS, r.value) for r in await topics.read(REPORTER_KEYS.name, 1)]
    assert event.reporter is not None
    key = next(k for k in keys if k.key_id == event.reporter.key_id)
    return open_identity(event.reporter, base64.b64decode(key.key))


def meta_settings(**extra: Any) -> dict[str, Any]:
    return {
        "whatsapp_verify_token": VERIFY,
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_access_token": "graph-token",
        "facebook_verify_token": VERIFY,
        "facebook_app_secret": APP_SECRET,
        "instagram_verify_token": VERIFY,
        "instagram_app_secret": APP_SECRET,
        "x_consumer_secret": X_SECRET,
        "sms_auth_token": SMS_TOKEN,
        "sms_public_url": SMS_URL,
        **extra,
    }


async def test_whatsapp_text_image_duplicates_signatures_and_malformed(
    intake: Any, provider: Any, topics: Any, fixtures_dir: Path, exif_jpeg: bytes
) -> None:
    async def media_meta(request: Request) -> Response:
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": f"{provider.url}/lookaside/1209988766412345",
                "mime_type": "image/jpeg",
                "sha256": "x",
                "file_size": len(exif_jpeg),
                "id": "1209988766412345",
            }
        )

    async def media_bytes(request: Request) -> Response:
        return Response(exif_jpeg, media_type="image/jpeg")

    provider.routes["/v21.0/1209988766412345"] = media_meta
    provider.routes["/lookaside/1209988766412345"] = media_bytes
    text_body = load(fixtures_dir, "whatsapp_text.json")
    image_body = load(fixtures_dir, "whatsapp_image.json")
    status_body = load(fixtures_dir, "whatsapp_status.json")
    settings = meta_settings(whatsapp_graph_url=f"{provider.url}/v21.0")
    async with intake(**settings) as run:
        c = run.client
        ok = await c.get(
            "/v1/channels/whatsapp",
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY,
                "hub.challenge": "1158201444",
            },
        )
        wrong = await c.get(
            "/v1/channels/whatsapp",
            params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
        )
        assert (ok.status_code, ok.text) == (200, "1158201444")
        assert wrong.status_code == 403

        first = await c.post("/v1/channels/whatsapp", content=text_body, headers=hub(text_body))
        again = await c.post("/v1/channels/whatsapp", content=text_body, headers=hub(text_body))
        image = await c.post("/v1/channels/whatsapp", content=image_body, headers=hub(image_body))
        fetched = len(provider.seen)
        # Meta delivers the image again: answered as the duplicate, its media not fetched again.
        image_again = await c.post(
            "/v1/channels/whatsapp", content=image_body, headers=hub(image_body)
        )
        fetched_again = len(provider.seen) - fetched
        status = await c.post(
            "/v1/channels/whatsapp", content=status_body, headers=hub(status_body)
        )
        unsigned = await c.post("/v1/channels/whatsapp", content=text_body, headers=JSON_CT)
        forged = await c.post(
            "/v1/channels/whatsapp", content=text_body, headers=hub(text_body, "other-secret")
        )
        tampered = await c.post(
            "/v1/channels/whatsapp",
            content=text_body.replace(b"mati", b"MATI"),
            headers=hub(text_body),
        )
        broken = b'{"object": "whatsapp_business_account", "entry": [{'
        malformed = await c.post("/v1/channels/whatsapp", content=broken, headers=hub(broken))
        wrong_shape = b'{"object": "page", "entry": []}'
        shape = await c.post("/v1/channels/whatsapp", content=wrong_shape, headers=hub(wrong_shape))
        published = await events(topics, 2)
        identity = await sealed_identity(topics, next(e for e in published if e.photos == ()))

    assert first.status_code == 200, first.text
    assert first.json()["filed"][0]["duplicate"] is False
    assert again.json()["filed"][0]["duplicate"] is True
    assert again.json()["filed"][0]["receipt_code"] == first.json()["filed"][0]["receipt_code"]
    assert image.status_code == 200, image.text
    assert len(image.json()["filed"]) == 1
    assert [f["duplicate"] for f in image_again.json()["filed"]] == [True]
    assert (
        image_again.json()["filed"][0]["receipt_code"] == image.json()["filed"][0]["receipt_code"]
    )
    assert fetched_again == 0
    reasons = {i["reason"] for i in image.json()["ignored"]}
    assert any("no complaint text" in r for r in reasons)  # the bare location pin
    assert any("sticker" in r for r in reasons)
    assert status.json() == {"filed": [], "ignored": [], "notes": []}
    assert (unsigned.status_code, unsigned.json()["error"]) == (401, "bad_signature")
    assert (forged.status_code, tampered.status_code) == (403, 403)
    assert "does not match" in forged.json()["reason"]
    assert (malformed.status_code, malformed.json()["error"]) == (400, "malformed_payload")
    assert shape.status_code == 400 and "object" in shape.json()["reason"]

    assert len(published) == 2  # the text and the captioned image; nothing else
    text_event = next(e for e in published if not e.photos)
    photo_event = next(e for e in published if e.photos)
    assert text_event.channel is Channel.WHATSAPP
    assert text_event.privacy is Privacy.PRIVATE
    assert text_event.channel_message_id.startswith("wamid.")
    assert text_event.received_at.timestamp() == 1795420800
    assert identity == {
        "name": "Dewi Lestari",
        "contact": "+6281234567001",
        "handle": "6281234567001",
        "reply": {"phone_number_id": "106540352242922"},
    }
    # The media was fetched through the Graph API with the access token.
    graph = [s for s in provider.seen if s[1] == "/v21.0/1209988766412345"]
    assert graph and graph[0][2]["authorization"] == "Bearer graph-token"
    ref = photo_event.photos[0]
    assert ref.point is not None and ref.point.lat == pytest.approx(-6.186111, abs=1e-5)
    stored = await FilesystemBlobStore(run.settings.blob_root).get(ref.sha256)
    assert b"PhoneMaker" not in stored
    with Image.open(io.BytesIO(stored)) as img:
        assert not img.getexif()
    assert await topics.count(REPORT_INTAKE.name) == 2


async def test_the_same_whatsapp_delivery_on_two_intake_processes_files_once(
    isolated: Any, tmp_path: Path, topics: Any, fixtures_dir: Path
) -> None:
    from aduan_intake.config import Settings

    settings = Settings(
        kafka_bootstrap_servers=isolated.kafka,
        database_url=isolated.database("intake"),
        redis_url=isolated.redis_url,
        redis_prefix=isolated.redis_prefix,
        topic_namespace=isolated.namespace,
        environment="test",
        blob_root=str(tmp_path / "blobs"),
        whatsapp_app_secret=APP_SECRET,
        smtp_enabled=False,
    )
    template = json.loads(load(fixtures_dir, "whatsapp_text.json"))
    app_a, runtime_a = build(settings)
    app_b, runtime_b = build(settings)
    await runtime_a.start()
    await runtime_b.start()
    rounds = 5
    try:
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app_a), base_url="http://a") as a,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app_b), base_url="http://b") as b,
        ):
            for n in range(rounds):
                template["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = f"wamid.race{n}"
                body = json.dumps(template).encode()
                one, two = await asyncio.gather(
                    a.post("/v1/channels/whatsapp", content=body, headers=hub(body)),
                    b.post("/v1/channels/whatsapp", content=body, headers=hub(body)),
                )
                assert (one.status_code, two.status_code) == (200, 200), (one.text, two.text)
                got = [one.json()["filed"][0], two.json()["filed"][0]]
                assert got[0]["receipt_code"] == got[1]["receipt_code"]
                assert sorted(g["duplicate"] for g in got) == [False, True]
        async with runtime_a.sessions() as session:
            filed = await session.scalar(select(func.count()).select_from(SUBMISSIONS))
    finally:
        await runtime_a.stop()
        await runtime_b.stop()
    assert filed == rounds
    assert await topics.count(REPORT_INTAKE.name) == rounds


async def test_messenger_and_instagram(
    intake: Any, provider: Any, topics: Any, fixtures_dir: Path, exif_jpeg: bytes
) -> None:
    async def cdn(request: Request) -> Response:
        return Response(exif_jpeg, media_type="image/jpeg")

    provider.routes["/v/t1.15752-9/photo.jpg"] = cdn
    messenger = load(fixtures_dir, "messenger_message.json").replace(
        b"https://scontent.xx.fbcdn.net", provider.url.encode()
    )
    instagram = load(fixtures_dir, "instagram_messages.json")
    async with intake(**meta_settings(meta_media_hosts=["127.0.0.1"])) as run:
        c = run.client
        fb = await c.post("/v1/channels/facebook", content=messenger, headers=hub(messenger))
        fb_again = await c.post("/v1/channels/facebook", content=messenger, headers=hub(messenger))
        ig = await c.post("/v1/channels/instagram", content=instagram, headers=hub(instagram))
        ig_again = await c.post("/v1/channels/instagram", content=instagram, headers=hub(instagram))
        fb_forged = await c.post(
            "/v1/channels/facebook", content=messenger, headers=hub(messenger, "x" * 20)
        )
        ig_unsigned = await c.post("/v1/channels/instagram", content=instagram, headers=JSON_CT)
        fb_bad = b'{"object": "page", "entry": [{"messaging": [{"message": {"text": "x"}}]}]}'
        fb_malformed = await c.post("/v1/channels/facebook", content=fb_bad, headers=hub(fb_bad))
        ig_bad = b"not json"
        ig_malformed = await c.post("/v1/channels/instagram", content=ig_bad, headers=hub(ig_bad))
        verify = await c.get(
            "/v1/channels/instagram",
            params={"hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "42"},
        )
        published = await events(topics, 3)

    assert fb.status_code == 200, fb.text
    assert [f["duplicate"] for f in fb.json()["filed"]] == [False]
    assert [i["reason"] for i in fb.json()["ignored"]] == ["echo of our own message"]
    assert [f["duplicate"] for f in fb_again.json()["filed"]] == [True]
    assert [f["duplicate"] for f in ig.json()["filed"]] == [False, False]
    assert [f["duplicate"] for f in ig_again.json()["filed"]] == [True, True]
    assert fb_forged.status_code == 403
    assert ig_unsigned.status_code == 401
    assert fb_malformed.status_code == 400 and "mid" in fb_malformed.json()["reason"]
    assert ig_malformed.status_code == 400
    assert verify.text == "42"
    assert len(published) == 3
    by_channel = {e.channel: e for e in published if e.channel is Channel.FACEBOOK}
    fb_event = by_channel[Channel.FACEBOOK]
    assert len(fb_event.photos) == 1
    stored = await FilesystemBlobStore(run.settings.blob_root).get(fb_event.photos[0].sha256)
    assert b"PhoneMaker" not in stored
    ig_ids = sorted(e.channel_message_id for e in published if e.channel is Channel.INSTAGRAM)
    dm_mid = json.loads(instagram)["entry"][0]["messaging"][0]["message"]["mid"]
    assert ig_ids == sorted([dm_mid, "comment:17865799348089039"])
    assert await topics.count(REPORT_INTAKE.name) == 3


def x_sig(body: bytes, secret: str = X_SECRET) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


async def test_x_account_activity(intake: Any, topics: Any, fixtures_dir: Path) -> None:
    body = load(fixtures_dir, "x_activity.json")
    signed = {"x-twitter-webhooks-signature": x_sig(body), **JSON_CT}
    async with intake(**meta_settings()) as run:
        c = run.client
        crc = await c.get("/v1/channels/x", params={"crc_token": "challenge-123"})
        first = await c.post("/v1/channels/x", content=body, headers=signed)
        again = await c.post("/v1/channels/x", content=body, headers=signed)
        forged = await c.post(
            "/v1/channels/x",
            content=body,
            headers={"x-twitter-webhooks-signature": x_sig(body, "wrong"), **JSON_CT},
        )
        missing = await c.post("/v1/channels/x", content=body, headers=JSON_CT)
        bad = b'{"direct_message_events": []}'
        malformed = await c.post(
            "/v1/channels/x",
            content=bad,
            headers={"x-twitter-webhooks-signature": x_sig(bad), **JSON_CT},
        )
        published = await events(topics, 2)
        identities = {e.channel_message_id: await sealed_identity(topics, e) for e in published}

    expected_crc = base64.b64encode(
        hmac.new(X_SECRET.encode(), b"challenge-123", hashlib.sha256).digest()
    ).decode()
    assert crc.json() == {"response_token": f"sha256={expected_crc}"}
    assert first.status_code == 200, first.text
    assert [f["duplicate"] for f in first.json()["filed"]] == [False, False]
    assert [i["reason"] for i in first.json()["ignored"]] == ["our own message"]
    assert [f["duplicate"] for f in again.json()["filed"]] == [True, True]
    assert (forged.status_code, missing.status_code, malformed.status_code) == (403, 401, 400)
    mention = next(e for e in published if e.channel_message_id.startswith("tweet:"))
    assert mention.location is not None and mention.location.point is not None
    assert mention.location.point.lat == pytest.approx(-6.1856)
    assert identities["dm:1795421200000000001"]["handle"] == "2244994945"
    assert identities["tweet:1795421300000000003"]["reply"] == {
        "kind": "mention",
        "in_reply_to_status_id": "1795421300000000003",
    }


def twilio(params: list[tuple[str, str]], url: str = SMS_URL, token: str = SMS_TOKEN) -> str:
    data = url + "".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


async def test_sms_gateway(intake: Any, topics: Any, fixtures_dir: Path) -> None:
    raw = (fixtures_dir / "sms_twilio.txt").read_text().strip()
    params = parse_qsl(raw, keep_blank_values=True)
    form_ct = {"Content-Type": "application/x-www-form-urlencoded"}
    signed = {"X-Twilio-Signature": twilio(params), **form_ct}
    async with intake(**meta_settings()) as run:
        c = run.client
        first = await c.post("/v1/channels/sms", content=raw, headers=signed)
        again = await c.post("/v1/channels/sms", content=raw, headers=signed)
        forged = await c.post(
            "/v1/channels/sms",
            content=raw.replace("Matraman", "Menteng"),
            headers=signed,
        )
        missing = await c.post("/v1/channels/sms", content=raw, headers=form_ct)
        empty = [(k, "" if k == "Body" else v) for k, v in params]
        no_body = await c.post(
            "/v1/channels/sms",
            content=urlencode(empty),
            headers={"X-Twilio-Signature": twilio(empty), **form_ct},
        )
        as_json = await c.post(
            "/v1/channels/sms", json={"Body": "x"}, headers={"X-Twilio-Signature": "abc"}
        )
        published = await events(topics, 1)
        identity = await sealed_identity(topics, published[0])

    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith("text/xml")
    assert "<Response>" in first.text
    assert first.headers["X-Aduan-Duplicate"] == "false"
    assert again.headers["X-Aduan-Duplicate"] == "true"
    assert again.headers["X-Aduan-Receipt-Code"] == first.headers["X-Aduan-Receipt-Code"]
    assert (forged.status_code, missing.status_code) == (403, 401)
    assert (no_body.status_code, no_body.json()["field"]) == (422, "Body")
    assert as_json.status_code == 415
    assert published[0].channel is Channel.SMS
    assert published[0].channel_message_id == "SM1f0e8a2b3c4d5e6f708192a3b4c5d6e7"
    assert identity["contact"] == "+6281355556666"
    assert identity["reply"] == {"to": "+6281100002222"}
    assert await topics.count(REPORT_INTAKE.name) == 1


async def test_guessing_a_verify_token_is_rate_limited(intake: Any) -> None:
    async with intake(**meta_settings(rate_limit_posts=2)) as run:
        guesses = [
            await run.client.get(
                "/v1/channels/facebook",
                params={"hub.mode": "subscribe", "hub.verify_token": f"g{n}", "hub.challenge": "1"},
            )
            for n in range(3)
        ]
        crc = [await run.client.get("/v1/channels/x", params={"crc_token": "t"}) for _ in range(2)]
    assert [g.status_code for g in guesses] == [403, 403, 429]
    assert [c.status_code for c in crc] == [429, 429]  # the same sender, the same window
