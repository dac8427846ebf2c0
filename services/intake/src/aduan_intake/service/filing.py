"""Filing a normalized report exactly once, whatever channel it came from.

One transaction: claim (channel, channel_message_id) in `submissions`; if another delivery
of the same message already claimed it, answer with that delivery's receipt; otherwise seal
the reporter's identity with their key and queue `ReportSubmitted` on the outbox. The answer
goes out only after the commit, and the outbox makes the event as durable as the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aduan_contracts.enums import ANSWER_BY_REPLY_CHANNELS, Channel
from aduan_contracts.events import ReportAmended
from aduan_contracts.values import (
    PhotoRef,
    SealedContent,
    SealedIdentity,
    normalize_receipt_code,
)
from aduan_intake.adapters.postgres import PgFilings
from aduan_intake.adapters.ratelimit import PendingHit, Verdict
from aduan_intake.adapters.stores import FilingStore, Outbox
from aduan_intake.adapters.tables import AMENDMENTS, OPEN_QUESTIONS, OUTBOX, SUBMISSIONS
from aduan_intake.admission import Admission, pool_timeout, shed_queue
from aduan_intake.domain import (
    NormalizedReport,
    ReporterIdentity,
    contact_digest,
    new_receipt_code,
)
from aduan_intake.service.keys import keys_for
from aduan_kit.crypto import seal_content, seal_identity
from aduan_kit.db import engine_of, pooled_connection, transaction
from aduan_kit.logging import correlation_id, get_logger
from aduan_kit.redaction import identity_terms, scrub_officer_text
from aduan_kit.uow import UnitOfWork, raw_units

__all__ = [
    "ANSWERING_CHANNELS",
    "Filed",
    "Filer",
    "RateLimited",
    "SubmissionConflict",
    "wants_new_report",
]

log = get_logger(__name__)

_RECEIPT_ATTEMPTS = 5
_CLOCK_SKEW = timedelta(minutes=2)

# While an officer's question to them is open, a reporter's next message on these channels
# is the answer (the question said "reply to this message").
ANSWERING_CHANNELS = ANSWER_BY_REPLY_CHANNELS

# "BARU ..." / "NEW ..." at the start: the reporter says this is a new complaint, not the
# answer to the open question (the answer's acknowledgement tells them so).
_NEW_REPORT = re.compile(r"^\s*(?:baru|new)\b[\s:.,\-]*", re.IGNORECASE)
# A receipt code quoted in the reply ("ADU-7K2M-9X10", "adu 7k2m 9x10") picks the report
# when the reporter has questions open on several.
_RECEIPT_IN_TEXT = re.compile(r"\bADU[\s\-]?[0-9A-Z]{4}[\s\-]?[0-9A-Z]{4}\b", re.IGNORECASE)


def wants_new_report(text: str) -> str | None:
    """The text without its "BARU" prefix when the reporter marked it as a new complaint."""
    match = _NEW_REPORT.match(text)
    if match is None:
        return None
    rest = text[match.end() :].strip()
    return rest or None


@dataclass(frozen=True, slots=True)
class Filed:
    report_id: UUID
    receipt_code: str
    duplicate: bool
    # True when the message was added to an existing report rather than filed as one.
    amended: bool = False


class SubmissionConflict(Exception):
    """The channel message id was already used for a *different* report."""


class RateLimited(Exception):
    """The sender posted more than the rate limit allows: nothing of this post was written."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"rate limited; retry in {verdict.retry_after_s} s")
        self.verdict = verdict


async def _passed(gate: PendingHit | None) -> None:
    """Raises `RateLimited` if the post's hit is refused (fetching its verdict if needed)."""
    if gate is not None and not (verdict := await gate.verdict()).allowed:
        raise RateLimited(verdict)


# A filing waiting for its group: the report, its correlation id, its answer, its post's
# rate-limit hit (None: checked already, or not limited).
_Queued = tuple[NormalizedReport, str | None, "asyncio.Future[Filed]", PendingHit | None]


def _fail(group: list[_Queued], exc: BaseException) -> None:
    """The group's transaction did not commit: no filing of it is answered 2xx."""
    for _, _, done, _ in group:
        if not done.done():
            done.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))


