"""Batches hold the per-report locks until they commit. A status batch takes its reports'
locks in one statement, in sorted order; intake takes them event by event, in the batch's
order. An intake batch whose order is the opposite (B, then A, where A < B) and a status
batch of both reports can deadlock: PostgreSQL aborts one of them (40P01); the kit classes
that as transient, so the batch is rolled back, rewound and applied again, and that
converges: both reports end up recorded, nothing parked, nothing twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.enums import Channel, ReportStatus, Role
from aduan_contracts.events import ReportStatusChanged, ReportSubmitted
from aduan_kit.crypto import new_key, seal_identity
from aduan_kit.db import make_engine, make_sessionmaker, migrate, transaction
from aduan_kit.messaging import is_transient
from aduan_kit.uow import UnitOfWork
from aduan_notifier.adapters.postgres import PgStatusStore
from aduan_notifier.bootstrap import build
from aduan_notifier.config import Settings
from aduan_notifier.service.reporters import Notifier
from aduan_notifier.service.status_changes import handle_status_changes
from aduan_notifier.tables import DELIVERIES, OUTBOX, PENDING
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

Step = Callable[[AsyncSession], Awaitable[object]]


async def test_opposite_lock_orders_deadlock_and_the_retried_batch_converges(
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
    engine = make_engine(settings.database_url, pool_size=3)
    sessions = make_sessionmaker(engine)
    notifier = Notifier("https://aduan.example.go.id/")
    key_id, key = uuid.uuid4(), new_key()
    # a sorts before b: the status batch locks a first, the intake batch b first.
    a, b = sorted((uuid.uuid4(), uuid.uuid4()), key=str)

    def submitted(rid: uuid.UUID, n: int) -> ReportSubmitted:
        # Walk-in reports: the only ones whose status changes park, so the only ones locked.
        return ReportSubmitted(
            report_id=rid,
            receipt_code=f"ADU-7K3M-Q9X{n}",
            channel=Channel.WALK_IN,
            channel_message_id=uuid.uuid4().hex,
            text="Sampah menumpuk di pinggir jalan",
            received_at=datetime.now(UTC),
            reporter=seal_identity(
                {"name": None, "contact": "081244445555", "handle": None}, key_id, key
            ),
        )

    def received(rid: uuid.UUID, n: int) -> ReportStatusChanged:
        return ReportStatusChanged.model_validate(
            {
                "report_id": rid,
                "receipt_code": f"ADU-7K3M-Q9X{n}",
                "channel": Channel.WALK_IN,
                "version": 1,
                "from_status": None,
                "to_status": ReportStatus.RECEIVED,
                "actor": {"id": "workflow", "role": Role.SYSTEM},
            }
        )

    async def status_changes(session: AsyncSession) -> list[str]:
        store = PgStatusStore(UnitOfWork(session, OUTBOX))
        return await handle_status_changes(
            store, [received(a, 1), received(b, 2)], notifier.portal_base_url
        )

    intake_batch: list[Step] = [
        lambda s: notifier.on_report_submitted(s, submitted(b, 2)),
        lambda s: notifier.on_report_submitted(s, submitted(a, 1)),
    ]
    status_batch: list[Step] = [status_changes]
    intake_holds_b = asyncio.Event()

    async def run_batch(steps: list[Step], me: int, gate: bool) -> None:
        """One batch, one transaction, as `aduan_kit.batching` applies it; with `gate`, the
        status batch starts once intake holds b's lock, and intake goes on to a once the
        status batch holds a's (and waits for b's)."""
        if gate and me == 1:
            await intake_holds_b.wait()
        async with transaction(sessions) as session:
            for i, step in enumerate(steps):
                await step(session)
                if gate and me == 0 and i == 0:
                    intake_holds_b.set()
                    await asyncio.sleep(0.5)

    try:
        outcomes = await asyncio.gather(
            run_batch(intake_batch, 0, gate=True),
            run_batch(status_batch, 1, gate=True),
            return_exceptions=True,
        )
        failed = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
        assert len(failed) == 1, outcomes  # PostgreSQL broke the cycle by aborting one
        victim, error = failed[0]
        assert isinstance(error, Exception) and is_transient(error), repr(error)
        assert "40P01" in repr(getattr(error, "orig", error)) or "deadlock" in str(error)

        # The kit rewinds a transient failure and applies the same batch again.
        await run_batch([intake_batch, status_batch][victim], victim, gate=False)

        async with sessions() as session:
            parked = await session.scalar(select(func.count()).select_from(PENDING))
            recorded = (
                await session.execute(
                    select(DELIVERIES.c.report_id, DELIVERIES.c.template).order_by(
                        DELIVERIES.c.report_id
                    )
                )
            ).all()
        assert parked == 0
        assert sorted((r.report_id, r.template) for r in recorded) == sorted(
            [(a, "received"), (b, "received")]
        )
    finally:
        await engine.dispose()
