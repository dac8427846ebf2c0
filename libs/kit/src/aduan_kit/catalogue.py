"""The category catalogue as its readers hold it (intake, the portal, workflow).

The privacy gateway owns the catalogue and publishes the full state of each category to the
compacted topic `gateway.categories.v1` (aduan_contracts.events.CategoryPublished), keyed
by code. A reader keeps a local copy:

- a table (`catalogue_table`, one row per code: the latest record it saw), so a restart
  while the broker is away still knows every category (docs/decisions.md);
- optionally an in-memory `Catalogue` warmed from that table at start-up, for synchronous
  checks on the request path (intake's channels);
- kept current by `subscribe_catalogue`: a consumer WITHOUT a consumer group that reads the
  topic from its beginning at every start. Each replica therefore sees every record (a
  group would split them between replicas, and a replica's memory would miss some), and a
  new reader gets the whole catalogue from the compacted log without any request to the
  gateway. Records are applied only when newer (`version`), so re-reading is harmless.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream import AckPolicy
from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.events import CategoryPublished
from aduan_contracts.serialization import decode
from aduan_contracts.topics import CATEGORIES
from aduan_kit.db import transaction
from aduan_kit.logging import get_logger
from aduan_kit.messaging import is_transient
from aduan_kit.runtime import ServiceRuntime

__all__ = [
    "Catalogue",
    "CategoryRefused",
    "catalogue_table",
    "create_catalogue_table",
    "load_catalogue",
    "store_category",
    "subscribe_catalogue",
    "suggest_category",
    "warm",
]

log = get_logger(__name__)


def catalogue_table(metadata: MetaData) -> Table:
    """A reader's local copy of the catalogue, added to the service's own metadata.
    `active` and `agency_id` are columns (queried: routing, filters); the whole record is
    kept as JSON."""
    return Table(
        "category_catalogue",
        metadata,
        Column("code", String(100), primary_key=True),
        Column("version", Integer, nullable=False),
        Column("active", Boolean, nullable=False),
        Column("agency_id", String(64), nullable=True),
        Column("record", JSONB, nullable=False),
        Column("stored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def create_catalogue_table(op: Any) -> None:
    """For a reader's Alembic revision: `create_catalogue_table(op)`."""
    table = catalogue_table(MetaData())
    op.create_table(table.name, *[c._copy() for c in table.columns])


class CategoryRefused(Exception):
    """A structured channel named a category that is not an active catalogue code.
    `reason` is safe to show the sender: it names the code and the valid codes."""

    def __init__(self, code: str, valid_codes: Iterable[str], retired: bool = False) -> None:
        self.code = code
        self.valid_codes = tuple(valid_codes)
        self.retired = retired
        # Never echoes the given value: free text typed into a category field is the
        # sender's words (and error bodies never repeat a field's value).
        what = (
            "is retired: it takes no new reports"
            if retired
            else "is not a code of the category catalogue"
        )
        valid = ", ".join(self.valid_codes) or "(none yet)"
        self.reason = f"{what}; valid codes: {valid}"
        super().__init__(self.reason)


_WORD = re.compile(r"[^\w]+", re.UNICODE)


def _words(text: str) -> str:
    # Spaces around every word so " kw " matches whole words and phrases only.
    return " " + " ".join(_WORD.split(text.lower())) + " "


class Catalogue:
    """An in-memory copy of the catalogue: every category ever published, retired ones
    included, each at its newest version."""

    def __init__(self, records: Iterable[CategoryPublished] = ()) -> None:
        self._by_code: dict[str, CategoryPublished] = {}
        for record in records:
            self.apply(record)

    def apply(self, record: CategoryPublished) -> bool:
        """Keep `record` if it is newer than what is held; True when it changed anything."""
        held = self._by_code.get(record.code)
        if held is not None and held.version >= record.version:
            return False
        self._by_code[record.code] = record
        return True

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, code: str) -> CategoryPublished | None:
        """Any category by code, retired included (names on old reports)."""
        return self._by_code.get(code)

    def all(self) -> list[CategoryPublished]:
        return sorted(self._by_code.values(), key=lambda c: (not c.active, c.group or "", c.code))

    def active(self) -> list[CategoryPublished]:
        """What a new report may be filed under, by group then code."""
        return sorted(
            (c for c in self._by_code.values() if c.active), key=lambda c: (c.group or "", c.code)
        )

    def active_codes(self) -> list[str]:
        return sorted(c.code for c in self._by_code.values() if c.active)

    def require_active(self, code: str) -> CategoryPublished:
        """The active category `code`, or `CategoryRefused` naming the valid codes. A form
        never turns free text into a new category: an unknown code is refused, not made."""
        found = self._by_code.get(code)
        if found is not None and found.active:
            return found
        raise CategoryRefused(code, self.active_codes(), retired=found is not None)

    def suggest(self, text: str) -> str | None:
        """The active category whose keywords occur most often in a free-text report (see
        `suggest_category`)."""
        return suggest_category(((c.code, c.keywords) for c in self.active()), text)


def suggest_category(keywords: Iterable[tuple[str, Iterable[str]]], text: str) -> str | None:
    """Of `(code, keywords)` pairs, the code whose keywords occur most often in `text`
    (whole words or phrases, any case), or None when none occurs or two tie. Only a
    suggestion, for the ticket-admin to confirm: never a report's category by itself (a
    category set by a guess would be auto-routed)."""
    words = _words(text)
    scores: dict[str, int] = {}
    for code, terms in keywords:
        hits = sum(1 for term in {t for t in terms if t.strip()} if _words(term) in words)
        if hits:
            scores[code] = hits
    if not scores:
        return None
    best = max(scores.values())
    winners = [code for code, score in scores.items() if score == best]
    return winners[0] if len(winners) == 1 else None


