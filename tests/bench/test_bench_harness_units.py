"""The harness's own parts, without the platform: the open-loop schedule measures from the
intended time and never waits for slow answers; the chaos proxy forwards, cuts and
restores; /proc readings are sane; histograms summarize in milliseconds; every channel
payload the compiled generator sends is signed the way intake checks it; vegeta's results
are read with latency from the intended send time; histograms from two generators merge;
CPU is accounted per process per complaint."""

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

import base64
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from hdrh.histogram import HdrHistogram

from aduan_testing.chaosinfra import TcpProxy
from bench import payloads, vegeta
from bench.ceilings import parse_wrk
from bench.chaos import Fault, baseline_p99_ms, recovery, worst
from bench.generate import merge_histograms
from bench.load import new_histogram, open_loop, summary
from bench.platform import Secrets
from bench.procs import (
    backend_database,
    cpu_delta,
    cpu_ms,
    jit_cpu_ms,
    parse_stat,
    per_item,
    rss_kb,
    stat_cpu_ms,
)
from bench.run import encode_histogram, lag_growing, windows, without_reads
from bench.smtpload import dot_stuff
from bench.vegeta import rate_flag


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
    # No JIT compiler threads in a Python process, none in a process that is gone.
    assert jit_cpu_ms([os.getpid(), 2**22 + 12345]) == 0.0

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
            accepted.append(
                SimpleNamespace(receipt_code=code, intended=intended, answered=intended + 0.02)
            )
            stages[code] = SimpleNamespace(
                persisted=intended + latency / 2, recorded=intended + latency
            )
    [r] = recovery(accepted, stages, [Fault("cut", 100.0, 110.0)], 500, 160.0)
    assert r["recovered_s_after_start"] == 12.0  # the first all-fast 5-s window
    # Which hop held the time: intake answered at once, workflow persisted half-way.
    by_stage = r["p99_by_second_by_stage_ms"]
    assert set(by_stage["accepted"]) == {20}
    assert 5_400 <= by_stage["persisted"][0] <= 6_100 < r["p99_by_second_ms"][0]
    assert r["recovered_s_after_end"] == 2.0
    assert 690 <= r["worst_window_p99_after_recovery_ms"] <= 710  # the spike, shown apart
    assert r["worst_p99_ms"] >= 11_000

    # Never fast again before the next fault: no figure.
    slow = {
        c: SimpleNamespace(persisted=st.persisted, recorded=st.recorded + 5)
        for c, st in stages.items()
    }
    [r] = recovery(accepted, slow, [Fault("cut", 100.0, 110.0)], 500, 160.0)
    assert r["recovered_s_after_start"] is None
    assert r["worst_window_p99_after_recovery_ms"] is None


def test_the_chaos_baseline_leaves_out_reports_the_first_fault_caught_in_flight() -> None:
    # 20 reports a second from second 0; workflow killed at second 10 for 8 s. Reports
    # intended in its last 0.3 s before the kill were in flight and waited for the restart.
    accepted: list[SimpleNamespace] = []
    stages: dict[str, SimpleNamespace] = {}
    for n in range(200):
        intended = n / 20
        latency = 18 - intended if intended >= 9.7 else 0.25
        code = f"ADU-{n}"
        accepted.append(SimpleNamespace(receipt_code=code, intended=intended))
        stages[code] = SimpleNamespace(recorded=intended + latency)
    assert 249 <= (baseline_p99_ms(accepted, stages, 0.0, 10.0) or 0) <= 251
    # Had the fault come 2 s later, those few would be inside the window, and the p99
    # (what one run printed as 8.4 s).
    assert (baseline_p99_ms(accepted, stages, 0.0, 12.0) or 0) > 8_000
    # A first fault within the warm-up and the margin leaves no window: said, not "None ms".
    assert baseline_p99_ms(accepted, stages, 0.0, 3.5) is None
    from bench.chaos import table
    from bench.results import RESULTS

    last = json.loads((RESULTS / "chaos-latest.json").read_text())
    said = [
        ln for ln in table(last | {"baseline_p99_ms": None}).splitlines() if "first fault" in ln
    ]
    assert said and "None" not in said[0] and "no p99 end to end" in said[0]


