"""For the kit's own integration tests: a small event to carry, and a ServiceRuntime on an
isolated database with the test's tables (one copy instead of one per suite)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import MetaData, Table

from aduan_contracts.events import ReportAmended
from aduan_kit.db import ensure_database, make_engine
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.settings import ServiceSettings
from aduan_testing.plugin import Isolation

__all__ = ["amended", "runtime_on"]


def amended(text: str) -> ReportAmended:
    """A valid event whose text says which one it is."""
    return ReportAmended(
        report_id=uuid.uuid4(),
        channel="email",
        channel_message_id=uuid.uuid4().hex,
        text=text,
        received_at=datetime.now(UTC),
    )


async def runtime_on(
    isolated: Isolation, name: str, metadata: MetaData, outbox: Table, **settings: Any
) -> ServiceRuntime:
    """A runtime (not started) named `name`, its database created with `metadata`'s tables,
    on the isolation's broker, topic namespace and Redis; `settings` override the rest."""
    url = isolated.database(name)
    await ensure_database(url)
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    return ServiceRuntime(
        ServiceSettings(
            service_name=name,
            environment="test",
            kafka_bootstrap_servers=isolated.kafka,
            topic_namespace=isolated.namespace,
            database_url=url,
            redis_url=isolated.redis_url,
            **settings,
        ),
        migrations=None,
        outbox=outbox,
    )
