"""Exactly-once plumbing over at-least-once Kafka: inbox, transactional outbox, relay,
dead-letter middleware, broker and producer factories, topic administration.

- A handler records the incoming `event_id` in the inbox *in the same transaction* as its
  state change; a redelivered message finds its id there and changes nothing.
- A service never publishes from a handler directly: it adds the event to the outbox in the
  same transaction; the relay publishes committed rows with an idempotent producer
  (acks=all) and deletes them. One relay per database at a time (advisory lock), so events of
  one report keep their order.
- A message that keeps failing goes to `<topic>.dlq` with the error, and is acknowledged so
  it never blocks its partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy, BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, ValidationError
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    String,
    Table,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from aduan_contracts.envelope import Envelope
from aduan_contracts.serialization import encode
from aduan_contracts.topics import ALL_TOPICS, TopicSpec, dead_letter
from aduan_kit.db import engine_of, raw_transaction
from aduan_kit.logging import correlation_id, get_logger
from aduan_kit.tasks import why_ended

__all__ = [
    "OutboxRelay",
    "PermanentError",
    "add_to_outbox",
    "claim_inbox",
    "create_messaging_tables",
    "dead_letter_headers",
    "dead_letter_middleware",
    "delete_namespace_topics",
    "ensure_topics",
    "is_transient",
    "make_broker",
    "make_producer",
    "messaging_tables",
    "queue_raw",
]

log = get_logger(__name__)

CONSUMED = Counter("aduan_messages_consumed_total", "Messages handled", ["topic", "outcome"])
DEAD_LETTERED = Counter("aduan_messages_dead_lettered_total", "Messages sent to a DLQ", ["topic"])
RELAYED = Counter("aduan_outbox_relayed_total", "Outbox rows published", ["topic"])
UNROUTABLE = Counter(
    "aduan_outbox_unroutable_total", "Outbox rows held back: topic unknown", ["topic"]
)
OUTBOX_BACKLOG = Gauge("aduan_outbox_backlog", "Outbox rows seen waiting at the last relay pass")


class PermanentError(Exception):
    """Retrying cannot help (the message is wrong, not the world): dead-letter at once."""


# --- tables ---------------------------------------------------------------------------------


def messaging_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The outbox and inbox tables, added to a service's own metadata."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("topic", String(255), nullable=False),
        Column("key", LargeBinary, nullable=True),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(255), primary_key=True),
        Column("event_id", PgUUID(as_uuid=True), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return outbox, inbox


def create_messaging_tables(op: Any) -> None:
    """For a service's first Alembic revision: `create_messaging_tables(op)`."""
    outbox, inbox = messaging_tables(MetaData())
    for table in (outbox, inbox):
        op.create_table(table.name, *[c._copy() for c in table.columns])


async def claim_inbox(session: AsyncSession, inbox: Table, consumer: str, event_id: UUID) -> bool:
    """True the first time `consumer` sees `event_id`; False for a redelivery. Must run in
    the transaction that applies the message's effect."""
    stmt = (
        insert(inbox)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(inbox.c.event_id)
    )
    return (await session.execute(stmt)).first() is not None


async def add_to_outbox(
    session: AsyncSession,
    outbox: Table,
    topic: str,
    event: BaseModel,
    key: str | UUID | None,
    headers: dict[str, str] | None = None,
) -> None:
    """Queue `event` for publication when (and only if) the transaction commits."""
    # Marks the session so that its commit wakes the relay (see `_wake_relay_after_commit`).
    session.info[OUTBOX_ADDED] = True
    all_headers = dict(headers or {})
    if isinstance(event, Envelope):
        all_headers.setdefault("correlation_id", event.correlation_id)
        all_headers.setdefault("event_type", type(event).__name__)
    await queue_raw(
        session,
        outbox,
        topic,
        str(key).encode() if key is not None else None,
        encode(event),
        all_headers,
    )


async def queue_raw(
    session: AsyncSession,
    outbox: Table,
    topic: str,
    key: bytes | None,
    payload: bytes,
    headers: dict[str, str],
) -> None:
    """Queue bytes as they are (a dead letter keeps the original message unchanged)."""
    session.info[OUTBOX_ADDED] = True
    await session.execute(
        outbox.insert().values(topic=topic, key=key, payload=payload, headers=headers)
    )


