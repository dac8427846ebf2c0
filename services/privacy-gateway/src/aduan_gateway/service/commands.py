"""Officer and reporter actions forwarded to workflow over Kafka request/reply.

A command goes to `workflow.commands.v1` through the outbox (keyed by report id, with a
`reply_to` header naming the replies topic); the caller waits on an `asyncio.Future` keyed
by the command's id. Every gateway instance reads the replies topic itself, WITHOUT a
consumer group, from the end as it was when the instance started: each sees every reply
and resolves only the futures it holds, so several replicas never steal each other's
verdicts (faststream has no Kafka RPC on a real broker, see docs/privacy.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from aduan_contracts.commands import WorkflowCommand
from aduan_contracts.events import CommandAccepted, CommandRefused, CommandReply
from aduan_contracts.serialization import decode
from aduan_contracts.topics import COMMAND_REPLIES, WORKFLOW_COMMANDS
from aduan_gateway.adapters.tables import OUTBOX
from aduan_kit.consumers import fetch_loop_ended, position_now, stop_client
from aduan_kit.db import transaction
from aduan_kit.logging import get_logger
from aduan_kit.messaging import add_to_outbox
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.tasks import cancel_and_wait

__all__ = ["CommandBus", "CommandTimeout"]

log = get_logger(__name__)


class CommandTimeout(Exception):
    """Workflow did not answer in time (the command may still be applied later)."""


class CommandBus:
    def __init__(self, runtime: ServiceRuntime, timeout_s: float) -> None:
        self._runtime = runtime
        self._timeout = timeout_s
        self._pending: dict[UUID, asyncio.Future[CommandAccepted | CommandRefused]] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def replies_topic(self) -> str:
        return self._runtime.topic(COMMAND_REPLIES.name)

    @property
    def commands_topic(self) -> str:
        return self._runtime.topic(WORKFLOW_COMMANDS.name)

    async def start(self) -> None:
        self._consumer = await self._open({})
        self._task = asyncio.create_task(self._read(), name="command-replies")

    async def _open(self, positions: dict[TopicPartition, int]) -> AIOKafkaConsumer:
        """A client on every partition of the replies topic, at `positions` where given and
        at the end elsewhere."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._runtime.settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            client_id=f"{self._runtime.settings.service_name}-replies",
        )
        await consumer.start()
        partitions = consumer.partitions_for_topic(self.replies_topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(self.replies_topic) or set()
        tps = [TopicPartition(self.replies_topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        at_end = [tp for tp in tps if tp not in positions]
        if at_end:  # (with none, aiokafka would seek every partition)
            await consumer.seek_to_end(*at_end)
        for tp in tps:
            if tp in positions:
                consumer.seek(tp, positions[tp])
        # Resolve the end offsets now, before any command is sent: a reply can then only
        # land after our position, never be skipped.
        for tp in tps:
            await consumer.position(tp)
        return consumer

    async def _reopen(self, why: str) -> None:
        """Replace a client whose fetch loop died (aduan_kit.consumers.fetch_loop_ended:
        it would fetch nothing again, and every officer's action would time out) by one
        that goes on from where it was, so no reply that came meanwhile is skipped."""
        old = self._consumer
        assert old is not None
        positions = {
            tp: pos for tp in old.assignment() if (pos := position_now(old, tp)) is not None
        }
        log.error("command replies client replaced", reason=why)
        with contextlib.suppress(Exception):  # a new client is opened whatever happens here
            await stop_client(old)
        self._consumer = await self._open(positions)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        if self._consumer:
            await stop_client(self._consumer)  # (also one whose fetch loop died)
        for future in self._pending.values():
            if not future.done():
                future.cancel()

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                if why := fetch_loop_ended(self._consumer):
                    await self._reopen(why)
                batch = await self._consumer.getmany(timeout_ms=500)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker away: keep reading when it is back
                log.warning("reading command replies failed", error=type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            for records in batch.values():
                for record in records:
                    self._resolve(record.value)

    def _resolve(self, value: bytes | None) -> None:
        if value is None:
            return
        try:
            reply: CommandAccepted | CommandRefused = decode(COMMAND_REPLIES, value)
        except (ValidationError, ValueError):
            log.warning("unreadable command reply ignored")
            return
        future = self._pending.get(reply.command_id)
        if future is not None and not future.done():
            future.set_result(reply)

    async def send(self, command: WorkflowCommand) -> CommandReply:
        """Queue the command and wait for workflow's verdict (or `CommandTimeout`)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[CommandAccepted | CommandRefused] = loop.create_future()
        self._pending[command.event_id] = future
        try:
            async with transaction(self._runtime.sessions) as session:
                await add_to_outbox(
                    session,
                    OUTBOX,
                    self.commands_topic,
                    command,
                    key=command.report_id,
                    headers={"reply_to": self.replies_topic},
                )
            try:
                return await asyncio.wait_for(future, timeout=self._timeout)
            except TimeoutError:
                raise CommandTimeout from None
        finally:
            self._pending.pop(command.event_id, None)
