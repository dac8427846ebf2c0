"""Consumer supervision: a consumer that stops making progress is noticed, named, restarted
in place, and reported on `/livez` if that does not help, so that its process is restarted.

Why: a full `make chaos` run once left workflow's intake consumer silent after a 60 s broker
cut (893 reports never opened) while `/health` and `/livez` both answered 200. A process
that answers HTTP but moves no messages stalls the city's work without anyone seeing it.
The cause lies in client state after an outage (aiokafka's poll, for one, waits for a
group rejoin without a timeout), so instead of guarding each known path this watches the
one thing that matters: whether records that are waiting get consumed.

Judged every `interval_s`, a consumer is stuck when, for longer than `stuck_after_s`:
- an assigned partition has records beyond the consumer's position (a fresh `ListOffsets`
  request, not the cached high-water mark), its position has not moved and no handler
  call has finished; or
- an assigned partition has had no position at all (only the fetch loop sets one; read
  from the client's state, so a dead client is not taken for a silent broker); or
- it has been rejoining its group (no assignment yet) for twice that long (a rebalance may
  legitimately wait up to aiokafka's 30 s rebalance timeout for a slow member; the chaos
  run saw a JoinGroup cut off mid-flight leave a consumer rejoining for minutes); or
- one handler call has been running; or
- its client's fetch loop has ended (aiokafka runs every fetch in one task, and an error
  it does not expect ends that task for good: `fetch_loop_ended`); this needs no clock.
...and PostgreSQL, Redis and Kafka all answer: during an outage a consumer is *meant* to
wait, and restarting every replica would help nobody. A consumer that keeps retrying a
batch finishes handler calls, so it is alive, not stuck (it logs each failed try). A consumer with
no partitions after a completed rejoin (more replicas than partitions) is normal.

A stuck consumer shows as `aduan_consumer_stuck{consumer=...} 1` (lag per partition in
`aduan_consumer_lag`) and is first restarted in place: its Kafka consumer is closed and a
new member joins the group and goes on from the committed offsets
(`aduan_consumer_restarts_total`). If it is stuck again before it moved, it is listed by
`ServiceRuntime.dead_parts`, which turns `/livez` into a 503; Kubernetes' liveness probe
(deploy/k8s) and `make up`'s supervisor (deploy/scripts/services.sh) restart the process.
The inbox makes the redelivery of whatever was in flight harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.structs import TopicPartition
from prometheus_client import Counter, Gauge

from aduan_kit.logging import get_logger
from aduan_kit.tasks import cancel_and_wait, why_ended

__all__ = ["ConsumerWatch", "fetch_loop_ended", "position_now", "stop_client", "track_progress"]

log = get_logger(__name__)

STUCK = Gauge(
    "aduan_consumer_stuck",
    "1 while a consumer has lag and has made no progress for longer than the bound",
    ["consumer"],
)
LAG = Gauge(
    "aduan_consumer_lag",
    "Records between a consumer's position and the end of an assigned partition (last check)",
    ["consumer", "partition"],
)

RESTARTS = Counter(
    "aduan_consumer_restarts_total",
    "Consumers found stuck and restarted in place (a new member rejoins the group)",
    ["consumer"],
)

# Defaults (ServiceSettings.kafka_stuck_after_s overrides the bound). 30 s is well past the
# slowest healthy stall seen here: a rebalance after a member died (6 s session + join), a
# 200-record batch under a saturated database (about 3 s), a batch's retries with backoff
# (under 10 s); a consumer waiting on an outage is not judged at all (see above). So a stuck
# consumer is found 30-40 s after it stopped, restarted in place, and reported on /livez
# 30-40 s later if that did not help.
STUCK_AFTER_S = 30.0
CHECK_INTERVAL_S = 10.0
# Leaving the group and joining it again. A client whose group coordination is wedged may
# never finish leaving; the process is then restarted instead (reported on /livez).
RESTART_TIMEOUT_S = 30.0
# Each broker request of a check gets this long; no answer is no evidence of progress.
REQUEST_TIMEOUT_S = 5.0


def fetch_loop_ended(consumer: Any) -> str:
    """Why a started aiokafka consumer's fetch loop is no longer running ("" while it runs).

    aiokafka makes every fetch, and sets every newly assigned partition's position, in one
    task per consumer; an error it does not expect ends that task for good and nothing
    else notices: the client stays in its group, polls return nothing and no position is
    ever set again. Seen in a full chaos run (two broker cuts 5 s apart): writing to a
    connection the cut had closed raised uvloop's `RuntimeError` ("the handler is
    closed"), which aiokafka handles only as an `OSError`; workflow consumed nothing for
    nine minutes until the next fault happened to restart it."""
    if getattr(consumer, "_closed", True):
        return ""  # stopped (or never started): its loop is meant to be gone
    return why_ended(
        getattr(getattr(consumer, "_fetcher", None), "error_future", None), "fetch loop"
    )


def position_now(consumer: Any, tp: TopicPartition) -> int | None:
    """The partition's position if the client has one. aiokafka's `position()` waits for an
    unset one, which only the fetch loop sets: with that loop gone it waits forever, and a
    check that took the wait for a broker that does not answer mistook a dead client for
    an outage on every check (the chaos run above)."""
    try:
        state = consumer._subscription.subscription.assignment.state_value(tp)
    except AttributeError:  # no subscription or assignment (rejoining, stopped)
        return None
    if state is None or not state.has_valid_position:
        return None
    return int(state.position)


def consumer_name(subscriber: Any) -> str:
    topics = ",".join(getattr(subscriber, "topic_names_for_subscribe", ())) or "?"
    return f"{getattr(subscriber, 'group_id', None) or '-'}:{topics}"


@dataclass
class _Progress:
    """What the loop and the checks know about one subscriber."""

    busy_since: float | None = None
    # Handler calls finished (whatever their outcome), and the count at the last check.
    finished: int = 0
    finished_seen: int = 0
    rejoining_since: float | None = None
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    moved_at: dict[TopicPartition, float] = field(default_factory=dict)
    stuck_since: float | None = None  # the episode started (and a restart in place was tried)
    given_up: bool = False  # stuck again after that restart: for /livez
    reason: str = ""


# Subscribers have `__slots__` (faststream), so their progress lives here, by identity.
# The entry keeps the subscriber itself: an id is only unique among live objects, and a
# process that builds brokers more than once (tests, a restarted app) would otherwise
# hand a new subscriber a dead one's state (a stale "busy since" made the watch restart a
# healthy consumer in place). `forget` drops a stopped broker's entries.
_REGISTRY: dict[int, tuple[Any, _Progress]] = {}


def progress_of(subscriber: Any) -> _Progress:
    entry = _REGISTRY.get(id(subscriber))
    if entry is None or entry[0] is not subscriber:
        entry = _REGISTRY[id(subscriber)] = (subscriber, _Progress())
    return entry[1]


def forget(subscribers: list[Any]) -> None:
    """Drop the progress of subscribers whose broker has stopped."""
    for sub in subscribers:
        entry = _REGISTRY.get(id(sub))
        if entry is not None and entry[0] is sub:
            del _REGISTRY[id(sub)]


def track_progress(subscriber: Any) -> None:
    """Make `subscriber` record when a handler starts and ends (its busy time)."""
    base = type(subscriber)
    if getattr(base, "_aduan_tracked", False):
        return

    class Tracked(base):  # type: ignore[valid-type, misc]
        __slots__ = ()
        _aduan_tracked = True

        async def consume_one(self, msg: Any) -> None:
            # Looked up per call, not captured: a broker started again after a stop gets
            # fresh progress (`forget`), and its subscribers must write to that.
            progress = progress_of(self)
            progress.busy_since = time.monotonic()
            try:
                await super().consume_one(msg)
            finally:
                progress.busy_since = None
                progress.finished += 1

    subscriber.__class__ = Tracked


async def stop_client(consumer: Any) -> None:
    """Stop an aiokafka consumer, even one whose fetch loop died: its `stop` raises that
    loop's error again before it closes the client's connections, which are then closed
    here. Also finishes a stop that already failed that way."""
    if not consumer._closed:
        try:
            await consumer.stop()
            return
        except Exception as exc:
            if not consumer._closed:
                raise  # it failed before it began closing: not this case
            log.warning("stopping a Kafka client whose fetch loop ended", error=type(exc).__name__)
    with contextlib.suppress(Exception):
        await consumer._client.close()


async def _stop(sub: Any) -> None:
    """Stop a subscriber's Kafka client, even one whose fetch loop died (`stop_client`);
    faststream would otherwise keep the half-stopped client as the subscriber's."""
    consumer = sub.consumer
    try:
        await sub.stop()
    except Exception:
        if consumer is None or not getattr(consumer, "_closed", False):
            raise
        await stop_client(consumer)
        sub.consumer = None