# --- relay ----------------------------------------------------------------------------------

# Session.info keys: set by `add_to_outbox` / by the runtime on its sessionmaker.
OUTBOX_ADDED = "aduan_outbox_added"
OUTBOX_WAKE = "aduan_outbox_wake"


@event.listens_for(Session, "after_commit")
def _wake_relay_after_commit(session: Session) -> None:
    """Wake the relay as soon as a transaction that queued outbox rows has committed.

    Profiling found the relay's idle polling (a transaction every 50 ms in every service:
    ping, BEGIN, advisory lock, SELECT, COMMIT) to be most of each idle service's CPU and
    a steady load on PostgreSQL. With every commit waking the relay, the poll is only a
    safety net (rows committed by another process or replica) and can be slow. The wake
    function comes from the sessionmaker's `info` (set by the runtime), so a process that
    hosts several runtimes (tests) wakes the right relay.
    """
    if session.info.pop(OUTBOX_ADDED, False):
        wake = session.info.get(OUTBOX_WAKE)
        if wake is not None:
            wake()


@event.listens_for(Session, "after_rollback")
def _forget_outbox_rows(session: Session) -> None:
    session.info.pop(OUTBOX_ADDED, None)  # rolled back: nothing to publish


def make_producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    """Idempotent producer, all in-sync replicas acknowledge: an accepted event is durable."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        request_timeout_ms=15000,
    )


def send_loop_ended(producer: AIOKafkaProducer) -> str:
    """Why a started producer's send loop is no longer running ("" while it runs).

    aiokafka sends every batch from one task per producer; an error it does not expect
    (uvloop's `RuntimeError` on a connection a broker cut had closed, which it handles
    only as an `OSError`) ends that task for good. The batches then waiting fail, but
    every later send is queued for a loop that is gone and never completes."""
    if getattr(producer, "_closed", True):
        return ""
    return why_ended(getattr(getattr(producer, "_sender", None), "sender_task", None), "send loop")


# How long a relay pass waits for the broker to acknowledge what it sent. A reachable
# broker answers in milliseconds and an unreachable one fails the batches after the
# producer's request timeout (15 s); this bounds only a producer that can no longer answer
# at all, so that a pass never holds its transaction (and the relay lock) for ever.
DELIVERY_TIMEOUT_S = 60.0


class _PutBack(Exception):
    """Rolls a relay pass back: its rows stay in the outbox."""


# How soon a relay looks again when another replica's relay held the lock.
LOCK_BUSY_RETRY_S = 0.05


# The relay's statements (constant: asyncpg prepares each once per connection). The
# outbox is `messaging_tables`' "outbox" in every service.
# The pass's DELETE need not wait for its WAL flush: if PostgreSQL crashed and lost it, the
# rows would be published again, which every consumer's inbox absorbs; the rows' own INSERTs
# were durable commits. One fsync wait less per pass, sent with the BEGIN.
_RELAY_SETUP = "SET LOCAL synchronous_commit TO off"
# One relay at a time per database keeps per-key order across replicas: the lock is tried
# and the rows taken (deleted; they come back if publishing fails, since the transaction
# rolls back) in ONE statement, one round trip fewer than a lock statement before the take
# (issue 18: a round trip's socket writes were a quarter of a consumer's CPU). A busy lock
# answers one row of NULLs. The statement's snapshot predates the lock: rows the lock's
# previous holder took and committed meanwhile are still in it, and the DELETE skips them
# (PostgreSQL re-checks a row deleted by a committed transaction), so none is sent twice.
_TAKE = (
    "WITH l AS MATERIALIZED (SELECT pg_try_advisory_xact_lock(4242) AS got), "
    "t AS (DELETE FROM outbox WHERE (SELECT got FROM l) AND id IN (SELECT id FROM outbox "
    "WHERE topic <> ALL($2::text[]) ORDER BY id LIMIT $1) "
    "RETURNING id, topic, key, payload, headers) "
    "SELECT id, topic, key, payload, headers FROM t "
    "UNION ALL SELECT NULL, NULL, NULL, NULL, NULL FROM l WHERE NOT l.got"
)


def _json(value: Any) -> dict[str, Any]:
    """A jsonb column as the raw connection returns it: decoded when SQLAlchemy's codec
    is installed on the connection, text otherwise."""
    return json.loads(value) if isinstance(value, str) else dict(value)


class OutboxRelay:
    """Publishes committed outbox rows in id order, then deletes them."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: Table,
        producer: AIOKafkaProducer,
        poll_interval_s: float = 0.05,
        batch_size: int = 500,
        coalesce_s: float = 0.0,
    ) -> None:
        # Its passes are raw transactions on the sessions' engine (db.raw_transaction):
        # a pass runs after most commits, and the ORM session added ~135 us to each.
        self._engine = engine_of(sessions)
        # The relay's statements name the table (constant SQL); every service's outbox is it.
        assert outbox.name == "outbox", outbox.name
        self._outbox = outbox
        self._producer = producer
        self._poll = poll_interval_s
        self._batch = batch_size
        self._coalesce = coalesce_s
        self._wake = asyncio.Event()
        # Topics the broker does not know (auto-creation is off). Their rows stay in the
        # outbox, counted and logged, instead of stalling every other topic behind them.
        self._unroutable: set[str] = set()
        self._unroutable_checked = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Another replica's relay held the lock on the last pass. Its pass may have selected
        # before our rows were committed, so we look again shortly instead of a whole poll
        # interval later (the wake from our commit was spent on the failed try).
        self._lock_busy = False

    @property
    def running(self) -> bool:
        """False once its task ended other than by `stop`, or its producer's send loop
        ended (liveness, runtime.py: only a new process helps then)."""
        if self._stopping:
            return True
        return (
            self._task is not None and not self._task.done() and not send_loop_ended(self._producer)
        )

    def wake(self) -> None:
        """Called after a commit that added rows, so they leave without waiting a poll."""
        self._wake.set()

    async def _routable(self, topic: str) -> bool:
        if topic in self._unroutable:
            return False
        if self._producer.client.cluster.partitions_for_topic(topic):
            return True
        # One metadata request for every topic: `producer.partitions_for` would wait its
        # whole request timeout (15 s) for a topic that does not exist. A broker outage
        # raises here, which fails this pass and is retried.
        if topic in (await self._producer.client.fetch_all_metadata()).topics():
            return True
        if not self._unroutable:
            self._unroutable_checked = time.monotonic()  # tried again a minute from now
        self._unroutable.add(topic)
        UNROUTABLE.labels(topic).inc()
        log.error("outbox rows for an unknown topic are held back", topic=topic)
        return False

    async def relay_once(self) -> int:
        """Publish up to one batch of committed rows; how many were published."""
        try:
            return await self._relay_batch()
        except _PutBack:
            return await self._relay_batch()  # the unknown topic is now left out

    async def _relay_batch(self) -> int:
        if self._unroutable and time.monotonic() - self._unroutable_checked > 60:
            self._unroutable_checked = time.monotonic()
            self._unroutable.clear()  # the topic may have been created since: retry them
        async with raw_transaction(self._engine, setup=_RELAY_SETUP) as conn:
            # Constant statements on the transaction's asyncpg connection: prepared once per
            # connection, nothing compiled per pass (issue 18: a pass runs after most commits).
            taken = await conn.fetch(_TAKE, self._batch, sorted(self._unroutable))
            self._lock_busy = bool(taken) and taken[0]["id"] is None
            if self._lock_busy:
                return 0
            rows = sorted(taken, key=lambda r: r["id"])
            if not rows:
                OUTBOX_BACKLOG.set(0)
                return 0
            if not all([await self._routable(topic) for topic in {r["topic"] for r in rows}]):
                # A topic the broker does not know: put everything back (roll back) and
                # look again without it, so the rows of other topics leave right away.
                raise _PutBack
            OUTBOX_BACKLOG.set(len(rows))
            futures = [
                await self._producer.send(
                    row["topic"],
                    value=row["payload"],
                    key=row["key"],
                    headers=[(k, str(v).encode()) for k, v in _json(row["headers"]).items()],
                )
                for row in rows
            ]
            # Bounded: a producer whose send loop died never completes these (see
            # `send_loop_ended`); the pass then fails and its rows stay in the outbox.
            await asyncio.wait_for(asyncio.gather(*futures), DELIVERY_TIMEOUT_S)
            for row in rows:
                RELAYED.labels(row["topic"]).inc()
            return len(rows)

    async def run(self) -> None:
        backoff = self._poll
        while not self._stopping:
            # Cleared before the pass, not after it: a commit that wakes the relay while a
            # pass runs (after its SELECT) must not be lost, or its rows would wait a whole
            # poll interval.
            self._wake.clear()
            try:
                sent = await self.relay_once()
                backoff = self._poll
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: keep rows, retry later
                log.warning("outbox relay failed; will retry", error=type(exc).__name__)
                sent = 0
                backoff = min(backoff * 2, 5.0)
            if sent < self._batch:
                wait = min(backoff, LOCK_BUSY_RETRY_S) if self._lock_busy else backoff
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)
                if self._wake.is_set() and self._coalesce > 0:
                    # Woken by a commit: commits that land in the next few milliseconds
                    # leave in the same pass (one transaction, one produce batch) instead
                    # of a pass each (issue 18: a pass costs ~4 round trips).
                    await asyncio.sleep(self._coalesce)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        """Drain what is committed (best effort), then stop."""
        self._stopping = True
        self._wake.set()
        # A task that already ended (it crashed, or was cancelled) has nothing to wait for.
        if self._task and not self._task.done():
            try:
                await asyncio.wait_for(self._task, timeout=5)
            except TimeoutError:
                self._task.cancel()
        try:
            while await self.relay_once():
                pass
        except Exception as exc:
            log.warning(
                "outbox not drained at shutdown; rows stay for next start", error=type(exc).__name__
            )


