"""The harness as an outside observer: each service's database read-only, Kafka topics and
consumer-group offsets. Service code never does this (no service reads another's
database); a benchmark that checks the whole platform must.

Stage times: accepted (intake's 2xx, seen by the generator) → persisted (workflow's
`status_history` row for version 1, `occurred_at`) → recorded (the notifier's `deliveries`
row for the `received` template, `created_at`) → sent (its `finished_at`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from bench.load import Accepted
from bench.platform import Platform

__all__ = [
    "LagClient",
    "Reconciliation",
    "Stages",
    "TopicTap",
    "consumer_lag",
    "reconcile",
    "stages",
]


@dataclass
class Stages:
    """Per receipt code: report id and the wall-clock epoch of each stage."""

    report_id: str
    persisted: float | None = None
    recorded: float | None = None
    sent: float | None = None


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


async def _fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        # Read-only: the harness must never change a service's data.
        async with conn.transaction(readonly=True):
            return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def stages(platform: Platform, receipts: list[str]) -> dict[str, Stages]:
    wf = await _fetch(
        platform.dsn("workflow"),
        """SELECT r.receipt_code, r.id, h.occurred_at FROM reports r
           LEFT JOIN status_history h ON h.report_id = r.id AND h.version = 1
           WHERE r.receipt_code = ANY($1::text[])""",
        receipts,
    )
    out = {row["receipt_code"]: Stages(str(row["id"]), _epoch(row["occurred_at"])) for row in wf}
    nf = await _fetch(
        platform.dsn("notifier"),
        """SELECT receipt_code, min(created_at) AS recorded, min(finished_at) AS sent
           FROM deliveries WHERE template IN ('received', 'received_dispatched')
             AND receipt_code = ANY($1::text[])
           GROUP BY receipt_code""",
        receipts,
    )
    for row in nf:
        if (st := out.get(row["receipt_code"])) is not None:
            st.recorded, st.sent = _epoch(row["recorded"]), _epoch(row["sent"])
    return out


async def wait_for_stages(
    platform: Platform,
    receipts: list[str],
    timeout: float,
    need_sent: bool = False,
    stall: float = 90.0,
) -> dict[str, Stages]:
    """Poll until every receipt reached the notifier; give up after `timeout`, or earlier
    when nothing progressed for `stall` seconds (a backlog that still drains is waited for,
    a lost report is not)."""
    receipts = sorted(set(receipts))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    best, progressed = -1, loop.time()
    while True:
        got = await stages(platform, receipts)
        done = sum(
            1
            for s in got.values()
            if s.recorded is not None and (s.sent is not None or not need_sent)
        )
        now = loop.time()
        if done > best:
            best, progressed = done, now
        if done >= len(receipts) or now > deadline or now - progressed > stall:
            return got
        await asyncio.sleep(0.5)


@dataclass
class Reconciliation:
    """Every accepted report checked in every service's records."""

    accepted: int
    missing: dict[str, int] = field(default_factory=dict)
    applied_twice: dict[str, int] = field(default_factory=dict)
    details: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(self.missing.values()) and not any(self.applied_twice.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "missing": self.missing,
            "applied_twice": self.applied_twice,
            "examples": {k: v[:5] for k, v in self.details.items() if v},
            "ok": self.ok,
        }


