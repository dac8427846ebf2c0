"""The notifier on real Kafka and PostgreSQL: a status change is recorded once per channel and
announced on the notifications topic; staff-entered reports wait for intake to learn whether
a contact was left; a shredded key silences the reporter for good."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy import func, select

from aduan_contracts import decode, encode
from aduan_contracts.enums import Channel, ReportStatus, Role
from aduan_contracts.events import (
    NotificationDelivered,
    ReporterKeyIssued,
    ReporterKeyShredded,
    ReportStatusChanged,
    ReportSubmitted,
)
from aduan_contracts.topics import NOTIFICATIONS, REPORT_INTAKE, REPORTER_KEYS, STATUS_CHANGED
from aduan_kit.crypto import new_key, seal_identity
from aduan_kit.runtime import ServiceRuntime
from aduan_notifier.bootstrap import build
from aduan_notifier.config import Settings
from aduan_notifier.tables import DELIVERIES, PENDING, RECIPIENTS
from aduan_notifier.tables import REPORTER_KEYS as KEYS
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

SYSTEM = {"id": "workflow", "role": Role.SYSTEM}
PORTAL = "https://aduan.example.go.id"


class Notifier:
    def __init__(
        self,
        iso: Isolation,
        runtime: ServiceRuntime,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
    ) -> None:
        self.iso, self.runtime, self.client, self.producer = iso, runtime, client, producer

    async def publish(self, topic: str, event: BaseModel, key: uuid.UUID) -> None:
        await self.producer.send_and_wait(
            f"{self.iso.namespace}.{topic}", encode(event), key=str(key).encode()
        )

    async def deliveries(self, report_id: uuid.UUID) -> list[dict[str, Any]]:
        r = await self.client.get("/v1/deliveries", params={"report_id": str(report_id)})
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()
        return items

    async def scalar(self, query: Any) -> Any:
        async with self.runtime.sessions() as session:
            return await session.scalar(query)


@pytest_asyncio.fixture
async def notifier(isolated: Isolation) -> AsyncIterator[Notifier]:
    settings = Settings(
        kafka_bootstrap_servers=isolated.kafka,
        database_url=isolated.database("notifier"),
        redis_url=isolated.redis_url,
        redis_prefix=isolated.redis_prefix,
        topic_namespace=isolated.namespace,
        environment="test",
        portal_base_url=PORTAL + "/",
    )
    app, runtime = build(settings)
    await runtime.start()
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    await producer.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as client:
            yield Notifier(isolated, runtime, client, producer)
    finally:
        await producer.stop()
        await runtime.stop()


async def eventually(probe: Callable[[], Awaitable[Any]], what: str, timeout: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if result := await probe():
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def read_topic(bootstrap: str, topic: str, settle: float = 3.0) -> list[Any]:
    """Everything on `topic`, reading until nothing new arrived for `settle` seconds."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    got: list[Any] = []
    try:
        quiet_since = asyncio.get_running_loop().time()
        while asyncio.get_running_loop().time() - quiet_since < settle:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                got.extend(records)
                quiet_since = asyncio.get_running_loop().time()
    finally:
        await consumer.stop()
    return got


def code() -> str:
    # Hex digits are all valid in the receipt code's Crockford alphabet.
    return f"ADU-{uuid.uuid4().hex[:4].upper()}-{uuid.uuid4().hex[:4].upper()}"


def status(
    report_id: uuid.UUID,
    receipt: str,
    channel: Channel,
    version: int,
    from_status: ReportStatus | None,
    to_status: ReportStatus,
) -> ReportStatusChanged:
    return ReportStatusChanged.model_validate(
        {
            "report_id": report_id,
            "receipt_code": receipt,
            "channel": channel,
            "version": version,
            "from_status": from_status,
            "to_status": to_status,
            "actor": SYSTEM,
        }
    )


