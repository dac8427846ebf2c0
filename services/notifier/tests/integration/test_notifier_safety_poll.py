"""A delivery recorded by another replica (whose worker is off or busy) wakes nobody here:
the worker's slow safety poll finds it."""

from __future__ import annotations

import base64
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from aduan_contracts.enums import Channel, ReportStatus, Role
from aduan_contracts.events import ReporterKeyIssued, ReportStatusChanged, ReportSubmitted
from aduan_kit.crypto import new_key, seal_identity
from aduan_kit.db import make_engine, make_sessionmaker, transaction
from aduan_kit.uow import UnitOfWork
from aduan_notifier.adapters.postgres import PgStore
from aduan_notifier.bootstrap import build
from aduan_notifier.config import Settings
from aduan_notifier.entrypoints.delivery import DeliveryWorker
from aduan_notifier.service.recipients import handle_key_events, handle_submitted
from aduan_notifier.service.status_changes import handle_status_changes
from aduan_notifier.sinks import HttpSink
from aduan_notifier.tables import DELIVERIES, OUTBOX
from aduan_testing.helpers import eventually
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration


async def test_a_row_committed_elsewhere_is_found_by_the_safety_poll(isolated: Isolation) -> None:
    sink = HttpSink()
    base = await sink.start()
    settings = Settings(
        kafka_bootstrap_servers=isolated.kafka,
        database_url=isolated.database("notifier"),
        redis_url=isolated.redis_url,
        redis_prefix=isolated.redis_prefix,
        topic_namespace=isolated.namespace,
        environment="test",
        delivery_poll_interval_s=1.0,
        push_url=f"{base}/push",
    )
    app, runtime = build(settings)
    worker: DeliveryWorker = app.state.deliveries
    async with AsyncExitStack() as stack:
        stack.push_async_callback(sink.stop)
        await stack.enter_async_context(app.router.lifespan_context(app))
        # "Another replica": its own connections, its own Notifier, no wake to this worker.
        engine = make_engine(settings.database_url, pool_size=1)
        stack.push_async_callback(engine.dispose)
        base = "https://aduan.example.go.id"
        rid, key_id, key = uuid.uuid4(), uuid.uuid4(), new_key()
        async with transaction(make_sessionmaker(engine)) as session:
            store = PgStore(UnitOfWork(session, OUTBOX))
            await handle_key_events(
                store, [ReporterKeyIssued(key_id=key_id, key=base64.b64encode(key).decode())]
            )
            await handle_submitted(
                store,
                [
                    ReportSubmitted(
                        report_id=rid,
                        receipt_code="ADU-7K3M-Q9XZ",
                        channel=Channel.APP,
                        channel_message_id=uuid.uuid4().hex,
                        text="Sampah menumpuk",
                        received_at=datetime.now(UTC),
                        reporter=seal_identity(
                            {"name": None, "contact": None, "handle": "device-elsewhere"},
                            key_id,
                            key,
                        ),
                    )
                ],
                base,
            )
            outcomes = await handle_status_changes(
                store,
                [
                    ReportStatusChanged.model_validate(
                        {
                            "report_id": rid,
                            "receipt_code": "ADU-7K3M-Q9XZ",
                            "channel": Channel.APP,
                            "version": 1,
                            "from_status": None,
                            "to_status": ReportStatus.RECEIVED,
                            "actor": {"id": "workflow", "role": Role.SYSTEM},
                        }
                    )
                ],
                base,
            )
        assert outcomes == ["recorded"]

        async def sent() -> bool:
            async with runtime.sessions() as s:
                state = await s.scalar(
                    select(DELIVERIES.c.state).where(DELIVERIES.c.report_id == rid)
                )
            return state == "sent"

        await eventually(sent, "the delivery sent by the safety poll", timeout=30)
        # Nothing woke this worker: without the poll the row would wait forever.
        assert worker.wakes == 0
        assert [r.json["recipient"] for r in sink.requests] == ["device-elsewhere"]
