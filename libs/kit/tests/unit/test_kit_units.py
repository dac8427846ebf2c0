"""Kit behaviour that needs no infrastructure: sealing identities, log redaction, settings."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import uuid
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from cryptography.exceptions import InvalidTag
from pydantic import ValidationError

from aduan_kit import batching
from aduan_kit.crypto import new_key, open_identity, seal_identity
from aduan_kit.logging import configure_logging, correlation_id, get_logger
from aduan_kit.settings import ServiceSettings

IDENTITY = {"name": "Budi Santoso", "contact": "+6281234567890", "handle": "@budi"}


def test_sealed_identity_opens_only_with_its_key() -> None:
    key_id, key = uuid.uuid4(), new_key()
    sealed = seal_identity(IDENTITY, key_id, key)
    assert "Budi" not in sealed.model_dump_json()
    assert "6281234567890" not in sealed.model_dump_json()
    assert open_identity(sealed, key) == IDENTITY
    with pytest.raises(InvalidTag):
        open_identity(sealed, new_key())  # a shredded key cannot be replaced by another


def test_ciphertext_cannot_be_moved_under_another_key_id() -> None:
    key = new_key()
    sealed = seal_identity(IDENTITY, uuid.uuid4(), key)
    moved = sealed.model_copy(update={"key_id": uuid.uuid4()})
    with pytest.raises(InvalidTag):
        open_identity(moved, key)


def test_logs_are_json_with_correlation_id_and_no_personal_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("unit", "INFO")
    token = correlation_id.set("corr-123")
    try:
        get_logger("t").info("filed", report_id="r-1", phone="+6281234567890", name="Budi")
    finally:
        correlation_id.reset(token)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["event"] == "filed"
    assert record["correlation_id"] == "corr-123"
    assert record["report_id"] == "r-1"
    assert "6281234567890" not in line and "Budi" not in line
    logging.getLogger().handlers.clear()


def test_every_line_names_its_service_and_lines_below_the_level_are_dropped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A request handler's task can run in a context made before logging was configured
    (uvicorn's): its lines name the service too. A line below the level never appears."""
    earlier = contextvars.copy_context()
    configure_logging("gateway", "INFO")
    try:
        earlier.run(get_logger("t").info, "officer read", report_id="r-1")
        get_logger("t").debug("polled", records=3)
        get_logger("t").warning("slow", report_id="r-2")
        lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
        assert [(r["event"], r["service"], r["level"]) for r in lines] == [
            ("officer read", "gateway", "info"),
            ("slow", "gateway", "warning"),
        ]
        configure_logging("gateway", "WARNING")
        get_logger("t").info("officer read", report_id="r-3")
        get_logger("t").error("failed", report_id="r-4")
        lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
        assert [r["event"] for r in lines] == ["failed"]
    finally:
        logging.getLogger().handlers.clear()


def test_production_refuses_the_development_database_password() -> None:
    with pytest.raises(ValidationError, match="development database password"):
        ServiceSettings(environment="production")
    ok = ServiceSettings(
        environment="production", database_url="postgresql+asyncpg://svc:s3cret@db/aduan"
    )
    assert ok.consumer_group == "aduan"


def test_namespace_prefixes_the_consumer_group() -> None:
    s = ServiceSettings(service_name="workflow", topic_namespace="t1")
    assert s.consumer_group == "t1.workflow"
    assert s.redis_prefix == "aduan:workflow:"


def test_consumer_progress_belongs_to_the_live_subscriber_not_to_its_id() -> None:
    # A process that builds brokers more than once reuses ids: the state of a dead
    # subscriber (here a handler "busy" for an hour) must not pass to a new one.
    import time

    from aduan_kit import consumers

    class Sub:
        pass

    old, new = Sub(), Sub()
    stale = consumers._Progress(busy_since=time.monotonic() - 3600, given_up=True)
    consumers._REGISTRY[id(new)] = (old, stale)  # as if `old` had lived at new's address
    try:
        fresh = consumers.progress_of(new)
        assert fresh is not stale
        assert fresh.busy_since is None and not fresh.given_up
        assert consumers.progress_of(new) is fresh  # and it stays its own
        consumers.forget([new])
        assert id(new) not in consumers._REGISTRY
    finally:
        consumers._REGISTRY.pop(id(new), None)


