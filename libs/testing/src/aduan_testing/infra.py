"""Where the real Kafka, PostgreSQL and Redis for tests come from.

Order of preference, per component: an address from the environment
(`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL`, `REDIS_URL`); else testcontainers when a Docker
engine answers; else the project's own native scripts in `deploy/scripts/`. There is no
fake fallback: if none works, the fixture fails with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Infra", "repo_root"]


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "deploy" / "scripts").is_dir() and (parent / "Makefile").exists():
            return parent
    raise RuntimeError("cannot find the Aduan repository root (deploy/scripts, Makefile)")


def _docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return (
            subprocess.run(
                ["docker", "info"], capture_output=True, timeout=10, check=False
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _script(name: str) -> None:
    script = repo_root() / "deploy" / "scripts" / f"{name}.sh"
    result = subprocess.run(
        ["bash", str(script), "start"], capture_output=True, text=True, check=False, timeout=900
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{script} start failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


@dataclass
class Infra:
    """Addresses of the real services for one test session."""

    kafka: str = ""
    database_url: str = ""
    redis_url: str = ""
    source: dict[str, str] = field(default_factory=dict)
    _containers: list[Any] = field(default_factory=list)

    @classmethod
    def obtain(cls) -> Infra:
        infra = cls()
        docker = None

        def use_docker() -> bool:
            nonlocal docker
            if docker is None:
                docker = _docker_answers()
            return docker

        if url := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            infra.kafka, infra.source["kafka"] = url, "environment"
        elif use_docker():
            from testcontainers.community.kafka import KafkaContainer

            kc = KafkaContainer("apache/kafka:4.1.0").with_kraft()
            kc.start()
            infra._containers.append(kc)
            infra.kafka, infra.source["kafka"] = kc.get_bootstrap_server(), "testcontainers"
        else:
            _script("kafka")
            infra.kafka, infra.source["kafka"] = "127.0.0.1:9092", "deploy/scripts/kafka.sh"

        if url := os.environ.get("DATABASE_URL"):
            infra.database_url, infra.source["postgres"] = url, "environment"
        elif use_docker():
            from testcontainers.community.postgres import PostgresContainer

            pc = PostgresContainer("postgres:15", driver="asyncpg")
            pc.start()
            infra._containers.append(pc)
            infra.database_url, infra.source["postgres"] = pc.get_connection_url(), "testcontainers"
        else:
            _script("postgres")
            infra.database_url = "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/postgres"
            infra.source["postgres"] = "deploy/scripts/postgres.sh"

        if url := os.environ.get("REDIS_URL"):
            infra.redis_url, infra.source["redis"] = url, "environment"
        elif use_docker():
            from testcontainers.community.redis import RedisContainer

            rc = RedisContainer("redis:7")
            rc.start()
            infra._containers.append(rc)
            host, port = rc.get_container_host_ip(), rc.get_exposed_port(6379)
            infra.redis_url, infra.source["redis"] = f"redis://{host}:{port}/0", "testcontainers"
        else:
            _script("redis")
            infra.redis_url, infra.source["redis"] = (
                "redis://127.0.0.1:6379/0",
                "deploy/scripts/redis.sh",
            )
        return infra

    def close(self) -> None:
        for c in self._containers:
            c.stop()
