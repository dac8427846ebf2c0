"""This machine's own ceilings, measured in the same run as the platform so its figures can
be read as ratios: raw aiokafka produce+consume on the same broker, a raw asyncpg
three-row transaction (what a subscriber does: inbox claim, state change, outbox row), and
a bare FastAPI endpoint under uvicorn hit by the same HTTP client the generator uses."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import make_url

from aduan_testing.helpers import free_port

__all__ = ["asyncpg_ceiling", "fastapi_ceiling", "kafka_ceiling"]


async def kafka_ceiling(bootstrap: str, namespace: str, messages: int) -> dict[str, Any]:
    """Produce `messages` 300-byte keyed records (idempotent, acks=all, as the relay does)
    and consume them back; records per second over both."""
    topic = f"{namespace}.ceiling"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=2
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"{namespace}.ceiling",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    payload = b"x" * 300
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(topic, payload, key=str(i % 1000).encode()) for i in range(messages)
        ]
        await asyncio.gather(*futures)
        produced = time.perf_counter() - started
        got = 0
        while got < messages:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            got += sum(len(v) for v in batch.values())
            if batch:
                await consumer.commit()
        total = time.perf_counter() - started
    finally:
        await consumer.stop()
        await producer.stop()
    return {
        "messages": messages,
        "produce_per_s": round(messages / produced),
        "produce_consume_per_s": round(messages / total),
    }


async def asyncpg_ceiling(database_url: str, seconds: float, workers: int = 8) -> dict[str, Any]:
    """Three inserts and a commit per transaction, `workers` connections in parallel."""
    base = make_url(database_url).set(drivername="postgresql")
    name = f"bench_ceiling_{uuid.uuid4().hex[:8]}"
    admin_dsn = base.set(database="postgres").render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = base.set(database=name).render_as_string(hide_password=False)
    try:
        pool = await asyncpg.create_pool(dsn, min_size=workers, max_size=workers)
        async with pool.acquire() as conn:
            await conn.execute(
                "CREATE TABLE inbox (event_id uuid PRIMARY KEY, at timestamptz DEFAULT now());"
                "CREATE TABLE state (id uuid PRIMARY KEY, status text, version int);"
                "CREATE TABLE outbox (id bigserial PRIMARY KEY, payload bytea);"
            )
        count = 0
        deadline = time.perf_counter() + seconds

        async def work() -> None:
            nonlocal count
            async with pool.acquire() as conn:
                while time.perf_counter() < deadline:
                    async with conn.transaction():
                        await conn.execute("INSERT INTO inbox (event_id) VALUES ($1)", uuid.uuid4())
                        await conn.execute(
                            "INSERT INTO state VALUES ($1, 'received', 1)", uuid.uuid4()
                        )
                        await conn.execute("INSERT INTO outbox (payload) VALUES ($1)", b"x" * 300)
                    count += 1

        started = time.perf_counter()
        await asyncio.gather(*(work() for _ in range(workers)))
        elapsed = time.perf_counter() - started
        await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return {"workers": workers, "tx_per_s": round(count / elapsed)}


async def fastapi_ceiling(seconds: float, concurrency: int = 32) -> dict[str, Any]:
    """Closed loop at `concurrency` against `bench.bare_app`: the most one uvicorn process
    answers on this machine with this client."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.bare_app", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=10, limits=limits) as client:
            for _ in range(100):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/health")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            count = 0
            deadline = time.perf_counter() + seconds

            async def work() -> None:
                nonlocal count
                while time.perf_counter() < deadline:
                    r = await client.post(f"{url}/v1/echo", json={"id": "x"})
                    r.raise_for_status()
                    count += 1

            started = time.perf_counter()
            await asyncio.gather(*(work() for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {"concurrency": concurrency, "req_per_s": round(count / elapsed)}
