"""The delivery worker: sends 'pending' deliveries, with retries, fallback and leases.

Woken, not polling. The consumer wakes it after a commit that recorded a delivery; it
wakes itself when a retry it scheduled comes due; and a slow safety poll
(`DELIVERY_POLL_INTERVAL_S`) finds what nobody woke it for: rows recorded by another
replica whose worker is busy or off, and leases left behind by a worker that died.

A claim is one statement (a data-modifying CTE, atomic on its own, run in autocommit: no
BEGIN/COMMIT round trips): up to `DELIVERY_BATCH_SIZE` due rows (`FOR UPDATE SKIP LOCKED`,
so several replicas share the work) get state 'sending', a lease, `attempts + 1` and an
open attempt row, and come back with their recipients and keys; due rows still waiting for
their recipient (or its key) are put back by the same statement, not claimed. Each claimed
row is decided in memory (identity opened, routes planned); the transport is written on the
attempt row with its outcome. Then, outside any transaction, the providers are called,
concurrently, at most `DELIVERY_BATCH_SIZE` at a time. The worker keeps claiming while
calls are in flight, so one slow provider does not hold up the others.

Outcomes are written fenced on (state 'sending', the attempt number we claimed): a worker
whose lease ran out and was overtaken cannot record a second outcome. They are written by
group commit: every outcome that became ready while a write was in progress goes into the
next write, one statement (deliveries, attempt rows and outbox announcements) however
many there are.

If the process dies between the call and the write, the lease runs out and another pass
claims the row again, with the same idempotency key: the message is delivered at least
once, and exactly once wherever the provider honours the key (SMS gateway reference, push
webhook, e-mail Message-ID). See docs/notifier.md, "At the provider boundary".
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidTag
from prometheus_client import Counter, Histogram
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from aduan_contracts import encode
from aduan_contracts.enums import Channel
from aduan_contracts.events import NotificationFailed
from aduan_contracts.topics import NOTIFICATIONS, dead_letter
from aduan_contracts.values import SealedIdentity
from aduan_kit.crypto import open_identity
from aduan_kit.db import KEPT_PLANS, make_engine, pooled_connection
from aduan_kit.logging import get_logger
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.tasks import cancel_and_wait
from aduan_notifier.adapters.providers import (
    Adapter,
    DeliveryFailure,
    Outgoing,
    Permanent,
    Transient,
)
from aduan_notifier.config import Settings
from aduan_notifier.domain import (
    Contact,
    Message,
    Route,
    Template,
    Transport,
    backoff_seconds,
    family_of_transport,
    normalize_language,
    plan_routes,
    render,
)

__all__ = ["DeliveryWorker", "idempotency_key"]

log = get_logger(__name__)

SENT = Counter("aduan_notifier_sent_total", "Messages a provider accepted", ["channel"])
RETRIED = Counter(
    "aduan_notifier_retried_total", "Transient delivery failures scheduled again", ["channel"]
)
FAILED = Counter("aduan_notifier_failed_total", "Deliveries given up on", ["channel"])
SKIPPED = Counter(
    "aduan_notifier_skipped_total",
    "Deliveries with nobody to tell (erased, no contact)",
    ["reason"],
)
LATENCY = Histogram(
    "aduan_notifier_delivery_seconds",
    "From the status change to the provider accepting the message",
    ["channel"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600),
)

_KEY_NAMESPACE = uuid.UUID("4b7c2f43-3d3e-4a55-9a43-5e1f3f0c6a11")


def idempotency_key(status_event_id: uuid.UUID, channel: str, transport: Transport) -> str:
    """Stable across attempts (and restarts) of one delivery on one transport."""
    return str(uuid.uuid5(_KEY_NAMESPACE, f"{status_event_id}:{channel}:{transport.value}"))


class _Row(asyncpg.Record):  # type: ignore[misc]  # asyncpg is untyped
    """A row of the worker's statements, its columns also read as attributes (`row.id`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class _Skip(Exception):
    """Nobody to tell (erased, no contact): the delivery ends without a message."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What became of one claimed attempt, to be written fenced on (sending, attempt)."""

    row: _Row
    state: str  # sent | pending (retry later) | failed | skipped
    outcome: str  # the attempt row's: sent | transient | permanent | skipped
    transport: Transport | None = None
    error: str | None = None
    provider_id: str | None = None
    retry_in_s: float | None = None  # pending only
    # failed: NotificationFailed and its dead letter. A sent message is announced to nobody:
    # NotificationDelivered, one record per message, had no consumer (issue 18); the
    # `deliveries` row (state 'sent', provider message id) is the record of it.
    announce: bool = False