# --- consuming ------------------------------------------------------------------------------

PERMANENT = (PermanentError, ValidationError, json.JSONDecodeError, UnicodeDecodeError)

# Failures of the world, not of the message: the database, Redis or the broker is down or
# restarting. Dead-lettering them would throw valid messages away during an outage (the
# chaos run found it: PostgreSQL stopped for 3 s sent accepted reports to the DLQ after
# three quick attempts), so they are retried until the dependency is back instead; the
# partition waits, which is right, since nothing on it can be applied meanwhile.
# SQLSTATE classes: 08 connection exception, 53 insufficient resources, 57P operator
# intervention (shutdown, cannot connect now), 40001/40P01 serialization failure, deadlock.
_TRANSIENT_SQLSTATES = ("08", "53", "57P", "40001", "40P01")
# What our drivers raise when a dependency is unreachable: asyncpg and the socket layer
# (refused, reset, aborted, broken pipe, timed out), asyncpg once connected, aiokafka, and
# redis-py (its own ConnectionError/TimeoutError classes, matched with their module).
_OUTAGE_ERRORS = (
    ConnectionRefusedError,
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
    TimeoutError,
)
_OUTAGE_NAMES = {
    "asyncpg": frozenset({"ConnectionDoesNotExistError", "CannotConnectNowError"}),
    "aiokafka": frozenset({"KafkaConnectionError", "NodeNotReadyError", "RequestTimedOutError"}),
    "redis": frozenset({"ConnectionError", "TimeoutError", "BusyLoadingError"}),
}


