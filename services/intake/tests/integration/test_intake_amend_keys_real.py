"""An amendment gets its reporter key the way a filing does
(`aduan_intake.adapters.keyring.keys_for`, issue 18's fold-in), on real PostgreSQL and
Kafka: the same contact's amendment is sealed with the key of their filed report and issues
nothing; once that key is shredded (erasure), their next amendment gets a fresh key; an
amendment from a sender without a contact to recognise them by is not sealed at all."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from aduan_contracts import decode
from aduan_contracts.enums import Channel
from aduan_contracts.events import ReportAmended, ReporterKeyIssued, ReportSubmitted
from aduan_contracts.topics import REPORT_INTAKE, REPORTER_KEYS
from aduan_intake.domain import ReporterIdentity
from aduan_kit.crypto import open_content

pytestmark = pytest.mark.integration

TEXT = "Lampu penerangan jalan di gang tiga mati sejak minggu lalu, gelap sekali malam hari."
JSON = {"Accept": "application/json"}
CONTACT = "warga.amend@example.id"


async def test_amendments_get_the_contacts_live_key_and_a_fresh_one_after_erasure(
    intake: Any, topics: Any
) -> None:
    form = {"text": TEXT, "submission_id": str(uuid.uuid4()), "contact": CONTACT}
    sender = ReporterIdentity(contact=CONTACT)
    async with intake(rate_limit_posts=100_000, smtp_enabled=False) as run:
        filer = run.app.state.channels.filer
        filed = await run.client.post("/v1/channels/web", data=form, headers=JSON)
        assert filed.status_code == 201, filed.text
        report_id = uuid.UUID(filed.json()["report_id"])
        receipt = filed.json()["receipt_code"]

        async def amend(mid: str, text: str, who: ReporterIdentity | None) -> Any:
            return await filer.amend(
                report_id, receipt, Channel.EMAIL, mid, text, (), datetime.now(UTC), sender=who
            )

        first = await amend("m-1", "Sudah tiga malam gelap.", sender)
        again = await amend("m-1", "Sudah tiga malam gelap.", sender)  # redelivery
        async with run.runtime.sessions() as session:
            conn = await session.connection()
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.execute(
                "UPDATE reporter_keys SET key = NULL, contact_digest = NULL, shredded_at = now()"
            )
            await session.commit()
        after = await amend("m-2", "Masih gelap, tolong.", sender)
        anonymous = await amend("m-3", "Saya tetangganya.", ReporterIdentity(name="Budi"))
        keys = await _count_keys(run)
    assert (first.duplicate, again.duplicate, after.duplicate) == (False, True, False)
    assert not anonymous.duplicate
    assert keys == 2  # the filing's key (shredded) and the fresh one after erasure

    events = [decode(REPORT_INTAKE, r.value) for r in await topics.read(REPORT_INTAKE.name, 4)]
    submitted = next(e for e in events if isinstance(e, ReportSubmitted))
    amended = {e.channel_message_id: e for e in events if isinstance(e, ReportAmended)}
    assert set(amended) == {"m-1", "m-2", "m-3"}
    issued = [decode(REPORTER_KEYS, r.value) for r in await topics.read(REPORTER_KEYS.name, 2)]
    assert all(isinstance(k, ReporterKeyIssued) for k in issued)
    assert await topics.count(REPORTER_KEYS.name) == 2
    by_id = {k.key_id: base64.b64decode(k.key) for k in issued}
    assert submitted.reporter is not None
    original = submitted.reporter.key_id
    # Same contact, live key: the amendment is sealed with the filing's key.
    m1 = amended["m-1"].sealed_original
    assert m1 is not None and m1.key_id == original
    assert open_content(m1, by_id[original]) == (None, "Sudah tiga malam gelap.")
    # Erased: a fresh key, not the shredded one.
    m2 = amended["m-2"].sealed_original
    assert m2 is not None and m2.key_id != original and m2.key_id in by_id
    assert open_content(m2, by_id[m2.key_id]) == (None, "Masih gelap, tolong.")
    # Nobody to recognise: nothing sealed, no key issued for it.
    assert amended["m-3"].sealed_original is None


async def _count_keys(run: Any) -> int:
    async with run.runtime.sessions() as session:
        conn = await session.connection()
        raw = await conn.get_raw_connection()
        count: int = await raw.driver_connection.fetchval("SELECT count(*) FROM reporter_keys")
    return count