async def reconcile(platform: Platform, accepted: Iterable[Accepted]) -> Reconciliation:
    """Each accepted receipt: one submission at intake, one case in workflow with versions
    1..n contiguous, one row in the gateway's read model with its timeline matching
    workflow's history, one `received` delivery at the notifier, sent."""
    receipts = sorted({a.receipt_code for a in accepted})
    rec = Reconciliation(accepted=len(receipts))

    def note(kind: str, bucket: dict[str, int], items: list[str]) -> None:
        bucket[kind] = len(items)
        rec.details[kind] = items

    intake = await _fetch(
        platform.dsn("intake"),
        "SELECT receipt_code, count(*) AS n FROM submissions "
        "WHERE receipt_code = ANY($1::text[]) GROUP BY receipt_code",
        receipts,
    )
    seen = {r["receipt_code"]: r["n"] for r in intake}
    note("intake", rec.missing, [c for c in receipts if c not in seen])

    wf = await _fetch(
        platform.dsn("workflow"),
        """SELECT r.receipt_code, r.id, r.version,
                  count(h.id) AS rows, count(DISTINCT h.version) AS versions,
                  min(h.version) AS first, max(h.version) AS last
           FROM reports r LEFT JOIN status_history h ON h.report_id = r.id
           WHERE r.receipt_code = ANY($1::text[])
           GROUP BY r.receipt_code, r.id, r.version""",
        receipts,
    )
    cases = Counter(r["receipt_code"] for r in wf)
    note("workflow", rec.missing, [c for c in receipts if c not in cases])
    note("workflow", rec.applied_twice, [c for c, n in cases.items() if n > 1])
    history_bad = [
        r["receipt_code"]
        for r in wf
        if r["rows"] != r["version"] or r["versions"] != r["rows"] or r["first"] != 1
    ]
    note("status_history", rec.applied_twice, history_bad)
    versions = {str(r["id"]): r["version"] for r in wf}
    ids = list(versions)

    gw = await _fetch(
        platform.dsn("gateway"),
        """SELECT g.report_id, g.status_version, g.has_content,
                  (SELECT count(*) FROM timeline t WHERE t.report_id = g.report_id) AS steps
           FROM reports g WHERE g.report_id = ANY($1::uuid[])""",
        ids,
    )
    gmap = {str(r["report_id"]): r for r in gw}
    note("gateway", rec.missing, [i for i in ids if i not in gmap or not gmap[i]["has_content"]])
    note(
        "gateway_timeline",
        rec.applied_twice,
        [i for i, r in gmap.items() if r["steps"] > versions[i]],
    )
    note(
        "gateway_timeline",
        rec.missing,
        [i for i, r in gmap.items() if r["steps"] < versions[i] or r["status_version"] < 1],
    )

    nf = await _fetch(
        platform.dsn("notifier"),
        """SELECT report_id::text AS rid, count(*) AS n,
                  count(*) FILTER (WHERE state = 'sent') AS sent
           FROM deliveries WHERE template IN ('received', 'received_dispatched')
             AND report_id = ANY($1::uuid[])
           GROUP BY report_id""",
        ids,
    )
    nmap = {r["rid"]: r for r in nf}
    note("notifier", rec.missing, [i for i in ids if i not in nmap or nmap[i]["sent"] < 1])
    note("notifier", rec.applied_twice, [i for i, r in nmap.items() if r["n"] > 1])
    return rec


class LagClient:
    """Consumer lag per group over the namespace's topics, from ONE admin client and one
    consumer kept for the whole run: building both every second cost the broker ~10 ms/s
    and the harness ~13 ms/s, which the per-report CPU then carried."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.admin = AIOKafkaAdminClient(bootstrap_servers=platform.admin_kafka)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=platform.admin_kafka)
        self.started = False

    async def __aenter__(self) -> LagClient:
        await self.admin.start()
        await self.consumer.start()
        self.started = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self.consumer.stop()
        with contextlib.suppress(Exception):
            await self.admin.close()

    async def lag(self, groups: list[str]) -> dict[str, int]:
        out = {}
        for group in groups:
            offsets = await self.admin.list_consumer_group_offsets(group)
            parts = [tp for tp in offsets if tp.topic.startswith(self.platform.namespace + ".")]
            ends = await self.consumer.end_offsets(parts) if parts else {}
            out[group] = sum(max(0, ends[tp] - offsets[tp].offset) for tp in parts)
        return out


async def consumer_lag(platform: Platform, groups: list[str]) -> dict[str, int]:
    """One lag reading with its own short-lived clients (one-off use; a run samples through
    a long-lived `LagClient`)."""
    async with LagClient(platform) as client:
        return await client.lag(groups)


class TopicTap:
    """Reads a topic from the start in the background; counts event ids seen more than
    once (an outbox row re-sent after a crash) and records dead letters."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.consumer = AIOKafkaConsumer(
            *topics, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
        )
        self.records: list[Any] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TopicTap:
        await self.consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                async for record in self.consumer:
                    self.records.append(record)
            await asyncio.sleep(0.5)

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await self.consumer.stop()

    def duplicates(self) -> int:
        """Records whose (topic, event id) appeared before."""
        import json

        ids: Counter[tuple[str, str]] = Counter()
        for r in self.records:
            with contextlib.suppress(Exception):
                ids[(r.topic, json.loads(r.value)["event_id"])] += 1
        return sum(n - 1 for n in ids.values() if n > 1)

    def on(self, topic: str) -> list[Any]:
        return [r for r in self.records if r.topic == topic]
