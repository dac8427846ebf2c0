"""Settings shared by every service; each service subclasses with its own env prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseSettings):
    """Local defaults work with `make up`; production sets every address explicitly.

    A subclass sets `model_config = SettingsConfigDict(env_prefix="ADUAN_<SERVICE>_")`.
    """

    model_config = SettingsConfigDict(env_prefix="ADUAN_", extra="ignore")

    service_name: str = "aduan"
    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic_namespace: str = Field(default="", description="prefix for topic names (tests)")
    consumer_group: str = ""
    kafka_max_attempts: int = Field(default=3, ge=1, le=20)
    # Records per poll, and so per transaction, for the batch consumers (aduan_kit.batching):
    # large enough that the per-transaction costs (BEGIN, inbox claim, COMMIT's WAL flush,
    # offset commit) vanish per message, small enough that a transaction holds its row
    # locks for tens of milliseconds, not seconds.
    kafka_batch_max_records: int = Field(default=200, ge=1, le=10_000)
    # Batch consumers commit their offsets in the background at most this often instead of
    # after every poll (the inbox makes a late commit safe; aduan_kit.batching). 0: after
    # every poll, as faststream does.
    kafka_commit_interval_ms: int = Field(default=200, ge=0, le=10_000)
    # An idle batch consumer's fetch waits this long at the broker (a record answers it at
    # once): one request a second per consumer instead of two (aiokafka's 500 ms).
    kafka_fetch_max_wait_ms: int = Field(default=1000, ge=10, le=30_000)
    # How long records a batch consumer has fetched but not yet taken hold back the next
    # fetch from their broker (aiokafka's `prefetch_backoff`, 100 ms). After that aiokafka
    # fetches the node's other partitions without them; if those are quiet the fetch waits
    # out `kafka_fetch_max_wait_ms` at the broker, and the partitions just taken cannot be
    # fetched until it returns (one fetch in flight per broker): up to a second added to a
    # record's path whenever a pace or a batch outlasted 100 ms. Longer than any pace plus a
    # batch's work, so a batch consumer (which takes every partition's records each poll)
    # fetches again only once it took them, all partitions in one request. Not after a full
    # poll (a backlog): then aiokafka's 100 ms, whose prefetch keeps it fed (aduan_kit.batching).
    kafka_prefetch_backoff_ms: int = Field(default=5000, ge=100, le=60_000)
    # How often a consumer's background fetch routine wakes with nothing to do (aiokafka's
    # `consumer_timeout_ms`, 200 by default): a fetch's answer, a record taken, a
    # rebalance, a metadata update or a partition's backoff wake it anyway, so this is
    # only the idle tick's rate, five a second per consumer at aiokafka's default.
    kafka_consumer_timeout_ms: int = Field(default=1000, ge=10, le=10_000)
    # After a poll that brought records, a batch consumer polls again no sooner than this
    # (aduan_kit.batching): what arrives meanwhile shares one fetch, one transaction and
    # one relay pass. It adds at most this much to a record's latency per hop, and only
    # while records keep coming. 0: poll again at once.
    kafka_poll_pace_ms: int = Field(default=0, ge=0, le=1_000)

    # A consumer with records waiting whose position has not moved for this long, while
    # PostgreSQL, Redis and Kafka all answer, is stuck (aduan_kit.consumers): restarted in
    # place, then reported on /livez. Checked every `kafka_check_interval_s`.
    kafka_stuck_after_s: float = Field(default=30.0, ge=1.0)
    kafka_check_interval_s: float = Field(default=10.0, gt=0.0)

    database_url: str = "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/aduan"
    # Connections are opened on demand, so an idle service holds few. Kept (not overflow)
    # up to this many: under a burst, overflow connections are opened and closed per use,
    # and the profile at 60 reports/s found intake paying for connects (TLS attempt, auth).
    database_pool_size: int = 20
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = ""

    # A safety net only: commits through the runtime's sessions wake the relay at once
    # (messaging.py); the poll picks up rows committed elsewhere (another replica, a CLI).
    # 0.05 s here cost each idle service ~20 transactions a second.
    outbox_poll_interval_s: float = 1.0
    # After a commit wakes the relay it waits this long, so the commits of the next few
    # milliseconds leave in the same pass (issue 18); it adds as much to each hop.
    outbox_coalesce_ms: int = Field(default=4, ge=0, le=1000)
    shutdown_grace_s: float = 10.0
    # Connections (idle keep-alive ones included) and requests in progress, at most; beyond
    # either the service answers 503 at once (providers and apps retry) instead of queueing
    # until every caller times out. Raise it behind an ingress with large keep-alive pools.
    http_limit_concurrency: int = Field(default=1024, ge=1)
    # How long an idle keep-alive connection stays open. uvicorn's 5 s default closes it
    # while a client (an app's pool, an ingress, the bench's generator) may be reusing it:
    # that request gets a reset instead of an answer. Longer than the usual 60 s idle
    # timeout of load balancers and client pools, so the client always closes first.
    http_keep_alive_s: int = Field(default=75, ge=1)
    # HTTP worker processes on one port (uvicorn's supervisor; only for a service whose
    # entry point passes a factory to `serve`). One per container: in Kubernetes scale
    # with replicas. More on a single host lets a service's reads use every core; each
    # worker has its own pool and /metrics counters (the gateway lets one of them consume:
    # aduan_gateway.bootstrap.create_app).
    http_workers: int = Field(default=1, ge=1, le=16)
    # How long uvicorn's supervisor waits for a worker to answer its health ping (every
    # 0.5 s) before it kills the worker and starts another. A worker answers only once its
    # interpreter has imported the service, which took 4.5-5.8 s on a slow two-core host:
    # with uvicorn's 5 s a dead worker's replacement was killed before it could answer, and
    # the next, and so on (found by tests/e2e/test_gateway_workers.py). A hung worker is
    # still replaced, after this long.
    http_worker_timeout_s: int = Field(default=60, ge=5)

    @model_validator(mode="after")
    def _defaults_from_name(self) -> ServiceSettings:
        if not self.consumer_group:
            self.consumer_group = (
                f"{self.topic_namespace + '.' if self.topic_namespace else ''}{self.service_name}"
            )
        if not self.redis_prefix:
            self.redis_prefix = f"aduan:{self.service_name}:"
        if self.environment == "production" and "postgres:postgres@" in self.database_url:
            raise ValueError("refusing the development database password in production")
        return self
