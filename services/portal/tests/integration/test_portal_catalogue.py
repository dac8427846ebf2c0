"""The portal reads the one category catalogue from the gateway's compacted topic (real
Kafka and PostgreSQL), with no gateway reachable at all: the filing form offers the active
categories only, a category added later appears, a retired one leaves the form but still
names the public reports filed in it, and a form posted with a retired category is sent
back with the reason instead of being filed as something the citizen did not choose."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from aduan_contracts import encode
from aduan_contracts.enums import Channel, ReportStatus
from aduan_contracts.events import CategoryPublished, PublicReportPublished
from aduan_contracts.topics import CATEGORIES, PUBLIC_REPORTS
from aduan_portal.bootstrap import build
from aduan_portal.config import Settings
from aduan_testing.helpers import free_port
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def category(code: str, name_id: str, name_en: str, version: int = 1, active: bool = True) -> bytes:
    return encode(
        CategoryPublished(
            code=code,
            version=version,
            name_id=name_id,
            name_en=name_en,
            active=active,
            updated_at=NOW,
        )
    )


async def until(client: httpx.AsyncClient, path: str, check: str, present: bool = True) -> str:
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        page = (await client.get(path)).text
        if (check in page) is present:
            return page
        assert asyncio.get_running_loop().time() < deadline, f"{check!r} on {path}"
        await asyncio.sleep(0.1)


async def test_form_and_filters_follow_the_catalogue(isolated: Isolation) -> None:
    settings = Settings(
        kafka_bootstrap_servers=isolated.kafka,
        database_url=isolated.database("portal"),
        redis_url=isolated.redis_url,
        redis_prefix=isolated.redis_prefix,
        topic_namespace=isolated.namespace,
        environment="test",
        # Nothing listens here: names and choices must not need the gateway.
        gateway_url=f"http://127.0.0.1:{free_port()}",
        intake_url=f"http://127.0.0.1:{free_port()}",
    )
    app, runtime = build(settings)
    await runtime.start()
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    await producer.start()
    cats = CATEGORIES.qualified(isolated.namespace)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portal") as c:
            await producer.send_and_wait(
                cats, category("saluran", "Saluran air tersumbat", "Blocked drain"), key=b"saluran"
            )
            form = await until(c, "/lapor", '<option value="saluran"')
            assert "Saluran air tersumbat" in form

            # An administrator adds a category: the form lists it (English names too).
            await producer.send_and_wait(
                cats,
                category("pohon-tumbang", "Pohon tumbang", "Fallen tree"),
                key=b"pohon-tumbang",
            )
            await until(c, "/lapor", '<option value="pohon-tumbang"')
            assert "Fallen tree" in (await c.get("/lapor?lang=en")).text

            # A public report filed in it, then the category is retired.
            report = PublicReportPublished(
                report_id=uuid.uuid4(),
                public_id="PUB-POHON-1",
                title="Pohon tumbang di Jl. Cikini",
                text="Pohon besar tumbang menutup separuh jalan.",
                category="pohon-tumbang",
                status=ReportStatus.RECEIVED,
                status_label="Diterima",
                channel=Channel.WEB,
                month="2026-12",
                confidentiality_label="Publik",
                occurred_at=NOW,
            )
            await producer.send_and_wait(
                PUBLIC_REPORTS.qualified(isolated.namespace),
                encode(report),
                key=str(report.report_id).encode(),
            )
            await producer.send_and_wait(
                cats,
                category("pohon-tumbang", "Pohon tumbang", "Fallen tree", version=2, active=False),
                key=b"pohon-tumbang",
            )
            form = await until(c, "/lapor", '<option value="pohon-tumbang"', present=False)
            assert '<option value="saluran"' in form
            # ... and still names the old report, on its page and in the list's filter.
            page = await until(c, "/reports/PUB-POHON-1", "Pohon tumbang")
            assert "Pohon tumbang" in page
            listing = await until(c, "/?category=pohon-tumbang", "Pohon tumbang di Jl. Cikini")
            assert "Pohon tumbang" in listing

            # A form loaded before the retirement and posted after it: sent back, in words,
            # nothing filed (intake is not even asked: nothing listens at its address).
            posted = await c.post(
                "/lapor",
                data={
                    "text": "Pohon tumbang lagi di ujung gang",
                    "category": "pohon-tumbang",
                    "submission_id": str(uuid.uuid4()),
                },
            )
            assert posted.status_code == 422
            assert (
                "no longer takes new complaints"
                in (
                    await c.post(
                        "/lapor?lang=en",
                        data={
                            "text": "Pohon tumbang lagi di ujung gang",
                            "category": "pohon-tumbang",
                        },
                    )
                ).text
            )
            assert 'id="category-error"' in posted.text
    finally:
        await producer.stop()
        await runtime.stop()
