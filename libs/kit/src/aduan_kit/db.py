"""PostgreSQL access: async engine, database creation, and Alembic migrations per service."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, event, make_url, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, NullPool
from sqlalchemy.util import greenlet_spawn

__all__ = [
    "GENERIC_PLANS",
    "KEPT_PLANS",
    "engine_of",
    "ensure_database",
    "make_engine",
    "make_sessionmaker",
    "migrate",
    "pooled_connection",
    "raw_transaction",
    "run_alembic_env",
    "transaction",
]


# Sent with the BEGIN of every set-based unit of work (`aduan_kit.uow.raw_unit_of_work`):
# its statements' plans are made once per connection and kept. Their parameters are arrays
# (`= ANY($1)`, `unnest($1, ...)`) whose length changes from batch to batch; PostgreSQL
# plans such a prepared statement again for each call's values unless the plan for any
# values looks no costlier, and with an unknown array counted as ten elements it never
# does: the gateway's row reads spent as much backend CPU being planned as running, every
# call (issue 18, seventeenth step; docs/performance.md). A kept plan is made at the
# statement's first call on a connection, which may be right after a start, when the
# tables are empty and a sequential scan is the cheapest way through them; kept, it would
# then scan the grown table on every call until an ANALYZE. `enable_seqscan = off` makes
# the planner take the index wherever one serves (a scan with no index to use still
# runs); these statements look rows up by key. LOCAL: both end with the transaction, so
# whatever else runs on the pooled connection keeps the server's defaults.
KEPT_PLANS: dict[str, str] = {"plan_cache_mode": "force_generic_plan", "enable_seqscan": "off"}
GENERIC_PLANS = "; ".join(f"SET LOCAL {name} = {value}" for name, value in KEPT_PLANS.items())

# A pooled connection idle longer than this is checked before use (see `make_engine`).
PING_AFTER_IDLE_S = 5.0
_LAST_USED = "aduan_last_used"


def make_engine(
    url: str, pool_size: int = 20, server_settings: dict[str, str] | None = None
) -> AsyncEngine:
    """Pooled engine whose connections are checked after an idle spell, not on every use.

    `server_settings` are set on each of its connections when it opens (asyncpg sends them
    with the startup message: no round trip), for an engine whose every statement wants
    them, such as `KEPT_PLANS` for a worker that runs keyed statements outside any
    transaction, where `GENERIC_PLANS` (SET LOCAL) cannot go.

    SQLAlchemy's `pool_pre_ping` pings on *every* checkout, and the asyncpg dialect's ping
    is three round trips (BEGIN, `;`, ROLLBACK): profiling under load found it to be
    ~15 % of the notifier's CPU and as many extra statements on PostgreSQL as the work
    itself. A connection used less than `PING_AFTER_IDLE_S` ago is handed out without a
    ping, but one the driver already knows is closed (the server restarted) is replaced at
    checkout with every connection pooled before it (`_ping_if_idle`); one whose loss it
    has not seen yet fails its first statement with a transient error, and the caller's
    usual retry (consumers, relay, a 503 for a request) runs on fresh connections. After
    an idle spell (a restart overnight) the ping still happens.
    """
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max(pool_size // 2, 1),
        # A statement's parameters (complaint text, contacts) must never reach a log: without
        # this SQLAlchemy puts them into every database error's message, which the consumers
        # log (a deadlock in the gateway logged a complaint's text).
        hide_parameters=True,
        connect_args={"server_settings": dict(server_settings)} if server_settings else {},
    )
    event.listen(engine.sync_engine, "checkin", _stamp_last_used)
    event.listen(engine.sync_engine, "checkout", _ping_if_idle)
    return engine


def _stamp_last_used(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_LAST_USED] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
    if _closed(dbapi_connection):
        # The driver already saw the server go away (PostgreSQL restarted or stopped).
        # SQLAlchemy learns that only from a statement it runs itself, and the set-based
        # stores run theirs on the raw asyncpg connection (`driver_connection`): without
        # this a dead connection went back to the pool and out again, every use failing
        # until it was replaced (chaos run of 2026-12-04 16:14, intake: 5,838 answers of
        # 500 and a 48-s drain after a 60-s PostgreSQL stop). Every connection pooled
        # before now is replaced; this one is reconnected at once.
        err = DisconnectionError("pooled connection was closed by the server")
        err.invalidate_pool = True
        raise err
    last = record.info.get(_LAST_USED)
    if last is None or time.monotonic() - last < PING_AFTER_IDLE_S:
        return  # fresh from connect(), or used a moment ago
    try:
        dbapi_connection.ping()
    except Exception as exc:
        # The pool discards this connection and checks out (or opens) another one.
        raise DisconnectionError("pooled connection failed its ping") from exc


def _closed(dbapi_connection: Any) -> bool:
    """Whether asyncpg knows this connection is gone (no round trip: its own state)."""
    driver = getattr(dbapi_connection, "_connection", None)  # SQLAlchemy's asyncpg adapter
    is_closed = getattr(driver, "is_closed", None)
    return bool(is_closed()) if callable(is_closed) else False


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine `sessions` are bound to (for raw connections from the same pool)."""
    engine: AsyncEngine = sessions.kw["bind"]
    return engine


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


