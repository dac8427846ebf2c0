"""The notifier, a real OS process on real Kafka and PostgreSQL, is killed with SIGKILL while
its provider calls are in flight, then restarted: no message is lost, none is delivered
twice (the provider sees a repeat only with the same idempotency key, which it drops), and
each delivery's outcome is recorded exactly once (one attempt sent; the interrupted ones
marked abandoned; nothing announced on the notifications topic, which carries only
deliveries given up on)."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy import make_url
from starlette.responses import Response

from aduan_contracts import encode
from aduan_contracts.enums import Channel, ReportStatus, Role
from aduan_contracts.events import ReporterKeyIssued, ReportStatusChanged, ReportSubmitted
from aduan_contracts.topics import NOTIFICATIONS, REPORT_INTAKE, REPORTER_KEYS, STATUS_CHANGED
from aduan_kit.crypto import new_key, seal_identity
from aduan_notifier.sinks import HttpSink, Recorded
from aduan_testing.helpers import eventually, free_port
from aduan_testing.plugin import Isolation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

REPORTS = 6
TOKEN = "crash-test-push-token"


def start_notifier(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "aduan_notifier"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def test_notifier_killed_mid_delivery_neither_loses_nor_duplicates(
    isolated: Isolation, tmp_path: Path
) -> None:
    hold = asyncio.Event()  # provider calls hang until the notifier is dead
    first_wave: list[Recorded] = []

    async def respond(rec: Recorded) -> Response | None:
        if not hold.is_set():
            first_wave.append(rec)
            await hold.wait()
        return None  # the provider's normal answer (a repeated key gets the first id)

    sink = HttpSink(responder=respond)
    base = await sink.start()
    port = free_port()
    p = "ADUAN_NOTIFIER_"
    env = dict(os.environ) | {
        p + "KAFKA_BOOTSTRAP_SERVERS": isolated.kafka,
        p + "DATABASE_URL": isolated.database("notifier"),
        p + "REDIS_URL": isolated.redis_url,
        p + "REDIS_PREFIX": isolated.redis_prefix,
        p + "TOPIC_NAMESPACE": isolated.namespace,
        p + "PORT": str(port),
        p + "ENVIRONMENT": "test",
        p + "PUSH_URL": f"{base}/push",
        p + "PUSH_TOKEN": TOKEN,
        # Two at a time: when the process dies some deliveries are mid-call and the rest
        # are still waiting; both kinds must come out exactly once.
        p + "DELIVERY_BATCH_SIZE": "2",
        p + "DELIVERY_LEASE_S": "3",
        p + "DELIVERY_POLL_INTERVAL_S": "0.1",
    }
    log = tmp_path / "notifier.log"
    url = f"http://127.0.0.1:{port}"
    proc = start_notifier(env, log)
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    await producer.start()
    try:
        async with httpx.AsyncClient(timeout=5) as client:

            async def healthy() -> bool:
                if proc.poll() is not None:
                    raise AssertionError(f"notifier exited:\n{log.read_text()[-3000:]}")
                return (await client.get(f"{url}/health")).status_code == 200

            await eventually(healthy, "notifier /health", timeout=90)

            async def publish(topic: str, event: BaseModel, key: uuid.UUID) -> None:
                await producer.send_and_wait(
                    f"{isolated.namespace}.{topic}", encode(event), key=str(key).encode()
                )

            reports: dict[uuid.UUID, str] = {}
            for n in range(REPORTS):
                rid, key_id, key = uuid.uuid4(), uuid.uuid4(), new_key()
                receipt = f"ADU-{uuid.uuid4().hex[:4].upper()}-{n:04d}"
                reports[rid] = f"device-{n}"
                await publish(
                    REPORTER_KEYS.name,
                    ReporterKeyIssued(key_id=key_id, key=base64.b64encode(key).decode()),
                    key_id,
                )
                identity = {"name": None, "contact": None, "handle": f"device-{n}"}
                await publish(
                    REPORT_INTAKE.name,
                    ReportSubmitted(
                        report_id=rid,
                        receipt_code=receipt,
                        channel=Channel.APP,
                        channel_message_id=uuid.uuid4().hex,
                        text="Sampah menumpuk",
                        received_at=datetime.now(UTC),
                        reporter=seal_identity(identity, key_id, key),
                    ),
                    rid,
                )
                await publish(
                    STATUS_CHANGED.name,
                    ReportStatusChanged.model_validate(
                        {
                            "report_id": rid,
                            "receipt_code": receipt,
                            "channel": Channel.APP,
                            "version": 1,
                            "from_status": None,
                            "to_status": ReportStatus.RECEIVED,
                            "actor": {"id": "workflow", "role": Role.SYSTEM},
                        }
                    ),
                    rid,
                )

            # Kill while the first calls hang at the provider.
            async def in_flight_calls() -> bool:
                return len(first_wave) >= 2

            await eventually(in_flight_calls, "provider calls in flight")
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=10) == -signal.SIGKILL
            in_flight = {r.header("idempotency-key") for r in first_wave}
            hold.set()

            proc = start_notifier(env, log)
            await eventually(healthy, "restarted notifier /health", timeout=90)

            async def all_sent() -> list[dict[str, Any]] | None:
                got: list[dict[str, Any]] = []
                for rid in reports:
                    r = await client.get(f"{url}/v1/deliveries", params={"report_id": str(rid)})
                    got += r.json()
                done = [d for d in got if d["state"] == "sent"]
                return got if len(done) == REPORTS else None

            deliveries = await eventually(all_sent, "every delivery sent after the restart")
    finally:
        await producer.stop()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        hold.set()
        await sink.stop()

    # Nothing lost: one delivery per report, each sent.
    assert len(deliveries) == REPORTS
    assert {d["report_id"] for d in deliveries} == {str(r) for r in reports}
    # Nothing duplicated at the provider: every device got exactly one distinct message;
    # the only repeats are the calls that were in flight at the kill, with the same key.
    by_device: dict[str, set[str | None]] = {}
    for rec in sink.requests:
        assert rec.header("authorization") == f"Bearer {TOKEN}"
        by_device.setdefault(rec.json["recipient"], set()).add(rec.header("idempotency-key"))
    assert set(by_device) == set(reports.values())
    assert all(len(keys) == 1 for keys in by_device.values())
    repeats = {r.header("idempotency-key") for r in sink.requests if r.duplicate}
    assert repeats <= in_flight
    assert len([r for r in sink.requests if not r.duplicate]) == REPORTS
    # The interrupted ones needed a second attempt; the others went out first time.
    resent = [d for d in deliveries if d["attempts"] > 1]
    assert resent and len(resent) <= len(in_flight)

    # Each outcome recorded exactly once: per delivery one attempt sent (the last), the
    # interrupted ones marked abandoned, none left open.
    db = await asyncpg.connect(
        make_url(isolated.database("notifier"))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    try:
        attempts = await db.fetch(
            "SELECT d.report_id, d.attempts, a.attempt, a.outcome"
            " FROM deliveries d JOIN delivery_attempts a ON a.delivery_id = d.id"
            " ORDER BY d.report_id, a.attempt"
        )
    finally:
        await db.close()
    by_report: dict[str, list[str | None]] = {}
    counted: dict[str, int] = {}
    for row in attempts:
        by_report.setdefault(str(row["report_id"]), []).append(row["outcome"])
        counted[str(row["report_id"])] = row["attempts"]
    assert set(by_report) == {str(r) for r in reports}
    for rid, outcomes in by_report.items():
        assert outcomes == ["abandoned"] * (len(outcomes) - 1) + ["sent"], outcomes
        assert len(outcomes) == counted[rid]
    assert len([o for o in by_report.values() if len(o) > 1]) == len(resent)

    # A message sent is not announced (NotificationDelivered had no consumer): the topic
    # stays empty, as no delivery failed.
    consumer = AIOKafkaConsumer(
        f"{isolated.namespace}.{NOTIFICATIONS.name}",
        bootstrap_servers=isolated.kafka,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    announced: list[Any] = []
    try:
        quiet = 0
        while quiet < 6:
            batch = await consumer.getmany(timeout_ms=300)
            got = [r for records in batch.values() for r in records]
            announced += got
            quiet = 0 if got else quiet + 1
    finally:
        await consumer.stop()
    assert announced == []
