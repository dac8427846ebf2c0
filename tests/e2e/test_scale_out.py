"""Scale-out: two workflow and two notifier processes in one consumer group each share the
partitions; SIGKILL one of each in the middle of a steady stream of web reports, and the
survivors take over every partition with nothing lost and nothing applied twice.

The consumer-group description from the Kafka admin client is the ground truth for who owns
what. Each process runs its consumers (`CONSUMERS`) in the service's group, so "both
partitions of a topic held by two different members" means each process holds one; the
members that leave the group after the kill are the killed process's, and what they held is
what the survivor must take over (reports keyed onto it after the kill are counted).
Outcomes are checked through the services' own HTTP APIs (workflow's case record with its
history, the gateway's public read model, the notifier's delivery log: one acknowledgement
per report) and on the topics (one event id per status change and per notification).
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.partitioner import DefaultPartitioner

from aduan_contracts import decode
from aduan_contracts.topics import (
    NOTIFICATIONS,
    REPORT_INTAKE,
    REPORTER_KEYS,
    REPORTER_QUESTIONS,
    SLA_EVENTS,
    STATUS_CHANGED,
    WORKFLOW_COMMANDS,
)
from aduan_testing.helpers import eventually
from aduan_testing.kafka import read_topic
from aduan_testing.platform import Platform, running_platform
from aduan_testing.plugin import TEST_PARTITIONS, Isolation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

REPORTS = 60
RATE_PER_S = 5.0
# What each service subscribes to in its group (entrypoints/consumers.py of each; the
# category catalogue is read by every replica without a group, so it is not shared out).
SUBSCRIBED = {
    "workflow": (REPORT_INTAKE, WORKFLOW_COMMANDS),
    "notifier": (REPORT_INTAKE, REPORTER_KEYS, STATUS_CHANGED, SLA_EVENTS, REPORTER_QUESTIONS),
}
# Consumers per process: one per service for all its topics (issue 18, D20).
CONSUMERS = {"workflow": 1, "notifier": 1}
KILLED = ("workflow-2", "notifier-2")

Owners = dict[str, set[tuple[str, int]]]  # member id -> (topic, partition) it holds


@pytest_asyncio.fixture
async def platform(isolated: Isolation, tmp_path: Path) -> AsyncIterator[Platform]:
    env = {
        # A delivery claimed by the killed notifier is taken over when its lease runs out;
        # the default minute would only make the test wait.
        "ADUAN_NOTIFIER_DELIVERY_LEASE_S": "5",
        "ADUAN_NOTIFIER_DELIVERY_POLL_INTERVAL_S": "0.2",
        # Every report comes from this one test address; intake's per-sender limit (30 a
        # minute) is for abuse, not for a load test.
        "ADUAN_INTAKE_RATE_LIMIT_POSTS": str(REPORTS * 2),
    }
    replicas = {"workflow": 2, "notifier": 2}
    async with running_platform(isolated, tmp_path, extra_env=env, replicas=replicas) as plat:
        yield plat


async def describe(admin: AIOKafkaAdminClient, group: str) -> tuple[str, Owners]:
    """The group's state and each member's assigned partitions, as the broker sees them."""
    [response] = await admin.describe_consumer_groups([group])
    [described] = response.groups
    _error, _group, state, _ptype, _protocol, members = described[:6]
    owners: Owners = {}
    for member_id, _client, _host, _metadata, assignment in members:
        held: set[tuple[str, int]] = set()
        if assignment:
            decoded = ConsumerProtocolMemberAssignment.decode(assignment)
            for topic, partitions in decoded.assignment:
                held |= {(topic, p) for p in partitions}
        owners[member_id] = held
    return state, owners


def settled(state: str, owners: Owners, namespace: str, service: str, processes: int) -> bool:
    """Stable, `CONSUMERS` members per process, every partition held by exactly one member,
    and each topic's partitions spread over `processes` members (one per process)."""
    topics = [spec.qualified(namespace) for spec in SUBSCRIBED[service]]
    if state != "Stable" or len(owners) != processes * CONSUMERS[service]:
        return False
    held = [tp for parts in owners.values() for tp in parts]
    wanted = {(t, p) for t in topics for p in range(TEST_PARTITIONS)}
    if sorted(held) != sorted(wanted):
        return False
    for topic in topics:
        members = {m for m, parts in owners.items() if any(t == topic for t, _ in parts)}
        if len(members) != min(processes, TEST_PARTITIONS):
            return False
    return True