def _restart_clocks(p: _Progress, now: float) -> None:
    p.moved_at = dict.fromkeys(p.moved_at, now)
    if p.busy_since is not None:
        p.busy_since = now
    if p.rejoining_since is not None:
        p.rejoining_since = now


class ConsumerWatch:
    """Checks every subscriber of a broker every `interval_s` (see the module docstring).

    A stuck consumer is first restarted in place (its Kafka consumer closed, a new one
    joins the group and goes on from the committed offsets), which clears a client left
    in a bad state by an outage without stopping the service's other work. If it is stuck
    again within the same episode, it is listed by `failing()` for `/livez`.
    """

    def __init__(
        self,
        subscribers: Callable[[], list[Any]],
        ready: Callable[[], Awaitable[bool]],
        stuck_after_s: float = STUCK_AFTER_S,
        interval_s: float = CHECK_INTERVAL_S,
    ) -> None:
        self._subscribers = subscribers
        self._ready = ready
        self.stuck_after_s = stuck_after_s
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        # The last readiness asked found an outage, and none has been found over since.
        self._outage = False
        # A broker request of the current check failed or timed out.
        self._blind = False

    def failing(self) -> list[str]:
        """Consumers that a restart in place did not heal, one line each, for `/livez`."""
        out = []
        for sub in self._subscribers():
            entry = _REGISTRY.get(id(sub))
            p = entry[1] if entry is not None and entry[0] is sub else None
            if p is not None and p.given_up:
                out.append(f"consumer {consumer_name(sub)} stuck: {p.reason}")
        return out

    async def check_once(self) -> None:
        now = time.monotonic()
        self._blind = False
        suspects: list[tuple[Any, _Progress, str]] = []
        for sub in self._subscribers():
            consumer = getattr(sub, "consumer", None)
            if consumer is None or not getattr(sub, "calls", None):
                continue
            p = progress_of(sub)
            moving, reason = await self._evidence(sub, consumer, p, now)
            if reason:
                suspects.append((sub, p, reason))
            elif moving:
                self._moving(sub, p, now)
        # A check whose own requests to the broker failed ran (partly) during a cut: the
        # broker may answer again by the time readiness is asked, so the failures count as
        # an outage themselves (a full chaos run: a check that started 35 s into a 60-s cut
        # waited out its requests' timeouts, asked readiness 0.4 s after the cut ended and
        # restarted seven consumers that were only waiting for the broker).
        if self._blind:
            self._outage = True
        elif self._outage and not suspects:
            # The first check whose requests were all answered after an outage: every
            # clock starts again now.
            self._outage = False
            for sub in self._subscribers():
                _restart_clocks(progress_of(sub), now)
            return
        # Readiness is asked only when something looks stuck (it costs three round trips).
        if not suspects:
            return
        ready = await self._ready()
        # An outage, or the first check that finds its end: in both cases the evidence was
        # (at least partly) gathered while the broker or the database did not answer - a
        # check during a broker cut waits out its requests' timeouts, and the cut may end
        # before readiness is asked. Judged then, every consumer was "stuck" the moment a
        # cut ended and was restarted in place (a full chaos run: all of them, 0.4 s after a
        # 60-s cut; after two cuts 5 s apart, the restarted member's JoinGroup was cut off by
        # the second one and stayed rejoining for two minutes, until /livez had the process
        # restarted). So every clock starts again after the outage, not during it.
        if not ready or self._outage:
            self._outage = not ready or self._blind
            for _, p, _ in suspects:
                _restart_clocks(p, now)
            return
        for sub, p, reason in suspects:
            await self._stuck(sub, p, reason, now)

    async def _evidence(
        self, sub: Any, consumer: Any, p: _Progress, now: float
    ) -> tuple[bool, str]:
        """(moving, why stuck): moving when every assigned partition is caught up or its
        position changed since the last check; a reason when something has been still for
        too long; neither while there is not enough evidence (rejoining, first sighting)."""
        name = consumer_name(sub)
        assigned = set(consumer.assignment())
        for tp in set(p.moved_at) - assigned:  # moved to another member
            p.positions.pop(tp, None)
            p.moved_at.pop(tp, None)
            with contextlib.suppress(KeyError):
                LAG.remove(name, f"{tp.topic}:{tp.partition}")
        if p.busy_since is not None and now - p.busy_since > self.stuck_after_s:
            return False, f"a handler has been running for {now - p.busy_since:.0f} s"
        # A client whose fetch loop ended never fetches again: no waiting for a clock.
        if ended := fetch_loop_ended(consumer):
            return False, ended
        # aiokafka's poll waits, without a timeout, for a rejoin to finish: a consumer whose
        # rejoin never completes polls nothing and logs nothing. With no partitions and no
        # rejoin under way (more replicas than partitions), there is nothing to judge.
        subscription = getattr(consumer, "_subscription", None)
        if getattr(subscription, "reassignment_in_progress", False):
            p.rejoining_since = p.rejoining_since or now
            if now - p.rejoining_since > 2 * self.stuck_after_s:
                return False, f"rejoining its group for {now - p.rejoining_since:.0f} s"
            return False, ""
        p.rejoining_since = None
        if not assigned:
            return True, ""
        ends: dict[TopicPartition, int] = {}
        try:
            ends = await asyncio.wait_for(consumer.end_offsets(list(assigned)), REQUEST_TIMEOUT_S)
        except Exception:
            self._blind = True
        # A handler call finished since the last check: the loop polls and hands records
        # over. (A consumer retrying a batch seeks back before each poll, so sampling its
        # position every few seconds can see the same offset twice: not evidence of a stall.)
        active = p.finished != p.finished_seen
        p.finished_seen = p.finished
        moving = True
        unset: set[TopicPartition] = set()
        for tp in assigned:
            p.moved_at.setdefault(tp, now)  # newly assigned: its clock starts now
            # Read, not awaited: an unset position is the client's own state, not the
            # broker's silence, so it does not count as an outage (see `position_now`).
            position = position_now(consumer, tp)
            if position is None:
                unset.add(tp)
            end = ends.get(tp)
            if position is None or end is None:
                moving = False  # no evidence either way; the clock runs on
                continue
            lag = max(0, end - position)
            LAG.labels(name, f"{tp.topic}:{tp.partition}").set(lag)
            before = p.positions.get(tp)
            if lag == 0 or active or (before is not None and before != position):
                p.moved_at[tp] = now
            else:
                moving = False
            p.positions[tp] = position
        late = [tp for tp in assigned if now - p.moved_at[tp] > self.stuck_after_s]
        if not late:
            return moving, ""
        tp = late[0]
        if tp in unset:
            return False, (
                f"no position on {tp.topic}:{tp.partition} for {now - p.moved_at[tp]:.0f} s"
            )
        return False, (
            f"no progress on {tp.topic}:{tp.partition} for {now - p.moved_at[tp]:.0f} s "
            "with records waiting"
        )

    def _moving(self, sub: Any, p: _Progress, now: float) -> None:
        if p.stuck_since is not None:
            log.warning(
                "consumer moving again",
                consumer=consumer_name(sub),
                stuck_s=round(now - p.stuck_since, 1),
            )
        p.stuck_since = None
        p.given_up = False
        p.reason = ""
        STUCK.labels(consumer_name(sub)).set(0)

    async def _stuck(self, sub: Any, p: _Progress, reason: str, now: float) -> None:
        name = consumer_name(sub)
        STUCK.labels(name).set(1)
        p.reason = reason
        if p.stuck_since is not None:
            # Restarted in place once already in this episode, and stuck again.
            if not p.given_up:
                log.error("consumer still stuck after a restart in place", consumer=name)
            p.given_up = True
            return
        p.stuck_since = now
        log.error("consumer stuck; restarting it in place", consumer=name, reason=reason)
        RESTARTS.labels(name).inc()
        try:
            await asyncio.wait_for(_stop(sub), RESTART_TIMEOUT_S)
            await asyncio.wait_for(sub.start(), RESTART_TIMEOUT_S)
        except Exception as exc:
            log.error("consumer restart in place failed", consumer=name, error=type(exc).__name__)
            p.given_up = True
            return
        # The new member is judged afresh.
        p.busy_since = p.rejoining_since = None
        p.positions.clear()
        p.moved_at.clear()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.check_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a check must never end the watch
                log.warning("consumer check failed", error=type(exc).__name__)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="consumer-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        forget(self._subscribers())
