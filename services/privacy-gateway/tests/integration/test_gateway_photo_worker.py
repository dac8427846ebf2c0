"""The gateway's photo worker on real Kafka, PostgreSQL and Redis (issue 20): a report's
photos get blurred copies; a photo the detector cannot read is recorded as failed, served
as "cannot be shown" (409, never the original) and dead-lettered once with the cause; a
redelivered event changes nothing (the inbox)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import cv2
import httpx
import numpy as np
import pytest
import pytest_asyncio
import skimage.data as samples
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from PIL import Image

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.events import ReportStatusChanged, ReportSubmitted
from aduan_contracts.serialization import encode
from aduan_contracts.topics import REPORT_INTAKE, STATUS_CHANGED
from aduan_contracts.values import Actor, PhotoRef
from aduan_gateway.auth import issue_access_token
from aduan_gateway.bootstrap import build
from aduan_gateway.config import Settings
from aduan_gateway.photos import Derivatives, backfill
from aduan_kit.blobs import FilesystemBlobStore
from aduan_testing.helpers import eventually
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration


class Gw:
    def __init__(
        self,
        iso: Isolation,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        derivatives: Derivatives,
        settings: Settings,
    ) -> None:
        self.iso, self.client, self.producer = iso, client, producer
        self.derivatives, self.settings = derivatives, settings
        self.secret = settings.jwt_secret

    async def send(self, topic: str, event: Any, key: UUID) -> None:
        await self.producer.send_and_wait(
            f"{self.iso.namespace}.{topic}", encode(event), key=str(key).encode()
        )

    def validator(self) -> dict[str, str]:
        token = issue_access_token(self.secret, "val-1", Role.VALIDATOR.value, name="val-1")
        return {"Authorization": f"Bearer {token}"}


@pytest_asyncio.fixture
async def gw(isolated: Isolation, tmp_path: Path) -> AsyncIterator[Gw]:
    settings = Settings(
        kafka_bootstrap_servers=isolated.kafka,
        database_url=isolated.database("gateway"),
        redis_url=isolated.redis_url,
        redis_prefix=isolated.redis_prefix,
        topic_namespace=isolated.namespace,
        environment="test",
        blob_root=str(tmp_path / "blobs"),
    )
    app, _ = build(settings)
    await app.state.gateway.start()
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    await producer.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield Gw(isolated, client, producer, app.state.derivatives, settings)
    finally:
        await producer.stop()
        await app.state.gateway.stop()


def street_png() -> bytes:
    load: Callable[[], Any] = samples.coffee
    img = np.ascontiguousarray(load())
    plate = np.full((60, 190, 3), 18, np.uint8)
    cv2.putText(plate, "B 1234 XYZ", (8, 40), cv2.FONT_HERSHEY_DUPLEX, 0.95, (245,) * 3, 2)
    img[300:360, 350:540] = plate
    out = io.BytesIO()
    Image.fromarray(img).save(out, format="PNG")
    return out.getvalue()


def report_with(photos: tuple[PhotoRef, ...]) -> ReportSubmitted:
    return ReportSubmitted(
        report_id=uuid4(),
        receipt_code="ADU-PH0T-0001",
        channel=Channel.WEB,
        channel_message_id=f"web.{uuid4().hex}",
        text="Jalan berlubang, mobil parkir di sampingnya.",
        title="Jalan berlubang",
        privacy=Privacy.PUBLIC,
        received_at=datetime(2026, 11, 3, 8, 0, tzinfo=UTC),
        photos=photos,
    )


def received(report: ReportSubmitted) -> ReportStatusChanged:
    return ReportStatusChanged(
        report_id=report.report_id,
        receipt_code=report.receipt_code,
        channel=report.channel,
        version=1,
        from_status=None,
        to_status=ReportStatus.RECEIVED,
        actor=Actor(id="workflow", role=Role.SYSTEM),
    )


async def dead_letters(iso: Isolation, event_id: UUID) -> list[dict[str, str]]:
    """Every dead letter of the intake topic for this event, read from the start."""
    topic = f"{iso.namespace}.{REPORT_INTAKE.name}.dlq"
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=iso.kafka, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        found: list[dict[str, str]] = []
        batches = await consumer.getmany(timeout_ms=2000)
        for records in batches.values():
            for record in records:
                if str(event_id).encode() in (record.value or b""):
                    found.append({k: v.decode() for k, v in record.headers or ()})
        return found
    finally:
        await consumer.stop()


async def test_photos_get_blurred_copies_and_an_unreadable_one_is_dead_lettered(
    gw: Gw,
) -> None:
    blobs: FilesystemBlobStore = gw.derivatives.blobs
    original = street_png()
    good = await blobs.put(original)
    # Stored bytes no decoder reads (intake would never store them; a damaged volume might).
    bad = await blobs.put(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    refs = (
        PhotoRef(sha256=good, content_type="image/png", size_bytes=len(original)),
        PhotoRef(sha256=bad, content_type="image/png", size_bytes=208),
    )
    report = report_with(refs)
    url = f"/v1/reports/{report.report_id}/photos"
    await gw.send(REPORT_INTAKE.name, report, report.report_id)
    await gw.send(STATUS_CHANGED.name, received(report), report.report_id)

    async def ready() -> bool:
        return (await gw.derivatives.get(good)) is not None and (
            await gw.derivatives.get(bad)
        ) is not None

    await eventually(ready, "both photos handled", timeout=60)
    made = await gw.derivatives.get(good)
    assert made is not None and made.status == "ready" and made.plates >= 1
    failed = await gw.derivatives.get(bad)
    assert failed is not None and failed.status == "failed"
    assert failed.cause is not None and "cannot decode" in failed.cause

    async def served() -> httpx.Response | None:
        got = await gw.client.get(f"{url}/{good}", headers=gw.validator())
        return got if got.status_code == 200 else None

    got = await eventually(served, "the blurred copy", timeout=30)
    assert got.headers["content-type"] == "image/jpeg" and got.content != original
    refused = await gw.client.get(f"{url}/{bad}", headers=gw.validator())
    assert refused.status_code == 409 and "could not" in refused.json()["detail"]
    assert refused.content != await blobs.get(bad)

    letters = await eventually(
        lambda: dead_letters(gw.iso, report.event_id), "the dead letter", timeout=30
    )
    assert len(letters) == 1
    assert letters[0]["dlq_consumer"] == "gateway.photos"
    assert "PhotoUnreadable" in letters[0]["dlq_error"] and bad[:12] in letters[0]["dlq_error"]

    # The same event again (a redelivery), then a new report behind it on its partition:
    # once the new one is prepared, the repeat was seen and changed nothing.
    await gw.send(REPORT_INTAKE.name, report, report.report_id)
    load_cat: Callable[[], Any] = samples.chelsea
    cat = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(load_cat())).save(cat, format="PNG")
    marker = await blobs.put(cat.getvalue())
    follow = report_with(
        (PhotoRef(sha256=marker, content_type="image/png", size_bytes=len(cat.getvalue())),)
    )
    # Keyed like the first report: the same partition, so it is consumed after the repeat.
    await gw.send(REPORT_INTAKE.name, follow, report.report_id)
    await eventually(lambda: gw.derivatives.get(marker), "the marker photo", timeout=60)
    assert await gw.derivatives.get(good) == made
    assert len(await dead_letters(gw.iso, report.event_id)) == 1

    # A photo without a manifest (stored before the worker existed, or its event gone from
    # Kafka): `python -m aduan_gateway.photos backfill` prepares it, and only it.
    manifest = Path(gw.settings.blob_root) / "derived" / good[:2] / f"{good}.json"
    manifest.unlink()
    assert (await gw.client.get(f"{url}/{good}", headers=gw.validator())).status_code == 202
    counts = await backfill(gw.settings)
    assert counts["ready"] == 1 and counts["already"] >= 2, counts
    assert await gw.derivatives.get(good) == made
