"""The filing use case's decisions (`Filer.file_set`) on in-memory fakes of its stores, no
I/O: new filings are claimed and published in arrival order; a redelivery of the same
message is answered as the duplicate with the first receipt; the same message id with other
text is refused (409) without undoing the rest of the group; a receipt code someone else
holds is replaced; one key per contact, reused when they return, fresh after erasure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

import pytest
from pydantic import BaseModel

import aduan_intake.service.filing as filing
from aduan_contracts.enums import Channel
from aduan_contracts.events import ReporterKeyIssued, ReportSubmitted
from aduan_intake.adapters.stores import Earlier, ReporterKey
from aduan_intake.domain import NormalizedReport, ReporterIdentity
from aduan_intake.service.filing import Filed, Filer, SubmissionConflict

M = TypeVar("M", bound=BaseModel)

TEXT = "Jalan berlubang besar di depan pasar, sudah dua motor jatuh minggu ini."


class FakeStore:
    """`FilingStore` in memory, with PostgreSQL's conflict rules: a claim whose message,
    report id or receipt code is taken is skipped; a contact digest has one key."""

    def __init__(self) -> None:
        self.submissions: dict[tuple[str, str], Earlier] = {}
        self.key_of_report: dict[UUID, UUID] = {}
        self.keys: dict[UUID, tuple[bytes | None, bytes | None]] = {}  # id -> (digest, key)

    async def claim(
        self,
        channels: Sequence[str],
        message_ids: Sequence[str],
        report_ids: Sequence[UUID],
        receipt_codes: Sequence[str],
        fingerprints: Sequence[bytes],
    ) -> set[UUID]:
        won = set()
        for row in zip(channels, message_ids, report_ids, receipt_codes, fingerprints, strict=True):
            channel, mid, report_id, code, fingerprint = row
            held = self.submissions.values()
            if (channel, mid) in self.submissions or any(
                e.report_id == report_id or e.receipt_code == code for e in held
            ):
                continue
            self.submissions[(channel, mid)] = Earlier(report_id, code, fingerprint)
            won.add(report_id)
        return won

    async def earlier(
        self, channels: Sequence[str], message_ids: Sequence[str]
    ) -> dict[tuple[str, str], Earlier]:
        wanted = set(zip(channels, message_ids, strict=True))
        return {m: e for m, e in self.submissions.items() if m in wanted}

    async def note_keys(self, report_ids: Sequence[UUID], key_ids: Sequence[UUID]) -> None:
        self.key_of_report.update(zip(report_ids, key_ids, strict=True))

    async def add_keys(
        self, key_ids: Sequence[UUID], digests: Sequence[bytes | None], keys: Sequence[bytes]
    ) -> set[UUID]:
        made = set()
        for key_id, digest, key in zip(key_ids, digests, keys, strict=True):
            if digest is not None and any(d == digest for d, _ in self.keys.values()):
                continue
            self.keys[key_id] = (digest, key)
            made.add(key_id)
        return made

    async def live_keys(self, digests: Sequence[bytes]) -> dict[bytes, ReporterKey]:
        return {
            d: ReporterKey(key_id, key, issued=False)
            for key_id, (d, key) in self.keys.items()
            if d is not None and d in digests and key is not None
        }

    def shred_all(self) -> None:
        self.keys = dict.fromkeys(self.keys, (None, None))


class FakeOutbox:
    def __init__(self) -> None:
        self.events: list[tuple[str, BaseModel]] = []

    def publish(self, topic: str, event: BaseModel, key: str | UUID | None) -> None:
        self.events.append((topic, event))

    def of(self, kind: type[M]) -> list[M]:
        return [e for _, e in self.events if isinstance(e, kind)]


def _filer() -> Filer:
    return Filer(
        sessions=lambda: None,  # type: ignore[arg-type, return-value]
        pepper="p" * 32,
        intake_topic="intake",
        keys_topic="keys",
    )


def _report(mid: str, text: str = TEXT, contact: str | None = None) -> NormalizedReport:
    return NormalizedReport(
        channel=Channel.WEB,
        channel_message_id=mid,
        text=text,
        received_at=datetime.now(UTC),
        reporter=ReporterIdentity(contact=contact) if contact else None,
    )


async def _file(
    filer: Filer, store: FakeStore, outbox: FakeOutbox, *reports: NormalizedReport
) -> list[Filed | Exception]:
    return await filer.file_set(store, outbox, [(r, "cid") for r in reports])


async def test_new_filings_are_claimed_and_published_in_arrival_order() -> None:
    store, outbox = FakeStore(), FakeOutbox()
    results = await _file(_filer(), store, outbox, _report("b"), _report("a"), _report("c"))
    assert all(isinstance(r, Filed) and not r.duplicate for r in results)
    published = outbox.of(ReportSubmitted)
    assert [e.channel_message_id for e in published] == ["b", "a", "c"]
    assert len({r.receipt_code for r in results if isinstance(r, Filed)}) == 3


async def test_a_redelivery_is_the_duplicate_and_other_text_is_refused_alone() -> None:
    filer, store, outbox = _filer(), FakeStore(), FakeOutbox()
    first, again, other, fine = await _file(
        filer,
        store,
        outbox,
        _report("m"),
        _report("m"),  # the same message delivered twice in one group
        _report("m", text=f"{TEXT} Lain."),  # the id reused for other text
        _report("n"),
    )
    assert isinstance(first, Filed) and not first.duplicate
    assert isinstance(again, Filed) and again.duplicate
    assert (again.report_id, again.receipt_code) == (first.report_id, first.receipt_code)
    assert isinstance(other, SubmissionConflict)
    assert isinstance(fine, Filed) and not fine.duplicate
    assert len(outbox.of(ReportSubmitted)) == 2  # nothing for the duplicate or the refusal
    # Later, in another group: still the duplicate, nothing published.
    (later,) = await _file(filer, store, outbox, _report("m"))
    assert isinstance(later, Filed) and later.duplicate and later.report_id == first.report_id
    assert len(outbox.of(ReportSubmitted)) == 2


async def test_a_receipt_code_someone_holds_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    filer, store, outbox = _filer(), FakeStore(), FakeOutbox()
    (taken,) = await _file(filer, store, outbox, _report("first"))
    assert isinstance(taken, Filed)
    codes = iter([taken.receipt_code])
    real = filing.new_receipt_code
    monkeypatch.setattr(filing, "new_receipt_code", lambda: next(codes, None) or real())
    (second,) = await _file(filer, store, outbox, _report("second", text=f"{TEXT} (2)"))
    assert isinstance(second, Filed) and not second.duplicate
    assert second.receipt_code != taken.receipt_code
    assert store.submissions[("web", "second")].receipt_code == second.receipt_code


async def test_no_free_receipt_code_fails_that_filing_only(monkeypatch: pytest.MonkeyPatch) -> None:
    filer, store, outbox = _filer(), FakeStore(), FakeOutbox()
    (taken,) = await _file(filer, store, outbox, _report("first"))
    assert isinstance(taken, Filed)
    real = filing.new_receipt_code
    stuck = {"on": True}
    monkeypatch.setattr(
        filing, "new_receipt_code", lambda: taken.receipt_code if stuck["on"] else real()
    )
    results = await filer.file_set(store, outbox, [(_report("x", text=f"{TEXT} x"), None)])
    assert isinstance(results[0], RuntimeError)
    assert ("web", "x") not in store.submissions


async def test_one_key_per_contact_reused_when_they_return_and_fresh_after_erasure() -> None:
    filer, store, outbox = _filer(), FakeStore(), FakeOutbox()
    who = "warga@example.id"
    results = await _file(
        filer,
        store,
        outbox,
        _report("1", f"{TEXT} 1", who),
        _report("2", f"{TEXT} 2", who),
        _report("3", f"{TEXT} 3", "lain@example.id"),
        _report("4", f"{TEXT} 4"),  # anonymous: nothing sealed, no key
    )
    assert all(isinstance(r, Filed) for r in results)
    issued = outbox.of(ReporterKeyIssued)
    assert len(issued) == 2
    # Each key is announced before the first report sealed with it.
    kinds = [type(e).__name__ for _, e in outbox.events]
    assert kinds[:2] == ["ReporterKeyIssued", "ReporterKeyIssued"]
    sealed = {e.channel_message_id: e.reporter for e in outbox.of(ReportSubmitted)}
    assert sealed["4"] is None
    key = {mid: r.key_id for mid, r in sealed.items() if r is not None}
    assert key["1"] == key["2"] != key["3"]
    assert isinstance(results[0], Filed)
    assert store.key_of_report[results[0].report_id] == key["1"]

    (back,) = await _file(filer, store, outbox, _report("5", f"{TEXT} 5", who))
    assert isinstance(back, Filed) and not back.duplicate
    assert len(outbox.of(ReporterKeyIssued)) == 2  # the live key, nothing issued
    last = outbox.of(ReportSubmitted)[-1].reporter
    assert last is not None and last.key_id == key["1"]

    store.shred_all()
    (erased,) = await _file(filer, store, outbox, _report("6", f"{TEXT} 6", who))
    assert isinstance(erased, Filed) and not erased.duplicate
    assert len(outbox.of(ReporterKeyIssued)) == 3
    fresh = outbox.of(ReportSubmitted)[-1].reporter
    assert fresh is not None and fresh.key_id not in {key["1"], key["3"]}
