"""Group commit on real PostgreSQL and Kafka (aduan_intake.service.filing): concurrent filings share
transactions, each is stored and published exactly once, and none is answered before the
transaction holding it committed; a refused filing (id reused for other text) does not undo
the others in its group."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import func, make_url, select

from aduan_contracts import decode
from aduan_contracts.topics import REPORT_INTAKE, REPORTER_KEYS
from aduan_intake.adapters.tables import SUBMISSIONS

pytestmark = pytest.mark.integration

TEXT = "Saluran air di depan pasar tersumbat sampah, air meluap ke jalan setiap hujan turun."
JSON = {"Accept": "application/json"}


async def test_concurrent_filings_share_transactions_and_are_answered_after_commit(
    intake: Any, topics: Any
) -> None:
    filings = 50
    forms = [{"text": f"{TEXT} ({i})", "submission_id": str(uuid.uuid4())} for i in range(filings)]
    async with intake(rate_limit_posts=100_000, smtp_enabled=False) as run:
        dsn = make_url(run.settings.database_url).set(drivername="postgresql")
        # Another connection: what it sees is committed.
        observer = await asyncpg.connect(dsn.render_as_string(hide_password=False))
        visible_at_answer: list[bool] = []
        try:
            lock = asyncio.Lock()

            async def file_observed(form: dict[str, str]) -> httpx.Response:
                answer: httpx.Response = await run.client.post(
                    "/v1/channels/web", data=form, headers=JSON
                )
                async with lock:  # one query at a time on the observer's connection
                    found = await observer.fetchval(
                        "SELECT count(*) FROM submissions WHERE channel_message_id = $1",
                        form["submission_id"],
                    )
                visible_at_answer.append(found == 1)
                return answer

            filer = run.app.state.channels.filer
            groups = filer.groups_committed
            answers = await asyncio.gather(*(file_observed(f) for f in forms))
            groups = filer.groups_committed - groups
            rows = await observer.fetch(
                "SELECT channel_message_id, count(*) AS n FROM submissions"
                " GROUP BY channel_message_id"
            )
        finally:
            await observer.close()
    assert [a.status_code for a in answers] == [201] * filings
    assert all(visible_at_answer)  # every 201 came after its row was committed
    assert {r["channel_message_id"]: r["n"] for r in rows} == {f["submission_id"]: 1 for f in forms}
    # Shared transactions: fewer commits than filings (they arrived together).
    assert 1 <= groups < filings
    published = await topics.read(REPORT_INTAKE.name, filings)
    mids = sorted(decode(REPORT_INTAKE, r.value).channel_message_id for r in published)
    assert mids == sorted(f["submission_id"] for f in forms)
    assert await topics.count(REPORT_INTAKE.name) == filings


async def test_duplicates_and_a_refused_filing_in_one_group_leave_the_others_filed(
    intake: Any, topics: Any
) -> None:
    same = str(uuid.uuid4())
    others = [{"text": f"{TEXT} [{i}]", "submission_id": str(uuid.uuid4())} for i in range(8)]
    burst = [
        {"text": TEXT, "submission_id": same},
        {"text": TEXT, "submission_id": same},  # the same message again (a retry)
        {"text": TEXT + " Berbeda.", "submission_id": same},  # the id reused: refused
        *others,
    ]
    async with intake(rate_limit_posts=100_000, smtp_enabled=False) as run:
        answers = await asyncio.gather(
            *(run.client.post("/v1/channels/web", data=f, headers=JSON) for f in burst)
        )
        async with run.runtime.sessions() as session:
            stored = dict(
                (
                    await session.execute(
                        select(SUBMISSIONS.c.channel_message_id, func.count()).group_by(
                            SUBMISSIONS.c.channel_message_id
                        )
                    )
                ).all()
            )
    # Whichever of the three came first is filed; the retry of the same text gets its
    # receipt back, the other text is refused (which one wins depends on arrival).
    three = list(zip(burst[:3], answers[:3], strict=True))
    [(winner, filed)] = [(f, a) for f, a in three if a.status_code == 201]
    for form, answer in three:
        if answer is filed:
            continue
        if form["text"] == winner["text"]:
            assert answer.status_code == 200
            assert answer.json()["receipt_code"] == filed.json()["receipt_code"]
        else:
            assert answer.status_code == 409
    assert [a.status_code for a in answers[3:]] == [201] * len(others)
    assert stored == {same: 1, **{f["submission_id"]: 1 for f in others}}
    published = await topics.read(REPORT_INTAKE.name, 1 + len(others))
    assert len(published) == 1 + len(others)


async def test_one_key_per_contact_in_a_group_and_the_same_key_when_they_return(
    intake: Any, topics: Any
) -> None:
    """A group holding several filings of one reporter issues ONE key for them (a key per
    filing would split their reports: a reply from their phone would find only some), and
    their next complaint, in a later group, is sealed with that same key."""
    returning = "warga.sering@example.id"
    burst = [
        *(
            {"text": f"{TEXT} <{i}>", "submission_id": str(uuid.uuid4()), "contact": returning}
            for i in range(5)
        ),
        *(
            {
                "text": f"{TEXT} <<{i}>>",
                "submission_id": str(uuid.uuid4()),
                "contact": f"warga{i}@example.id",
            }
            for i in range(5)
        ),
    ]
    later = {"text": f"{TEXT} lagi", "submission_id": str(uuid.uuid4()), "contact": returning}
    async with intake(rate_limit_posts=100_000, smtp_enabled=False) as run:
        filer = run.app.state.channels.filer
        groups = filer.groups_committed
        answers = await asyncio.gather(
            *(run.client.post("/v1/channels/web", data=f, headers=JSON) for f in burst)
        )
        shared = filer.groups_committed - groups < len(burst)
        again = await run.client.post("/v1/channels/web", data=later, headers=JSON)
        dsn = make_url(run.settings.database_url).set(drivername="postgresql")
        conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
        try:
            keys = await conn.fetchval("SELECT count(*) FROM reporter_keys")
            noted = {
                r["channel_message_id"]: r["key_id"]
                for r in await conn.fetch("SELECT channel_message_id, key_id FROM submissions")
            }
        finally:
            await conn.close()
    assert [a.status_code for a in answers] == [201] * len(burst)
    assert again.status_code == 201
    assert shared  # the burst really went through shared transactions
    assert keys == 6  # one for the returning reporter, one for each of the five others
    events = [decode(REPORT_INTAKE, r.value) for r in await topics.read(REPORT_INTAKE.name, 11)]
    sealed_with = {e.channel_message_id: e.reporter.key_id for e in events if e.reporter}
    assert len(sealed_with) == 11
    theirs = {sealed_with[f["submission_id"]] for f in [*burst[:5], later]}
    assert len(theirs) == 1  # all six of theirs under one key
    others = {sealed_with[f["submission_id"]] for f in burst[5:]}
    assert len(others) == 5 and not others & theirs
    # The key each report was sealed with is the one intake noted for replies.
    assert all(noted[mid] == key for mid, key in sealed_with.items())
    issued = await topics.read(REPORTER_KEYS.name, 6)
    assert len(issued) == 6 and await topics.count(REPORTER_KEYS.name) == 6


async def test_a_receipt_code_someone_else_holds_is_replaced_not_refused(
    intake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 40-bit receipt code is random: when it is already another report's, the filing
    gets a fresh code (nothing of the first try stays) instead of an error."""
    import aduan_intake.service.filing as filing

    first = {"text": TEXT, "submission_id": str(uuid.uuid4())}
    second = {"text": f"{TEXT} (2)", "submission_id": str(uuid.uuid4())}
    async with intake(rate_limit_posts=100_000, smtp_enabled=False) as run:
        taken = (await run.client.post("/v1/channels/web", data=first, headers=JSON)).json()
        codes = iter([taken["receipt_code"]])
        real = filing.new_receipt_code
        monkeypatch.setattr(filing, "new_receipt_code", lambda: next(codes, None) or real())
        answer = await run.client.post("/v1/channels/web", data=second, headers=JSON)
        async with run.runtime.sessions() as session:
            rows = (
                await session.execute(
                    select(SUBMISSIONS.c.channel_message_id, SUBMISSIONS.c.receipt_code)
                )
            ).all()
    assert answer.status_code == 201
    assert answer.json()["receipt_code"] != taken["receipt_code"]
    assert dict(rows) == {
        first["submission_id"]: taken["receipt_code"],
        second["submission_id"]: answer.json()["receipt_code"],
    }


