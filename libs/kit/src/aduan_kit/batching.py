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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Generic, TypeVar
from uuid import UUID, uuid5

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaMessage
from faststream.message import StreamMessage
from pydantic import TypeAdapter
from sqlalchemy import Table, select, text
from sqlalchemy.dialects.postgresql import insert
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

__all__ = ["BATCH_TIMEOUT_MS", "subscribe_batches"]

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


async def claim_many(
    session: AsyncSession, inbox: Table, consumer: str, event_ids: Sequence[UUID]
) -> set[UUID]:
    """The ids among `event_ids` that `consumer` had not seen: claimed now, in one
    statement. Must run in the transaction that applies their effects."""
    if not event_ids:
        return set()
    stmt = (
        insert(inbox)
        .values([{"consumer": consumer, "event_id": i} for i in dict.fromkeys(event_ids)])
        .on_conflict_do_nothing()
        .returning(inbox.c.event_id)
    )
    return set((await session.scalars(stmt)).all())


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
    """Subscribe `apply(session, event)` to `topic`, in batches (see the module's docstring).

    `model` is the event type (a model or an annotated union); the AsyncAPI document shows
    it as the payload. `wanted(event)` False skips an event without claiming it (steps a
    service ignores). `after_commit` gets `apply`'s results once the batch committed (to
    wake a worker, say). `consumer` names the inbox consumer, as with `claim_inbox`.
    `serialize_with` names a PostgreSQL advisory lock taken first in every batch
    transaction: consumers of different topics that write the same rows in different
    orders (the gateway's read model) then take turns instead of deadlocking and redoing
    whole batches.
    """
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    max_attempts = runtime.settings.kafka_max_attempts

    async def decoder(msg: StreamMessage[Any], _original: Any) -> list[Any]:
        # Record by record, so one malformed message cannot fail the batch's validation.
        decoded: _Decoded[Any] = _Decoded()
        for record in msg.raw_message:
            try:
                decoded.events.append((record, adapter.validate_json(record.value or b"")))
            except PERMANENT as exc:
                decoded.rejected.append((record, exc))
        setattr(msg, _DECODED, decoded)
        # faststream validates this list against the annotation below again: instances of
        # the model pass without being rebuilt.
        return [event for _, event in decoded.events]

    async def take_turn(session: AsyncSession) -> None:
        if serialize_with is not None:
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": serialize_with}
            )

    dead_letters = f"{consumer}.dead-letter"
    # Positions this process dead-lettered lately, so a batch rewound after an outage skips
    # them without another try (after a restart the inbox check in the fallback does).
    recently_dead: dict[UUID, None] = {}

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
            if not await claim_inbox(session, inbox, dead_letters, _position(record)):
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
                    inbox.c.consumer == dead_letters,
                    inbox.c.event_id.in_([_position(r) for r in records]),
                )
            )
            return set(found.all())

    async def apply_batch(
        events: list[tuple[ConsumerRecord[Any, Any], Any]], culprit: list[Any]
    ) -> list[Any]:
        """All of `events` in one transaction; on failure `culprit` holds the record whose
        event was being applied (its try in the batch counts as its first attempt)."""
        results: list[Any] = []
        async with transaction(runtime.sessions) as session:
            await take_turn(session)
            fresh = await claim_many(session, inbox, consumer, [e.event_id for _, e in events])
            for record, event in events:
                if event.event_id not in fresh:
                    continue  # a redelivery, or the same event twice in one batch
                fresh.discard(event.event_id)
                culprit[:] = [record]
                token = correlation_id.set(event.correlation_id)
                try:
                    results.append(await apply(session, event))
                finally:
                    correlation_id.reset(token)
            culprit.clear()
        return results

    async def apply_one(
        record: ConsumerRecord[Any, Any], event: Any, first_attempt: int
    ) -> list[Any]:
        """One event in its own transaction, retried; dead-lettered when it keeps failing."""
        for attempt in range(min(first_attempt, max_attempts), max_attempts + 1):
            token = correlation_id.set(event.correlation_id)
            try:
                async with transaction(runtime.sessions) as session:
                    await take_turn(session)
                    if not await claim_inbox(session, inbox, consumer, event.event_id):
                        return []
                    return [await apply(session, event)]
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

    async def handler(events: list[Any], msg: KafkaMessage) -> None:
        decoded: _Decoded[Any] = getattr(msg, _DECODED)
        for record, exc in decoded.rejected:
            await dead_letter(record, exc, 1)
        todo = [
            (r, e)
            for r, e in decoded.events
            if (wanted is None or wanted(e))
            and not (recently_dead and _position(r) in recently_dead)
        ]
        if not todo:
            return
        culprit: list[Any] = []
        try:
            results = await apply_batch(todo, culprit)
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
                for record, event in todo:
                    if _position(record) not in given_up:
                        tried = bool(culprit) and culprit[0] is record
                        results += await apply_one(record, event, 2 if tried else 1)
            except Exception:
                # An outage midway: what was applied alone is committed; report it.
                if after_commit is not None and results:
                    after_commit(results)
                raise
        CONSUMED.labels(todo[0][0].topic, "ok").inc(len(todo))
        if after_commit is not None:
            after_commit(results)

    # The annotation is what faststream shows in the AsyncAPI document (and validates).
    handler.__annotations__ = {"events": list[model], "msg": KafkaMessage, "return": None}
    subscriber = runtime.broker.subscriber(
        topic,
        group_id=group_id or runtime.settings.consumer_group,
        auto_offset_reset="earliest",
        batch=True,
        max_records=max_records or runtime.settings.kafka_batch_max_records,
        batch_timeout_ms=BATCH_TIMEOUT_MS,
        decoder=decoder,
        title=title,
        description=description,
    )
    subscriber(handler)
    _document_one_message(subscriber)
    _poll_without_idle_sleep(subscriber)


def _poll_without_idle_sleep(subscriber: Any) -> None:
    """faststream's batch poll sleeps `batch_timeout_ms` after every empty poll, on top of
    the poll's own wait; a record arriving during that sleep waits for it. With a short
    timeout that costs an idle service dozens of polls a second (measured: +4 to +7 CPU-ms/s
    per subscriber at 20 ms); with a long one it adds its length to the first record after
    a quiet spell. Polling again at once (aiokafka's `getmany` returns as soon as a record
    is fetched) gives both: two polls a second when idle, no added latency. The sleep stays
    only for a poll that came back empty early, so a consumer never spins."""
    base = type(subscriber)

    class PollAgain(base):  # type: ignore[valid-type, misc]
        __slots__ = ()

        async def get_msg(self, consumer: Any) -> tuple[ConsumerRecord[Any, Any], ...]:
            loop = asyncio.get_running_loop()
            started = loop.time()
            fetched = await consumer.getmany(
                timeout_ms=self.batch_timeout_ms, max_records=self.max_records
            )
            if not fetched:
                left = self.batch_timeout_ms / 1000 - (loop.time() - started)
                if left > 0.01:
                    await asyncio.sleep(left)
                return ()
            return tuple(chain.from_iterable(fetched.values()))

    subscriber.__class__ = PollAgain


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