async def store_category(session: AsyncSession, table: Table, record: CategoryPublished) -> bool:
    """Upsert `record` into the local table unless a newer or equal version is there."""
    values = {
        "version": record.version,
        "active": record.active,
        "agency_id": record.agency_id,
        "record": record.model_dump(mode="json"),
        "stored_at": func.now(),
    }
    stmt = insert(table).values(code=record.code, **values)
    upsert = stmt.on_conflict_do_update(
        index_elements=[table.c.code],
        set_=values,
        where=table.c.version < stmt.excluded.version,
    ).returning(table.c.code)
    return (await session.execute(upsert)).first() is not None


async def load_catalogue(session: AsyncSession, table: Table) -> list[CategoryPublished]:
    """Every record of the local copy (for warming a `Catalogue` at start-up)."""
    rows = await session.execute(select(table.c.record).order_by(table.c.code))
    return [CategoryPublished.model_validate(row.record) for row in rows]


def subscribe_catalogue(
    runtime: ServiceRuntime,
    table: Table,
    *,
    catalogue: Catalogue | None = None,
    title: str,
    description: str,
    on_change: Callable[[AsyncSession, CategoryPublished], Awaitable[None]] | None = None,
) -> None:
    """Keep `table` (and `catalogue`, when given) current from the catalogue topic: no
    consumer group, from the earliest offset, at every start (see the module docstring).
    `on_change` runs in the same transaction when a record was newer."""

    # No group, so nothing to commit: ACK_FIRST is the policy that never calls commit
    # (aiokafka refuses a commit without a group). A redelivery by seeking back is
    # therefore not available either; an outage is waited out here instead (D9).
    @runtime.broker.subscriber(
        runtime.topic(CATEGORIES.name),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.ACK_FIRST,
        # As the units consumers (aduan_kit.batching): an idle fetch is held by the broker
        # this long (a record ends it at once), so an idle reader asks once a second, not
        # twice (aiokafka's 500 ms): only the broker's idle cost, never a category's delay.
        fetch_max_wait_ms=runtime.settings.kafka_fetch_max_wait_ms,
        consumer_timeout_ms=runtime.settings.kafka_consumer_timeout_ms,
        title=title,
        description=description,
    )
    async def on_category(record: CategoryPublished) -> None:
        waits = 0
        while True:
            try:
                async with transaction(runtime.sessions) as session:
                    changed = await store_category(session, table, record)
                    if changed and on_change is not None:
                        await on_change(session, record)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                waits += 1
                log.warning(
                    "category not stored, database unavailable; retrying",
                    category=record.code,
                    wait=waits,
                    error=type(exc).__name__,
                )
                if await _stopped_within(runtime, min(0.2 * 2 ** (waits - 1), 5.0)):
                    # Nothing is lost: without a group the whole topic is read again from
                    # its start at the next start (warm()).
                    log.info("category not stored, service stopping", category=record.code)
                    return
        # Memory follows the table (not the other way round): what a request sees was
        # stored first, so a restart cannot forget a category a request already accepted.
        if catalogue is not None:
            catalogue.apply(record)
        if changed:
            log.info(
                "category stored",
                category=record.code,
                version=record.version,
                active=record.active,
            )


async def _stopped_within(runtime: ServiceRuntime, seconds: float) -> bool:
    """Wait `seconds`, or less if the service starts stopping; True if it is stopping."""
    try:
        await asyncio.wait_for(runtime.stopping.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def warm(
    runtime: ServiceRuntime, table: Table, catalogue: Catalogue, catch_up_s: float = 10.0
) -> int:
    """Start-up: load the local table into `catalogue`, then read the topic up to its end
    as it is now (at most `catch_up_s`), so a first start (empty table) or a start after
    changes made while this service was down does not answer from an old catalogue. A
    broker that cannot be read in time leaves the stored copy (logged); the topic consumer
    catches up when the broker is back. Returns how many categories are known."""
    async with runtime.sessions() as session:
        for record in await load_catalogue(session, table):
            catalogue.apply(record)
    try:
        read = await asyncio.wait_for(_read_to_end(runtime, table, catalogue), catch_up_s)
        log.info("category catalogue caught up", records=read, categories=len(catalogue))
    except Exception as exc:
        log.warning(
            "category catalogue not caught up at start; serving the stored copy",
            error=type(exc).__name__,
            categories=len(catalogue),
        )
    return len(catalogue)


async def _read_to_end(runtime: ServiceRuntime, table: Table, catalogue: Catalogue) -> int:
    topic = runtime.topic(CATEGORIES.name)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=runtime.settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        client_id=f"{runtime.settings.service_name}-catalogue-warmup",
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return 0
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        read = 0

        async def behind() -> bool:
            positions = [await consumer.position(tp) for tp in tps]
            return any(pos < ends[tp] for pos, tp in zip(positions, tps, strict=True))

        while await behind():
            batch = await consumer.getmany(timeout_ms=500)
            records = [decode(CATEGORIES, r.value) for rs in batch.values() for r in rs if r.value]
            if not records:
                continue
            async with transaction(runtime.sessions) as session:
                for record in records:
                    await store_category(session, table, record)
            for record in records:
                catalogue.apply(record)
            read += len(records)
        return read
    finally:
        await consumer.stop()