async def _paced(run: Any, forms: list[dict[str, str]], every_s: float) -> tuple[list[int], int]:
    """Files `forms` one every `every_s` seconds (each sent at its time, as citizens send
    them); the answers' statuses and how many group transactions committed them."""
    filer = run.app.state.channels.filer
    groups = filer.groups_committed

    async def send(i: int, form: dict[str, str]) -> int:
        await asyncio.sleep(i * every_s)
        answer = await run.client.post("/v1/channels/web", data=form, headers=JSON)
        return answer.status_code

    statuses = await asyncio.gather(*(send(i, f) for i, f in enumerate(forms)))
    return list(statuses), filer.groups_committed - groups


async def test_filings_at_a_steady_rate_linger_for_company_and_a_lone_one_does_not(
    intake: Any, topics: Any
) -> None:
    # One filing every 10 ms (100/s): with a 50-ms linger a group waits for the filings
    # right behind it, so transactions carry several each; without it each filing would
    # find a free writer and commit alone. (The linger ends early once nobody came within
    # twice the usual gap: 20 ms here leaves room for a busy machine's scheduling.)
    steady = [{"text": f"{TEXT} <{i}>", "submission_id": str(uuid.uuid4())} for i in range(40)]
    sparse = [{"text": f"{TEXT} «{i}»", "submission_id": str(uuid.uuid4())} for i in range(4)]
    async with intake(
        rate_limit_posts=100_000, smtp_enabled=False, filing_group_linger_ms=50
    ) as run:
        statuses, groups = await _paced(run, steady, 0.010)
        assert statuses == [201] * len(steady)
        # Without the linger: 40 groups for 40 filings; with it, 8-16 on a quiet machine and
        # up to ~21 with every core busy (a late loop ends some waits early).
        assert groups < len(steady) * 3 // 4, groups
        await asyncio.sleep(1.0)  # the moving average of the gaps forgets the burst
        # One filing every 300 ms: nobody comes within the linger, so nothing waits for
        # company and each is its own transaction.
        for form in sparse:
            statuses, groups = await _paced(run, [form], 0)
            assert (statuses, groups) == ([201], 1)
            await asyncio.sleep(0.3)
    published = await topics.read(REPORT_INTAKE.name, len(steady) + len(sparse))
    mids = sorted(decode(REPORT_INTAKE, r.value).channel_message_id for r in published)
    assert mids == sorted(f["submission_id"] for f in steady + sparse)


