"""`make bench`: the platform under an open-loop load, with figures.

    uv run python -m bench.run                      # full step-up, ceilings, reads, replay
    uv run python -m bench.run --rates 10,20 --step-seconds 10 --replay 200   # small

Starts its own five services (own topics, databases, Redis prefix) on the running
Kafka/PostgreSQL/Redis (`make up` infrastructure), so it never touches `make up`'s data.
Writes bench/results/latest.json, latest.md and appends to history.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import results
from bench.ceilings import asyncpg_ceiling, fastapi_ceiling, kafka_ceiling
from bench.load import MAX_IN_FLIGHT, IntakeLoad, ReadLoad, new_histogram, open_loop, summary
from bench.observe import consumer_lag, reconcile, wait_for_stages
from bench.platform import APPS, Platform
from bench.procs import ProcessGroup, cpu_ms, find_pids
from bench.replay import replay

__all__ = ["main"]

TARGET_P99_MS = 500.0


def infra() -> tuple[str, str, str]:
    return (
        os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        os.environ.get(
            "DATABASE_URL", "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/postgres"
        ),
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    )


def process_group(platform: Platform) -> ProcessGroup:
    group = ProcessGroup()
    for name in APPS:
        if name in platform.procs:
            group.add(name, [platform.pid(name)])
    group.add("kafka", find_pids("kafka"))
    group.add("postgres", find_pids("postgres"), tree=True)
    group.add("redis", find_pids("redis"))
    return group


async def step(
    platform: Platform,
    read_client: httpx.AsyncClient,
    intake: IntakeLoad,
    rate: float,
    seconds: float,
    read_rate: float,
    drain_timeout: float,
) -> dict[str, Any]:
    """One fixed rate for `seconds`: e2e latency, lag trend, CPU per report, reads."""
    procs = process_group(platform)
    cpu_before = procs.cpu()
    harness_before = cpu_ms(os.getpid(), children=False)
    groups = [f"{platform.namespace}.workflow", f"{platform.namespace}.notifier"]
    lag_samples: list[dict[str, int]] = []
    first = len(intake.accepted)
    reads = ReadLoad(
        platform, read_client, lambda: [a.report_id for a in intake.accepted[-500:] if a.report_id]
    )
    stop = asyncio.Event()

    async def sample_lag() -> None:
        while not stop.is_set():
            try:
                lag_samples.append(await consumer_lag(platform, groups))
            except Exception:  # noqa: S112 - a missed sample is not a result
                continue
            finally:
                await asyncio.sleep(1.0)

    sampler = asyncio.create_task(sample_lag())
    offset = len(intake.accepted) + sum(intake.failures.values()) + int(time.time() * 10) % 10**6

    async def fire(i: int, intended: float) -> None:
        await intake.fire(offset + i, intended)

    started = time.perf_counter()
    jobs = [open_loop(rate, seconds, fire)]
    if read_rate > 0:
        jobs.append(open_loop(read_rate, seconds, reads.fire))
    await asyncio.gather(*jobs)
    load_s = time.perf_counter() - started
    stop.set()
    await sampler
    mine = intake.accepted[first:]
    got = await wait_for_stages(platform, [a.receipt_code for a in mine], drain_timeout)
    drain_s = time.perf_counter() - started - load_s
    cpu_after = procs.cpu()
    cpu = {k: round(cpu_after[k] - cpu_before.get(k, 0.0), 1) for k in cpu_after}
    # The generator and observer share the machine: shown, not counted per report.
    harness_cpu = round(cpu_ms(os.getpid(), children=False) - harness_before, 1)
    hists = {k: new_histogram() for k in ("accepted", "persisted", "recorded", "sent")}
    for a in mine:
        hists["accepted"].record_value(max(1, int((a.answered - a.intended) * 1e6)))
        st = got.get(a.receipt_code)
        if st is None:
            continue
        a.report_id = a.report_id or st.report_id
        for name in ("persisted", "recorded", "sent"):
            at = getattr(st, name)
            if at is not None:
                hists[name].record_value(max(1, int((at - a.intended) * 1e6)))
    e2e = summary(hists["recorded"])
    lags = [sum(s.values()) for s in lag_samples]
    half = lags[: max(1, len(lags) // 2)]
    growing = bool(lags) and lags[-1] > 2 * max(half) + rate
    reached = sum(1 for s in got.values() if s.recorded is not None)
    sustained = (
        reached == len(mine)
        and not growing
        and e2e.get("count", 0) > 0
        and float(e2e["p99_ms"]) <= TARGET_P99_MS
    )
    total_cpu = sum(cpu.values())
    return {
        "rate": rate,
        "seconds": seconds,
        "sent": int(rate * seconds),
        "accepted": len(mine),
        "reached_notifier": reached,
        "load_s": round(load_s, 2),
        "drain_s": round(drain_s, 2),
        "latency_ms": {k: summary(h) for k, h in hists.items()},
        "lag_samples": lags,
        "lag_growing": growing,
        "sustained": sustained,
        "cpu_ms": cpu,
        "harness_cpu_ms": harness_cpu,
        "cpu_ms_per_report": round(total_cpu / len(mine), 2) if mine else None,
        "cpu_ms_per_report_services": round(sum(cpu.get(k, 0.0) for k in APPS) / len(mine), 2)
        if mine
        else None,
        "reads": {
            "rate": read_rate,
            "latency_ms": summary(reads.hist),
            "by_kind": {k: summary(h) for k, h in sorted(reads.by_kind.items())},
            "statuses": reads.statuses,
        },
        "peak_rss_mb": procs.peak_rss_mb(),
    }


async def reads_alone(
    platform: Platform,
    client: httpx.AsyncClient,
    report_ids: list[str],
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    """Mixed-role gateway reads with no complaints arriving: the gateway's read latency on
    its own, and the CPU a read costs (which the steps' per-report CPU must not carry)."""
    procs = process_group(platform)
    cpu_before = procs.cpu()
    harness_before = cpu_ms(os.getpid(), children=False)
    reads = ReadLoad(platform, client, lambda: report_ids)
    started = time.perf_counter()
    done = await open_loop(rate, seconds, reads.fire)
    elapsed = time.perf_counter() - started
    cpu_after = procs.cpu()
    cpu = {k: round(cpu_after[k] - cpu_before.get(k, 0.0), 1) for k in cpu_after}
    return {
        "rate": rate,
        "seconds": seconds,
        "reads": done,
        "elapsed_s": round(elapsed, 2),
        "latency_ms": summary(reads.hist),
        "by_kind": {k: summary(h) for k, h in sorted(reads.by_kind.items())},
        "statuses": reads.statuses,
        "cpu_ms": cpu,
        "harness_cpu_ms": round(cpu_ms(os.getpid(), children=False) - harness_before, 1),
        "cpu_ms_per_read": round(sum(cpu.values()) / done, 3) if done else None,
        "gateway_cpu_ms_per_read": round(cpu.get("gateway", 0.0) / done, 3) if done else None,
    }


def without_reads(step: dict[str, Any], per_read: float | None) -> float | None:
    """A step's CPU per report with its concurrent reads' cost (measured alone) taken out."""
    if not per_read or not step["accepted"]:
        return None
    reads = int(step["reads"]["latency_ms"].get("count", 0))
    total = float(sum(step["cpu_ms"].values())) - reads * per_read
    return round(max(total, 0.0) / int(step["accepted"]), 2)


def table(result: dict[str, Any]) -> str:
    lines = [
        f"# Benchmark — {result['at']}",
        "",
        f"Scale: {result['scale']}. Machine: {result['machine']['cpus']} CPUs, load average "
        f"at start {result['machine']['loadavg_at_start']}.",
        "",
        "| rate /s | accepted | e2e p50 | p99 | p99.9 | max | lag growing | CPU ms/report "
        "(all / services / all without the reads) | gateway read p99 | sustained |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result["steps"]:
        e = s["latency_ms"]["recorded"]
        r = s["reads"]["latency_ms"]
        lines.append(
            f"| {s['rate']:g} | {s['accepted']}/{s['sent']} | {e.get('p50_ms', '-')} | "
            f"{e.get('p99_ms', '-')} | {e.get('p99_9_ms', '-')} | {e.get('max_ms', '-')} | "
            f"{s['lag_growing']} | {s['cpu_ms_per_report']} / "
            f"{s['cpu_ms_per_report_services']} / {s.get('cpu_ms_per_report_without_reads', '-')}"
            f" | {r.get('p99_ms', '-')} ({s['reads']['rate']:g}/s) | {s['sustained']} |"
        )
    lines += [
        "",
        f"Highest sustained rate: **{result['highest_sustained_rate']}** reports/s "
        f"(p99 end to end ≤ {TARGET_P99_MS:g} ms, consumer lag not growing).",
        "",
    ]
    ra = result.get("reads_alone")
    if ra:
        lat = ra["latency_ms"]
        lines += [
            f"Gateway reads alone ({ra['rate']:g}/s mixed roles for {ra['seconds']:g} s, no "
            f"complaints arriving): p50 {lat.get('p50_ms')} ms, p99 {lat.get('p99_ms')} ms, "
            f"p99.9 {lat.get('p99_9_ms')} ms; {ra['gateway_cpu_ms_per_read']} gateway CPU-ms "
            f"and {ra['cpu_ms_per_read']} CPU-ms over all processes per read; statuses "
            f"{ra['statuses']}.",
            "",
        ]
    c = result.get("ceilings") or {}
    if c:
        lines += [
            "| ceiling | figure | platform as ratio (sustained rate / replay throughput) |",
            "|---|---|---|",
        ]
        for name, fig, ratio in result["ratios_table"]:
            lines.append(f"| {name} | {fig} | {ratio} |")
        lines.append("")
    if result.get("replay"):
        rp = result["replay"]
        lines.append(
            f"Replay: {rp['reports']} reports drained in {rp['drain_s']} s "
            f"({rp['reports_per_s']}/s; 185,852 projected at {rp['projected_185852_s']} s); "
            f"lost {rp['lost']}, applied twice {rp['applied_twice']}."
        )
    rec = result["reconciliation"]
    lines += [
        "",
        f"Reconciliation of {rec['accepted']} accepted reports: missing {rec['missing']}, "
        f"applied twice {rec['applied_twice']}.",
        "",
        "Peak RSS (MB): " + ", ".join(f"{k} {v}" for k, v in result["peak_rss_mb"].items()),
        "",
    ]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    kafka, database_url, redis_url = infra()
    result: dict[str, Any] = {"machine": results.machine(), "scale": args.scale}
    workdir = Path(tempfile.mkdtemp(prefix="aduan-bench-"))
    platform = Platform(
        kafka=kafka,
        database_url=database_url,
        redis_url=redis_url,
        workdir=workdir,
        partitions=args.partitions,
    )
    print(f"bench: namespace {platform.namespace}, logs in {workdir}", flush=True)
    ceilings: dict[str, Any] = {}
    if args.ceilings:
        ceilings["kafka"] = await kafka_ceiling(kafka, platform.namespace, args.ceiling_messages)
        ceilings["asyncpg"] = await asyncpg_ceiling(database_url, args.ceiling_seconds)
        ceilings["fastapi"] = await fastapi_ceiling(args.ceiling_seconds)
        print(f"bench: ceilings {json.dumps(ceilings)}", flush=True)
    result["ceilings"] = ceilings
    try:
        t0 = time.perf_counter()
        await platform.start(("sinks", *args.services))
        result["startup_s"] = round(time.perf_counter() - t0, 1)
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=64)
        # Two clients: a slow gateway must not take the connections the complaints need (a
        # shared pool made intake's latency include waiting for a free connection).
        async with (
            httpx.AsyncClient(timeout=30, limits=limits) as client,
            httpx.AsyncClient(timeout=30, limits=limits) as read_client,
        ):
            intake = IntakeLoad(platform, client)
            # Warm-up: first requests pay for imports, pools, metadata.
            await open_loop(5, 1, intake.fire)
            await wait_for_stages(platform, [a.receipt_code for a in intake.accepted], 60)
            warm = len(intake.accepted)
            steps = []
            for rate in args.rates:
                s = await step(
                    platform,
                    read_client,
                    intake,
                    rate,
                    args.step_seconds,
                    args.read_rate,
                    args.drain_timeout,
                )
                steps.append(s)
                e = s["latency_ms"]["recorded"]
                print(
                    f"bench: {rate:g}/s accepted {s['accepted']}/{s['sent']} e2e p50 "
                    f"{e.get('p50_ms')} p99 {e.get('p99_ms')} p99.9 {e.get('p99_9_ms')} ms, "
                    f"cpu {s['cpu_ms_per_report']} ms/report, lag {s['lag_samples'][-3:]}, "
                    f"reads p99 {s['reads']['latency_ms'].get('p99_ms')} ms, "
                    f"sustained {s['sustained']}",
                    flush=True,
                )
                if not s["sustained"] and not args.keep_going:
                    break
            if (args.read_alone_rate or args.read_rate) > 0 and args.read_seconds > 0:
                ids = [a.report_id for a in intake.accepted[-2000:] if a.report_id]
                alone_rate = args.read_alone_rate or args.read_rate
                ra = await reads_alone(platform, read_client, ids, alone_rate, args.read_seconds)
                result["reads_alone"] = ra
                for s in steps:
                    s["cpu_ms_per_report_without_reads"] = without_reads(s, ra["cpu_ms_per_read"])
                lat = ra["latency_ms"]
                print(
                    f"bench: reads alone {ra['rate']:g}/s p50 {lat.get('p50_ms')} p99 "
                    f"{lat.get('p99_ms')} ms, gateway {ra['gateway_cpu_ms_per_read']} CPU-ms "
                    f"per read",
                    flush=True,
                )
            result["steps"] = steps
            result["warmup_reports"] = warm
            result["intake_failures"] = intake.failures
            if args.replay:
                result["replay"] = await replay(platform, args.replay, args.drain_timeout * 4)
                print(f"bench: replay {json.dumps(result['replay'])}", flush=True)
            # A delivery recorded but not yet sent is a backlog, not a loss: wait for the
            # notifier to drain (or stall) before counting, as the chaos runner does.
            await wait_for_stages(
                platform,
                [a.receipt_code for a in intake.accepted],
                args.drain_timeout * 4,
                need_sent=True,
            )
            rec = await reconcile(platform, intake.accepted)
            result["reconciliation"] = rec.as_dict()
            print(f"bench: reconciliation {json.dumps(rec.as_dict())}", flush=True)
        procs = process_group(platform)
        result["peak_rss_mb"] = procs.peak_rss_mb()
    finally:
        codes = platform.stop()
        result["exit_codes"] = codes
        if not args.keep:
            await platform.cleanup()
    sustained = [s["rate"] for s in result.get("steps", []) if s["sustained"]]
    result["highest_sustained_rate"] = max(sustained) if sustained else 0
    result["ratios_table"] = ratios(result)
    return result


def ratios(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The platform's highest sustained rate, and its replay (backlog) throughput, as
    fractions of each ceiling: figures that compare across machines."""
    c = result.get("ceilings") or {}
    best = result.get("highest_sustained_rate") or 0
    drained = (result.get("replay") or {}).get("reports_per_s") or 0
    figures = {
        "kafka": ("raw aiokafka produce+consume", "produce_consume_per_s"),
        "asyncpg": ("raw asyncpg 3-row transaction", "tx_per_s"),
        "fastapi": ("bare FastAPI endpoint", "req_per_s"),
    }
    rows = []
    for key, (label, field_name) in figures.items():
        if key in c and c[key][field_name]:
            ceiling = c[key][field_name]
            rows.append((label, f"{ceiling}/s", f"{best / ceiling:.4f} / {drained / ceiling:.4f}"))
    return rows


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument(
        "--rates",
        default="50,100,200,400,600,800,1000",
        type=lambda s: [float(x) for x in s.split(",") if x],
    )
    p.add_argument("--step-seconds", type=float, default=30.0)
    p.add_argument(
        "--read-rate", type=float, default=500.0, help="gateway reads/s during each step"
    )
    p.add_argument(
        "--read-seconds",
        type=float,
        default=20.0,
        help="a phase of reads alone after the steps, at --read-rate (0: skip)",
    )
    p.add_argument(
        "--read-alone-rate",
        type=float,
        default=0.0,
        help="reads/s in the reads-alone phase (default: --read-rate)",
    )
    p.add_argument("--replay", type=int, default=20000, help="reports in the replay (0: skip)")
    p.add_argument("--drain-timeout", type=float, default=600.0)
    p.add_argument("--partitions", type=int, default=None, help="cap partitions per topic")
    p.add_argument("--no-ceilings", dest="ceilings", action="store_false")
    p.add_argument("--ceiling-seconds", type=float, default=5.0)
    p.add_argument("--ceiling-messages", type=int, default=20000)
    p.add_argument(
        "--services",
        default=",".join(APPS),
        type=lambda s: tuple(x for x in s.split(",") if x),
        help="which services to start (the five by default)",
    )
    p.add_argument("--keep-going", action="store_true", help="run every rate even after a miss")
    p.add_argument("--keep", action="store_true", help="keep databases and topics")
    p.add_argument("--scale", default="full", help="label written with the figures")
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help="write only this JSON file (no latest/history): smoke runs",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    result = asyncio.run(run(args))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
        print(f"bench: wrote {args.output}")
    else:
        path = results.write("bench", result, table(result | {"at": time.strftime("%F %T")}))
        print(f"bench: wrote {path}")
    print(table(result | {"at": time.strftime("%F %T")}))
    return 0 if result["reconciliation"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