async def migrate(url: str, migrations_package: str, revision: str = "head") -> None:
    """Upgrade the database to `revision` (the newest by default) of `migrations_package`
    (e.g. `aduan_workflow:migrations`). Safe to run from several processes at once. A
    migration's test upgrades to the revision before it, writes rows as they were, then
    upgrades to the newest."""
    await ensure_database(url)
    config = Config()
    config.set_main_option("script_location", migrations_package)
    config.attributes["database_url"] = url
    # Alembic's env.py runs its own event loop; keep it off the service's loop.
    await asyncio.to_thread(command.upgrade, config, revision)


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
        engine = create_async_engine(url, poolclass=NullPool, hide_parameters=True)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(run)
        finally:
            await engine.dispose()

    asyncio.run(main())


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under `session`, inside the session's transaction.

    SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement: a raw
    statement sent before any SQLAlchemy one would run in autocommit, outside the
    transaction (a crash would keep half a batch). So the adapter's transaction is started
    here when it has not been yet; it then commits or rolls back with the session.
    """
    conn = await session.connection()
    fairy = await conn.get_raw_connection()
    adapted: Any = fairy.dbapi_connection
    if getattr(adapted, "_transaction", None) is None and not adapted.autocommit:
        await adapted._start_transaction()
    driver: asyncpg.Connection = fairy.driver_connection
    if not driver.is_in_transaction():  # pragma: no cover - a changed SQLAlchemy adapter
        raise RuntimeError("the session's connection is not in a transaction")
    return driver


@asynccontextmanager
async def pooled_connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection's asyncpg connection, outside any transaction (each statement
    is its own, no BEGIN or COMMIT round trip), without SQLAlchemy's session or Core.

    It comes from the engine's pool, so its checkout checks (`_ping_if_idle`) and codecs
    are the sessions' own. A failure other than the server refusing a statement (a broken
    connection, a task cancelled mid-statement) leaves its state unknown: it is
    invalidated, never handed out again.
    """
    fairy = await engine.raw_connection()
    driver: asyncpg.Connection = fairy.driver_connection
    try:
        yield driver
    except asyncpg.PostgresError:
        raise  # the server refused a statement: the connection itself is fine
    except BaseException:
        fairy.invalidate()
        raise
    finally:
        if driver.is_closed() and fairy.is_valid:
            fairy.invalidate()  # closed by its user (`terminate`) or by the server
        with contextlib.suppress(Exception):
            # Back to the pool; SQLAlchemy's reset-on-return rollback is a no-op here (its
            # adapter started no transaction), so no round trip.
            await greenlet_spawn(fairy.close)


@asynccontextmanager
async def raw_transaction(
    engine: AsyncEngine, lock: int | None = None, setup: str = ""
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction on a `pooled_connection`: BEGIN, yield the connection, COMMIT
    (ROLLBACK on error). `lock` names a transaction-level advisory lock taken in the same
    message as the BEGIN (one round trip, not two: the writers that take turns take it in
    every transaction). `setup`, a constant statement without parameters (`SET LOCAL
    ...`), goes in that message too. When the ROLLBACK fails as well (the server went
    away, or the task was cancelled mid-statement) the connection is closed, so the pool
    never hands it out again; a failed COMMIT (outcome unknown: the caller retries, and
    the inbox makes a second application of a committed batch a no-op) likewise.
    """
    async with pooled_connection(engine) as driver:
        # The statement text is a constant per lock key, so the server sees few shapes;
        # the key is an int (never text from outside).
        begin = "BEGIN" if lock is None else f"BEGIN; SELECT pg_advisory_xact_lock({int(lock)})"
        await driver.execute(f"{begin}; {setup}" if setup else begin)
        try:
            yield driver
        except BaseException:
            try:
                await driver.execute("ROLLBACK")
            except BaseException:
                driver.terminate()
            raise
        try:
            await driver.execute("COMMIT")
        except asyncpg.PostgresError:
            raise  # refused (a deferred check): rolled back, the connection is fine
        except BaseException:
            driver.terminate()
            raise
