"""The unit of work: one transaction, its raw asyncpg connection, and what it publishes.

Issue 18's profile put most of a complaint's cost in row-at-a-time SQL through the ORM
(statement compilation, one round trip per row) and one outbox INSERT per event. A unit
of work gives a use case three things, all in one PostgreSQL transaction:

- `session`: the SQLAlchemy session, for ordinary queries off the hot path;
- `await connection()`: the same transaction's asyncpg connection, for set-based
  statements (`INSERT ... SELECT FROM unnest(...)`) that asyncpg prepares once per
  connection and reuses (no compilation, one round trip per table per batch);
- `publish(topic, event, key)`: buffered in memory and written to the outbox in ONE
  statement when the unit of work flushes (before its commit), in call order, so the
  relay sends them in that order. Nothing is published unless the transaction commits.
- `await write(table, sql, *args)`: a write nothing in this unit of work reads back,
  held and sent with the other held writes and the outbox rows as ONE statement (each a
  data-modifying CTE). A round trip was worth a quarter of a consumer's CPU in socket
  writes alone (issue 18, py-spy --native), and a poll's history, clocks and outbox rows
  were three of them. Held writes go out before anything else touches the connection
  (`connection()` sends them first), so every read sees them; a second write to a table
  already held sends the held ones first (sibling CTEs share one snapshot: an UPDATE
  would not see a sibling's INSERT).

Consumers get one from `aduan_kit.batching` (one per poll); HTTP paths open one with
`unit_of_work(sessions, outbox, topic=runtime.topic)`.

`raw_unit_of_work(engine, ...)` is the same without the ORM session: the transaction is
the pooled asyncpg connection's own (BEGIN and COMMIT sent by us), for consumers whose use
cases are all set-based. Through the session a transaction cost about 135 us more client
CPU than the same statements on asyncpg alone (425 against 290 us, issue 18's third
step), and every consumer poll and relay pass is one.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from uuid import UUID

import asyncpg
from pydantic import BaseModel
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aduan_contracts.envelope import Envelope
from aduan_contracts.serialization import encode
from aduan_contracts.topics import TopicSpec
from aduan_kit.db import GENERIC_PLANS, driver_connection, engine_of, raw_transaction
from aduan_kit.messaging import OUTBOX_ADDED, OUTBOX_WAKE

__all__ = [
    "UnitOfWork",
    "driver_connection",
    "raw_unit_of_work",
    "raw_units",
    "unit_of_work",
]


_OUTBOX_INSERT = (
    "INSERT INTO outbox (topic, key, payload, headers) "
    "SELECT t, k, p, h::jsonb FROM unnest($1::text[], $2::bytea[], $3::bytea[], "
    "$4::text[]) WITH ORDINALITY AS u(t, k, p, h, n) ORDER BY n"
)
_PARAM = re.compile(r"\$(\d+)")


def _shifted(sql: str, by: int) -> str:
    """`sql` with its parameters renumbered from `$1 + by`."""
    return _PARAM.sub(lambda m: f"${int(m.group(1)) + by}", sql) if by else sql


class UnitOfWork:
    """One transaction's session, raw connection and buffered outbox rows."""

    def __init__(
        self,
        session: AsyncSession | None,
        outbox: Table | None,
        topic: Callable[[str], str] = lambda name: name,
        *,
        driver: asyncpg.Connection | None = None,
    ) -> None:
        if (session is None) == (driver is None):
            raise TypeError("a unit of work has a session or a raw connection, not both")
        self._session = session
        self._outbox = outbox
        self._topic = topic
        self._driver: asyncpg.Connection | None = driver
        # Outbox rows were written (a raw unit of work wakes the relay after its commit;
        # a session's commit does it through its `info`, see messaging.py).
        self.published = False
        # What a use case remembers for the rest of this transaction (a lock it holds).
        self.info: dict[str, object] = {}
        self._topics: list[str] = []
        self._keys: list[bytes | None] = []
        self._payloads: list[bytes] = []
        self._headers: list[str] = []
        # Held writes: (table, sql, args), in call order.
        self._held: list[tuple[str, str, tuple[object, ...]]] = []

    @property
    def session(self) -> AsyncSession:
        """The ORM session of this transaction (a raw unit of work has none)."""
        if self._session is None:
            raise RuntimeError(
                "this unit of work is a raw transaction: use `await uow.connection()`"
            )
        return self._session

    async def connection(self) -> asyncpg.Connection:
        """The transaction's asyncpg connection (prepared statements cached on it), with
        the held writes sent first, so whatever runs on it next sees them."""
        conn = await self._connection()
        if self._held:
            await self._send_held(conn, [])
        return conn

    async def _connection(self) -> asyncpg.Connection:
        if self._driver is None:
            self._driver = await driver_connection(self.session)
        return self._driver

    async def write(self, table: str, sql: str, *args: object) -> None:
        """Hold a write (INSERT, UPDATE or DELETE on `table`, `$n` parameters, no
        RETURNING anyone reads, no `$` in its literals) until the next statement or the
        flush, and send it in the same statement as the other held writes."""
        if any(held_table == table for held_table, _, _ in self._held):
            await self._send_held(await self._connection(), [])
        self._held.append((table, sql, args))

    async def _send_held(
        self, conn: asyncpg.Connection, last: list[tuple[str, tuple[object, ...]]]
    ) -> None:
        """The held writes and then `last` (sql, args) as one statement."""
        parts = [(sql, args) for _, sql, args in self._held] + last
        self._held = []
        if not parts:
            return
        if len(parts) == 1:
            await conn.execute(parts[0][0], *parts[0][1])
            return
        ctes: list[str] = []
        values: list[object] = []
        for n, (sql, args) in enumerate(parts):
            ctes.append(f"w{n} AS ({_shifted(sql, len(values))})")
            values.extend(args)
        # Every data-modifying CTE runs to completion whether or not the query reads it.
        # The text depends only on which writes were held: a few shapes, each prepared
        # once per connection.
        await conn.execute(f"WITH {', '.join(ctes)} SELECT 1", *values)

    def publish(
        self,
        topic: TopicSpec | str,
        event: BaseModel,
        key: str | UUID | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Queue `event` for the outbox. `topic` is a contract's TopicSpec (its name is put
        in the service's namespace) or an already qualified topic name."""
        all_headers = dict(headers or {})
        if isinstance(event, Envelope):
            all_headers.setdefault("correlation_id", event.correlation_id)
            all_headers.setdefault("event_type", type(event).__name__)
        self.publish_raw(
            self._topic(topic.name) if isinstance(topic, TopicSpec) else topic,
            str(key).encode() if key is not None else None,
            encode(event),
            all_headers,
        )

    def publish_raw(
        self, topic: str, key: bytes | None, payload: bytes, headers: dict[str, str]
    ) -> None:
        if self._outbox is None:
            raise RuntimeError("this service has no outbox to publish through")
        self._topics.append(topic)
        self._keys.append(key)
        self._payloads.append(payload)
        self._headers.append(json.dumps(headers))

    @property
    def pending(self) -> int:
        return len(self._topics)

    async def flush(self) -> None:
        """Send the held writes and the queued events' outbox rows, in one statement; the
        rows in the order queued (the outbox's id sequence follows the ORDER BY; the relay
        sends by id)."""
        if not self._topics and not self._held:
            return
        rows: list[tuple[str, tuple[object, ...]]] = []
        if self._topics:
            # messaging_tables names it so in every service; the SQL is a constant.
            assert self._outbox is not None and self._outbox.name == "outbox"
            rows.append((_OUTBOX_INSERT, (self._topics, self._keys, self._payloads, self._headers)))
            self._topics, self._keys, self._payloads, self._headers = [], [], [], []
        await self._send_held(await self._connection(), rows)
        if not rows:
            return
        self.published = True
        if self._session is not None:
            # The relay is woken when this transaction commits (messaging's after-commit hook).
            self._session.info[OUTBOX_ADDED] = True


@asynccontextmanager
async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession],
    outbox: Table | None,
    topic: Callable[[str], str] = lambda name: name,
) -> AsyncIterator[UnitOfWork]:
    """Begin, yield the unit of work, flush its outbox rows, commit (roll back on error)."""
    async with sessions() as session, session.begin():
        uow = UnitOfWork(session, outbox, topic)
        yield uow
        await uow.flush()


