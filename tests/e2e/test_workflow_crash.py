"""The workflow service as a real OS process (`python -m aduan_workflow`), SIGKILLed twice in
the middle of a stream of 200 messages (40 new reports, then 160 commands) on real Kafka and
PostgreSQL, and restarted: nothing is lost, nothing is applied twice.

Checked from the outside, as a client would: every command gets exactly one verdict (a
relayed row may reach Kafka twice after a crash, but always as the same event id), every
report's history is versions 1..5 without gaps or repeats, and every version was announced
under one event id only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from aduan_contracts.commands import AcceptReport, DispatchReport, SubmitFollowUp, ValidateFollowUp
from aduan_contracts.enums import Channel, ReportStatus, Role
from aduan_contracts.events import CommandAccepted, ReportSubmitted
from aduan_contracts.serialization import decode, encode
from aduan_contracts.topics import (
    COMMAND_REPLIES,
    REPORT_INTAKE,
    STATUS_CHANGED,
    WORKFLOW_COMMANDS,
    TopicSpec,
)
from aduan_contracts.values import Actor
from aduan_testing.helpers import free_port
from aduan_testing.plugin import Isolation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

REPORTS = 40
ADMIN = Actor(id="u-admin", role=Role.TICKET_ADMIN)
OFFICER = Actor(id="u-off", role=Role.AGENCY_OFFICER, agency_id="dbm", display_name="Budi")
VALIDATOR = Actor(id="u-val", role=Role.VALIDATOR, display_name="Sari")


class Workflow:
    """One `python -m aduan_workflow` process at a time, restartable."""

    def __init__(self, iso: Isolation, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        p = "ADUAN_WORKFLOW_"
        self.env = dict(os.environ) | {
            p + "KAFKA_BOOTSTRAP_SERVERS": iso.kafka,
            p + "DATABASE_URL": iso.database("workflow"),
            p + "REDIS_URL": iso.redis_url,
            p + "REDIS_PREFIX": iso.redis_prefix,
            p + "TOPIC_NAMESPACE": iso.namespace,
            p + "PORT": str(self.port),
            p + "ENVIRONMENT": "test",
            # Small batches, so a kill can land between two commits of the intake backlog
            # (with the default 200 the first poll takes all 25 reports in one transaction).
            p + "KAFKA_BATCH_MAX_RECORDS": "3",
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "aduan_workflow"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        async with httpx.AsyncClient(timeout=3) as client:
            for _ in range(240):
                assert self.proc.poll() is None, self.log.read_text()[-3000:]
                try:
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.25)
        raise AssertionError("workflow did not become healthy")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=10) == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Tap:
    """Everything on a topic from the start, collected in the background."""

    def __init__(self, iso: Isolation, spec: TopicSpec) -> None:
        self.spec = spec
        self.consumer = AIOKafkaConsumer(
            spec.qualified(iso.namespace),
            bootstrap_servers=iso.kafka,
            group_id=None,
            auto_offset_reset="earliest",
        )
        self.items: list[Any] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Tap:
        await self.consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        async for record in self.consumer:
            self.items.append(decode(self.spec, record.value))

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await self.consumer.stop()

    async def wait(self, done: Callable[[list[Any]], bool], within: float = 90.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not done(self.items):
            assert asyncio.get_running_loop().time() < deadline, f"{self.spec.name}: timed out"
            await asyncio.sleep(0.05)


@pytest.fixture
async def workflow(isolated: Isolation, tmp_path: Path) -> AsyncIterator[Workflow]:
    wf = Workflow(isolated, tmp_path / "workflow.log")
    try:
        yield wf
    finally:
        wf.stop()


async def test_sigkill_mid_stream_loses_nothing_and_applies_nothing_twice(
    isolated: Isolation, workflow: Workflow
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka, acks="all", linger_ms=5)
    await producer.start()

    async def send(spec: TopicSpec, message: Any, key: UUID) -> None:
        await producer.send(
            spec.qualified(isolated.namespace), value=encode(message), key=str(key).encode()
        )

    async def trickle(spec: TopicSpec, messages: list[Any], pause_s: float) -> None:
        """Send one at a time, in order (a report's own messages stay in order)."""
        for message in messages:
            await send(spec, message, message.report_id)
            await producer.flush()
            await asyncio.sleep(pause_s)

    reports = [
        ReportSubmitted(
            report_id=uuid4(),
            receipt_code="ADU-7K3M-Q9XZ",
            channel=Channel.SMS,
            channel_message_id=f"sms-{i}",
            text="Lampu jalan mati",
            received_at=datetime.now(UTC),
        )
        for i in range(REPORTS)
    ]
    ids = [r.report_id for r in reports]
    commands: list[Any] = []
    for make in (
        lambda rid: DispatchReport(report_id=rid, actor=ADMIN, agency_id="dbm"),
        lambda rid: AcceptReport(report_id=rid, actor=OFFICER),
        lambda rid: SubmitFollowUp(report_id=rid, actor=OFFICER, note="lampu diganti"),
        lambda rid: ValidateFollowUp(report_id=rid, actor=VALIDATOR),
    ):
        commands += [make(rid) for rid in ids]
    assert len(reports) + len(commands) == 200

    try:
        async with (
            Tap(isolated, STATUS_CHANGED) as changes,
            Tap(isolated, COMMAND_REPLIES) as verdicts,
        ):
            await workflow.start()

            def opened(items: list[Any]) -> int:
                return len({c.report_id for c in items if c.version == 1})

            # --- kill 1: in the middle of the intake stream, which goes on meanwhile ------
            # The stream trickles in (a record every 50 ms) while workflow is killed: sent at
            # once, the 25 reports were one poll's work for a set-based workflow, opened in
            # one commit, so the kill could land after all of them (CI, 2026-12-04 17:20).
            # The first five go in, and are opened, before the rest trickle: /health answers
            # before the consumer group has its partitions (a join takes seconds on a slow
            # machine), and a trickle started then could end before the first poll, leaving
            # all 25 one backlog opened before the kill (CI, 2026-12-07 19:00: 25 of 25).
            await trickle(REPORT_INTAKE, reports[:5], 0.0)
            await changes.wait(lambda items: opened(items) >= 5)
            streaming = asyncio.create_task(trickle(REPORT_INTAKE, reports[5:25], 0.05))
            await changes.wait(lambda items: opened(items) >= 10)
            workflow.kill()
            at_first_kill = opened(changes.items)
            await streaming
            assert at_first_kill < 25, "the kill came too late to interrupt a backlog"
            for report in reports[25:]:
                await send(REPORT_INTAKE, report, report.report_id)
            await producer.flush()
            await workflow.start()
            await changes.wait(lambda items: opened(items) == REPORTS)

            # --- kill 2: in the middle of the command stream ------------------------------
            # Same key per report, so each report's commands stay in order on one partition.
            def answered(items: list[Any]) -> int:
                return len({v.command_id for v in items})

            streaming = asyncio.create_task(trickle(WORKFLOW_COMMANDS, commands[:100], 0.005))
            await verdicts.wait(lambda items: answered(items) >= 20)
            workflow.kill()
            at_second_kill = answered(verdicts.items)
            await streaming
            assert at_second_kill < 100, "the kill came too late to interrupt a backlog"
            for cmd in commands[100:]:
                await send(WORKFLOW_COMMANDS, cmd, cmd.report_id)
            await producer.flush()
            await workflow.start()
            await verdicts.wait(lambda items: answered(items) == len(commands))
            await changes.wait(
                lambda items: len({(c.report_id, c.version) for c in items}) >= 5 * REPORTS
            )
            # Let any re-sent duplicates of the last rows arrive before counting them.
            await asyncio.sleep(1.0)

        # Every command answered exactly once: one verdict (one event id) per command.
        by_command: dict[UUID, set[UUID]] = defaultdict(set)
        for verdict in verdicts.items:
            by_command[verdict.command_id].add(verdict.event_id)
        assert set(by_command) == {c.event_id for c in commands}
        assert all(len(events) == 1 for events in by_command.values())
        refused = [v for v in verdicts.items if not isinstance(v, CommandAccepted)]
        assert refused == [], refused[:3]

        # Every transition announced once per version (re-sends carry the same event id).
        by_version: dict[tuple[UUID, int], set[UUID]] = defaultdict(set)
        for change in changes.items:
            by_version[(change.report_id, change.version)].add(change.event_id)
        assert set(by_version) == {(rid, v) for rid in ids for v in range(1, 6)}
        assert all(len(events) == 1 for events in by_version.values())

        # The stored history: versions contiguous, no duplicates, the right path.
        path = ["received", "dispatched", "in_progress", "awaiting_validation", "completed"]
        async with httpx.AsyncClient(timeout=5) as client:
            for rid in ids:
                body = (await client.get(f"{workflow.url}/internal/reports/{rid}")).json()
                assert [h["version"] for h in body["history"]] == [1, 2, 3, 4, 5]
                assert [h["to_status"] for h in body["history"]] == path
                assert (body["status"], body["version"]) == (ReportStatus.COMPLETED, 5)
        assert workflow.starts == 3
        duplicates = len(verdicts.items) - len(commands), len(changes.items) - 5 * REPORTS
        print(
            f"killed at {at_first_kill}/{REPORTS} reports opened and "
            f"{at_second_kill}/{len(commands)} commands answered; "
            f"re-sent duplicates seen (verdicts, changes): {duplicates}"
        )
    finally:
        await producer.stop()
