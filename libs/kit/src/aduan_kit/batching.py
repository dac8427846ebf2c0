"""Batch consumers: one transaction and one offset commit per poll, not per message.

Profiling the platform under load (docs/performance.md, "Profiling notes") found its cost
to be PostgreSQL round trips and one commit (a WAL flush) per message, in every service.
`subscribe_batches` keeps the exactly-once rules of `messaging.py` and changes only the
unit of work:

- The consumer takes up to `KAFKA_BATCH_MAX_RECORDS` (200) messages per poll. Each record
  is decoded on its own, so a malformed one is dead-lettered without failing its neighbours.
- All inbox ids of the batch are claimed in one statement; the claimed events are applied
  in order (per partition, offsets stay in order) in one transaction, and the offsets are
  committed after that transaction commits. A crash in between redelivers the batch, and
  the inbox turns every redelivered event into a no-op.
- A dependency outage (`is_transient`) fails the whole batch, which is rewound and retried
  after a backoff: nothing is dead-lettered because PostgreSQL restarted.
- Any other failure rolls the batch back and applies its events one transaction each,
  which finds the culprit: it is retried up to `max_attempts`, then dead-lettered (through
  the outbox when the service has one, so the dead letter is published exactly once),
  while the rest of the batch is applied normally.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Generic, TypeVar, Union
from uuid import UUID, uuid5

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord, TopicPartition
from faststream.kafka import KafkaMessage
from faststream.message import AckStatus, StreamMessage
from pydantic import TypeAdapter
from sqlalchemy import Table, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_kit.db import transaction
from aduan_kit.logging import correlation_id, get_logger
from aduan_kit.messaging import (
    CONSUMED,
    DEAD_LETTERED,
    PERMANENT,
    claim_inbox,
    dead_letter_headers,
    is_transient,
    queue_raw,
)
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.uow import UnitOfWork, raw_unit_of_work

__all__ = ["BATCH_TIMEOUT_MS", "Route", "claim_pairs", "subscribe_batches", "subscribe_units"]

log = get_logger(__name__)

E = TypeVar("E")

# How long an idle consumer's poll waits for records; a record arriving meanwhile ends the
# wait at once (see `_poll_without_idle_sleep`), so this sets only the idle poll rate.
BATCH_TIMEOUT_MS = 500

# Dead letters are claimed in the inbox under an id derived from the record's position.
_POSITIONS = UUID("6f1d3c52-8f0e-4a0b-9a51-2b1f4e0c7d93")


def _position(record: ConsumerRecord[Any, Any]) -> UUID:
    return uuid5(_POSITIONS, f"{record.topic}:{record.partition}:{record.offset}")


# The attribute on the parsed batch message where the decoder leaves what it found.
_DECODED = "aduan_decoded"


@dataclass
class _Decoded(Generic[E]):
    events: list[tuple[ConsumerRecord[Any, Any], E]] = field(default_factory=list)
    rejected: list[tuple[ConsumerRecord[Any, Any], Exception]] = field(default_factory=list)


@dataclass(frozen=True)
class Route(Generic[E]):
    """One topic of a service's consumer (issue 18: one consumer per service).

    `model` is the event type (a model or an annotated union), shown in the AsyncAPI
    document. `consumer` names the inbox consumer. Exactly one of:
    - `apply_many(uow, events)`: the set-based use case, given the batch's new events of
      this topic in order (redeliveries already removed); returns a list of results;
    - `apply(session, event)`: one event at a time (the older style).
    `wanted(event)` False skips an event without claiming it (steps a service ignores).
    `prepare(deliveries)`, with `apply_many` only, is awaited before the batch's
    transaction opens with the poll's `(event, headers)` pairs of this topic and returns
    one item per pair, which `apply_many` then gets instead of the event (for what a use
    case needs from the message's headers, or from a slow dependency that no row lock
    should wait on: workflow resolves its commands' reply topics there).
    """

    topic: str
    model: Any
    consumer: str
    apply: Callable[[AsyncSession, Any], Awaitable[Any]] | None = None
    apply_many: Callable[[UnitOfWork, list[Any]], Awaitable[list[Any]]] | None = None
    wanted: Callable[[Any], bool] | None = None
    prepare: Callable[[list[tuple[Any, dict[str, str]]]], Awaitable[list[Any]]] | None = None

    def __post_init__(self) -> None:
        if (self.apply is None) == (self.apply_many is None):
            raise TypeError(f"route {self.topic}: give exactly one of apply, apply_many")
        if self.prepare is not None and self.apply_many is None:
            raise TypeError(f"route {self.topic}: prepare goes with apply_many")

    async def run(self, uow: UnitOfWork, events: list[Any], culprit: list[Any]) -> list[Any]:
        """`culprit` is left holding the events that may have failed: the one being
        applied (one at a time), or every event a set-based use case was given (any of
        them may be the cause). Their try in the batch counts as their first attempt, so a
        poison event is tried `max_attempts` times in all, as its dead letter says."""
        if self.apply_many is not None:
            culprit[:] = events
            return list(await self.apply_many(uow, events))
        assert self.apply is not None
        results = []
        for event in events:
            culprit[:] = [event]
            token = correlation_id.set(event.correlation_id)
            try:
                results.append(await self.apply(uow.session, event))
            finally:
                correlation_id.reset(token)
        return results


async def claim_pairs(
    uow: UnitOfWork, inbox: Table, pairs: Sequence[tuple[str, UUID]]
) -> set[tuple[str, UUID]]:
    """The (consumer, event id) pairs not seen before: claimed now, in one statement (a
    prepared one on the raw connection). Must run in the transaction that applies them."""
    if not pairs:
        return set()
    unique = list(dict.fromkeys(pairs))
    # messaging_tables names it so in every service; the SQL is a constant (prepared once).
    assert inbox.name == "inbox"
    conn = await uow.connection()
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, event_id) "
        "SELECT * FROM unnest($1::text[], $2::uuid[]) "
        "ON CONFLICT DO NOTHING RETURNING consumer, event_id",
        [c for c, _ in unique],
        [i for _, i in unique],
    )
    return {(r["consumer"], r["event_id"]) for r in rows}


def subscribe_batches(
    runtime: ServiceRuntime,
    topic: str,
    *,
    model: Any,
    consumer: str,
    inbox: Table,
    apply: Callable[[AsyncSession, E], Awaitable[Any]],
    title: str,
    description: str,
    outbox: Table | None = None,
    wanted: Callable[[E], bool] | None = None,
    after_commit: Callable[[list[Any]], None] | None = None,
    group_id: str | None = None,
    max_records: int | None = None,
    serialize_with: int | None = None,
) -> None:
    """Subscribe `apply(session, event)` to one topic, in batches: `subscribe_units` with
    one route (see there and the module's docstring)."""
    subscribe_units(
        runtime,
        [Route(topic, model, consumer, apply=apply, wanted=wanted)],
        inbox=inbox,
        outbox=outbox,
        title=title,
        description=description,
        after_commit=after_commit,
        group_id=group_id,
        max_records=max_records,
        serialize_with=serialize_with,
    )


def subscribe_units(
    runtime: ServiceRuntime,
    routes: Sequence[Route[Any]],
    *,
    inbox: Table,
    title: str,
    description: str,
    outbox: Table | None = None,
    after_commit: Callable[[list[Any]], None] | None = None,
    group_id: str | None = None,
    max_records: int | None = None,
    serialize_with: int | None = None,
    orm_session: bool | Callable[[Any], bool] = False,
) -> None:
    """One Kafka consumer for every route's topic; one unit of work per poll.

    Each poll's records are decoded by their topic's model; the new ones (one inbox claim
    for the whole batch) go to their route's use case in one transaction, route by route
    in the order given (per partition, offsets stay in order), with one outbox statement
    and then the offset commit. `after_commit` gets the use cases' results once the batch
    committed (to wake a worker, say). `serialize_with` names a PostgreSQL advisory lock
    taken first in every batch transaction, for writers that must take turns.

    The units of work are raw transactions (`aduan_kit.uow.raw_unit_of_work`: no ORM
    session, the turn's lock sent with the BEGIN) unless a route is in the one-at-a-time
    style or `orm_session` says the use cases use `uow.session`: True for every batch, or
    a predicate on an event, true for any event of the batch (the rare steps that still
    use the ORM get a session, the hot path does not).
    """
    if not routes:
        raise ValueError("subscribe_units needs at least one route")
    by_topic: dict[str, Route[Any]] = {}
    for route in routes:
        if route.topic in by_topic:
            raise ValueError(f"topic {route.topic} has two routes")
        by_topic[route.topic] = route
    adapters: dict[str, TypeAdapter[Any]] = {r.topic: TypeAdapter(r.model) for r in routes}
    max_attempts = runtime.settings.kafka_max_attempts
    topic_of = runtime.topic

    async def decoder(msg: StreamMessage[Any], _original: Any) -> list[Any]:
        # Record by record, so one malformed message cannot fail the batch's validation.
        decoded: _Decoded[Any] = _Decoded()
        for record in msg.raw_message:
            try:
                event = adapters[record.topic].validate_json(record.value or b"")
                decoded.events.append((record, event))
            except PERMANENT as exc:
                decoded.rejected.append((record, exc))
        setattr(msg, _DECODED, decoded)
        # faststream validates this list against the annotation below again: instances of
        # the models pass without being rebuilt.
        return [event for _, event in decoded.events]

    async def take_turn(session: AsyncSession) -> None:
        if serialize_with is not None:
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": serialize_with}
            )

    # Set-based use cases only need the raw connection: their units of work are raw
    # transactions (no ORM session; the turn's lock goes with the BEGIN). A route in the
    # older one-at-a-time style gets a session, so the consumer keeps the session path.
    raw = orm_session is not True and all(r.apply_many is not None for r in routes)
    needs_session: Callable[[Any], bool] = (
        orm_session if callable(orm_session) else lambda _event: False
    )

    @asynccontextmanager
    async def unit(events: Sequence[Any]) -> AsyncIterator[UnitOfWork]:
        if raw and not any(map(needs_session, events)):
            async with raw_unit_of_work(
                runtime.engine, outbox, topic_of, wake=runtime.wake_relay, lock=serialize_with
            ) as uow:
                yield uow
            return
        async with transaction(runtime.sessions) as session:
            await take_turn(session)
            uow = UnitOfWork(session, outbox, topic_of)
            yield uow
            await uow.flush()

    # Positions this process dead-lettered lately, so a batch rewound after an outage skips
    # them without another try (after a restart the inbox check in the fallback does).
    recently_dead: dict[UUID, None] = {}

    def dead_letters(record: ConsumerRecord[Any, Any]) -> str:
        return f"{by_topic[record.topic].consumer}.dead-letter"

    async def dead_letter(record: ConsumerRecord[Any, Any], exc: Exception, attempts: int) -> None:
        """Publish `record` unchanged to `<topic>.dlq` with the cause, once.

        The record's position is claimed in the inbox with it, so a batch rewound after an
        outage does not dead-letter it again (nor retry a message that was given up on).
        The position, not the event id, is claimed: an operator who puts a fixed message
        back on the topic gets it applied.
        """
        headers = dead_letter_headers(record, exc, attempts)
        target = f"{record.topic}.dlq"
        async with transaction(runtime.sessions) as session:
            if not await claim_inbox(session, inbox, dead_letters(record), _position(record)):
                return
            if outbox is not None:
                # Through the outbox: published exactly when this claim commits.
                await queue_raw(session, outbox, target, record.key, record.value or b"", headers)
            else:
                # No outbox here: published before the claim commits (a crash in between
                # repeats the dead letter, never loses it).
                await runtime.broker.publish(
                    record.value or b"", target, key=record.key, headers=headers
                )
        recently_dead[_position(record)] = None
        while len(recently_dead) > 10_000:
            del recently_dead[next(iter(recently_dead))]
        DEAD_LETTERED.labels(record.topic).inc()
        CONSUMED.labels(record.topic, "dead_lettered").inc()
        log.error(
            "message dead-lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            attempts=attempts,
            error=type(exc).__name__,
        )

    async def already_dead(records: list[ConsumerRecord[Any, Any]]) -> set[UUID]:
        async with runtime.sessions() as session:
            found = await session.scalars(
                select(inbox.c.event_id).where(
                    inbox.c.consumer.in_({dead_letters(r) for r in records}),
                    inbox.c.event_id.in_([_position(r) for r in records]),
                )
            )
            return set(found.all())

    async def apply_batch(
        events: list[tuple[ConsumerRecord[Any, Any], Any]], items: list[Any], culprit: list[Any]
    ) -> list[Any]:
        """All of `events` in one unit of work: one inbox claim, each route's new events to
        its use case, one outbox statement, one commit. On failure `culprit` holds the
        event being applied, when known."""
        results: list[Any] = []
        async with unit([e for _, e in events]) as uow:
            pairs = [(by_topic[r.topic].consumer, e.event_id) for r, e in events]
            fresh = await claim_pairs(uow, inbox, pairs)
            todo: dict[str, list[Any]] = {}
            for (record, _), item, pair in zip(events, items, pairs, strict=True):
                if pair not in fresh:
                    continue  # a redelivery, or the same event twice in one batch
                fresh.discard(pair)
                todo.setdefault(record.topic, []).append(item)
            for route in routes:
                if route.topic in todo:
                    results += await route.run(uow, todo[route.topic], culprit)
            culprit.clear()
        return results

    async def apply_one(
        record: ConsumerRecord[Any, Any], event: Any, item: Any, first_attempt: int
    ) -> list[Any]:
        """One event in its own transaction, retried; dead-lettered when it keeps failing."""
        route = by_topic[record.topic]
        for attempt in range(min(first_attempt, max_attempts), max_attempts + 1):
            token = correlation_id.set(event.correlation_id)
            try:
                async with unit([event]) as uow:
                    if not await claim_pairs(uow, inbox, [(route.consumer, event.event_id)]):
                        return []
                    results = await route.run(uow, [item], [])
                return results
            except Exception as exc:
                if not isinstance(exc, PERMANENT) and is_transient(exc):
                    raise  # the batch is rewound and retried after a backoff
                if isinstance(exc, PERMANENT) or attempt == max_attempts:
                    await dead_letter(record, exc, attempt)
                    return []
                CONSUMED.labels(record.topic, "retried").inc()
                log.warning(
                    "handler failed; will retry",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    attempt=attempt,
                    error=type(exc).__name__,
                )
                await asyncio.sleep(0.2 * 2 ** (attempt - 1))
            finally:
                correlation_id.reset(token)
        return []

    def count_ok(todo: list[tuple[ConsumerRecord[Any, Any], Any]]) -> None:
        per_topic: dict[str, int] = {}
        for record, _ in todo:
            per_topic[record.topic] = per_topic.get(record.topic, 0) + 1
        for name, count in per_topic.items():
            CONSUMED.labels(name, "ok").inc(count)

    committer = _OffsetCommitter(runtime.settings.kafka_commit_interval_ms / 1000)

    context = runtime.broker.context

    async def handler(events: list[Any]) -> None:
        # The message is taken from faststream's context rather than declared as a
        # `msg: KafkaMessage` parameter: fast_depends resolves such a Context field with a
        # hop to a worker thread (anyio's run_sync) on every poll, 4-5% of the notifier's
        # samples in issue 18's profile.
        msg: KafkaMessage = context.get_local("message")
        await handle(msg)
        # Applied and committed in PostgreSQL: the offsets may be committed to Kafka later.
        committer.take_over(msg)

    async def prepared(todo: list[tuple[ConsumerRecord[Any, Any], Any]]) -> list[Any]:
        """What each route's use case gets per event: the event, or its `prepare`'s item
        (awaited here, before any transaction)."""
        items = [event for _, event in todo]
        for route in routes:
            if route.prepare is None:
                continue
            where = [i for i, (r, _) in enumerate(todo) if r.topic == route.topic]
            if not where:
                continue
            pairs = [(todo[i][1], _headers(todo[i][0])) for i in where]
            made = await route.prepare(pairs)
            if len(made) != len(where):
                raise RuntimeError(f"route {route.topic}: prepare must return one item per event")
            for i, item in zip(where, made, strict=True):
                items[i] = item
        return items

    async def handle(msg: KafkaMessage) -> None:
        decoded: _Decoded[Any] = getattr(msg, _DECODED)
        for record, exc in decoded.rejected:
            await dead_letter(record, exc, 1)
        todo = []
        for record, event in decoded.events:
            wanted = by_topic[record.topic].wanted
            if wanted is not None and not wanted(event):
                continue
            if recently_dead and _position(record) in recently_dead:
                continue
            todo.append((record, event))
        if not todo:
            return
        items = await prepared(todo)
        culprit: list[Any] = []
        try:
            results = await apply_batch(todo, items, culprit)
        except Exception as exc:
            if not isinstance(exc, PERMANENT) and is_transient(exc):
                raise  # rewound by NACK_ON_ERROR; the middleware backs off first
            log.warning(
                "batch failed; applying its messages one by one",
                topic=todo[0][0].topic,
                size=len(todo),
                error=type(exc).__name__,
            )
            results = []
            given_up = await already_dead([record for record, _ in todo])
            try:
                for (record, event), item in zip(todo, items, strict=True):
                    if _position(record) not in given_up:
                        tried = any(c is item for c in culprit)
                        results += await apply_one(record, event, item, 2 if tried else 1)
            except Exception:
                # An outage midway: what was applied alone is committed; report it.
                if after_commit is not None and results:
                    after_commit(results)
                raise
        count_ok(todo)
        if after_commit is not None:
            after_commit(results)

    models = [r.model for r in routes]
    payload: Any = models[0] if len(models) == 1 else Union[tuple(models)]  # noqa: UP007
    # The annotation is what faststream shows in the AsyncAPI document (and validates).
    handler.__annotations__ = {"events": list[payload], "return": None}
    subscriber = runtime.broker.subscriber(
        *[r.topic for r in routes],
        group_id=group_id or runtime.settings.consumer_group,
        auto_offset_reset="earliest",
        batch=True,
        max_records=max_records or runtime.settings.kafka_batch_max_records,
        batch_timeout_ms=BATCH_TIMEOUT_MS,
        # How long the broker holds an idle fetch: a record ends it at once, so this sets
        # how often an idle consumer asks (the broker's idle cost), and not latency as long
        # as no fetch leaves out partitions with records waiting (`_hold_fetches_for_taking`).
        fetch_max_wait_ms=runtime.settings.kafka_fetch_max_wait_ms,
        consumer_timeout_ms=runtime.settings.kafka_consumer_timeout_ms,
        # Never faststream's own reply to a `reply_to` header (it would send the handler's
        # None, before the commit): a use case replies through the outbox.
        no_reply=True,
        decoder=decoder,
        title=title,
        description=description,
    )
    subscriber(handler)
    if len(routes) == 1:
        _document_one_message(subscriber)
    else:
        _document_each_topic(subscriber, {r.topic: (r.model, r.consumer) for r in routes})
    _poll_without_idle_sleep(
        subscriber,
        runtime.settings.kafka_poll_pace_ms / 1000,
        runtime.settings.kafka_prefetch_backoff_ms / 1000,
    )


# How long a paced poll waits for the fetch its own taking of the buffer sent (a local
# broker answers in 1-3 ms; one with nothing new holds it, so this bounds the wait).
_FRESH_FETCH_MS = 20


# aiokafka's own `prefetch_backoff` (its Fetcher's default).
_AIOKAFKA_PREFETCH_BACKOFF_S = 0.1


def _hold_fetches_for_taking(consumer: Any, backoff_s: float) -> None:
    """Records fetched and not yet taken keep aiokafka from fetching their broker's other
    partitions for `backoff_s` instead of 100 ms (`settings.kafka_prefetch_backoff_ms`).

    Found in `bench.run` at 160/s (2026-12-07): end-to-end p99 1.2-1.4 s in one 2-s window
    of three, workflow's stage alone p99 1.1 s, at 100/s 0.3 s. aiokafka keeps one fetch in
    flight per broker and leaves out of it the partitions with records still buffered; once
    those records are 100 ms old it fetches the rest alone. Workflow's pace is 120 ms and
    its commands' partitions are quiet, so that fetch waited the whole
    `fetch_max_wait_ms` (1 s) at the broker, and the intake partitions taken meanwhile could
    not be fetched until it came back. A batch consumer takes every partition's records each
    poll, so waiting for that loses nothing: the next fetch, sent when they are taken, asks
    for every partition at once. (aiokafka takes the setting only from its own code, not the
    consumer's arguments. An upgrade that renames the attribute breaks nothing here, the
    consumer just gets aiokafka's 100 ms again, and
    `test_a_paced_consumer_is_not_held_up_by_a_quiet_partition` fails.)"""
    fetcher = getattr(consumer, "_fetcher", None)
    if getattr(fetcher, "_prefetch_backoff", backoff_s) != backoff_s:
        fetcher._prefetch_backoff = backoff_s  # type: ignore[union-attr]


def _poll_without_idle_sleep(
    subscriber: Any, pace_s: float = 0.0, prefetch_backoff_s: float = _AIOKAFKA_PREFETCH_BACKOFF_S
) -> None:
    """faststream's batch poll sleeps `batch_timeout_ms` after every empty poll, on top of
    the poll's own wait; a record arriving during that sleep waits for it. With a short
    timeout that costs an idle service dozens of polls a second (measured: +4 to +7 CPU-ms/s
    per subscriber at 20 ms); with a long one it adds its length to the first record after
    a quiet spell. Polling again at once (aiokafka's `getmany` returns as soon as a record
    is fetched) gives both: two polls a second when idle, no added latency. The sleep stays
    only for a poll that came back empty early, so a consumer never spins.

    `pace_s` (issue 18): after a poll that brought records, the next one starts no sooner
    than `pace_s` after those records were taken. A poll's cost is mostly fixed (a
    transaction's round trips, a relay pass, a fetch, an offset commit), and at a few
    hundred events a second that arrive one by one every event paid all of it. A busy
    consumer never waits: a poll that came back full (`max_records`) says more records
    are waiting, so the next one starts at once (a paced backlog replay would otherwise
    move `max_records` a pace: 1,000 events/s at 200 a poll and 200 ms, measured in the
    twentieth step's `make bench` as a replay of 342 complaints/s against 1,829); and a
    quiet one's first record never waits either.

    Two details make the pace gather what it waits for. It counts from when the records
    were taken, not from when the poll began: a poll that waited for its first record (the
    consumer was quiet) would otherwise let the next one through alone too. And after the
    wait it takes aiokafka's buffer and then the broker's news: aiokafka fetches a
    partition again as soon as its buffer is taken, so the buffer holds what came in just
    after the last poll (often one record) while what arrived during the pace is still on
    the broker; taking the buffer sends that fetch, and one round trip brings it into the
    same batch (without it, a record waited up to two paces: measured in
    `test_a_paced_consumer_gathers_steady_arrivals_into_few_transactions`, where the second
    record of a burst took a transaction of its own and each batch came a pace late)."""
    base = type(subscriber)
    busy_since: float | None = None  # when the last poll that brought records returned

    class PollAgain(base):  # type: ignore[valid-type, misc]
        __slots__ = ()

        async def get_msg(self, consumer: Any) -> tuple[ConsumerRecord[Any, Any], ...]:
            nonlocal busy_since
            loop = asyncio.get_running_loop()

            def taken(records: tuple[ConsumerRecord[Any, Any], ...]) -> tuple[Any, ...]:
                nonlocal busy_since
                full = len(records) >= self.max_records
                busy_since = loop.time() if records and pace_s > 0 and not full else None
                # What is fetched while these records are applied (and during the pace)
                # waits to be taken before the next fetch; in a backlog (a full poll) the
                # next records are on the broker already, so aiokafka's prefetch of the
                # drained partitions keeps the consumer fed instead (replay 1,299 -> 1,727
                # reports/s with it, twenty-fifth step). Set each poll: a consumer
                # restarted in place (aduan_kit.consumers) has a new fetcher.
                _hold_fetches_for_taking(
                    consumer, _AIOKAFKA_PREFETCH_BACKOFF_S if full else prefetch_backoff_s
                )
                return records

            wait = 0.0 if busy_since is None else busy_since + pace_s - loop.time()
            if wait > 0.001:
                await asyncio.sleep(wait)
                buffered = await consumer.getmany(timeout_ms=0, max_records=self.max_records)
                records = tuple(chain.from_iterable(buffered.values()))
                if records:
                    room = self.max_records - len(records)
                    if room > 0:
                        fresh = await consumer.getmany(timeout_ms=_FRESH_FETCH_MS, max_records=room)
                        records += tuple(chain.from_iterable(fresh.values()))
                    return taken(records)
            started = loop.time()
            fetched = await consumer.getmany(
                timeout_ms=self.batch_timeout_ms, max_records=self.max_records
            )
            if not fetched:
                taken(())
                left = self.batch_timeout_ms / 1000 - (loop.time() - started)
                if left > 0.01:
                    await asyncio.sleep(left)
                return ()
            return taken(tuple(chain.from_iterable(fetched.values())))

    subscriber.__class__ = PollAgain


def _headers(record: ConsumerRecord[Any, Any]) -> dict[str, str]:
    return {k: (v or b"").decode(errors="replace") for k, v in (record.headers or ())}


# Failed commits of the same offsets tried before they are dropped (about 10 s in all).
_COMMIT_TRIES = 6
_COMMIT_BACKOFF_S = 0.5


class _OffsetCommitter:
    """Commits a batch consumer's offsets in the background, at most every `interval_s`,
    instead of one synchronous OffsetCommit round trip after every poll (issue 18).

    Safe because every event is claimed in the inbox in the transaction that applies it:
    offsets committed late (or lost with a crash or a rebalance) only make Kafka hand over
    events already applied again, which the inbox turns into no-ops. The offsets committed
    are the batch's own (last record + 1 per partition), taken when it was applied, never
    the consumer's position, which may already include the next, unapplied poll.
    """

    def __init__(self, interval_s: float) -> None:
        self._interval = interval_s
        self._pending: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    def take_over(self, msg: KafkaMessage) -> None:
        consumer = getattr(msg, "consumer", None)
        if self._interval <= 0 or not isinstance(consumer, AIOKafkaConsumer):
            return  # faststream commits at once (or has nothing to commit: test broker)
        if consumer is not self._consumer:
            self._pending = {}  # a restarted consumer: the old one's offsets are not ours
            self._consumer = consumer
        for record in msg.raw_message:
            tp = TopicPartition(record.topic, record.partition)
            self._pending[tp] = max(self._pending.get(tp, 0), record.offset + 1)
        msg.committed = AckStatus.ACKED  # faststream's ack then leaves the commit to us
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._commit_soon(), name="offset-commit")

    async def _commit_soon(self) -> None:
        failures = 0
        while self._pending:
            await asyncio.sleep(self._interval)
            consumer, offsets, self._pending = self._consumer, self._pending, {}
            if consumer is None:
                return
            try:
                await consumer.commit(offsets)
                failures = 0
            except (CommitFailedError, IllegalStateError) as exc:
                # Partitions moved to another member: it goes on from the last committed
                # offsets, and the inbox absorbs what it sees again.
                log.info("offsets not committed: partitions reassigned", error=type(exc).__name__)
            except Exception as exc:
                failures += 1
                if failures >= _COMMIT_TRIES or getattr(consumer, "_closed", False):
                    # A stopped consumer, or a broker away for long: these offsets are
                    # dropped, not retried for ever. The next batch's commit covers them
                    # (a partition's committed offset is its latest), and until then a
                    # restart only redelivers what the inbox already holds.
                    log.warning("offset commit given up", error=type(exc).__name__)
                    return
                log.warning("offset commit failed; will retry", error=type(exc).__name__)
                if consumer is self._consumer:
                    for tp, offset in offsets.items():
                        self._pending[tp] = max(self._pending.get(tp, 0), offset)
                await asyncio.sleep(min(_COMMIT_BACKOFF_S * failures, 5.0))


