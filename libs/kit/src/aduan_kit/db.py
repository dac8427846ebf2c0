"""PostgreSQL access: async engine, database creation, and Alembic migrations per service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, make_url, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

__all__ = [
    "ensure_database",
    "make_engine",
    "make_sessionmaker",
    "migrate",
    "run_alembic_env",
    "transaction",
]


def make_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error."""
    async with sessions() as session, session.begin():
        yield session


async def ensure_database(url: str) -> None:
    """Create the service's own database when it does not exist yet (first start)."""
    target = make_url(url)
    name = target.database
    if not name:
        raise ValueError("database URL names no database")
    admin = target.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # Another process of the same service may win the race: that is fine. When the
            # two CREATEs overlap, PostgreSQL reports the loser as a unique violation on
            # pg_database, not as a duplicate database (two replicas starting together).
            with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def migrate(url: str, migrations_package: str) -> None:
    """Upgrade the database to the newest revision of `migrations_package` (e.g.
    `aduan_workflow:migrations`). Safe to run from several processes at once."""
    await ensure_database(url)
    config = Config()
    config.set_main_option("script_location", migrations_package)
    config.attributes["database_url"] = url
    # Alembic's env.py runs its own event loop; keep it off the service's loop.
    await asyncio.to_thread(command.upgrade, config, "head")


def run_alembic_env(target_metadata: Any = None) -> None:
    """Body of every service's `migrations/env.py` (online mode only)."""
    url = context.config.attributes["database_url"]

    def run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            # Serialize concurrent migrators (several replicas starting together).
            connection.execute(text("SELECT pg_advisory_xact_lock(727274)"))
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(run)
        finally:
            await engine.dispose()

    asyncio.run(main())