def is_transient(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) says a dependency is unreachable, not that the
    message is wrong."""
    current: BaseException | None = exc
    for _ in range(10):  # cause chains are short; never loop on a cycle
        if current is None:
            return False
        if isinstance(current, _OUTAGE_ERRORS):
            return True
        if getattr(current, "connection_invalidated", False):  # SQLAlchemy: disconnect
            return True
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str) and state.startswith(_TRANSIENT_SQLSTATES):
            return True
        package = type(current).__module__.split(".")[0]
        if type(current).__name__ in _OUTAGE_NAMES.get(package, frozenset()):
            return True
        # asyncpg (and SQLAlchemy's adapter translating it) on a connection whose server
        # went away; other InterfaceErrors are misuse, a bug, not an outage.
        if type(current).__name__ == "InterfaceError" and "connection is closed" in str(current):
            return True
        current = current.__cause__ or current.__context__ or getattr(current, "orig", None)
    return False


def describe(exc: Exception) -> str:
    """The cause, for a dead letter's headers, without echoing the payload: pydantic's
    message quotes the input, which may hold a complaint's text."""
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)[:10]
        )
        return f"ValidationError: {problems}"
    return f"{type(exc).__name__}: {exc}"


def dead_letter_headers(record: Any, exc: Exception, attempts: int) -> dict[str, str]:
    """A dead letter's headers: the record's own, plus the cause and where it came from."""
    headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
    headers.update(
        {
            "dlq_error": describe(exc)[:2000],
            "dlq_source_topic": record.topic,
            "dlq_source_partition": str(record.partition),
            "dlq_source_offset": str(record.offset),
            "dlq_attempts": str(attempts),
            "dlq_at": str(time.time()),
        }
    )
    return headers


