"""Issue 13, hole 4 (the event log's part): `intake.report-submitted.v1` carries the text
scrubbed of the reporter's own values (in the formats they typed them) and of contacts,
and the text as typed only sealed with the reporter's key, so that erasure (the key
shredded) leaves nothing of theirs readable in the topic."""

from __future__ import annotations

import base64
import re
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from cryptography.exceptions import InvalidTag
from sqlalchemy import select

from aduan_contracts import decode, encode
from aduan_contracts.enums import Role
from aduan_contracts.events import (
    ReporterErasureRequested,
    ReporterKeyIssued,
    ReporterKeyShredded,
    ReportSubmitted,
)
from aduan_contracts.topics import ERASURE_REQUESTS, REPORT_INTAKE, REPORTER_KEYS
from aduan_contracts.values import Actor
from aduan_intake.adapters.tables import REPORTER_KEYS as KEYS_TABLE
from aduan_kit.crypto import new_key, open_content
from aduan_testing.kafka import read_topic
from aduan_testing.plugin import Isolation

from .test_intake_web_real import JSON, running, settings_for

pytestmark = pytest.mark.integration

TYPED = (
    "Selokan mampet di depan rumah saya. Saya Siti Rahmawati, hubungi 0812-6365-3679 "
    "atau SITI.Rahmawati@Example.id, NIK 3171 0123 4567 8901."
)
LEAKS = (b"siti", b"rahmawati", b"0812", b"6365", b"3679", b"example.id", b"3171")
# Ids, hashes and sealed (base64) blobs are random: "3171" or "siti" turn up in them by
# chance, which is no leak. The typed values are never one unbroken run like these.
_RANDOM = re.compile(
    rb"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{32,}|[A-Za-z0-9+/_-]{40,}={0,2}"
)


async def test_the_event_carries_scrubbed_text_and_the_original_sealed(
    isolated: Isolation,
) -> None:
    intake_topic = f"{isolated.namespace}.{REPORT_INTAKE.name}"
    keys_topic = f"{isolated.namespace}.{REPORTER_KEYS.name}"
    async with running(settings_for(isolated)) as (client, runtime):
        answer = await client.post(
            "/v1/channels/web",
            data={
                "text": TYPED,
                "title": "Selokan Siti mampet",
                "name": "Siti Rahmawati",
                "contact": "+62 812 6365 3679",
            },
            headers=JSON,
        )
        assert answer.status_code == 201, answer.text
        [record] = await read_topic(isolated.kafka, intake_topic, want=1)
        issued = decode(
            REPORTER_KEYS, (await read_topic(isolated.kafka, keys_topic, want=1))[0].value
        )
        assert isinstance(issued, ReporterKeyIssued)

        # What anyone reading the topic gets: no value of the reporter in any format.
        raw = _RANDOM.sub(b"", record.value).lower()
        assert [leak for leak in LEAKS if leak in raw] == []
        event = decode(REPORT_INTAKE, record.value)
        assert isinstance(event, ReportSubmitted)
        assert event.text.startswith("Selokan mampet di depan rumah saya. Saya [disembunyikan]")
        assert event.title == "Selokan [disembunyikan] mampet"
        # The reporter's key opens the text as typed (for their own view).
        assert event.sealed_original is not None
        key = base64.b64decode(issued.key)
        assert open_content(event.sealed_original, key) == ("Selokan Siti mampet", TYPED)

        # Erasure: the key is shredded; nothing else opens the sealed original.
        producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
        await producer.start()
        try:
            request = ReporterErasureRequested(
                key_id=issued.key_id, requested_by=Actor(id="admin-1", role=Role.ADMINISTRATOR)
            )
            await producer.send_and_wait(
                f"{isolated.namespace}.{ERASURE_REQUESTS.name}",
                encode(request),
                key=str(issued.key_id).encode(),
            )
        finally:
            await producer.stop()
        keys = await read_topic(isolated.kafka, keys_topic, want=2)
        async with runtime.sessions() as session:
            stored = await session.scalar(
                select(KEYS_TABLE.c.key).where(KEYS_TABLE.c.key_id == issued.key_id)
            )
    assert isinstance(decode(REPORTER_KEYS, keys[-1].value), ReporterKeyShredded)
    assert stored is None
    with pytest.raises(InvalidTag):
        open_content(event.sealed_original, new_key())
    moved = event.sealed_original.model_copy(update={"key_id": uuid.uuid4()})
    with pytest.raises(InvalidTag):
        open_content(moved, key)  # bound to its key id