async def test_a_group_asks_redis_once_for_its_senders_and_drops_those_over_the_limit(
    intake: Any, topics: Any
) -> None:
    # The rate limit's verdicts come with the group (issue 18): one script call for the
    # whole group's senders; a sender past the limit is answered 429 and nothing of that
    # post is written, while the rest of the group is filed.
    flooder = {"X-Forwarded-For": "203.0.113.50", **JSON}
    burst = [
        (flooder, {"text": f"{TEXT} <{i}>", "submission_id": str(uuid.uuid4())}) for i in range(5)
    ] + [
        (
            {"X-Forwarded-For": f"198.51.100.{i}", **JSON},
            {"text": f"{TEXT} [{i}]", "submission_id": str(uuid.uuid4())},
        )
        for i in range(10)
    ]
    async with intake(rate_limit_posts=3, trust_forwarded_for=True, smtp_enabled=False) as run:
        limiter = run.app.state.channels.limiter
        filer = run.app.state.channels.filer
        calls, groups = limiter.calls, filer.groups_committed
        answers = await asyncio.gather(
            *(run.client.post("/v1/channels/web", data=f, headers=h) for h, f in burst)
        )
        calls, groups = limiter.calls - calls, filer.groups_committed - groups
        async with run.runtime.sessions() as session:
            stored = set(
                (await session.execute(select(SUBMISSIONS.c.channel_message_id))).scalars()
            )
    codes = [a.status_code for a in answers]
    assert sorted(codes[:5]) == [201, 201, 201, 429, 429]
    assert codes[5:] == [201] * 10
    for answer in answers[:5]:
        if answer.status_code == 429:
            assert answer.json()["error"] == "rate_limited"
            assert 1 <= int(answer.headers["Retry-After"]) <= 120
    filed = {
        f["submission_id"] for (_, f), a in zip(burst, answers, strict=True) if a.status_code == 201
    }
    assert stored == filed  # the refused posts wrote nothing
    assert await topics.count(REPORT_INTAKE.name) == 13
    # Fewer calls than posts: the posts of a group were counted together.
    # (One more at most: a post refused here without Redis is counted by the next call.)
    assert 1 <= calls <= groups + 1 < len(burst)
