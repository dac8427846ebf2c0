"""A pooled connection whose server went away is replaced at checkout, on real PostgreSQL.

The set-based stores run their statements on the raw asyncpg connection
(`aduan_kit.db.driver_connection`), so SQLAlchemy never sees the disconnect that would make it
replace the pool: without the checkout check, a connection killed by a PostgreSQL restart
went back to the pool and out again, each use failing (chaos run of 2026-12-04: 5,838 answers
of 500 from intake after a 60-s PostgreSQL stop)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import make_url, text

from aduan_kit.db import driver_connection, ensure_database, make_engine, make_sessionmaker
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration


async def test_connections_killed_by_the_server_are_replaced_at_checkout(
    isolated: Isolation,
) -> None:
    url = isolated.database("poolrecovery")
    await ensure_database(url)
    engine = make_engine(url, pool_size=4)
    sessions = make_sessionmaker(engine)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        # Four connections in the pool, each used once on its raw driver connection.
        held = [sessions() for _ in range(4)]
        for session in held:
            await session.begin()
            await (await driver_connection(session)).fetchval("SELECT 1")
        killed_pids = [(await driver_connection(session)).get_server_pid() for session in held]
        for session in held:
            await session.rollback()
            await session.close()

        # The server ends them (as a restart does); asyncpg sees the sockets close.
        admin = await asyncpg.connect(dsn)
        try:
            ended = await admin.fetchval(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(p)"
                " FROM unnest($1::int[]) AS p) AS t",
                killed_pids,
            )
        finally:
            await admin.close()
        assert ended == 4
        await asyncio.sleep(0.5)

        # Every unit of work afterwards runs on a live connection, first try.
        for _ in range(6):
            async with sessions() as session, session.begin():
                raw = await driver_connection(session)
                assert await raw.fetchval("SELECT 2") == 2
                assert raw.get_server_pid() not in killed_pids
                assert (await session.execute(text("SELECT 3"))).scalar() == 3
    finally:
        await engine.dispose()
