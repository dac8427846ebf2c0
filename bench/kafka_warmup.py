"""A fresh broker's CPU per record, round after round: how long its JIT warm-up lasts.

`make bench` starts a Kafka broker of its own. In its first minute the JVM compiles the
broker's hot code (the C2 compiler thread was a quarter of the broker's CPU in a sample
taken 45 s after start), so whatever is measured then carries that cost, which a
long-running broker does not pay. This bench offers the same trickle (one producer, acks
all and idempotent as the relays send, `--consumers` groups reading every record, as the
platform's consumers do) in rounds of `--round-seconds` and prints the broker's CPU per
record for each round, so the length of the warm-up `bench.run` must allow is measured, not
guessed.

    uv run --frozen python -m bench.kafka_warmup [--rate 50] [--rounds 4] [--consumers 4]

Measured on the two-core machine (2026-12-04, 50 records/s, 4 consumers): 4.9 CPU-ms of
broker CPU per record in the first 30 s, 1.05 in the next 30 s, 0.67 after a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.procs import cpu_ms
from bench.run import own_broker

TOPICS = [f"warmup-{i}" for i in range(4)]


async def _consume(consumer: AIOKafkaConsumer, counts: list[int], i: int) -> None:
    while True:
        got = await consumer.getmany(timeout_ms=500, max_records=200)
        counts[i] += sum(len(v) for v in got.values())


async def main(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="aduan-kafka-warmup-"))
    broker = await own_broker(workdir)
    bootstrap = f"127.0.0.1:{broker.port}"
    consumers: list[AIOKafkaConsumer] = []
    tasks: list[asyncio.Task[None]] = []
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2
    )
    try:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(t, args.partitions, 1) for t in TOPICS])
        finally:
            await admin.close()
        await producer.start()
        counts = [0] * args.consumers
        for i in range(args.consumers):
            consumer = AIOKafkaConsumer(
                *TOPICS,
                bootstrap_servers=bootstrap,
                group_id=f"warmup-{i}",
                auto_offset_reset="earliest",
                fetch_max_wait_ms=1000,
            )
            await consumer.start()
            consumers.append(consumer)
            tasks.append(asyncio.create_task(_consume(consumer, counts, i)))
        await asyncio.sleep(5)
        before = cpu_ms(broker.pid)
        await asyncio.sleep(10)
        idle = (cpu_ms(broker.pid) - before) / 10
        print(f"idle broker: {idle:.0f} CPU-ms/s (at start)", flush=True)
        for n in range(args.rounds):
            before, started, sent = cpu_ms(broker.pid), time.perf_counter(), 0
            while time.perf_counter() - started < args.round_seconds:
                topic = TOPICS[sent % len(TOPICS)]
                await producer.send_and_wait(topic, b"x" * 1200, key=str(sent).encode())
                sent += 1
                await asyncio.sleep(max(0.0, started + sent / args.rate - time.perf_counter()))
            elapsed = time.perf_counter() - started
            per_s = (cpu_ms(broker.pid) - before) / elapsed
            print(
                f"round {n + 1} ({n * args.round_seconds:g}-{(n + 1) * args.round_seconds:g} s "
                f"of load): broker {per_s:.0f} CPU-ms/s, {(per_s - idle) / args.rate:.2f} "
                f"CPU-ms per record above idle ({sent} records, {sum(counts)} fetched)",
                flush=True,
            )
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for consumer in consumers:
            await consumer.stop()
        await producer.stop()
        broker.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=50.0, help="records/s")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--round-seconds", type=float, default=30.0)
    p.add_argument("--consumers", type=int, default=4)
    p.add_argument("--partitions", type=int, default=6)
    asyncio.run(main(p.parse_args()))