def _deadlocked(exc: BaseException) -> bool:
    """PostgreSQL aborted the transaction to break a deadlock (SQLAlchemy wraps asyncpg's
    error; a statement on the raw connection raises it as it is)."""
    state = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlstate", None)
    return state == "40P01" or "deadlock" in str(exc)


@dataclass(frozen=True, slots=True)
class _Filing:
    """One filing of a group, with what is decided before the transaction."""

    report: NormalizedReport
    cid: str | None
    fingerprint: bytes
    # The reporter's contact digest (their key is reused), None when the identity has no
    # contact to recognise them by; `sealable` False when there is no identity at all.
    digest: bytes | None
    sealable: bool
    report_id: UUID
    receipt_code: str

    @classmethod
    def of(cls, filer: Filer, report: NormalizedReport, cid: str | None) -> _Filing:
        sealable = report.reporter is not None and not report.reporter.is_empty
        reuse = report.reporter.reuse_key(report.channel) if sealable and report.reporter else None
        return cls(
            report=report,
            cid=cid,
            fingerprint=filer.fingerprint(report),
            digest=contact_digest(filer.pepper, reuse) if reuse else None,
            sealable=sealable,
            report_id=uuid4(),
            receipt_code=new_receipt_code(),
        )

    @property
    def message(self) -> tuple[str, str]:
        return (self.report.channel.value, self.report.channel_message_id)

    def renumbered(self) -> _Filing:
        return replace(self, report_id=uuid4(), receipt_code=new_receipt_code())


