"""Fixtures shared by the gateway's store tests on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from aduan_kit.db import ensure_database, make_engine, migrate
from aduan_testing.plugin import Isolation


@pytest_asyncio.fixture
async def engine(isolated: Isolation) -> AsyncIterator[AsyncEngine]:
    """A pool on this test's own gateway database, migrated to head."""
    url = isolated.database("gwstore")
    await ensure_database(url)
    await migrate(url, "aduan_gateway:migrations")
    engine = make_engine(url, pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()
