"""Batches hold the per-report locks until they commit. Each route of a poll takes its
reports' locks in one statement, in sorted order, but a poll's intake route and status route
lock one after the other: a poll with intake of report B and a status change of A, and on
another replica a poll with intake of A and a status change of B, can deadlock. PostgreSQL
aborts one of them (40P01); the kit classes that as transient, so the batch is rolled back,
rewound and applied again, and that converges: both reports end up recorded, nothing
parked, nothing twice."""

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
from aduan_notifier.adapters.postgres import PgStore
from aduan_notifier.bootstrap import build
from aduan_notifier.config import Settings
from aduan_notifier.service.recipients import handle_submitted
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
    base = "https://aduan.example.go.id/"
    key_id, key = uuid.uuid4(), new_key()
    a, b = uuid.uuid4(), uuid.uuid4()

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

    def intake(rid: uuid.UUID, n: int) -> Step:
        async def step(session: AsyncSession) -> object:
            store = PgStore(UnitOfWork(session, OUTBOX))
            return await handle_submitted(store, [submitted(rid, n)], base)

        return step

    def status(rid: uuid.UUID, n: int) -> Step:
        async def step(session: AsyncSession) -> object:
            store = PgStore(UnitOfWork(session, OUTBOX))
            return await handle_status_changes(store, [received(rid, n)], base)

        return step

    # Two polls on two replicas: intake's route, then the status route, each.
    intake_batch: list[Step] = [intake(b, 2), status(a, 1)]
    status_batch: list[Step] = [intake(a, 1), status(b, 2)]
    first_locked = [asyncio.Event(), asyncio.Event()]

    async def run_batch(steps: list[Step], me: int, gate: bool) -> None:
        """One poll, one transaction, as `aduan_kit.batching` applies it; with `gate`,
        both hold their first lock before either takes its second."""
        async with transaction(sessions) as session:
            for i, step in enumerate(steps):
                await step(session)
                if gate and i == 0:
                    first_locked[me].set()
                    await first_locked[1 - me].wait()

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
