"""Open-loop complaint and read load from the compiled generator.

`ComplaintLoad.offer(rate, seconds)` pre-builds `rate x seconds` complaints in the channel
mix (bench/payloads.py), sends the HTTP ones with vegeta at their share of the rate and the
e-mails with the SMTP generator at theirs, both constant-rate and concurrent, and returns
what intake accepted (receipt codes for the reconciliation, intended and answered times).
`reads(...)` sends mixed-role gateway reads the same way.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from bench.load import Accepted, new_histogram, summary
from bench.payloads import (
    HTTP_CHANNELS,
    MIX,
    HttpRequest,
    complaint,
    email,
    plan,
    read_request,
)
from bench.platform import Platform
from bench.smtpload import SmtpLoad
from bench.vegeta import Attack, histogram, intended_latencies, receipt

__all__ = ["ComplaintLoad", "Offered", "merge_histograms", "read_tokens", "reads"]

EMAIL_SHARE = dict(MIX)["email"]


def merge_histograms(hists: list[HdrHistogram]) -> HdrHistogram:
    """One histogram of several generators' latencies (HTTP from vegeta, e-mail from SMTP)."""
    out = new_histogram()
    for h in hists:
        if h.get_total_count():
            out.add(h)
    return out


@dataclass
class Offered:
    """One offer's outcome: accepted complaints, refusals, latency, the generators' CPU."""

    accepted: list[Accepted]
    sent: int
    failures: dict[str, int]
    accept_hist: HdrHistogram
    service_hist: HdrHistogram  # vegeta's own (from actual send), HTTP only
    generator_cpu_ms: float
    generator: dict[str, Any] = field(default_factory=dict)
    planned: int = 0  # what the step meant to send (`sent`: what the generators did)


@dataclass
class ComplaintLoad:
    platform: Platform
    workdir: Path
    seed: int = 7
    email_share: float = EMAIL_SHARE
    counter: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.run_id = uuid.uuid4().hex[:6]

    async def offer(self, rate: float, seconds: float, name: str = "step") -> Offered:
        total = max(1, int(rate * seconds))
        mails_n = round(total * self.email_share) if self.email_share > 0 else 0
        http_n = total - mails_n
        base = self.platform.url("intake")
        first = self.counter
        self.counter += total
        reqs = [
            complaint(self.platform.secrets, base, self.run_id, first + i, ch, self.rng)
            for i, ch in plan(http_n, self.rng.randrange(2**31), HTTP_CHANNELS)
        ]
        mails = [email(self.run_id, first + http_n + i, self.rng) for i in range(mails_n)]
        http_rate = rate * http_n / total
        attack = Attack(f"{name}-intake", reqs, http_rate, self.workdir)
        smtp = SmtpLoad("127.0.0.1", self.platform.ports["smtp_intake"])
        jobs: list[Any] = [attack.run()]
        if mails:
            jobs.append(smtp.run(mails, rate * mails_n / total))
        await asyncio.gather(*jobs)
        await smtp.close()

        accepted: list[Accepted] = []
        failures: dict[str, int] = {}
        channel_of = {r.url: r.channel for r in reqs}
        for hit, intended, lat in intended_latencies(attack.hits, http_rate):
            # vegeta numbers a hit before it takes the next target: two workers racing can
            # swap them, so the channel comes from the URL the hit went to (one per channel).
            req = reqs[hit.seq % len(reqs)]
            if hit.url and hit.url != req.url and hit.url in channel_of:
                req = HttpRequest(channel_of[hit.url], "", "POST", hit.url, b"")
            got = None
            try:
                got = receipt(req.channel, hit)
            except (ValueError, KeyError, IndexError):
                got = None
            if got is None:
                key = f"{req.channel}:{hit.code or hit.error[-40:] or 'error'}"
                failures[key] = failures.get(key, 0) + 1
                continue
            accepted.append(Accepted(req.channel, req.message_id, intended, intended + lat, *got))
        for _, mid, intended, answered, code in smtp.accepted:
            accepted.append(Accepted("email", mid, intended, answered, code))
        for what, n in smtp.failures.items():
            failures[f"email:{what}"] = failures.get(f"email:{what}", 0) + n
        accept_hist = merge_histograms(
            [
                histogram(a.answered - a.intended for a in accepted if a.channel != "email"),
                smtp.histogram(),
            ]
        )
        service = histogram(h.latency_s for h in attack.hits)
        # What the generators actually sent: vegeta's pacer stops at its deadline, and when
        # a saturated machine wakes it late for the last slot that complaint is never sent
        # (one of 4,560 at 152/s). A complaint never offered is not one the platform lost;
        # `planned` keeps the intended count, and a step whose generator fell short by more
        # than a rounding is not judged sustained (bench/run.py).
        return Offered(
            accepted,
            len(attack.hits) + mails_n,
            failures,
            accept_hist,
            service,
            attack.cpu_ms,
            {"http": attack.summary(), "email": {"sent": mails_n, "accepted": len(smtp.accepted)}},
            planned=total,
        )


def read_tokens(platform: Platform) -> dict[str, str]:
    """One long-lived token per staff role, as a signed-in officer has."""
    from aduan_gateway.auth import issue_access_token

    secret = platform.secrets.jwt_secret
    return {
        "validator": issue_access_token(secret, "bench-val", "validator", ttl_s=7200),
        "ticket-admin": issue_access_token(secret, "bench-adm", "ticket-admin", ttl_s=7200),
        "agency-officer": issue_access_token(
            secret, "bench-off", "agency-officer", agency_id="dbm", ttl_s=7200
        ),
    }


async def reads(
    platform: Platform,
    workdir: Path,
    report_ids: list[str],
    rate: float,
    seconds: float,
    seed: int = 11,
    name: str = "reads",
) -> dict[str, Any]:
    """Mixed-role reads through the gateway at `rate` for `seconds` (vegeta)."""
    rng = random.Random(seed)
    tokens = read_tokens(platform)
    base = platform.url("gateway")
    reqs = [read_request(base, rng, report_ids, tokens) for _ in range(max(1, int(rate * seconds)))]
    attack = await Attack(name, reqs, rate, workdir, keep_bodies=False).run()
    hist = new_histogram()
    by_kind: dict[str, HdrHistogram] = {}
    for hit, _, lat in intended_latencies(attack.hits, rate):
        micros = min(600_000_000, max(1, int(lat * 1e6)))
        hist.record_value(micros)
        kind = reqs[hit.seq % len(reqs)].channel
        by_kind.setdefault(kind, new_histogram()).record_value(micros)
    return {
        "rate": rate,
        "seconds": seconds,
        "reads": len(attack.hits),
        "latency_ms": summary(hist),
        "by_kind": {k: summary(h) for k, h in sorted(by_kind.items())},
        "statuses": attack.codes(),
        "generator": attack.summary(),
        "generator_cpu_ms": round(attack.cpu_ms, 1),
    }
