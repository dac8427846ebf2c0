"""A walk-in report's first status change and its intake event handled at the same moment,
in two transactions (two consumers, or two notifier replicas after a rebalance): the
acknowledgement is recorded, never left parked. Without a per-report lock, the status change
parks itself (no recipient yet), intake commits without seeing that uncommitted row, and the
message waits forever."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from aduan_contracts.enums import Channel, ReportStatus, Role
from aduan_contracts.events import ReportStatusChanged, ReportSubmitted
from aduan_kit.crypto import new_key, seal_identity
from aduan_kit.db import make_engine, make_sessionmaker, migrate, transaction
from aduan_kit.uow import UnitOfWork
from aduan_notifier.adapters.postgres import PgStore
from aduan_notifier.bootstrap import build
from aduan_notifier.config import Settings
from aduan_notifier.service.recipients import handle_submitted
from aduan_notifier.service.status_changes import handle_status_changes
from aduan_notifier.tables import DELIVERIES, OUTBOX, PENDING
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration


async def test_status_change_racing_its_intake_event_is_recorded_not_parked(
    isolated: Isolation,
) -> None:
    settings = Settings(
        kafka_bootstrap_servers=isolated.kafka,
        database_url=isolated.database("notifier"),
        redis_url=isolated.redis_url,
        topic_namespace=isolated.namespace,
        environment="test",
    )
    _app, _runtime = build(settings)
    await migrate(settings.database_url, "aduan_notifier:migrations")
    engine = make_engine(settings.database_url, pool_size=2)
    sessions = make_sessionmaker(engine)
    base = "https://aduan.example.go.id/"
    rid, receipt = uuid.uuid4(), "ADU-7K3M-Q9XZ"
    key_id, key = uuid.uuid4(), new_key()
    change = ReportStatusChanged.model_validate(
        {
            "report_id": rid,
            "receipt_code": receipt,
            "channel": Channel.WALK_IN,
            "version": 1,
            "from_status": None,
            "to_status": ReportStatus.RECEIVED,
            "actor": {"id": "workflow", "role": Role.SYSTEM},
        }
    )
    intake = ReportSubmitted(
        report_id=rid,
        receipt_code=receipt,
        channel=Channel.WALK_IN,
        channel_message_id=uuid.uuid4().hex,
        text="Sampah menumpuk di pinggir jalan",
        received_at=datetime.now(UTC),
        reporter=seal_identity(
            {"name": None, "contact": "081244445555", "handle": None}, key_id, key
        ),
    )

    async def store_recipient() -> int:
        async with transaction(sessions) as session:
            return sum(await handle_submitted(PgStore(UnitOfWork(session, OUTBOX)), [intake], base))

    try:
        async with transaction(sessions) as first:
            # The status change, not committed yet, finds no recipient and parks itself...
            store = PgStore(UnitOfWork(first, OUTBOX))
            outcomes = await handle_status_changes(store, [change], base)
            assert outcomes == ["parked until intake"]
            # ...while intake's event is handled in another transaction meanwhile.
            racing = asyncio.create_task(store_recipient())
            await asyncio.sleep(0.5)
        # Intake saw the parked change (it waited for the commit) and recorded it.
        assert await racing == 1
        async with sessions() as session:
            parked = await session.scalar(select(func.count()).select_from(PENDING))
            recorded = (
                await session.execute(
                    select(DELIVERIES.c.template).where(DELIVERIES.c.report_id == rid)
                )
            ).all()
        assert parked == 0
        assert [r.template for r in recorded] == ["received"]
    finally:
        await engine.dispose()