async def takeover(admin: AIOKafkaAdminClient, namespace: str, service: str, since: float) -> float:
    """Seconds from `since` until one process alone holds all of the service's partitions."""

    async def alone() -> bool:
        state, owners = await describe(admin, f"{namespace}.{service}")
        return settled(state, owners, namespace, service, processes=1)

    await eventually(alone, f"{service}: the survivor owns every partition", timeout=90)
    return time.monotonic() - since


def form(n: int) -> dict[str, str]:
    return {
        "title": f"Lampu jalan mati nomor {n}",
        "text": f"Lampu penerangan jalan di gang {n} mati sejak tiga hari, gelap di malam hari.",
        "name": f"Warga {n}",
        "contact": f"warga{n}@example.org",
        "public": "on",
        "submission_id": str(uuid.uuid4()),
    }


async def test_survivors_take_over_every_partition_and_lose_nothing(
    platform: Platform, isolated: Isolation
) -> None:
    ns = isolated.namespace
    groups = {service: f"{ns}.{service}" for service in SUBSCRIBED}
    admin = AIOKafkaAdminClient(bootstrap_servers=isolated.kafka)
    await admin.start()
    try:
        # --- both instances of each service own partitions ------------------------------
        for service, group in groups.items():

            async def shared(service: str = service, group: str = group) -> Owners | None:
                state, owners = await describe(admin, group)
                return owners if settled(state, owners, ns, service, processes=2) else None

            owners = await eventually(shared, f"{service}: two instances sharing", timeout=90)
            print(f"{service}: {len(owners)} members, partitions " + str(sorted(owners.values())))

        # --- a steady stream of reports; one instance of each killed midway -------------
        accepted: dict[str, str] = {}  # report id -> receipt code
        takeovers: list[asyncio.Task[float]] = []
        before: dict[str, Owners] = {}
        after_kill: list[str] = []
        async with httpx.AsyncClient(timeout=15) as client:
            started = time.monotonic()
            for n in range(REPORTS):
                # Open loop: each report leaves at its intended time, not after the last.
                await asyncio.sleep(max(0.0, started + n / RATE_PER_S - time.monotonic()))
                if n == REPORTS // 2:
                    before = {s: (await describe(admin, g))[1] for s, g in groups.items()}
                    for name in KILLED:
                        proc = platform.procs.pop(name)  # killed on purpose: no clean stop
                        proc.send_signal(signal.SIGKILL)
                        assert await asyncio.to_thread(proc.wait, 10) == -signal.SIGKILL
                    # Watch the groups while the stream goes on: the time until the
                    # survivor alone holds every partition is the takeover time.
                    kill_at = time.monotonic()
                    takeovers = [
                        asyncio.create_task(takeover(admin, ns, service, kill_at))
                        for service in SUBSCRIBED
                    ]
                r = await client.post(
                    f"{platform.urls['intake']}/v1/channels/web",
                    data=form(n),
                    headers={"Accept": "application/json"},
                )
                assert r.status_code == 201, r.text
                accepted[r.json()["report_id"]] = r.json()["receipt_code"]
                if n >= REPORTS // 2:
                    after_kill.append(r.json()["report_id"])

            # --- the survivors take over every partition --------------------------------
            rebalance_s = dict(zip(SUBSCRIBED, await asyncio.gather(*takeovers), strict=True))
            # The members that left are the killed process's consumers; what they held is
            # what the survivor had to take over.
            orphaned: dict[str, set[tuple[str, int]]] = {}
            for service, group in groups.items():
                _state, now = await describe(admin, group)
                gone = set(before[service]) - set(now)
                assert len(gone) == CONSUMERS[service], (service, gone)
                orphaned[service] = {tp for m in gone for tp in before[service][m]}

            # --- workflow: every report opened once, at its expected status -------------
            survivor = platform.instance_urls["workflow"]

            async def opened() -> dict[str, Any] | None:
                got: dict[str, Any] = {}
                for rid in accepted:
                    resp = await client.get(f"{survivor}/internal/reports/{rid}")
                    if resp.status_code != 200:
                        return None
                    got[rid] = resp.json()
                return got

            cases = await eventually(opened, "workflow to open every report", timeout=90)

            # --- notifier: one acknowledgement per report, sent ------------------------
            notifier = platform.instance_urls["notifier"]

            async def acknowledged() -> dict[str, list[dict[str, Any]]] | None:
                got: dict[str, list[dict[str, Any]]] = {}
                for rid in accepted:
                    resp = await client.get(f"{notifier}/v1/deliveries", params={"report_id": rid})
                    assert resp.status_code == 200, resp.text
                    got[rid] = resp.json()
                if any(not any(d["state"] == "sent" for d in ds) for ds in got.values()):
                    return None
                return got

            deliveries = await eventually(acknowledged, "every acknowledgement sent", timeout=90)

            # --- gateway: the read model, fed by the same status changes, has them all ----
            async def published() -> dict[str, str] | None:
                got: dict[str, str] = {}
                for rid in accepted:
                    resp = await client.get(f"{platform.urls['gateway']}/v1/public/reports/{rid}")
                    if resp.status_code != 200:
                        return None
                    got[rid] = resp.json()["status"]
                return got

            public = await eventually(published, "the gateway to show every report", timeout=60)
    finally:
        await admin.close()

    # Workflow: nothing missing, nothing applied twice (one history entry per version).
    assert set(cases) == set(accepted)
    for rid, case in cases.items():
        assert case["receipt_code"] == accepted[rid]
        assert case["status"] == "received", case
        assert [h["version"] for h in case["history"]] == [1]
        assert [h["to_status"] for h in case["history"]] == ["received"]

    assert public == dict.fromkeys(accepted, "received")
    # Reports filed after the kill onto a partition the killed instance held: each had to be
    # handled by the survivor after the takeover (and all were, above).
    intake_topic = REPORT_INTAKE.qualified(ns)
    handed_over = {
        service: [rid for rid in after_kill if (intake_topic, partition_of(rid)) in held]
        for service, held in orphaned.items()
    }
    assert all(handed_over.values()), handed_over
    # Each report opened under one event id: two relays on one outbox never publish a row
    # twice as two events (a row re-sent after a crash keeps its event id).
    changes = [
        decode(STATUS_CHANGED, value)
        for value in [
            r.value
            for r in await read_topic(
                isolated.kafka, STATUS_CHANGED.qualified(ns), settle=1.8, timeout=120
            )
        ]
    ]
    opened_as: dict[tuple[str, int], set[uuid.UUID]] = {}
    for change in changes:
        opened_as.setdefault((str(change.report_id), change.version), set()).add(change.event_id)
    assert set(opened_as) == {(rid, 1) for rid in accepted}
    assert all(len(ids) == 1 for ids in opened_as.values())

    # Notifier: exactly one acknowledgement per report in the delivery log.
    missing = [rid for rid in accepted if not deliveries.get(rid)]
    duplicated = {rid: len(ds) for rid, ds in deliveries.items() if len(ds) > 1}
    assert missing == [] and duplicated == {}, (missing, duplicated)
    for rid, [delivery] in deliveries.items():
        assert delivery["template"] == "received"
        assert delivery["receipt_code"] == accepted[rid]
        assert delivery["state"] == "sent"

    # A message sent is not announced (NotificationDelivered is no longer published, issue
    # 18): the delivery log above is the exactly-once record; the topic carries only
    # deliveries given up on, and none was.
    announced = [
        r.value
        for r in await read_topic(
            isolated.kafka, NOTIFICATIONS.qualified(ns), settle=1.8, timeout=120
        )
    ]
    assert announced == []

    # Redeliveries, where the services say so: the inbox caught a repeated event, or a
    # delivery needed another attempt after its worker died.
    inbox_repeats = Counter(
        name
        for name in platform.logs
        for line in platform.logs[name].read_text(errors="replace").splitlines()
        if "already applied" in line
    )
    retried = sum(1 for [d] in deliveries.values() if d["attempts"] > 1)
    print(
        f"scale-out: {len(accepted)} reports accepted at {RATE_PER_S:.0f}/s, "
        f"{' and '.join(KILLED)} SIGKILLed after {REPORTS // 2}; "
        "survivors own every partition after "
        + ", ".join(f"{s} {t:.1f} s" for s, t in rebalance_s.items())
        + "; reports filed after the kill onto the killed instance's partition: "
        + ", ".join(f"{s} {len(r)}" for s, r in handed_over.items())
        + f"; workflow: {len(cases)} opened, 0 missing, 0 twice; notifier: "
        f"{len(deliveries)} acknowledgements, 0 missing, 0 duplicates; redeliveries: "
        f"inbox repeats {dict(inbox_repeats) or 0}, deliveries re-attempted {retried}, "
        f"status-change re-sends {len(changes) - len(accepted)}"
    )


def partition_of(report_id: str) -> int:
    """The partition the producers' default partitioner gives a report's key."""
    partitions = list(range(TEST_PARTITIONS))
    return int(DefaultPartitioner()(report_id.encode(), partitions, partitions))
