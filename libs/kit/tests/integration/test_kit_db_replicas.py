"""Replicas of one service starting together all create its database on first start: one
CREATE wins, the others must carry on (PostgreSQL reports overlapping CREATEs as a unique
violation on pg_database, not only as "database already exists")."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import make_url

from aduan_kit.db import ensure_database
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration


async def test_replicas_creating_the_database_at_once_all_start(isolated: Isolation) -> None:
    url = isolated.database("replicas")
    for _ in range(3):  # several rounds: the race is won differently each time
        await asyncio.gather(*(ensure_database(url) for _ in range(6)))
        target = make_url(url)
        admin = target.set(drivername="postgresql", database="postgres")
        conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM pg_database WHERE datname = $1", target.database
                )
                == 1
            )
            await conn.execute(f'DROP DATABASE "{target.database}" WITH (FORCE)')
        finally:
            await conn.close()