@asynccontextmanager
async def raw_unit_of_work(
    engine: AsyncEngine,
    outbox: Table | None,
    topic: Callable[[str], str] = lambda name: name,
    *,
    wake: Callable[[], None] | None = None,
    lock: int | None = None,
) -> AsyncIterator[UnitOfWork]:
    """`unit_of_work` on a raw transaction (see `raw_transaction`): the use cases get
    `await uow.connection()` only. `wake` (the relay's) is called once it has committed
    outbox rows. Its statements are set-based and run on their kept plans
    (`aduan_kit.db.GENERIC_PLANS`, sent with the BEGIN)."""
    async with raw_transaction(engine, lock, setup=GENERIC_PLANS) as driver:
        uow = UnitOfWork(None, outbox, topic, driver=driver)
        yield uow
        await uow.flush()
    if uow.published and wake is not None:
        wake()


def raw_units(
    sessions: async_sessionmaker[AsyncSession],
    outbox: Table | None,
    topic: Callable[[str], str] = lambda name: name,
) -> AbstractAsyncContextManager[UnitOfWork]:
    """`raw_unit_of_work` on the engine `sessions` are bound to, waking the relay the
    runtime configured on them (read now: the relay starts after the sessionmaker)."""
    wake = sessions.kw.get("info", {}).get(OUTBOX_WAKE)
    return raw_unit_of_work(engine_of(sessions), outbox, topic, wake=wake)