def test_chaos_rate_auto_is_what_the_last_bench_sustained(tmp_path: Path) -> None:
    from bench.chaos import AUTO_RATE_FALLBACK, AUTO_RATE_MAX, auto_rate

    latest = tmp_path / "latest.json"
    assert auto_rate(latest)[0] == AUTO_RATE_FALLBACK  # no bench yet
    latest.write_text(json.dumps({"at": "x", "highest_sustained_rate": 0}))
    assert auto_rate(latest)[0] == AUTO_RATE_FALLBACK  # sustained none (a shared machine)
    latest.write_text(json.dumps({"at": "x", "highest_sustained_rate": 10}))
    assert auto_rate(latest)[0] == 10
    latest.write_text(json.dumps({"at": "x", "highest_sustained_rate": 640}))
    assert auto_rate(latest)[0] == AUTO_RATE_MAX


# --- the compiled generator's pure parts ------------------------------------------------


def _secrets() -> Secrets:
    return Secrets()


def test_every_http_channel_payload_is_signed_the_way_intake_checks_it() -> None:
    from urllib.parse import parse_qsl

    from pydantic import SecretStr

    from aduan_intake.entrypoints.channels.common import verify_hub_signature
    from aduan_intake.entrypoints.channels.sms import twilio_signature

    s = _secrets()
    rng = random.Random(1)
    seen = set()
    for i, ch in payloads.plan(200, 3, payloads.HTTP_CHANNELS):
        req = payloads.complaint(s, "http://127.0.0.1:8001", "run1", i, ch, rng)
        seen.add(req.channel)
        assert req.method == "POST" and req.body
        if ch == "sms":
            params = parse_qsl(req.body.decode(), keep_blank_values=True)
            expected = twilio_signature(s.sms_token, req.url, params)
            assert req.headers["X-Twilio-Signature"] == expected
            assert dict(params)["MessageSid"] == req.message_id
        elif ch == "whatsapp":
            header = req.headers["X-Hub-Signature-256"]
            assert verify_hub_signature(SecretStr(s.whatsapp_secret), req.body, header) is None
            body = json.loads(req.body)
            assert body["entry"][0]["changes"][0]["value"]["messages"][0]["id"] == req.message_id
        elif ch == "app":
            assert req.headers["X-App-Key"] == s.app_key
            assert json.loads(req.body)["text"]
        else:
            assert req.url.endswith("/v1/channels/web")
            assert dict(parse_qsl(req.body.decode(), keep_blank_values=True))["text"]
    assert seen == set(payloads.HTTP_CHANNELS)
    # Unique channel message ids: a resend would be answered as a duplicate, not filed.
    reqs = [payloads.complaint(s, "http://x", "run1", i, "sms", rng) for i in range(50)]
    assert len({r.message_id for r in reqs}) == 50


def test_vegeta_target_lines_carry_the_exact_bytes_and_headers() -> None:
    req = payloads.complaint(_secrets(), "http://127.0.0.1:1", "r", 7, "whatsapp", random.Random(2))
    target = json.loads(payloads.vegeta_line(req))
    assert target["method"] == "POST" and target["url"] == req.url
    assert base64.b64decode(target["body"]) == req.body  # the signed bytes, untouched
    assert target["header"]["X-Hub-Signature-256"] == [req.headers["X-Hub-Signature-256"]]
    get = payloads.read_request("http://g", random.Random(3), ["a"], {"validator": "tok"})
    assert "body" not in json.loads(payloads.vegeta_line(get))


def test_complaint_targets_are_resendable_over_a_closed_keepalive_and_reads_are_not_marked() -> (
    None
):
    req = payloads.complaint(_secrets(), "http://127.0.0.1:1", "r", 3, "sms", random.Random(2))
    header = json.loads(payloads.vegeta_line(req))["header"]
    # Go's client resends a POST on a connection the server closed only with this header.
    assert header["X-Idempotency-Key"] == [req.message_id]
    assert header["X-Twilio-Signature"] == [req.headers["X-Twilio-Signature"]]
    get = payloads.read_request("http://g", random.Random(3), ["a"], {"validator": "tok"})
    assert "X-Idempotency-Key" not in json.loads(payloads.vegeta_line(get))["header"]