def submitted(
    report_id: uuid.UUID,
    receipt: str,
    channel: Channel,
    language: str = "id",
    key_id: uuid.UUID | None = None,
    key: bytes | None = None,
) -> ReportSubmitted:
    reporter = None
    if key_id is not None and key is not None:
        reporter = seal_identity({"name": "Siti", "phone": "081234567890"}, key_id, key)
    return ReportSubmitted(
        report_id=report_id,
        receipt_code=receipt,
        channel=channel,
        channel_message_id=uuid.uuid4().hex,
        text="Lampu jalan mati di depan rumah saya.",
        language=language,  # type: ignore[arg-type]
        received_at=datetime.now(UTC),
        reporter=reporter,
    )


async def test_received_is_recorded_once_and_announced(notifier: Notifier) -> None:
    rid, receipt = uuid.uuid4(), code()
    event = status(rid, receipt, Channel.SMS, 1, None, ReportStatus.RECEIVED)
    await notifier.publish(STATUS_CHANGED.name, event, rid)
    await notifier.publish(STATUS_CHANGED.name, event, rid)  # redelivered: same event id

    items = await eventually(lambda: notifier.deliveries(rid), "the delivery record")
    marker = uuid.uuid4()
    await notifier.publish(
        STATUS_CHANGED.name,
        status(marker, code(), Channel.SMS, 1, None, ReportStatus.RECEIVED),
        rid,  # same key, same partition: handled after it
    )
    await eventually(lambda: notifier.deliveries(marker), "the marker delivery")
    items = await notifier.deliveries(rid)
    assert len(items) == 1
    item = items[0]
    assert item["template"] == "received"
    assert item["receipt_code"] == receipt
    assert item["channel"] == "sms" and item["language"] == "id"
    assert item["state"] == "recorded" and item["attempts"] == 1
    assert item["status_event_id"] == str(event.event_id)
    assert "body" not in item
    body = await notifier.scalar(select(DELIVERIES.c.body).where(DELIVERIES.c.report_id == rid))
    assert receipt in body
    assert f"{PORTAL}/track/{receipt}" in body

    records = await read_topic(notifier.iso.kafka, f"{notifier.iso.namespace}.{NOTIFICATIONS.name}")
    ours = [r for r in records if r.key == str(rid).encode()]
    assert len(ours) == 1
    announced = decode(NOTIFICATIONS, ours[0].value)
    assert isinstance(announced, NotificationDelivered)
    assert announced.status_event_id == event.event_id
    assert announced.template == "received"
    assert announced.channel is Channel.SMS
    assert announced.correlation_id == event.correlation_id


async def test_internal_steps_record_nothing_and_language_follows_intake(
    notifier: Notifier,
) -> None:
    rid, receipt = uuid.uuid4(), code()
    await notifier.publish(REPORT_INTAKE.name, submitted(rid, receipt, Channel.EMAIL, "en"), rid)
    await eventually(
        lambda: notifier.scalar(select(RECIPIENTS.c.language).where(RECIPIENTS.c.report_id == rid)),
        "the recipient row",
    )
    await notifier.publish(
        STATUS_CHANGED.name,
        status(rid, receipt, Channel.EMAIL, 2, ReportStatus.RECEIVED, ReportStatus.COORDINATION),
        rid,
    )
    await notifier.publish(
        STATUS_CHANGED.name,
        status(rid, receipt, Channel.EMAIL, 3, ReportStatus.COORDINATION, ReportStatus.DISPATCHED),
        rid,
    )
    items = await eventually(lambda: notifier.deliveries(rid), "the dispatched delivery")
    assert [(i["template"], i["language"]) for i in items] == [("dispatched", "en")]
    subject = await notifier.scalar(
        select(DELIVERIES.c.subject).where(DELIVERIES.c.report_id == rid)
    )
    assert subject == f"Report {receipt} forwarded"