def dead_letter_middleware(
    max_attempts: int,
    backoff_s: float = 0.2,
) -> type[BaseMiddleware[Any, Any]]:
    """A broker middleware: retry a failing message up to `max_attempts` (the subscriber's
    NACK_ON_ERROR policy seeks back so Kafka redelivers it), then publish it unchanged to
    `<topic>.dlq` with the error in headers and let it be acknowledged.

    Attempts are counted in memory per (topic, partition, offset): after a restart a poison
    message gets at most `max_attempts` more tries, never an endless loop. A failure that
    `is_transient` (a dependency down) is not counted and never dead-letters: it is retried
    with backoff capped at 5 s until the dependency answers.
    """
    attempts: dict[tuple[str, int, int], int] = {}
    transient_waits: dict[tuple[str, int, int], int] = {}

    class DeadLetter(BaseMiddleware[Any, Any]):
        async def consume_scope(
            self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
        ) -> Any:
            raw = msg.raw_message
            if isinstance(raw, tuple):
                return await self._batch_scope(call_next, msg)
            topic, partition, offset = raw.topic, raw.partition, raw.offset
            token = correlation_id.set(msg.correlation_id)
            try:
                result = await call_next(msg)
                attempts.pop((topic, partition, offset), None)
                transient_waits.pop((topic, partition, offset), None)
                CONSUMED.labels(topic, "ok").inc()
                return result
            except Exception as exc:
                where = (topic, partition, offset)
                if not isinstance(exc, PERMANENT) and is_transient(exc):
                    waits = transient_waits.get(where, 0) + 1
                    transient_waits[where] = waits
                    CONSUMED.labels(topic, "retried").inc()
                    log.warning(
                        "dependency unavailable; will retry, not dead-letter",
                        topic=topic,
                        partition=partition,
                        offset=offset,
                        wait=waits,
                        error=type(exc).__name__,
                    )
                    await asyncio.sleep(min(backoff_s * 2 ** (waits - 1), 5.0))
                    raise
                transient_waits.pop(where, None)
                count = attempts.get(where, 0) + 1
                attempts[where] = count
                if isinstance(exc, PERMANENT) or count >= max_attempts:
                    attempts.pop(where, None)
                    if topic.endswith(".dlq"):
                        # Never dead-letter a dead letter: log it and move on.
                        log.error(
                            "dead-letter consumer failed",
                            topic=topic,
                            offset=offset,
                            error=type(exc).__name__,
                        )
                        return None
                    await self._dead_letter(raw, exc, count)
                    CONSUMED.labels(topic, "dead_lettered").inc()
                    return None
                CONSUMED.labels(topic, "retried").inc()
                log.warning(
                    "handler failed; will retry",
                    topic=topic,
                    partition=partition,
                    offset=offset,
                    attempt=count,
                    error=type(exc).__name__,
                )
                await asyncio.sleep(backoff_s * 2 ** (count - 1))
                raise
            finally:
                correlation_id.reset(token)

        async def _batch_scope(
            self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
        ) -> Any:
            """A batch (`aduan_kit.batching`) dead-letters its own poison messages; what
            reaches here is an outage or a bug outside any one message. The batch is
            rewound and retried after a backoff, never dead-lettered whole."""
            first = msg.raw_message[0] if msg.raw_message else None
            where = (first.topic, first.partition, first.offset) if first else ("", 0, 0)
            try:
                result = await call_next(msg)
                transient_waits.pop(where, None)
                return result
            except Exception as exc:
                waits = transient_waits.get(where, 0) + 1
                transient_waits[where] = waits
                CONSUMED.labels(where[0], "retried").inc()
                log.warning(
                    "batch failed; will retry",
                    topic=where[0],
                    partition=where[1],
                    offset=where[2],
                    size=len(msg.raw_message),
                    wait=waits,
                    transient=is_transient(exc),
                    error=type(exc).__name__,
                )
                await asyncio.sleep(min(backoff_s * 2 ** (waits - 1), 5.0))
                raise

        async def _dead_letter(self, raw: Any, exc: Exception, count: int) -> None:
            broker: KafkaBroker = self.context.get("broker")
            headers = dead_letter_headers(raw, exc, count)
            await broker.publish(raw.value, f"{raw.topic}.dlq", key=raw.key, headers=headers)
            DEAD_LETTERED.labels(raw.topic).inc()
            log.error(
                "message dead-lettered",
                topic=raw.topic,
                partition=raw.partition,
                offset=raw.offset,
                attempts=count,
                error=type(exc).__name__,
            )

    return DeadLetter


