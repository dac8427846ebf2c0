"""The harness's own parts, without the platform: the open-loop schedule measures from the
intended time and never waits for slow answers; the chaos proxy forwards, cuts and
restores; /proc readings are sane; histograms summarize in milliseconds."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys

from aduan_testing.infra import repo_root

# `bench/` is a directory of scripts at the repository root (run as `python -m bench.…`),
# not an installed package: make it importable here.
sys.path.insert(0, str(repo_root()))

from types import SimpleNamespace

from aduan_testing.chaosinfra import TcpProxy
from bench.chaos import Fault, recovery, worst
from bench.load import new_histogram, open_loop, summary
from bench.procs import cpu_ms, rss_kb


async def test_open_loop_keeps_its_schedule_when_answers_are_slow() -> None:
    loop = asyncio.get_running_loop()
    started: list[tuple[int, float, float]] = []

    async def slow(i: int, intended: float) -> None:
        started.append((i, intended, loop.time()))
        await asyncio.sleep(0.5)  # a stalled server: the next arrivals must not wait

    t0 = loop.time()
    sent = await open_loop(20, 0.5, slow)
    assert sent == 10
    intended = [s[1] for s in started]
    gaps = [b - a for a, b in itertools.pairwise(intended)]
    assert all(abs(g - 0.05) < 1e-6 for g in gaps)  # exactly 1/rate apart, by construction
    # All ten were started on schedule, not one per slow answer (that would take 5 s);
    # the margin is for a busy machine.
    assert started[-1][2] - t0 < 2.5


async def test_proxy_forwards_cuts_and_restores() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(1024):
                writer.write(data)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proxy = TcpProxy(port)
    await proxy.start()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
        w.write(b"ping")
        assert await asyncio.wait_for(r.read(4), 2) == b"ping"

        proxy.cut()
        # The open connection is dropped ...
        assert await asyncio.wait_for(r.read(4), 2) == b""
        # ... and a new one is accepted but black-holed: no answer.
        r2, w2 = await asyncio.open_connection("127.0.0.1", proxy.port)
        w2.write(b"ping")
        done, _ = await asyncio.wait([asyncio.ensure_future(r2.read(4))], timeout=0.5)
        assert not done

        proxy.restore()
        r3, w3 = await asyncio.open_connection("127.0.0.1", proxy.port)
        w3.write(b"pong")
        assert await asyncio.wait_for(r3.read(4), 2) == b"pong"
        for writer in (w, w2, w3):
            writer.close()
    finally:
        await proxy.stop()
        server.close()


def test_proc_readings_and_histogram_summary() -> None:
    sum(i * i for i in range(200_000))  # burn a little CPU
    assert cpu_ms(os.getpid()) > 0
    current, peak = rss_kb(os.getpid())
    assert 0 < current <= peak
    assert cpu_ms(2**22 + 12345) == 0.0  # a pid that does not exist

    h = new_histogram()
    for ms in (1, 2, 3, 100):
        h.record_value(ms * 1000)
    s = summary(h)
    assert s["count"] == 4
    assert s["p50_ms"] == 2.0
    assert 99.9 <= s["max_ms"] <= 100.1
    assert summary(new_histogram()) == {"count": 0}


def test_worst_of_chaos_runs_keeps_the_worst_figure_and_a_missing_one() -> None:
    def run(missing: int, recovered: float | None, drained: float) -> dict[str, object]:
        return {
            "ok": missing == 0,
            "reconciliation": {
                "accepted": 100,
                "missing": {"workflow": missing, "gateway": 0},
                "applied_twice": {"workflow": 0},
            },
            "dead_letters": {"missing": 0, "max_attempts": 1},
            "recovery": [
                {
                    "fault": "broker unreachable 60 s (proxy)",
                    "healthy_after_s": None,
                    "worst_p99_ms": 900.0,
                    "recovered_s_after_start": None if recovered is None else recovered + 60,
                    "recovered_s_after_end": recovered,
                    "caught_up_s_after_end": drained,
                }
            ],
        }

    w = worst([run(0, 12.0, 20.0), run(3, 30.0, 41.5), run(0, 8.0, 15.0)])
    assert w["ok"] is False and w["missing_total"] == 3 and w["runs"] == 3
    [fault] = w["faults"]
    assert fault["runs"] == 3
    assert fault["recovered_s_after_end"] == 30.0
    assert fault["caught_up_s_after_end"] == 41.5
    # A run where the fault never recovered before the next one makes the worst "None".
    [fault] = worst([run(0, 12.0, 20.0), run(0, None, 20.0)])["faults"]
    assert fault["recovered_s_after_end"] is None


def test_recovery_is_when_a_window_p99_is_back_under_target_and_later_spikes_show_apart() -> None:
    # 10 reports a second for 60 s. A fault from second 100 to 110: reports intended during
    # it wait until 112; from 112 on they take 100 ms, except second 130 (700 ms).
    accepted: list[SimpleNamespace] = []
    stages: dict[str, SimpleNamespace] = {}
    for sec in range(100, 160):
        for k in range(10):
            intended = sec + k / 10
            latency = 112 - intended if sec < 112 else 0.7 if sec == 130 else 0.1
            code = f"ADU-{sec}-{k}"
            accepted.append(SimpleNamespace(receipt_code=code, intended=intended))
            stages[code] = SimpleNamespace(recorded=intended + latency)
    [r] = recovery(accepted, stages, [Fault("cut", 100.0, 110.0)], 500, 160.0)
    assert r["recovered_s_after_start"] == 12.0  # the first all-fast 5-s window
    assert r["recovered_s_after_end"] == 2.0
    assert 690 <= r["worst_window_p99_after_recovery_ms"] <= 710  # the spike, shown apart
    assert r["worst_p99_ms"] >= 11_000

    # Never fast again before the next fault: no figure.
    slow = {c: SimpleNamespace(recorded=st.recorded + 5) for c, st in stages.items()}
    [r] = recovery(accepted, slow, [Fault("cut", 100.0, 110.0)], 500, 160.0)
    assert r["recovered_s_after_start"] is None
    assert r["worst_window_p99_after_recovery_ms"] is None