# Each statement below is one round trip and, run in autocommit, its own transaction: a
# data-modifying CTE is atomic. A claim or a group of outcomes costs one statement instead
# of BEGIN, several statements and COMMIT. They run on the pool's asyncpg connection itself
# (constant strings: asyncpg prepares each once per connection), not through SQLAlchemy,
# whose statement execution (text() compiled per call, result wrapping, the greenlet hop)
# was a fifth of the worker's CPU in the profile.

# Claim and prepare, one statement: due rows -> 'sending' under a lease, attempts + 1; close
# the attempt a dead worker left open (the provider may have it); open this attempt; and
# return each row with its recipient and key (and the reporter's latest message on the
# channel over all their reports: one key per reporter, any of them opens the 24-hour
# window). A due row still waiting for its recipient (or the key that opens its identity),
# and young enough to keep waiting, is not claimed: it is put back in the same statement
# to look again after half its age (50 ms up to `RECIPIENT_POLL_S`), not an attempt.
# Intake's event or the key normally makes it due at once; the self-wake covers the event
# committing while this statement ran (neither saw the other). The first row (always one)
# carries how many rows were due and the soonest put-back's wait; a row without an id means
# nothing was claimed.
_CLAIM = """
    WITH due AS (
        SELECT d.id, d.created_at,
            d.state = 'pending'
            AND d.created_at > now() - make_interval(secs => $3::double precision)
            AND (r.report_id IS NULL OR (
                r.erased_at IS NULL
                AND coalesce(jsonb_typeof(r.sealed_identity), 'null') <> 'null'
                AND NOT EXISTS (SELECT 1 FROM reporter_keys AS k WHERE k.key_id = r.key_id)
            )) AS waiting
        FROM deliveries AS d
        LEFT JOIN recipients AS r ON r.report_id = d.report_id
        WHERE (d.state = 'pending' AND d.next_attempt_at <= now())
           OR (d.state = 'sending' AND d.lease_until < now())
        ORDER BY d.next_attempt_at, d.id
        LIMIT $1
        FOR UPDATE OF d SKIP LOCKED
    ),
    put_back AS (
        UPDATE deliveries AS d
        SET next_attempt_at = now() + make_interval(secs => w.wait_s)
        FROM (
            SELECT id, least($4::double precision, greatest(0.05,
                extract(epoch FROM now() - created_at)::double precision / 2)) AS wait_s
            FROM due WHERE waiting
        ) AS w
        WHERE d.id = w.id
        RETURNING w.wait_s
    ),
    claimed AS (
        UPDATE deliveries AS d
        SET state = 'sending', attempts = d.attempts + 1,
            lease_until = now() + make_interval(secs => $2::double precision)
        FROM due WHERE d.id = due.id AND NOT due.waiting
        RETURNING d.*
    ),
    abandoned AS (
        UPDATE delivery_attempts AS a
        SET outcome = 'abandoned', finished_at = now(), error = 'lease expired mid-attempt'
        FROM claimed WHERE a.delivery_id = claimed.id AND a.outcome IS NULL
    ),
    opened AS (
        INSERT INTO delivery_attempts (delivery_id, attempt)
        SELECT id, attempts FROM claimed
    ),
    summary AS (
        SELECT (SELECT count(*) FROM due) AS due_count, min(wait_s) AS next_wait_s
        FROM put_back
    )
    SELECT claimed.*,
        r.report_id AS recipient_report_id, r.erased_at, r.sealed_identity, r.last_inbound_at,
        k.key_id AS known_key_id, k.key, k.shredded_at,
        (SELECT max(o.last_inbound_at) FROM recipients AS o
         WHERE o.key_id = r.key_id AND o.channel = r.channel) AS latest_inbound_at,
        summary.due_count, summary.next_wait_s
    FROM summary
    LEFT JOIN claimed ON true
    LEFT JOIN recipients AS r ON r.report_id = claimed.report_id
    LEFT JOIN reporter_keys AS k ON k.key_id = r.key_id
    ORDER BY claimed.next_attempt_at, claimed.id
"""