# A consumer that died without leaving its group (SIGKILL, a lost node) holds its partitions
# until its session times out: 10 s by aiokafka's default, and a restarted process waits
# that long before it is assigned anything (chaos run: 16 s from restart to healthy). 6 s is
# the broker's default minimum (`group.min.session.timeout.ms`); heartbeats at a third of it
# as Kafka advises. A consumer's handler may still take long: `max.poll.interval.ms`, not
# the session, bounds that.
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 2000


class _Broker(KafkaBroker):
    """faststream's Kafka broker with our consumer-group timings as every subscriber's
    default (a subscriber may still pass its own)."""

    def subscriber(self, *topics: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("session_timeout_ms", SESSION_TIMEOUT_MS)
        kwargs.setdefault("heartbeat_interval_ms", HEARTBEAT_INTERVAL_MS)
        return super().subscriber(*topics, **kwargs)


def make_broker(
    bootstrap_servers: str, client_id: str, max_attempts: int, graceful_timeout: float
) -> KafkaBroker:
    """A broker whose subscribers never lose a message: offsets are committed only after the
    handler finished (NACK_ON_ERROR), and poison messages leave through the DLQ."""
    import logging

    return _Broker(
        bootstrap_servers,
        client_id=client_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        middlewares=[dead_letter_middleware(max_attempts)],
        graceful_timeout=graceful_timeout,
        enable_idempotence=True,
        acks="all",
        # faststream's own logger has a coloured text handler; ours propagates to the JSON
        # handler on the root. Per-message access lines only at DEBUG (they are per event).
        logger=logging.getLogger("aduan.broker"),
        log_level=logging.DEBUG,
    )


async def ensure_topics(
    bootstrap_servers: str,
    namespace: str = "",
    specs: Iterable[TopicSpec] = ALL_TOPICS,
    replication_factor: int = 1,
    max_partitions: int | None = None,
) -> list[str]:
    """Create every topic (and its dead-letter topic) from the declarative list; existing
    topics are left as they are. Returns the names created."""
    wanted: list[TopicSpec] = []
    for spec in specs:
        wanted += [spec, dead_letter(spec)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                s.qualified(namespace),
                num_partitions=min(s.partitions, max_partitions or s.partitions),
                replication_factor=replication_factor,
                topic_configs=s.configs(),
            )
            for s in wanted
            if s.qualified(namespace) not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently
                await admin.create_topics(new)
        return [t.name for t in new]
    finally:
        await admin.close()


async def delete_namespace_topics(bootstrap_servers: str, namespace: str) -> int:
    """Delete every topic of a (test) namespace; a broker that keeps thousands of dead test
    partitions slows down until it fences itself."""
    if not namespace:
        raise ValueError("refusing to delete the production (empty) namespace")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(f"{namespace}.")]
        if doomed:
            await admin.delete_topics(doomed)
        return len(doomed)
    finally:
        await admin.close()