def _document_each_topic(subscriber: Any, models: dict[str, tuple[Any, str]]) -> None:
    """A consumer of several topics: faststream would document the union of every route's
    model on each topic. Each topic's channel gets its own route's model instead, so the
    AsyncAPI contract still says what producers must send to that topic."""
    spec = subscriber.specification
    base = type(spec)

    class EachTopic(base):  # type: ignore[valid-type, misc]
        __slots__ = ()

        def get_schema(self) -> dict[str, Any]:
            channels: dict[str, Any] = super().get_schema()
            for channel in channels.values():
                model, consumer = models[channel.address]
                body = TypeAdapter(model).json_schema()
                # A union has no title of its own: name it after the inbox consumer.
                body.setdefault("title", f"{consumer}:Payload")
                channel.operation.message.payload = body
            return channels

    spec.__class__ = EachTopic


def _document_one_message(subscriber: Any) -> None:
    """faststream documents a batch subscriber's payload as an array of the model, but on
    the wire every Kafka message carries one event: document the event itself, so the
    AsyncAPI contract stays what producers must send. (The specification object has
    slots, so the override is a subclass with no state of its own.)"""
    spec = subscriber.specification
    base = type(spec)

    class OneMessage(base):  # type: ignore[valid-type, misc]
        __slots__ = ()

        def get_payloads(self) -> list[tuple[dict[str, Any], str]]:
            found: list[tuple[dict[str, Any], str]] = []
            for body, name in super().get_payloads():
                if body.get("type") == "array" and isinstance(body.get("items"), dict):
                    items, defs = body["items"], dict(body.get("$defs", {}))
                    ref = items.get("$ref", "")
                    if set(items) == {"$ref"} and ref.startswith("#/$defs/"):
                        # One model (not a union): the items are only a reference. Inline
                        # the model so the payload is named after it, as for a single
                        # message, instead of after the subscriber.
                        body = {**defs.pop(ref.removeprefix("#/$defs/"))}
                        if defs:
                            body["$defs"] = defs
                    else:
                        # `$defs` and the title stay where faststream put them.
                        rest = {k: v for k, v in body.items() if k not in ("type", "items")}
                        body = {**items, **rest}
                found.append((body, name))
            return found

    spec.__class__ = OneMessage