# Rare: a claimed row whose recipient turned out not to be there after all (the claim only
# takes rows it saw ready, or too old to wait): back to 'pending', not an attempt.
_PUT_BACK = """
    WITH unopened AS (
        DELETE FROM delivery_attempts AS a
        USING unnest($1::bigint[], $2::integer[]) AS w(id, attempt)
        WHERE a.delivery_id = w.id AND a.attempt = w.attempt AND a.outcome IS NULL
    )
    UPDATE deliveries AS d
    SET state = 'pending', attempts = d.attempts - 1, lease_until = NULL,
        next_attempt_at = now() + make_interval(secs => w.wait_s)
    FROM unnest($1::bigint[], $2::integer[], $3::double precision[]) AS w(id, attempt, wait_s)
    WHERE d.id = w.id AND d.state = 'sending' AND d.attempts = w.attempt
"""

# A group of outcomes: the deliveries (fenced on 'sending' and the attempt claimed), their
# attempt rows, and the announcements of those written (a worker that was overtaken after
# its lease ran out writes nothing and announces nothing).
_WRITE_OUTCOMES = """
    WITH v AS (
        SELECT * FROM unnest(
            $1::bigint[], $2::integer[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::double precision[]
        ) AS v(id, attempt, state, outcome, transport, provider_id, error, retry_in_s)
    ),
    done AS (
        UPDATE deliveries AS d SET
            state = v.state,
            transport = v.transport,
            provider_message_id = CASE WHEN v.state = 'sent'
                THEN v.provider_id ELSE d.provider_message_id END,
            last_error = v.error,
            lease_until = NULL,
            finished_at = CASE WHEN v.state = 'pending' THEN d.finished_at ELSE now() END,
            next_attempt_at = CASE WHEN v.state = 'pending'
                THEN now() + make_interval(secs => v.retry_in_s) ELSE d.next_attempt_at END
        FROM v
        WHERE d.id = v.id AND d.state = 'sending' AND d.attempts = v.attempt
        RETURNING d.id, d.finished_at
    ),
    closed AS (
        -- Only an open attempt, or one a later claim marked abandoned (the provider's
        -- answer still tells what happened): the rows `ix_delivery_attempts_open` holds.
        UPDATE delivery_attempts AS a
        SET outcome = v.outcome, error = v.error, finished_at = now(),
            transport = coalesce(v.transport, a.transport)
        FROM v
        WHERE a.delivery_id = v.id AND a.attempt = v.attempt
            AND (a.outcome IS NULL OR a.outcome = 'abandoned')
    ),
    announced AS (
        INSERT INTO outbox (topic, key, payload, headers)
        SELECT m.topic, m.key, m.payload, m.headers::jsonb
        FROM unnest($9::bigint[], $10::text[], $11::bytea[], $12::bytea[], $13::text[])
            AS m(id, topic, key, payload, headers)
        JOIN done ON done.id = m.id
    )
    SELECT id, finished_at FROM done
"""