class Filer:
    """Files normalized reports; built once in the composition root."""

    def __init__(
        self,
        sessions: Callable[[], async_sessionmaker[AsyncSession]],
        pepper: str,
        intake_topic: str,
        keys_topic: str,
        answer_window: timedelta = timedelta(days=14),
        admission: Admission | None = None,
        group_max: int = 1,
        group_concurrency: int = 4,
        group_linger_s: float = 0.0,
    ) -> None:
        # `sessions` is a getter: the session factory exists only once the runtime started.
        self._sessions = sessions
        # Bounds the filings in progress (aduan_intake.admission); None: unbounded (tests
        # of other things, the CLI).
        self.admission = admission
        # Group commit (`_file_grouped`): at most `group_max` filings a transaction (1: each
        # its own), at most `group_concurrency` group transactions at once.
        self._group_max = group_max
        self._group_concurrency = group_concurrency
        self._queue: list[_Queued] = []
        self._queue_max = group_max * group_concurrency * 4
        # A filing not taken into a group within this long is refused (503), as one that
        # finds no free place is: it never waits long for its transaction to begin.
        self._queue_wait_s = max(admission.wait_s if admission else 1.0, 0.1)
        self._writers = 0
        self._writer_tasks: set[asyncio.Task[None]] = set()
        # Linger (`_gather`): a writer that starts while filings arrive closer together than
        # this waits up to this long for company before its group begins. At a low rate
        # nothing waits (the average gap between arrivals is longer than the linger).
        self._linger_s = group_linger_s
        self._lingering = False  # a writer is gathering its group: arrivals join it
        self._arrived = asyncio.Event()  # a filing joined the gathering group
        self._last_arrival: float | None = None
        self._gap_s: float | None = None  # moving average of the gaps between arrivals
        self.groups_committed = 0  # tests and measurements read it
        self._answer_window = answer_window
        self.pepper = pepper
        self._intake_topic = intake_topic
        self._keys_topic = keys_topic

    @asynccontextmanager
    async def _admitted(self) -> AsyncIterator[None]:
        """A filing path (HTTP, SMTP, LAPOR!) inside the admission bound: `Overloaded` when
        intake cannot take it promptly, raised before anything is written. Kafka consumers
        use the runtime's sessions directly: they must not be shed."""
        async with contextlib.AsyncExitStack() as stack:
            if self.admission is not None:
                await stack.enter_async_context(self.admission.slot())
            try:
                yield
            except PoolTimeout as exc:
                # Something outside the bound held every pooled connection: still a quick
                # "come back later", never a 500 (the transaction never began).
                retry = self.admission.retry_after_s if self.admission else 1
                raise pool_timeout(retry) from exc

    @asynccontextmanager
    async def _session(self, begin: bool = True) -> AsyncIterator[AsyncSession]:
        """A session for a filing path (`_admitted`), in a transaction unless `begin` is
        False."""
        async with self._admitted():
            if begin:
                async with transaction(self._sessions()) as session:
                    yield session
            else:
                async with self._sessions()() as session:
                    yield session

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[PgFilings]:
        """The filings' store on a pooled connection outside any transaction, for a
        filing path's (`_admitted`) single-statement read: no BEGIN and ROLLBACK round
        trips around it, no session (each was a fifth of such a read's cost)."""
        async with self._admitted(), pooled_connection(engine_of(self._sessions())) as conn:
            yield PgFilings(conn)

    @asynccontextmanager
    async def _unit(self) -> AsyncIterator[UnitOfWork]:
        """A raw unit of work (no ORM session: the filings' statements are set-based) for
        a filing path (`_admitted`)."""
        async with self._admitted(), raw_units(self._sessions(), OUTBOX) as uow:
            yield uow

    def fingerprint(self, report: NormalizedReport) -> bytes:
        return hmac.new(
            self.pepper.encode(), f"{report.channel}\0{report.text}".encode(), hashlib.sha256
        ).digest()

    async def file(self, report: NormalizedReport, gate: PendingHit | None = None) -> Filed:
        """File the report; `gate`, the post's rate-limit hit queued when its request
        began, is asked for its verdict while the filing's group transaction begins,
        with the rest of the group's (one Redis call for the group): refused,
        the filing raises `RateLimited` and writes nothing."""
        if self._group_max > 1:
            filed = await self._file_grouped(report, gate)
        else:
            filed = await self._file_alone(report, gate)
        log.info(
            "report filed",
            report_id=str(filed.report_id),
            channel=report.channel.value,
            duplicate=filed.duplicate,
        )
        return filed

    # --- group commit -------------------------------------------------------------------------

    async def _file_grouped(self, report: NormalizedReport, gate: PendingHit | None) -> Filed:
        """The filing in a transaction shared with the filings that arrived meanwhile
        (group commit): answered only after that transaction committed.

        A filing joins the queue; if fewer than `group_concurrency` groups are being
        written, a writer starts at once with whatever is queued (alone at a low rate: no
        added latency); while groups are being written, new filings gather into the next
        one. No statement of a filing fails for a reason of its own (conflicts are skipped,
        then told apart), so a refused filing (id reused) writes nothing and the others
        go on without a savepoint each. A group that fails as a whole (the
        database, a deadlock with another replica's group) fails every filing in it, none
        answered 2xx; a deadlock is retried one filing at a time."""
        if len(self._queue) >= self._queue_max:
            # Already more waiting than the groups can take promptly: come back later.
            retry = self.admission.retry_after_s if self.admission else 1
            raise shed_queue(retry)
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._last_arrival is not None:
            gap = now - self._last_arrival
            self._gap_s = gap if self._gap_s is None else self._gap_s + 0.2 * (gap - self._gap_s)
        self._last_arrival = now
        done: asyncio.Future[Filed] = loop.create_future()
        queued: _Queued = (report, correlation_id.get(), done, gate)
        self._queue.append(queued)
        if self._lingering:
            self._arrived.set()
        # While a writer gathers its group, this filing is in it (a second writer would take
        # it away alone); what does not fit in that group (a burst) gets writers of its own.
        if (
            not self._lingering or len(self._queue) > self._group_max
        ) and self._writers < self._group_concurrency:
            self._writers += 1
            task = asyncio.create_task(self._write_groups(), name="intake-group-commit")
            self._writer_tasks.add(task)
            task.add_done_callback(self._writer_tasks.discard)
        # Not cancelled with the request: once queued, the filing commits or fails with its
        # group, and a sender that went away gets it back as a duplicate when it retries.
        try:
            return await asyncio.wait_for(asyncio.shield(done), self._queue_wait_s)
        except TimeoutError:
            for i, waiting in enumerate(self._queue):
                if waiting is queued:
                    # Not taken into a group in time (the groups are slower than the
                    # arrivals): refused before anything of it was written.
                    del self._queue[i]
                    retry = self.admission.retry_after_s if self.admission else 1
                    raise shed_queue(retry) from None
        # Taken into a group already: its answer comes with that group's commit.
        return await asyncio.shield(done)

    async def _gather(self) -> None:
        """Wait for company before the first group, when filings are arriving closer together
        than the linger: one transaction (BEGIN, four statements, COMMIT and a relay pass)
        then carries several filings instead of one each, which is most of what a filing
        costs intake and PostgreSQL at a steady rate (issue 18). The wait ends when the
        group is full, at the linger, or as soon as nobody came within twice the usual gap
        (a burst that has all arrived: clients waiting for their answers send no more)."""
        gap = self._gap_s
        if (
            self._linger_s <= 0
            or gap is None
            or gap >= self._linger_s
            or len(self._queue) >= self._group_max
            # Other groups are being written: the filings arriving meanwhile gather behind
            # them anyway.
            or self._writers > 1
        ):
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._linger_s
        self._lingering = True
        try:
            while len(self._queue) < self._group_max:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._arrived.clear()
                try:
                    async with asyncio.timeout(min(remaining, 2 * gap)):
                        await self._arrived.wait()
                except TimeoutError:
                    break
        finally:
            self._lingering = False

    async def _write_groups(self) -> None:
        try:
            # Only before the first group: filings queued while a group was written waited
            # for it already.
            await self._gather()
            while self._queue:
                group = self._queue[: self._group_max]
                del self._queue[: self._group_max]
                await self._commit_group(group)
        finally:
            self._writers -= 1

    async def _commit_group(self, group: list[_Queued]) -> None:
        # The rate limit's verdicts are fetched while the transaction begins, not before it:
        # a Redis round trip in front of every group's BEGIN lengthened each group's turn,
        # and with at most `group_concurrency` groups at once, that is what a burst waits
        # for. The rest of this method tells a filing refused by the limit by its answer,
        # already set (`done.done()`).
        passing = (
            asyncio.ensure_future(self._past_gates(group))
            if any(gate is not None for *_, gate in group)
            else None
        )
        results: list[Filed | Exception] = []
        filed = group
        try:
            async with self._unit() as uow:
                if passing is not None:
                    filed = await passing
                if filed:
                    results = await self.file_set(
                        PgFilings.on(uow),
                        uow,
                        [(report, cid) for report, cid, _, _ in filed],
                    )
            self.groups_committed += 1
        except (DBAPIError, asyncpg.PostgresError) as exc:
            if not _deadlocked(exc):
                _fail(group, exc)
                return
            # Two groups took the same two messages in opposite orders (two deliveries of
            # both at once): PostgreSQL aborted this one; file them one at a time instead.
            log.warning("group commit deadlocked; filing one at a time", filings=len(group))
            for report, cid, done, _ in group:
                token = correlation_id.set(cid)
                try:
                    if not done.done():
                        done.set_result(await self._file_alone(report))
                except Exception as alone:
                    if not done.done():
                        done.set_exception(alone)
                finally:
                    correlation_id.reset(token)
            return
        except BaseException as exc:
            _fail(group, exc)
            if not isinstance(exc, Exception):
                raise
            return
        # Committed: now, and only now, each filing gets its answer.
        for (_, _, done, _), result in zip(filed, results, strict=True):
            if done.done():
                continue
            if isinstance(result, BaseException):
                done.set_exception(result)
            else:
                done.set_result(result)

    @staticmethod
    async def _past_gates(group: list[_Queued]) -> list[_Queued]:
        """The group without its rate-limited filings, which are answered `RateLimited`.
        The first verdict asked for fetches every queued post's (one Redis call); the
        limiter answers every one, letting the post through if Redis fails."""
        kept: list[_Queued] = []
        for queued in group:
            gate, done = queued[3], queued[2]
            if gate is not None:
                verdict = await gate.verdict()
                if not verdict.allowed:
                    if not done.done():
                        done.set_exception(RateLimited(verdict))
                    continue
            kept.append(queued)
        return kept

    async def _file_alone(self, report: NormalizedReport, gate: PendingHit | None = None) -> Filed:
        """The filing in a transaction of its own (a group of one)."""
        await _passed(gate)
        async with self._unit() as uow:
            (result,) = await self.file_set(
                PgFilings.on(uow), uow, [(report, correlation_id.get())]
            )
        if isinstance(result, Exception):
            raise result
        return result

    async def file_set(
        self,
        store: FilingStore,
        outbox: Outbox,
        items: list[tuple[NormalizedReport, str | None]],
    ) -> list[Filed | Exception]:
        """Files a group's reports in the caller's transaction with one statement per table
        (issue 18): claim the submissions, get or create the reporters' keys, note each
        report's key, queue the events. A filing's refusal (its message id used for other
        text) is returned in its place, not raised: it wrote nothing, so the group goes
        on. Anything raised fails the whole group (rolled back, nobody answered 2xx)."""
        filings = [_Filing.of(self, report, cid) for report, cid in items]
        results: list[Filed | Exception | None] = [None] * len(filings)
        # Claimed in (channel, message id) order: two groups holding deliveries of the same
        # messages take their row locks in the same order and never deadlock on them.
        todo = sorted(range(len(filings)), key=lambda i: filings[i].message)
        claimed: list[int] = []
        for _ in range(_RECEIPT_ATTEMPTS):
            won = await store.claim(
                [filings[i].report.channel.value for i in todo],
                [filings[i].report.channel_message_id for i in todo],
                [filings[i].report_id for i in todo],
                [filings[i].receipt_code for i in todo],
                [filings[i].fingerprint for i in todo],
            )
            claimed += [i for i in todo if filings[i].report_id in won]
            lost = [i for i in todo if filings[i].report_id not in won]
            todo = []
            if lost:
                # Skipped by ON CONFLICT: an earlier delivery of the same message (in this
                # group or before it) or, rarely, a receipt code or id someone else holds.
                earlier = await store.earlier(
                    [filings[i].report.channel.value for i in lost],
                    [filings[i].report.channel_message_id for i in lost],
                )
                for i in lost:
                    row = earlier.get(filings[i].message)
                    if row is None:
                        # 40 random bits make this rare, but it must not surface as an error.
                        log.warning("receipt code collision; retrying with a new code")
                        filings[i] = filings[i].renumbered()
                        todo.append(i)
                    elif not hmac.compare_digest(row.fingerprint, filings[i].fingerprint):
                        results[i] = SubmissionConflict()
                    else:
                        results[i] = Filed(row.report_id, row.receipt_code, duplicate=True)
            if not todo:
                break
        for i in todo:
            results[i] = RuntimeError("no free receipt code after several attempts")
        claimed.sort()  # the events go out in arrival order
        sealable = [i for i in claimed if filings[i].sealable]
        keys = dict(
            zip(
                (filings[i].report_id for i in sealable),
                await keys_for(
                    store,
                    outbox,
                    self._keys_topic,
                    [(filings[i].digest, filings[i].cid) for i in sealable],
                ),
                strict=True,
            )
        )
        noted = [i for i in claimed if filings[i].digest is not None]
        if noted:
            await store.note_keys(
                [filings[i].report_id for i in noted],
                [keys[filings[i].report_id].key_id for i in noted],
            )
        for i in claimed:
            filing = filings[i]
            key = keys.get(filing.report_id)
            sealed: SealedIdentity | None = None
            original: SealedContent | None = None
            if key is not None:
                assert filing.report.reporter is not None
                sealed = seal_identity(filing.report.reporter.as_dict(), key.key_id, key.key)
                # The text as typed, for the reporter's own view; the event's text is
                # scrubbed, so erasing the key leaves nothing of theirs in the topic.
                original = seal_content(
                    filing.report.title, filing.report.text, key.key_id, key.key
                )
            event = filing.report.to_event(
                filing.report_id, filing.receipt_code, sealed, filing.cid, original
            )
            outbox.publish(self._intake_topic, event, key=filing.report_id)
            results[i] = Filed(filing.report_id, filing.receipt_code, duplicate=False)
        return [r if r is not None else RuntimeError("not filed") for r in results]

    async def file_or_answer(
        self, report: NormalizedReport, gate: PendingHit | None = None
    ) -> Filed:
        """File a message from a one-to-one channel, or add it to a report as the answer to
        an officer's open question to this reporter (SPEC Revision 2, "ask the reporter").

        The reply comes from the phone the question was sent to, so the same contact is
        the proof, as an e-mail reply is. A message already filed or added stays where it
        went (a redelivery after the question was answered must not file it again); one
        that starts with "BARU" is always a new complaint; otherwise the question asked
        last within the answer window is answered, or the one whose receipt code the
        message quotes."""
        if report.channel not in ANSWERING_CHANNELS or report.reporter is None:
            return await self.file(report, gate)
        fresh = wants_new_report(report.text)
        if fresh is not None:
            return await self.file(report.model_copy(update={"text": fresh}), gate)
        target = await self._question_for(report)
        if target is None:
            return await self.file(report, gate)
        await _passed(gate)
        report_id, receipt_code, question_id = target
        filed = await self.amend(
            report_id,
            receipt_code,
            report.channel,
            report.channel_message_id,
            report.text,
            report.photos,
            report.received_at,
            sender=report.reporter,
            in_reply_to=question_id,
        )
        log.info("answer to an officer's question", report_id=str(report_id))
        return filed

    async def _question_for(self, report: NormalizedReport) -> tuple[UUID, str, UUID | None] | None:
        """(report id, receipt code, question id) this message answers, if any."""
        assert report.reporter is not None
        reuse = report.reporter.reuse_key(report.channel)
        if reuse is None:
            return None
        digest = contact_digest(self.pepper, reuse)
        async with self._reader() as filings:
            rows = await filings.answering(
                report.channel.value,
                report.channel_message_id,
                digest,
                report.received_at - self._answer_window,
                # A reply cannot come before its question; the provider's clock (WhatsApp
                # stamps whole seconds) may run a little behind ours.
                report.received_at + _CLOCK_SKEW,
            )
        # Where an earlier delivery of this very message went decides, not today's
        # questions: the same message is never filed twice.
        if rows and rows[0]["kind"] == 1:
            # Answered already: `amend` answers this delivery as the duplicate.
            return (rows[0]["report_id"], rows[0]["receipt_code"] or "", None)
        if rows and rows[0]["kind"] == 2:
            return None  # filed as a report of its own
        if not rows:
            return None
        quoted = {
            code
            for raw in _RECEIPT_IN_TEXT.findall(report.text)
            if (code := normalize_receipt_code(raw)) is not None
        }
        chosen = next((row for row in rows if row["receipt_code"] in quoted), rows[0])
        return chosen["report_id"], chosen["receipt_code"], chosen["question_id"]

    async def known(self, channel: Channel, channel_message_id: str) -> bool:
        """Whether this message was already filed or added to a report: lets an adapter
        skip fetching a redelivered message's media (the duplicate answer needs no photos,
        since the fingerprint covers channel and text only)."""
        async with self._reader() as filings:
            return await filings.known(channel.value, channel_message_id)

    async def report_for_message(
        self, channel: Channel, channel_message_id: str
    ) -> tuple[UUID, str] | None:
        """The report a channel message was filed as (report id, receipt code)."""
        async with self._session(begin=False) as session:
            row = (
                await session.execute(
                    select(SUBMISSIONS.c.report_id, SUBMISSIONS.c.receipt_code).where(
                        SUBMISSIONS.c.channel == channel.value,
                        SUBMISSIONS.c.channel_message_id == channel_message_id,
                    )
                )
            ).first()
        return (row.report_id, row.receipt_code) if row is not None else None

    async def report_for_receipt(self, receipt_code: str) -> tuple[UUID, str] | None:
        async with self._session(begin=False) as session:
            row = (
                await session.execute(
                    select(SUBMISSIONS.c.report_id, SUBMISSIONS.c.receipt_code).where(
                        SUBMISSIONS.c.receipt_code == receipt_code
                    )
                )
            ).first()
        return (row.report_id, row.receipt_code) if row is not None else None

    async def amend(
        self,
        report_id: UUID,
        receipt_code: str,
        channel: Channel,
        channel_message_id: str,
        text: str,
        photos: tuple[PhotoRef, ...],
        received_at: datetime,
        sender: ReporterIdentity | None = None,
        in_reply_to: UUID | None = None,
    ) -> Filed:
        """Add a message to an existing report (`ReportAmended`), exactly once per
        (channel, channel message id), with the same race handling as `file`. The event's
        text is scrubbed of the `sender`'s values and of contacts; the text as typed is
        sealed with the sender's key (the one their reports share), so erasing them
        reaches it too."""
        fingerprint = hmac.new(
            self.pepper.encode(), f"{channel}\0amend\0{text}".encode(), hashlib.sha256
        ).digest()
        async with self._session() as session:
            uow = UnitOfWork(session, OUTBOX)
            claimed = (
                await session.execute(
                    insert(AMENDMENTS)
                    .values(
                        channel=channel.value,
                        channel_message_id=channel_message_id,
                        report_id=report_id,
                        fingerprint=fingerprint,
                    )
                    .on_conflict_do_nothing(
                        index_elements=[AMENDMENTS.c.channel, AMENDMENTS.c.channel_message_id]
                    )
                    .returning(AMENDMENTS.c.report_id)
                )
            ).first()
            if claimed is None:
                row = (
                    await session.execute(
                        select(AMENDMENTS.c.report_id, AMENDMENTS.c.fingerprint).where(
                            AMENDMENTS.c.channel == channel.value,
                            AMENDMENTS.c.channel_message_id == channel_message_id,
                        )
                    )
                ).one()
                if row.report_id != report_id or not hmac.compare_digest(
                    row.fingerprint, fingerprint
                ):
                    raise SubmissionConflict
                return Filed(report_id, receipt_code, duplicate=True, amended=True)
            cid = correlation_id.get()
            original: SealedContent | None = None
            terms: tuple[str, ...] = ()
            if sender is not None and not sender.is_empty:
                reuse = sender.reuse_key(channel)
                if reuse is not None:
                    # The same way a filing gets its key (one contact, one live key).
                    [key] = await keys_for(
                        PgFilings.on(uow),
                        uow,
                        self._keys_topic,
                        [(contact_digest(self.pepper, reuse), cid)],
                    )
                    original = seal_content(None, text, key.key_id, key.key)
                terms = identity_terms(sender.as_dict())
            event = ReportAmended(
                report_id=report_id,
                channel=channel,
                channel_message_id=channel_message_id,
                text=scrub_officer_text(text, terms),
                photos=photos,
                received_at=received_at,
                sealed_original=original,
                in_reply_to=in_reply_to,
                **({"correlation_id": cid} if cid else {}),
            )
            # After the key's announcement, if one was issued (the outbox keeps call order).
            uow.publish(self._intake_topic, event, key=report_id)
            await self._close_question(session, report_id, in_reply_to, received_at)
            # The commit wakes the relay (the unit of work marks the session).
            await uow.flush()
        log.info("report amended", report_id=str(report_id), channel=channel.value)
        return Filed(report_id, receipt_code, duplicate=False, amended=True)

    async def _close_question(
        self,
        session: AsyncSession,
        report_id: UUID,
        in_reply_to: UUID | None,
        received_at: datetime,
    ) -> None:
        """The same rule as the gateway's (which keeps the conversation): the question
        named, else the report's oldest open question asked before the message. Intake's
        copy only decides where the reporter's next SMS goes."""
        if in_reply_to is not None:
            where = OPEN_QUESTIONS.c.question_id == in_reply_to
        else:
            oldest = (
                select(OPEN_QUESTIONS.c.question_id)
                .where(
                    OPEN_QUESTIONS.c.report_id == report_id,
                    OPEN_QUESTIONS.c.answered_at.is_(None),
                    OPEN_QUESTIONS.c.asked_at <= received_at,
                )
                .order_by(OPEN_QUESTIONS.c.asked_at, OPEN_QUESTIONS.c.question_id)
                .limit(1)
                .scalar_subquery()
            )
            where = OPEN_QUESTIONS.c.question_id == oldest
        await session.execute(
            update(OPEN_QUESTIONS)
            .where(
                where,
                OPEN_QUESTIONS.c.report_id == report_id,
                OPEN_QUESTIONS.c.answered_at.is_(None),
            )
            .values(answered_at=received_at)
        )