async def test_walk_in_waits_for_intake_and_needs_a_contact(notifier: Notifier) -> None:
    key_id, key = uuid.uuid4(), new_key()
    with_contact, without = uuid.uuid4(), uuid.uuid4()
    code_with, code_without = code(), code()
    # Workflow's first status change usually overtakes intake's event at the notifier.
    for rid, receipt in ((with_contact, code_with), (without, code_without)):
        await notifier.publish(
            STATUS_CHANGED.name,
            status(rid, receipt, Channel.WALK_IN, 1, None, ReportStatus.RECEIVED),
            rid,
        )

    async def parked() -> bool:
        return bool(await notifier.scalar(select(func.count()).select_from(PENDING)) == 2)

    await eventually(parked, "both status changes to be parked")
    assert await notifier.deliveries(with_contact) == []

    await notifier.publish(
        REPORT_INTAKE.name,
        submitted(with_contact, code_with, Channel.WALK_IN, key_id=key_id, key=key),
        with_contact,
    )
    await notifier.publish(
        REPORT_INTAKE.name, submitted(without, code_without, Channel.WALK_IN), without
    )
    items = await eventually(lambda: notifier.deliveries(with_contact), "the walk-in delivery")
    assert [i["template"] for i in items] == ["received"]
    assert items[0]["receipt_code"] == code_with

    async def resolved() -> bool:
        return bool(await notifier.scalar(select(func.count()).select_from(PENDING)) == 0)

    await eventually(resolved, "the parked changes to be resolved")
    await notifier.publish(
        STATUS_CHANGED.name,
        status(
            without,
            code_without,
            Channel.WALK_IN,
            2,
            ReportStatus.RECEIVED,
            ReportStatus.DISPATCHED,
        ),
        without,
    )
    # The identity stayed sealed; the recipient row holds it as ciphertext only.
    sealed = await notifier.scalar(
        select(RECIPIENTS.c.sealed_identity).where(RECIPIENTS.c.report_id == with_contact)
    )
    assert sealed["key_id"] == str(key_id) and "Siti" not in str(sealed)
    marker = uuid.uuid4()
    await notifier.publish(
        STATUS_CHANGED.name,
        status(marker, code(), Channel.APP, 1, None, ReportStatus.RECEIVED),
        without,  # same key, same partition: handled after it
    )
    await eventually(lambda: notifier.deliveries(marker), "the marker delivery")
    assert await notifier.deliveries(without) == []


async def test_shredded_key_erases_the_reporter(notifier: Notifier) -> None:
    key_id, key = uuid.uuid4(), new_key()
    rid, receipt = uuid.uuid4(), code()
    await notifier.publish(
        REPORTER_KEYS.name,
        ReporterKeyIssued(key_id=key_id, key=base64.b64encode(key).decode()),
        key_id,
    )
    await notifier.publish(
        REPORT_INTAKE.name,
        submitted(rid, receipt, Channel.WHATSAPP, key_id=key_id, key=key),
        rid,
    )
    await notifier.publish(
        STATUS_CHANGED.name,
        status(rid, receipt, Channel.WHATSAPP, 1, None, ReportStatus.RECEIVED),
        rid,
    )
    await eventually(lambda: notifier.deliveries(rid), "the first delivery")
    assert await notifier.scalar(select(KEYS.c.key).where(KEYS.c.key_id == key_id))

    await notifier.publish(REPORTER_KEYS.name, ReporterKeyShredded(key_id=key_id), key_id)

    async def erased() -> bool:
        erased_at = await notifier.scalar(
            select(RECIPIENTS.c.erased_at).where(RECIPIENTS.c.report_id == rid)
        )
        return erased_at is not None

    await eventually(erased, "the erasure")
    assert await notifier.scalar(select(KEYS.c.key).where(KEYS.c.key_id == key_id)) is None
    assert (
        await notifier.scalar(
            select(RECIPIENTS.c.sealed_identity).where(RECIPIENTS.c.report_id == rid)
        )
        is None
    )
    await notifier.publish(
        STATUS_CHANGED.name,
        status(rid, receipt, Channel.WHATSAPP, 2, ReportStatus.RECEIVED, ReportStatus.DISPATCHED),
        rid,
    )
    marker = uuid.uuid4()
    await notifier.publish(
        STATUS_CHANGED.name,
        status(marker, code(), Channel.SMS, 1, None, ReportStatus.RECEIVED),
        rid,  # same key, same partition: handled after it
    )
    await eventually(lambda: notifier.deliveries(marker), "the marker delivery")
    assert [i["template"] for i in await notifier.deliveries(rid)] == ["received"]
