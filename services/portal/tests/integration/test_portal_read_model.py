"""The portal on real Kafka and PostgreSQL: a published public report gets a page, a
withdrawal removes it, a redelivered or stale event is not applied again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from aduan_contracts import encode
from aduan_contracts.enums import Channel, ReportStatus
from aduan_contracts.events import (
    PublicReportPublished,
    PublicReportWithdrawn,
    PublicTimelineEntry,
)
from aduan_contracts.topics import PUBLIC_REPORTS
from aduan_kit.runtime import ServiceRuntime
from aduan_portal.bootstrap import build
from aduan_portal.config import Settings
from aduan_portal.tables import INBOX
from aduan_testing.helpers import eventually
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

LABEL = "Publik — detail laporan dan data pelapor tidak boleh disebarluaskan"


class Portal:
    def __init__(
        self,
        iso: Isolation,
        runtime: ServiceRuntime,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
    ) -> None:
        self.iso, self.runtime, self.client, self.producer = iso, runtime, client, producer

    async def publish(
        self, event: PublicReportPublished | PublicReportWithdrawn, key: uuid.UUID | None = None
    ) -> None:
        """Keyed by report id; a marker keyed like another report is handled after it."""
        await self.producer.send_and_wait(
            f"{self.iso.namespace}.{PUBLIC_REPORTS.name}",
            encode(event),
            key=str(key or event.report_id).encode(),
        )


@pytest_asyncio.fixture
async def portal(isolated: Isolation) -> AsyncIterator[Portal]:
    settings = Settings(
        kafka_bootstrap_servers=isolated.kafka,
        database_url=isolated.database("portal"),
        redis_url=isolated.redis_url,
        redis_prefix=isolated.redis_prefix,
        topic_namespace=isolated.namespace,
        environment="test",
    )
    app, runtime = build(settings)
    await runtime.start()
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    await producer.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal") as client:
            yield Portal(isolated, runtime, client, producer)
    finally:
        await producer.stop()
        await runtime.stop()


def published(report_id: uuid.UUID, text: str, at: datetime, **kw: Any) -> PublicReportPublished:
    fields: dict[str, Any] = {
        "report_id": report_id,
        "public_id": f"P-{report_id.hex[:8].upper()}",
        "title": "Sampah menumpuk di pasar",
        "text": text,
        "category": "sampah",
        "agency_id": "dlh",
        "status": ReportStatus.DISPATCHED,
        "status_label": "Disposisi",
        "channel": Channel.WHATSAPP,
        "area": "Tanah Abang",
        "month": "2026-02",
        "confidentiality_label": LABEL,
        "timeline": (
            PublicTimelineEntry(status=ReportStatus.RECEIVED, label="Menunggu", month="2026-02"),
        ),
        "occurred_at": at,
    }
    fields.update(kw)
    return PublicReportPublished.model_validate(fields)


async def test_published_report_has_a_page_and_withdrawal_removes_it(portal: Portal) -> None:
    rid = uuid.uuid4()
    now = datetime.now(UTC)
    event = published(rid, "Sampah belum diangkut tiga hari.", now)
    await portal.publish(event)

    async def page() -> str | None:
        r = await portal.client.get(f"/reports/{event.public_id}")
        return r.text if r.status_code == 200 else None

    html = await eventually(page, "the report page")
    assert "Sampah belum diangkut tiga hari." in html
    # The citizen's words for the status; no officers' label on the public page.
    assert "Diteruskan ke instansi" in html and "Disposisi" not in html
    assert LABEL not in html and "Tanah Abang" in html
    # Reachable by report id too, as JSON, and listed on the front page.
    data = (await portal.client.get(f"/api/reports/{rid}")).json()
    assert data["text"] == "Sampah belum diangkut tiga hari."
    assert data["status_label"] == "Disposisi"
    assert data["confidentiality_label"] == LABEL
    assert "updated_at" not in data and "occurred_at" not in data
    assert event.public_id in (await portal.client.get("/")).text
    assert (
        "Forwarded to the responsible agency"
        in (await portal.client.get(f"/reports/{rid}?lang=en")).text
    )

    await portal.publish(
        PublicReportWithdrawn(
            report_id=rid, public_id=event.public_id, occurred_at=now + timedelta(seconds=1)
        )
    )

    async def gone() -> bool:
        return (await portal.client.get(f"/reports/{event.public_id}")).status_code == 404

    await eventually(gone, "the withdrawal")
    not_found = await portal.client.get(f"/reports/{event.public_id}")
    assert "Laporan tidak ditemukan" in not_found.text
    assert "Sampah belum diangkut" not in not_found.text
    assert (await portal.client.get(f"/api/reports/{rid}")).status_code == 404
    assert event.public_id not in (await portal.client.get("/")).text

    # A late copy of the older publication (compacted-topic replay) does not resurrect it.
    await portal.publish(published(rid, "Sampah belum diangkut tiga hari.", now))
    marker = published(uuid.uuid4(), "penanda", now)
    await portal.publish(marker, key=rid)
    await eventually(page_of(portal, marker.public_id), "the marker report")
    assert (await portal.client.get(f"/reports/{event.public_id}")).status_code == 404


def page_of(portal: Portal, public_id: str) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return (await portal.client.get(f"/reports/{public_id}")).status_code == 200

    return probe


async def test_redelivered_and_stale_events_are_applied_once(portal: Portal) -> None:
    rid = uuid.uuid4()
    now = datetime.now(UTC)
    first = published(rid, "Teks pertama.", now)
    newer = published(
        rid,
        "Teks terbaru.",
        now + timedelta(seconds=5),
        status=ReportStatus.IN_PROGRESS,
        status_label="Dalam Proses",
    )
    await portal.publish(first)
    await portal.publish(newer)
    await portal.publish(newer)  # redelivery of the same event (same event_id)
    # An older event arriving after the newer one (different event id) must not win.
    await portal.publish(published(rid, "Teks basi.", now - timedelta(seconds=5)))
    marker = published(uuid.uuid4(), "penanda", now)
    await portal.publish(marker, key=rid)
    await eventually(page_of(portal, marker.public_id), "the marker report")

    data = (await portal.client.get(f"/api/reports/{first.public_id}")).json()
    assert data["text"] == "Teks terbaru."
    assert data["status"] == "in_progress"
    async with portal.runtime.sessions() as session:
        claimed = await session.scalar(
            select(func.count()).select_from(INBOX).where(INBOX.c.event_id == newer.event_id)
        )
    assert claimed == 1
    listing = (await portal.client.get("/api/reports")).json()
    assert [r["public_id"] for r in listing].count(first.public_id) == 1