class DeliveryWorker:
    """One per process; `start()` after the runtime started, `stop()` before it stops."""

    def __init__(
        self, runtime: ServiceRuntime, settings: Settings, adapters: dict[Transport, Adapter]
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.adapters = adapters
        # The worker's own connections (`_autocommit`), opened on first use.
        self._engine: AsyncEngine | None = None
        self._event = asyncio.Event()
        self._woken = False
        self._slot = asyncio.Event()  # an in-flight delivery finished
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._inflight: set[asyncio.Task[None]] = set()
        # Monotonic times at which a retry this process scheduled comes due.
        self._due: list[float] = []
        # Group commit of outcomes: those waiting for the next write, and whether a write
        # is in progress (its writer takes the next group when it is done).
        self._ready: list[tuple[_Outcome, asyncio.Future[None]]] = []
        self._writing = False
        # Wakes received, claims and outcome writes run (tests and measurements read them).
        self.wakes = 0
        self.claims = 0
        self.writes = 0

    @property
    def configured(self) -> frozenset[Transport]:
        return frozenset(self.adapters)

    def wake(self) -> None:
        """Something was recorded (called after the commit): claim now."""
        self.wakes += 1
        self._woken = True
        self._event.set()

    # --- loop ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="delivery-worker")

    async def stop(self) -> None:
        """Stop claiming; let in-flight sends finish within the grace period. Anything cut
        off keeps its lease and is taken over after it expires."""
        self._stopping = True
        self._event.set()
        self._slot.set()
        deadline = time.monotonic() + self.settings.shutdown_grace_s
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout=self.settings.shutdown_grace_s)
            except TimeoutError:
                await cancel_and_wait(self._task)
        if self._inflight:
            _, late = await asyncio.wait(
                set(self._inflight), timeout=max(0.0, deadline - time.monotonic())
            )
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        for adapter in self.adapters.values():
            await adapter.close()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _run(self) -> None:
        s = self.settings
        failures = 0
        while not self._stopping:
            capacity = s.delivery_batch_size - len(self._inflight)
            if capacity <= 0:
                # Only reached after a full claim (more may be due): claim again as soon as
                # a call finishes. A wake meanwhile is kept (`_woken`) for that claim.
                self._slot.clear()
                await self._slot.wait()
                continue
            # Reset before the claim, not after it: a wake that arrives during the claim (a
            # commit the claim may not have seen) must make the next sleep return at once.
            self._woken = False
            now = time.monotonic()
            while self._due and self._due[0] <= now:
                heapq.heappop(self._due)
            try:
                claimed, full = await self._claim(capacity)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: keep going, rows stay pending
                failures += 1
                log.warning("delivery pass failed; will retry", error=type(exc).__name__)
                await self._sleep(min(0.2 * 2**failures, 10.0))
                continue
            for row, route in claimed:
                task = asyncio.create_task(self._deliver(row, route))
                self._inflight.add(task)
                task.add_done_callback(self._finished)
            if not full:  # as many rows as asked for: more may be due, claim again at once
                await self._sleep(s.delivery_poll_interval_s)

    async def _sleep(self, seconds: float) -> None:
        """Until woken, until the earliest retry this process scheduled comes due, or for
        `seconds` (the safety poll), whichever is first."""
        deadline = time.monotonic() + seconds
        while not self._woken and not self._stopping:
            now = time.monotonic()
            until = min(deadline, self._due[0]) if self._due else deadline
            if until <= now:
                return
            # Set by `wake`, and by `_due_in` so that an earlier due time shortens the wait.
            self._event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout=until - now)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slot.set()

    def _due_in(self, seconds: float) -> None:
        """Wake up when a row this process put back comes due (a little after, so that the
        database's clock agrees it is due)."""
        heapq.heappush(self._due, time.monotonic() + seconds + 0.01)
        self._event.set()

    # --- claiming -----------------------------------------------------------------------------

    async def _claim(self, limit: int) -> tuple[list[tuple[_Row, Route]], bool]:
        """Claim up to `limit` due rows and decide each; returns those to send, with their
        route, and whether `limit` rows were due. Rows with nobody to tell are finished,
        and rows still waiting for their recipient put back."""
        s = self.settings
        self.claims += 1
        async with self._autocommit() as conn:
            result: list[_Row] = await conn.fetch(
                _CLAIM,
                limit,
                float(s.delivery_lease_s),
                float(s.recipient_wait_s),
                float(s.recipient_poll_s),
                record_class=_Row,
            )
            due_count = result[0].due_count if result else 0
            if result and result[0].next_wait_s is not None:
                self._due_in(result[0].next_wait_s)
            rows = [r for r in result if r.id is not None]
            if not rows:
                return [], due_count == limit
            sends: list[tuple[_Row, Route]] = []
            ended: list[_Outcome] = []
            waiting: list[_Row] = []
            for row in rows:
                decided = self._decide(row, row if row.recipient_report_id else None)
                if decided is None:
                    waiting.append(row)
                elif isinstance(decided, Route):
                    sends.append((row, decided))
                elif decided.state != "sending":
                    ended.append(decided)
            waits = [self._wait_for_recipient(r) for r in waiting]
            if waiting:
                await conn.execute(
                    _PUT_BACK, [r.id for r in waiting], [r.attempts for r in waiting], waits
                )
            written = await self._write(conn, ended) if ended else []
        if waits:
            self._due_in(min(waits))
        self._report(written)
        return sends, due_count == limit

    def _wait_for_recipient(self, row: _Row) -> float:
        """How long a delivery waits before looking for its recipient (or key) again:
        half its age, from 50 ms up to `RECIPIENT_POLL_S`. Intake's event (or the key)
        normally makes it due at once, but when it commits while this claim is deciding,
        neither sees the other; a young row then loses milliseconds, not seconds."""
        age: float = (datetime.now(UTC) - row.created_at).total_seconds()
        return min(self.settings.recipient_poll_s, max(0.05, age / 2))

    def _autocommit(self) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
        """The asyncpg connection of a pooled one, used outside any transaction: every
        statement is its own (no BEGIN and COMMIT round trips), and each statement this
        worker runs is atomic on its own (`aduan_kit.db.pooled_connection`).

        They come from a small pool of the worker's own (a claim and an outcome write at
        most run at once) whose connections keep every statement's plan and take the index
        wherever one serves (`aduan_kit.db.KEPT_PLANS`, set when a connection opens: no
        round trip). With the server's defaults these statements, outside any transaction
        where `GENERIC_PLANS` could go, were planned for the 32 rows a claim asks for
        while it takes one to four, and on tables of a few thousand rows read
        `delivery_attempts` and `reporter_keys` whole (hash joins, a hashed NOT EXISTS):
        a bench run from empty databases read 6.4 million `deliveries` rows by sequential
        scan for 4,610 complaints, the claim 5 ms a call (issue 18, eighteenth step;
        docs/performance.md). Every statement here looks rows up by key or by the due
        index, whatever the table's size."""
        if self._engine is None:
            self._engine = make_engine(
                self.runtime.settings.database_url, pool_size=2, server_settings=KEPT_PLANS
            )
        return pooled_connection(self._engine)

    def _decide(self, row: _Row, recipient: _Row | None) -> Route | _Outcome | None:
        """The route to send `row` on; or how it ends without a message; or None: its
        recipient has not arrived yet (it waits, up to `RECIPIENT_WAIT_S`)."""
        try:
            opened = self._open(recipient)
            if opened is None:
                age = (datetime.now(UTC) - row.created_at).total_seconds()
                if age <= self.settings.recipient_wait_s:
                    return None
                FAILED.labels("unknown").inc()
                return _Outcome(row, "failed", "permanent", error="recipient or key never arrived")
            contact, last_inbound = opened
            routes = plan_routes(
                Channel(row.channel),
                contact,
                self.configured,
                last_inbound,
                datetime.now(UTC),
                whatsapp_template_available=row.template in self.settings.whatsapp_templates,
                meta_tag_available=self._meta_tags(),
            )
        except _Skip as skip:
            SKIPPED.labels(str(skip)).inc()
            return _Outcome(row, "skipped", "skipped", error=str(skip))
        except Exception as exc:  # a bug or a malformed row: never block the other rows
            log.error(
                "delivery crashed; lease will expire",
                delivery_id=row.id,
                attempt=row.attempts,
                error=type(exc).__name__,
            )
            if row.attempts >= self.settings.delivery_max_attempts:
                # Never loop forever on a row that always crashes: make it visible instead.
                return self._failed(row, None, f"internal error: {type(exc).__name__}")
            # Stays 'sending' under its lease, its attempt open: taken over when it expires.
            return _Outcome(row, "sending", "")
        if not routes:
            SKIPPED.labels("no usable route").inc()
            return _Outcome(row, "skipped", "skipped", error="no usable route")
        return routes[0]

    def _open(self, recipient: _Row | None) -> tuple[Contact, datetime | None] | None:
        """The reporter's contact (opened in memory) and their latest message on the
        channel; None while the recipient or the key has not arrived."""
        if recipient is None:
            return None
        if recipient.erased_at is not None:
            raise _Skip("reporter erased")
        if recipient.sealed_identity is None:
            raise _Skip("no contact")
        sealed = SealedIdentity.model_validate(recipient.sealed_identity)
        if recipient.known_key_id is None:
            return None  # the key event has not arrived yet
        if recipient.key is None or recipient.shredded_at is not None:
            raise _Skip("reporter erased")
        try:
            identity = open_identity(sealed, bytes(recipient.key))
        except InvalidTag:
            # Sealed under another key or altered: no retry can open it.
            raise _Skip("identity cannot be opened") from None
        contact = Contact.from_identity(identity)
        if contact.empty:
            raise _Skip("no contact")
        return contact, recipient.latest_inbound_at or recipient.last_inbound_at

    def _meta_tags(self) -> frozenset[Transport]:
        tags = set()
        if self.settings.messenger_message_tag:
            tags.add(Transport.MESSENGER)
        if self.settings.instagram_message_tag:
            tags.add(Transport.INSTAGRAM)
        return frozenset(tags)

    # --- one delivery -------------------------------------------------------------------------

    async def _deliver(self, row: _Row, route: Route) -> None:
        try:
            outcome = await self._send(row, route)
        except Exception as exc:  # a bug: the lease will hand it back
            log.error(
                "delivery crashed; lease will expire",
                delivery_id=row.id,
                attempt=row.attempts,
                error=type(exc).__name__,
            )
            if row.attempts < self.settings.delivery_max_attempts:
                self._due_in(self.settings.delivery_lease_s)
                return
            # Never loop forever on a row that always crashes: make it visible instead.
            outcome = self._failed(row, route.transport, f"internal error: {type(exc).__name__}")
        try:
            await self._record(outcome)
        except Exception as exc:  # the database: the lease will hand it back
            log.error(
                "delivery outcome not recorded; lease will expire",
                delivery_id=row.id,
                attempt=row.attempts,
                error=type(exc).__name__,
            )
            self._due_in(self.settings.delivery_lease_s)

    def _message(self, row: _Row, transport: Transport) -> Message:
        return render(
            Template(row.template),
            Channel(row.channel),
            normalize_language(row.language),
            row.receipt_code,
            self.settings.portal_base_url,
            reason=row.reason,
            family=family_of_transport(transport),
            # A question's delivery is keyed by the question id: it makes the answer link.
            question_id=row.status_event_id if row.template == Template.QUESTION else None,
        )

    async def _send(self, row: _Row, route: Route) -> _Outcome:
        """Send on the best usable route. Fallback happens in planning (a route that cannot
        carry the message now is never tried); a provider's 4xx is a fact operators must
        see (a bad token, a blocked number), so it fails the delivery instead of quietly
        rerouting it."""
        adapter = self.adapters[route.transport]
        out = Outgoing(
            route=route,
            message=self._message(row, route.transport),
            idempotency_key=idempotency_key(row.status_event_id, row.channel, route.transport),
            receipt_code=row.receipt_code,
            provider_template=self.settings.whatsapp_templates.get(row.template),
        )
        try:
            provider_id = await adapter.send(out)
        except Transient as exc:
            return self._retry_or_fail(row, route.transport, exc)
        except Permanent as exc:
            return self._failed(row, route.transport, exc.cause)
        return _Outcome(row, "sent", "sent", route.transport, provider_id=provider_id)

    def _retry_or_fail(self, row: _Row, transport: Transport, exc: DeliveryFailure) -> _Outcome:
        s = self.settings
        if row.attempts >= s.delivery_max_attempts:
            return self._failed(row, transport, f"{exc.cause} (after {row.attempts} attempts)")
        delay = backoff_seconds(row.attempts, s.retry_base_s, s.retry_cap_s, exc.retry_after_s)
        return _Outcome(row, "pending", "transient", transport, exc.cause[:1000], retry_in_s=delay)

    @staticmethod
    def _failed(row: _Row, transport: Transport | None, cause: str) -> _Outcome:
        return _Outcome(row, "failed", "permanent", transport, cause[:1000], announce=True)

    # --- outcomes -----------------------------------------------------------------------------

    async def _record(self, outcome: _Outcome) -> None:
        """Write `outcome`, together with every other outcome ready meanwhile (group
        commit): the first caller writes groups until none is left; the others wait for
        the write that took theirs."""
        done = asyncio.get_running_loop().create_future()
        self._ready.append((outcome, done))
        if not self._writing:
            self._writing = True
            try:
                linger = self.settings.delivery_outcome_linger_ms / 1000
                if linger > 0 and len(self._inflight) > len(self._ready):
                    # Other calls are in flight (this task is one of `_inflight` until it
                    # returns): their outcomes join this write instead of a write each, one
                    # statement (checkout, three row writes, the outbox) shared (issue 18).
                    # Only the `finished_at` of these rows moves, by at most the linger.
                    await asyncio.sleep(linger)
                while self._ready:
                    group, self._ready = self._ready, []
                    self.writes += 1
                    try:
                        async with self._autocommit() as conn:
                            written = await self._write(conn, [o for o, _ in group])
                    except Exception as exc:
                        for _, waiter in group:
                            if not waiter.done():
                                waiter.set_exception(exc)
                        continue
                    for _, waiter in group:
                        if not waiter.done():
                            waiter.set_result(None)
                    self._report(written)
            finally:
                self._writing = False
        await done

    async def _write(
        self, conn: asyncpg.Connection, outcomes: Sequence[_Outcome]
    ) -> list[tuple[_Outcome, datetime]]:
        """Write the outcomes and queue their announcements, in one statement; returns
        those written, with their finish time. The caller wakes the relay."""
        announcements = [
            (o.row.id, m) for o in outcomes if o.announce for m in self._announcements(o)
        ]
        found = await conn.fetch(
            _WRITE_OUTCOMES,
            [o.row.id for o in outcomes],
            [o.row.attempts for o in outcomes],
            [o.state for o in outcomes],
            [o.outcome for o in outcomes],
            [o.transport.value if o.transport else None for o in outcomes],
            [o.provider_id for o in outcomes],
            [o.error for o in outcomes],
            [o.retry_in_s for o in outcomes],
            [i for i, _ in announcements],
            [m["topic"] for _, m in announcements],
            [m["key"] for _, m in announcements],
            [m["payload"] for _, m in announcements],
            [json.dumps(m["headers"]) for _, m in announcements],
        )
        finished: dict[int, datetime] = {r["id"]: r["finished_at"] for r in found}
        written: list[tuple[_Outcome, datetime]] = []
        for o in outcomes:
            if o.row.id in finished:
                written.append((o, finished[o.row.id]))
            elif o.state == "sent":
                log.warning("delivery was taken over; outcome not recorded", delivery_id=o.row.id)
        return written

    def _announcements(self, o: _Outcome) -> list[dict[str, Any]]:
        """Outbox rows for a delivery given up on: NotificationFailed and its dead letter."""
        row, topic = o.row, self.runtime.topic(NOTIFICATIONS.name)
        transport = o.transport.value if o.transport else None
        failed = NotificationFailed(
            report_id=row.report_id,
            status_event_id=row.status_event_id,
            channel=Channel(row.channel),
            template=row.template,
            attempts=row.attempts,
            error=o.error or "",
            causation_id=str(row.status_event_id),
        )
        # The dead letter keeps the failed message's facts and the cause in the same
        # headers the kit's consumer dead letters use, for the same operators' tooling.
        return [
            _outbox_row(topic, failed, row.report_id, {}),
            _outbox_row(
                self.runtime.topic(dead_letter(NOTIFICATIONS).name),
                failed,
                row.report_id,
                {
                    "dlq_error": o.error or "",
                    "dlq_source": "notifier.delivery",
                    "dlq_delivery_id": str(row.id),
                    "dlq_transport": transport or "none",
                    "dlq_attempts": str(row.attempts),
                    "dlq_at": str(time.time()),
                },
            ),
        ]

    def _report(self, written: Sequence[tuple[_Outcome, datetime]]) -> None:
        """After the commit: metrics and logs (identifiers only); wake the relay for the
        announcements just committed."""
        if any(o.announce for o, _ in written):
            self.runtime.wake_relay()
        for o, finished in written:
            row = o.row
            transport = o.transport.value if o.transport else None
            if o.state == "sent":
                assert transport is not None
                SENT.labels(transport).inc()
                if row.status_changed_at is not None:
                    LATENCY.labels(transport).observe(
                        max(0.0, (finished - row.status_changed_at).total_seconds())
                    )
                log.info(
                    "notification sent",
                    delivery_id=row.id,
                    report_id=str(row.report_id),
                    transport=transport,
                    attempts=row.attempts,
                )
            elif o.state == "pending":
                assert transport is not None and o.retry_in_s is not None
                self._due_in(o.retry_in_s)
                RETRIED.labels(transport).inc()
                log.warning(
                    "delivery failed; will retry",
                    delivery_id=row.id,
                    transport=transport,
                    attempt=row.attempts,
                    retry_in_s=round(o.retry_in_s, 2),
                    error=o.error,
                )
            elif o.state == "failed" and o.announce:
                FAILED.labels(transport or "none").inc()
                log.error(
                    "delivery failed for good",
                    delivery_id=row.id,
                    report_id=str(row.report_id),
                    transport=transport,
                    attempts=row.attempts,
                    error=o.error,
                )


def _outbox_row(
    topic: str, event: BaseModel, key: uuid.UUID, headers: Mapping[str, str]
) -> dict[str, Any]:
    """An outbox row as `aduan_kit.messaging.add_to_outbox` writes it (same headers), so a
    group of announcements is one INSERT instead of one statement each."""
    return {
        "topic": topic,
        "key": str(key).encode(),
        "payload": encode(event),
        "headers": {
            **headers,
            "correlation_id": getattr(event, "correlation_id", ""),
            "event_type": type(event).__name__,
        },
    }