class _StuckSubscriber:
    """A subscriber whose one partition has records waiting that are never consumed; its
    broker requests fail while `cut[0]` is set. Counts the restarts in place."""

    group_id = "g"
    topic_names_for_subscribe = ("t",)

    def __init__(self) -> None:
        from aiokafka.structs import TopicPartition

        self.tp = tp = TopicPartition("t", 0)
        self.cut = [False]
        self.restarts = 0
        self.calls = [object()]
        cut = self.cut

        class State:  # aiokafka's per-partition state, as the watch reads it
            has_valid_position = True
            position = 3  # records waiting, never consumed

        class Assignment:
            def state_value(self, _: TopicPartition) -> State:
                return State()

        class Consumer:
            _closed = False
            _subscription = type(
                "S",
                (),
                {
                    "reassignment_in_progress": False,
                    "subscription": type("Sub", (), {"assignment": Assignment()})(),
                },
            )()

            def assignment(self) -> set[TopicPartition]:
                return {tp}

            async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
                if cut[0]:
                    raise TimeoutError
                return {tp: 10}

        self.consumer = Consumer()

    async def stop(self) -> None:
        self.restarts += 1

    async def start(self) -> None:
        pass


async def test_consumer_watch_judges_no_evidence_gathered_during_an_outage() -> None:
    # A check during a broker cut sees no progress (its requests fail); when the cut ends
    # before readiness is asked, that stale evidence must not restart the consumer in
    # place: the clocks start again after the outage, and a consumer still not moving a
    # whole bound later is judged (and restarted) as before.
    import time

    from aduan_kit import consumers

    sub = _StuckSubscriber()
    tp = sub.tp
    readiness = [False, True, True, True]

    async def ready() -> bool:
        return readiness.pop(0)

    watch = consumers.ConsumerWatch(lambda: [sub], ready, stuck_after_s=30, interval_s=10)
    try:
        await watch.check_once()  # first sighting: its clock starts
        p = consumers.progress_of(sub)
        p.moved_at[tp] -= 45  # 45 s without progress, across an outage
        await watch.check_once()  # not ready: an outage, nobody judged
        assert sub.restarts == 0
        p.moved_at[tp] -= 45
        await watch.check_once()  # ready again, but the evidence spans the outage's end
        assert sub.restarts == 0 and p.moved_at[tp] > time.monotonic() - 1
        p.moved_at[tp] -= 45  # still not moving a whole bound after the outage
        await watch.check_once()
        assert sub.restarts == 1
        assert p.reason.startswith("no progress on t:0 for "), p.reason
    finally:
        consumers.forget([sub])


async def test_consumer_watch_takes_its_own_failed_requests_for_an_outage() -> None:
    # A check that starts during a broker cut waits out its requests' timeouts; the cut may
    # end before it asks readiness, which then says all is well. The failed requests are
    # evidence of the outage themselves: the consumer is not restarted then, its clock
    # starts again, and it is judged a whole bound later if it still does not move.
    import time

    from aduan_kit import consumers

    sub = _StuckSubscriber()
    tp = sub.tp

    async def ready() -> bool:
        return True  # asked after the cut ended

    watch = consumers.ConsumerWatch(lambda: [sub], ready, stuck_after_s=30, interval_s=10)
    try:
        await watch.check_once()  # first sighting: its clock starts
        p = consumers.progress_of(sub)
        p.moved_at[tp] -= 45  # 45 s without progress, the last 35 of them in a cut
        sub.cut[0] = True
        await watch.check_once()  # its requests fail; readiness (asked late) says fine
        assert sub.restarts == 0
        sub.cut[0] = False
        await watch.check_once()  # the first check after the cut starts the clock again
        assert sub.restarts == 0 and p.moved_at[tp] > time.monotonic() - 1
        p.moved_at[tp] -= 45  # still not moving a whole bound after the cut
        await watch.check_once()
        assert sub.restarts == 1
    finally:
        consumers.forget([sub])


class _UnreachableBroker:
    """A consumer whose offset commits fail (the broker is away), counting the tries."""

    def __init__(self) -> None:
        self.tries = 0
        self._closed = False

    async def commit(self, offsets: dict[Any, int]) -> None:
        self.tries += 1
        raise KafkaConnectionError("broker away")


async def test_failed_offset_commits_are_given_up_after_a_few_tries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A consumer stopped in a long-lived process (or a broker away for long) must not be
    retried for ever: its offsets are dropped after a few tries (the inbox absorbs the
    redelivery), and a stopped consumer is not retried at all."""
    from aiokafka.structs import TopicPartition

    monkeypatch.setattr(batching, "_COMMIT_BACKOFF_S", 0.001)
    away = _UnreachableBroker()
    committer = batching._OffsetCommitter(0.001)
    committer._consumer = away  # type: ignore[assignment]
    committer._pending = {TopicPartition("t", 0): 5}
    await asyncio.wait_for(committer._commit_soon(), timeout=5)
    assert away.tries == batching._COMMIT_TRIES

    stopped = _UnreachableBroker()
    stopped._closed = True
    committer._consumer = stopped  # type: ignore[assignment]
    committer._pending = {TopicPartition("t", 0): 6}
    await asyncio.wait_for(committer._commit_soon(), timeout=5)
    assert stopped.tries == 1
