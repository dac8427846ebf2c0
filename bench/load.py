"""Open-loop load: complaints into intake over HTTP at a fixed arrival rate, and mixed-role
reads through the privacy gateway.

Open loop means the i-th request is due at `t0 + i / rate` whether or not earlier ones
were answered; its latency is measured from that intended time, not from when it was
actually sent, so a stalled server shows up as latency instead of as a lower rate
(no coordinated omission).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
from hdrh.histogram import HdrHistogram

from bench.payloads import HTTP_CHANNELS, channel_for, complaint
from bench.platform import Platform

__all__ = [
    "Accepted",
    "IntakeLoad",
    "ReadLoad",
    "new_histogram",
    "open_loop",
    "summary",
]

# Requests in flight per HTTP client (run.py gives each client this many connections).
MAX_IN_FLIGHT = 256
# A complaint not accepted this long after its intended time is counted as failed.
GIVE_UP_AFTER_S = 120.0

_SLOTS: dict[int, asyncio.Semaphore] = {}


def _slots(client: httpx.AsyncClient) -> asyncio.Semaphore:
    """Requests wait here, not in httpcore's connection pool: its queue of waiting requests
    is scanned on every assignment, so 10,000 due reads behind 256 connections made the
    generator itself spin for minutes (seen at 500 reads/s). Latency still counts from the
    intended time, so the wait is measured, as it should be in an open loop."""
    slots = _SLOTS.get(id(client))
    if slots is None:
        slots = _SLOTS[id(client)] = asyncio.Semaphore(MAX_IN_FLIGHT)
    return slots


def new_histogram() -> HdrHistogram:
    """Microseconds from 1 µs to 10 minutes, 3 significant digits."""
    return HdrHistogram(1, 600_000_000, 3)


def summary(h: HdrHistogram) -> dict[str, float | int]:
    """Percentiles in milliseconds."""
    if h.get_total_count() == 0:
        return {"count": 0}
    return {
        "count": h.get_total_count(),
        "p50_ms": round(h.get_value_at_percentile(50) / 1000, 2),
        "p99_ms": round(h.get_value_at_percentile(99) / 1000, 2),
        "p99_9_ms": round(h.get_value_at_percentile(99.9) / 1000, 2),
        "max_ms": round(h.get_max_value() / 1000, 2),
        "mean_ms": round(h.get_mean_value() / 1000, 2),
    }


async def open_loop(
    rate: float, duration: float, fire: Callable[[int, float], Coroutine[Any, Any, None]]
) -> int:
    """Call `fire(i, intended_wall_time)` at a fixed rate for `duration` seconds without
    waiting for earlier calls; returns how many were started. Waits for all to finish."""
    loop = asyncio.get_running_loop()
    start_mono = loop.time()
    start_wall = time.time()
    total = int(rate * duration)
    tasks: set[asyncio.Task[None]] = set()
    for i in range(total):
        due = i / rate
        delay = start_mono + due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(fire(i, start_wall + due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    return total


@dataclass
class Accepted:
    """One complaint intake answered 2xx for: what the reconciliation checks."""

    channel: str
    message_id: str
    intended: float  # wall-clock epoch seconds the request was due
    answered: float
    receipt_code: str
    report_id: str | None = None


@dataclass
class IntakeLoad:
    """Mixed-channel complaints, each a real channel payload, signed where the channel is."""

    platform: Platform
    client: httpx.AsyncClient
    seed: int = 7
    accepted: list[Accepted] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    accept_hist: HdrHistogram = field(default_factory=new_histogram)
    # Intended times of the complaints intake has not answered yet, by arrival number: a
    # backlog is drained only when these are answered too (chaos: "backlog drained").
    pending: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.base = self.platform.url("intake")
        self.run_id = uuid.uuid4().hex[:6]

    def _channel(self) -> str:
        # The HTTP channels only: this generator (the chaos runner's) speaks HTTP.
        while (ch := channel_for(self.rng)) not in HTTP_CHANNELS:
            pass
        return ch

    def request(self, i: int, channel: str | None = None) -> tuple[str, str, dict[str, Any]]:
        """(channel, message id, httpx request kwargs) for complaint number i: the payload
        vegeta sends too (bench/payloads.py)."""
        req = complaint(
            self.platform.secrets, self.base, self.run_id, i, channel or self._channel(), self.rng
        )
        return (
            req.channel,
            req.message_id,
            {"url": req.url, "content": req.body, "headers": req.headers},
        )

    async def fire(self, i: int, intended: float) -> None:
        channel, mid, kwargs = self.request(i)
        self.pending[i] = intended
        try:
            await self.send(channel, mid, kwargs, intended)
        finally:
            self.pending.pop(i, None)

    async def send(
        self, channel: str, mid: str, kwargs: dict[str, Any], intended: float
    ) -> Accepted | None:
        """POST until intake answers (a 5xx or a refused connection is retried, as a
        provider would redeliver); latency counts from the intended time of the first try."""
        for attempt in range(60):
            if attempt and time.time() - intended > GIVE_UP_AFTER_S:
                self._fail(f"{channel}:gave-up")  # a bounded run, even against a stuck intake
                return None
            try:
                async with _slots(self.client):
                    r = await self.client.post(**kwargs)
            except httpx.HTTPError as exc:
                self._fail(f"{channel}:{type(exc).__name__}")
                await asyncio.sleep(min(0.2 * 2**attempt, 2.0))
                continue
            if r.status_code >= 500 or r.status_code == 429:
                self._fail(f"{channel}:{r.status_code}")
                await asyncio.sleep(min(0.2 * 2**attempt, 2.0))
                continue
            if r.status_code >= 300:
                self._fail(f"{channel}:{r.status_code}")
                return None
            now = time.time()
            receipt, report_id = self._receipt(channel, r)
            got = Accepted(channel, mid, intended, now, receipt, report_id)
            self.accepted.append(got)
            self.accept_hist.record_value(max(1, int((now - intended) * 1e6)))
            return got
        return None

    def _fail(self, what: str) -> None:
        self.failures[what] = self.failures.get(what, 0) + 1

    @staticmethod
    def _receipt(channel: str, r: httpx.Response) -> tuple[str, str | None]:
        if channel == "sms":
            return r.headers["x-aduan-receipt-code"], None
        body = r.json()
        if channel == "whatsapp":
            filed = body["filed"][0]
            return filed["receipt_code"], filed["report_id"]
        return body["receipt_code"], body["report_id"]


@dataclass
class ReadLoad:
    """Mixed-role reads through the gateway: the public, validators, ticket admins and
    agency officers, on reports the intake load filed."""

    platform: Platform
    client: httpx.AsyncClient
    report_ids: Callable[[], list[str]]
    hist: HdrHistogram = field(default_factory=new_histogram)
    by_kind: dict[str, HdrHistogram] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    seed: int = 11

    def __post_init__(self) -> None:
        from aduan_gateway.auth import issue_access_token

        self.rng = random.Random(self.seed)
        secret = self.platform.secrets.jwt_secret
        # Long-lived for the run; each role gets one token, as a signed-in officer has.
        self.tokens = {
            "validator": issue_access_token(secret, "bench-val", "validator", ttl_s=7200),
            "ticket-admin": issue_access_token(secret, "bench-adm", "ticket-admin", ttl_s=7200),
            "agency-officer": issue_access_token(
                secret, "bench-off", "agency-officer", agency_id="dbm", ttl_s=7200
            ),
        }
        self.base = self.platform.url("gateway")

    def _pick(self) -> tuple[str, str, dict[str, str]]:
        ids = self.report_ids()
        rid = self.rng.choice(ids) if ids else str(uuid.uuid4())
        x = self.rng.random()
        if x < 0.3:
            return "public-list", f"{self.base}/v1/public/reports?limit=20", {}
        if x < 0.55:
            return "public-get", f"{self.base}/v1/public/reports/{rid}", {}
        role = self.rng.choice(list(self.tokens))
        auth = {"Authorization": f"Bearer {self.tokens[role]}"}
        if x < 0.85:
            return f"{role}-get", f"{self.base}/v1/reports/{rid}", auth
        return f"{role}-list", f"{self.base}/v1/reports?limit=20", auth

    async def fire(self, i: int, intended: float) -> None:
        kind, url, headers = self._pick()
        try:
            async with _slots(self.client):
                r = await self.client.get(url, headers=headers)
            code = str(r.status_code)
        except httpx.HTTPError as exc:
            code = type(exc).__name__
        micros = max(1, int((time.time() - intended) * 1e6))
        self.hist.record_value(micros)
        self.by_kind.setdefault(kind, new_histogram()).record_value(micros)
        self.statuses[code] = self.statuses.get(code, 0) + 1
