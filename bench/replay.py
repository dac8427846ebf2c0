"""Replay: a backlog of N reports put on intake's topic at once (as a year's log replayed,
or intake catching up after an outage), then timed until workflow has opened every case and
the notifier recorded every acknowledgement; reconciled: none lost, none applied twice."""

from __future__ import annotations

import asyncio
import base64
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer

from aduan_contracts import encode
from aduan_contracts.enums import Channel
from aduan_contracts.events import ReporterKeyIssued, ReportSubmitted
from aduan_contracts.topics import REPORT_INTAKE, REPORTER_KEYS
from aduan_kit.crypto import new_key, seal_identity
from bench.observe import _fetch
from bench.platform import Platform

__all__ = ["receipt_code", "replay"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def receipt_code(rng: random.Random) -> str:
    def part() -> str:
        return "".join(rng.choice(_ALPHABET) for _ in range(4))

    return f"ADU-{part()}-{part()}"


async def _totals(platform: Platform) -> tuple[int, int]:
    """Cases opened by workflow, and reports with a `received` delivery at the notifier."""
    opened = await _fetch(platform.dsn("workflow"), "SELECT count(*) AS n FROM reports")
    recorded = await _fetch(
        platform.dsn("notifier"),
        "SELECT count(DISTINCT report_id) AS n FROM deliveries"
        " WHERE template IN ('received', 'received_dispatched')",
    )
    return int(opened[0]["n"]), int(recorded[0]["n"])


async def replay(platform: Platform, reports: int, timeout: float) -> dict[str, Any]:
    rng = random.Random()
    key_id, key = uuid.uuid4(), new_key()
    producer = AIOKafkaProducer(
        bootstrap_servers=platform.admin_kafka, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    ids: list[uuid.UUID] = []
    before = await _totals(platform)
    try:
        await producer.send_and_wait(
            platform.topic(REPORTER_KEYS.name),
            encode(ReporterKeyIssued(key_id=key_id, key=base64.b64encode(key).decode())),
            key=str(key_id).encode(),
        )
        started = time.perf_counter()
        futures = []
        for n in range(reports):
            rid = uuid.uuid4()
            ids.append(rid)
            event = ReportSubmitted(
                report_id=rid,
                receipt_code=receipt_code(rng),
                channel=Channel.APP,
                channel_message_id=f"replay-{rid.hex}",
                text=f"Laporan ulang {n}: sampah menumpuk di pinggir jalan",
                received_at=datetime.now(UTC),
                reporter=seal_identity({"handle": f"replay-{n}"}, key_id, key),
            )
            futures.append(
                await producer.send(
                    platform.topic(REPORT_INTAKE.name), encode(event), key=str(rid).encode()
                )
            )
        await asyncio.gather(*futures)
        published = time.perf_counter() - started
    finally:
        await producer.stop()

    id_list = [str(i) for i in ids]
    deadline = time.perf_counter() + timeout
    # While draining, cheap totals (minus what was there before) instead of matching every
    # id twice a second: with 185,852 ids that observer alone would load PostgreSQL. The
    # exact per-id check runs once, at the end.
    while time.perf_counter() < deadline:
        opened_total, recorded_total = await _totals(platform)
        if opened_total - before[0] >= reports and recorded_total - before[1] >= reports:
            break
        await asyncio.sleep(0.5)
    elapsed = time.perf_counter() - started
    opened = (
        await _fetch(
            platform.dsn("workflow"),
            "SELECT count(*) AS n FROM reports WHERE id = ANY($1::uuid[])",
            id_list,
        )
    )[0]["n"]
    recorded = (
        await _fetch(
            platform.dsn("notifier"),
            "SELECT count(DISTINCT report_id) AS n FROM deliveries "
            "WHERE template IN ('received', 'received_dispatched') AND report_id = ANY($1::uuid[])",
            id_list,
        )
    )[0]["n"]
    elapsed = time.perf_counter() - started
    twice_wf = (
        await _fetch(
            platform.dsn("workflow"),
            "SELECT count(*) AS n FROM (SELECT report_id, version FROM status_history "
            "WHERE report_id = ANY($1::uuid[]) GROUP BY 1, 2 HAVING count(*) > 1) d",
            id_list,
        )
    )[0]["n"]
    twice_nf = (
        await _fetch(
            platform.dsn("notifier"),
            "SELECT count(*) AS n FROM (SELECT report_id FROM deliveries "
            "WHERE template IN ('received', 'received_dispatched') AND report_id = ANY($1::uuid[]) "
            "GROUP BY 1 HAVING count(*) > 1) d",
            id_list,
        )
    )[0]["n"]
    return {
        "reports": reports,
        "publish_s": round(published, 2),
        "drain_s": round(elapsed, 2),
        "reports_per_s": round(reports / elapsed, 1),
        "workflow_opened": opened,
        "notifier_recorded": recorded,
        "lost": reports - min(opened, recorded),
        "applied_twice": twice_wf + twice_nf,
    }