def test_generator_runs_on_one_thread_with_sysmon_kept_awake(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("BENCH_GOMAXPROCS", raising=False)
    monkeypatch.delenv("BENCH_GODEBUG", raising=False)
    monkeypatch.setattr(vegeta, "binary", lambda: "/bin/vegeta")
    atk = vegeta.Attack("t", [], 100.0, tmp_path, duration_s=1.0)
    cmd = atk._command(Path("t.jsonl"), Path("r.bin"))
    # -cpus is vegeta's own flag and overrides the GOMAXPROCS variable: it must be given.
    assert cmd[:3] == ["/bin/vegeta", "-cpus=1", "attack"]
    assert vegeta.generator_env()["GODEBUG"] == "schedtrace=3600000"
    raw = b"SCHED 0ms: gomaxprocs=1 idleprocs=0 threads=3\nerror opening t.jsonl\n"
    assert vegeta._stderr_text(raw) == "error opening t.jsonl"


def test_a_hit_keeps_the_url_it_went_to() -> None:
    line = json.loads(_hit_line(0, "2026-12-04T06:00:00Z", 1))
    line["url"] = "http://127.0.0.1:1/v1/channels/sms"
    assert vegeta.parse_hits([json.dumps(line)])[0].url.endswith("/v1/channels/sms")


def test_email_payload_parses_as_a_complaint_and_is_dot_stuffed() -> None:
    from aduan_intake.entrypoints.channels.email import parse_email

    mail = payloads.email("run1", 5, random.Random(4))
    parsed = parse_email(mail.data, datetime.now(UTC))
    assert "laporan run1-5" in parsed.report.text
    assert parsed.report.channel_message_id.strip("<>") in mail.message_id
    stuffed = dot_stuff(b"a\n.b\r\n..c")
    assert stuffed == b"a\r\n..b\r\n...c\r\n.\r\n"


def test_channel_mix_includes_email_and_rates_are_vegeta_flags() -> None:
    rng = random.Random(5)
    counts: dict[str, int] = {}
    for _ in range(20000):
        ch = payloads.channel_for(rng)
        counts[ch] = counts.get(ch, 0) + 1
    assert set(counts) == {name for name, _ in payloads.MIX}
    assert 0.03 < counts["email"] / 20000 < 0.07
    assert rate_flag(200) == "200/1s"
    assert rate_flag(47.5) == "47500/1000s"


def _hit_line(seq: int, sent: str, latency_ns: int, code: int = 201, body: bytes = b"") -> str:
    return json.dumps(
        {
            "attack": "t",
            "seq": seq,
            "code": code,
            "timestamp": sent,
            "latency": latency_ns,
            "bytes_out": 1,
            "bytes_in": len(body),
            "error": "" if code else "connection refused",
            "body": base64.b64encode(body).decode() if body else None,
            "headers": {"X-Aduan-Receipt-Code": ["ADU-AAAA-BBBB"]},
        }
    )


def test_latency_counts_from_the_intended_send_time_not_the_late_send() -> None:
    # 10/s: request 2 left 300 ms late (a stalled generator or a full pool); its latency
    # counts from its slot (t0 + 0.2 s), not from when it left.
    lines = [
        _hit_line(0, "2026-12-04T06:00:00.100000000Z", 5_000_000),
        _hit_line(1, "2026-12-04T06:00:00.200000000Z", 5_000_000),
        _hit_line(2, "2026-12-04T06:00:00.600000000Z", 5_000_000),
        _hit_line(3, "2026-12-04T06:00:00.400000000Z", 5_000_000, code=0),
    ]
    hits = vegeta.parse_hits(reversed(lines))
    assert [h.seq for h in hits] == [0, 1, 2, 3]
    lat = vegeta.intended_latencies(hits, 10.0)
    assert abs(lat[0][2] - 0.005) < 1e-4
    assert abs(lat[2][2] - 0.305) < 1e-4  # 300 ms late + 5 ms answer
    assert vegeta.receipt("sms", hits[0]) == ("ADU-AAAA-BBBB", None)
    assert vegeta.receipt("sms", hits[3]) is None  # never answered


def test_receipts_read_from_each_channels_answer() -> None:
    web = vegeta.parse_hits(
        [
            _hit_line(
                0, "2026-12-04T06:00:00Z", 1, body=b'{"receipt_code": "ADU-1", "report_id": "r"}'
            )
        ]
    )[0]
    assert vegeta.receipt("web", web) == ("ADU-1", "r")
    wa = vegeta.parse_hits(
        [
            _hit_line(
                0,
                "2026-12-04T06:00:00Z",
                1,
                body=b'{"filed": [{"receipt_code": "ADU-2", "report_id": "s"}]}',
            )
        ]
    )[0]
    assert vegeta.receipt("whatsapp", wa) == ("ADU-2", "s")
    refused = vegeta.parse_hits([_hit_line(0, "2026-12-04T06:00:00Z", 1, code=401)])[0]
    assert vegeta.receipt("app", refused) is None


def test_histograms_from_two_generators_merge_into_one() -> None:
    http = vegeta.histogram([0.010] * 90)
    mail = vegeta.histogram([0.200] * 10)
    merged = merge_histograms([http, mail, new_histogram()])
    assert merged.get_total_count() == 100
    assert 9.9 <= merged.get_value_at_percentile(50) / 1000 <= 10.1
    assert 199 <= merged.get_value_at_percentile(99) / 1000 <= 201
    # What goes into the JSON can be decoded and merged again later.
    encoded = encode_histogram(merged)
    assert encoded is not None and encode_histogram(new_histogram()) is None
    again = HdrHistogram.decode(encoded)
    assert again.get_total_count() == 100


def test_proc_accounting_per_process_per_complaint() -> None:
    # A name with spaces and parentheses, as /proc shows it; utime 11, stime 12 (ticks).
    raw = "4242 (python (bench) x) S 1 4242 4242 0 -1 0 0 0 0 0 300 100 50 25 20 0 1 0"
    fields = parse_stat(raw)
    assert fields[0] == "S" and fields[1] == "1"
    assert stat_cpu_ms(fields, children=False, tick=100) == 4000.0
    assert stat_cpu_ms(fields, children=True, tick=100) == 4750.0

    before = {"intake": 1000.0, "workflow": 500.0, "kafka": 100.0}
    after = {"intake": 1600.0, "workflow": 40.0, "kafka": 400.0, "sinks": 30.0}
    delta = cpu_delta(before, after)
    # workflow restarted (its counter went down): its new total is what it used; sinks new.
    assert delta == {"intake": 600.0, "workflow": 40.0, "kafka": 300.0, "sinks": 30.0}
    # Backends compared one by one: one closed in between (a pool shrinking) is not a
    # restart of them all; a new one counts from 0.
    backends = cpu_delta(
        {"postgres": 0.0, "postgres@11": 5000.0, "postgres@12": 7000.0},
        {"postgres": 0.0, "postgres@11": 5100.0, "postgres@13": 40.0},
    )
    assert backends == {"postgres": 140.0}
    per = per_item(delta, 10)
    assert per["intake"] == 60.0 and per["sinks"] == 3.0 and per["total"] == 97.0
    assert per_item(delta, 0) == {}


def test_reads_taken_out_per_process_only_at_the_same_read_rate() -> None:
    step = {
        "accepted": 100,
        "cpu_ms": {"gateway": 500.0, "intake": 300.0},
        "reads": {"rate": 50.0, "reads": 200},
    }
    alone = {"rate": 50.0, "cpu_ms_per_read_by_process": {"gateway": 2.0, "intake": 0.0}}
    out = without_reads(step, alone)
    assert out == {"gateway": 1.0, "intake": 3.0, "total": 4.0}
    assert without_reads(step, alone | {"rate": 500.0}) == {}  # a different rate: not used


def test_wrk_summary_is_read() -> None:
    text = (
        "Running 5s test @ http://127.0.0.1:1/v1/echo\n  1 threads and 32 connections\n"
        "  29812 requests in 5.00s, 4.32MB read\n  Non-2xx or 3xx responses: 3\n"
        "Requests/sec:   5961.42\nTransfer/sec:    884.84KB\n"
    )
    assert parse_wrk(text) == {"req_per_s": 5961, "requests": 29812, "non_2xx": 3}


def test_lag_trend_and_windows() -> None:
    assert not lag_growing([5, 40, 10, 20, 30, 10], 20)
    assert lag_growing([5, 10, 10, 200, 400, 800], 20)
    accepted = [
        SimpleNamespace(receipt_code=f"c{i}", intended=1000.0 + i, report_id=None)
        for i in range(120)
    ]
    got = {
        f"c{i}": SimpleNamespace(recorded=1000.0 + i + (0.1 if i < 60 else 2.0)) for i in range(120)
    }
    w = windows(accepted, got, [(1010.0, 3), (1070.0, 50)], 60.0)  # type: ignore[arg-type]
    assert [x["complaints"] for x in w] == [60, 60]
    assert w[0]["p99_ms"] is not None and w[0]["p99_ms"] < 200 < w[1]["p99_ms"]
    assert [x["max_lag"] for x in w] == [3, 50]


def test_only_this_runs_postgres_backends_are_counted() -> None:
    assert backend_database("postgres: postgres bench1a2b_intake 127.0.0.1(33522) idle") == (
        "bench1a2b_intake"
    )
    assert backend_database("postgres:\0postgres\0db\0127.0.0.1(1)\0SELECT") == "db"
    assert backend_database("postgres: checkpointer ") is None
    assert backend_database("postgres: autovacuum launcher") is None


def test_the_real_year_replay_is_an_option_not_a_projection() -> None:
    from bench.run import parse

    assert parse(["--replay-full"]).replay == 185_852
    assert parse([]).replay == 20000
    assert parse(["--soak-minutes", "30"]).soak_minutes == 30.0


def test_profile_summary_by_area_and_function() -> None:
    """py-spy's collapsed stacks -> shares by the innermost frame's package, and Aduan's
    functions by samples below them (lines of one function counted together)."""
    from bench.profiles import summarise

    collapsed = "\n".join(
        [
            "run (asyncio/base_events.py:1) ;apply (aduan_kit/batching.py:10);"
            "execute (asyncpg/connection.py:5) 6",
            "run (asyncio/base_events.py:1);apply (aduan_kit/batching.py:12);"
            "validate (pydantic/main.py:3) 3",
            "run (asyncio/base_events.py:1);select (selectors.py:9) 1",
            "garbage line",
        ]
    )
    got = summarise(collapsed)
    assert got["samples"] == 10
    assert got["areas_pct"] == {"asyncpg": 60.0, "pydantic": 30.0, "asyncio loop": 10.0}
    assert got["top_aduan_inclusive_pct"] == [("apply (aduan_kit/batching.py)", 90.0)]
    assert summarise("")["samples"] == 0


def test_profile_summary_leaves_out_the_process_frame() -> None:
    """With `--subprocesses` (the gateway's workers) py-spy puts the process first in every
    stack: a line naming `aduan_gateway` would otherwise count as 100 % Aduan code."""
    from bench.profiles import summarise

    collapsed = "\n".join(
        [
            'process 11:"python -m aduan_gateway";run (asyncio/base_events.py:1);'
            "apply (aduan_kit/batching.py:10);execute (asyncpg/connection.py:5) 3",
            'process 12:"python -m aduan_gateway";run (asyncio/base_events.py:1);'
            "select (selectors.py:9) 1",
        ]
    )
    got = summarise(collapsed)
    assert got["samples"] == 4
    assert got["areas_pct"] == {"asyncpg": 75.0, "asyncio loop": 25.0}
    assert got["top_aduan_inclusive_pct"] == [("apply (aduan_kit/batching.py)", 75.0)]


def test_pg_statements_groups_by_service_and_ranks_by_time() -> None:
    """`bench.pg_statements report`: a database's statements count for its service (the
    bench's `<prefix>_<service>` and make up's `aduan_<service>` alike), totals per service
    largest first and scaled by --per, statements largest first, each on one line."""
    from bench.pg_statements import Statement, render, service_of

    assert service_of("bench0099e8a3_gateway") == "gateway"
    assert service_of("aduan_notifier") == "notifier"
    assert service_of("postgres") == "postgres"
    statements = [
        Statement("intake", 10, 10, 50.0, "INSERT INTO submissions\n  SELECT 1"),
        Statement("gateway", 4, 8, 300.0, "UPDATE reports SET a = $1 WHERE b | c"),
        Statement("gateway", 2, 2, 100.0, "SELECT " + "x, " * 100),
    ]
    out = render(statements, top=2, per=10, width=40).splitlines()
    assert out[2] == "| gateway | 0.600 | 40.000 |"
    assert out[3] == "| intake | 1.000 | 5.000 |"
    listed = [line for line in out if line.startswith("| gateway |") and "`" in line]
    assert len(listed) == 2 and "intake" not in "".join(o for o in out[6:])
    assert listed[0].startswith("| gateway | 4 | 8 | 300 | 75.000 |")
    assert "WHERE b ¦ c" in listed[0]  # a pipe would break the table
    assert listed[1].endswith("…` |") and "\n" not in listed[1]
