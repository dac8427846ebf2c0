"""What the chaos runner owns so that its faults never touch the shared infrastructure:

- `TcpProxy`: a small asyncio TCP forwarder in front of the broker. This machine has no
  netem; closing every connection and black-holing new ones is how "the broker is
  unreachable" is simulated.
- `ChaosBroker`: a second single-node Kafka (same jars as deploy/scripts/kafka.sh) with its
  own data directory and ports, whose listener is *advertised as the proxy's address*.
  Kafka clients connect to whatever the broker advertises, so a proxy in front of the
  shared broker (advertising 9092) would be bypassed after the first metadata request;
  with this broker every client connection goes through the proxy. Killing and restarting
  it disturbs nobody else.
- `ChaosPostgres`: a throwaway PostgreSQL cluster (initdb in a temporary directory, run as
  the `postgres` OS user, trust auth on 127.0.0.1 only) that can be stopped immediately
  and restarted without stopping the PostgreSQL other engineers and tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from aduan_testing.helpers import free_port
from aduan_testing.infra import repo_root

__all__ = ["ChaosBroker", "ChaosPostgres", "TcpProxy"]


class TcpProxy:
    """127.0.0.1:`port` → `target`. `cut()` drops every open connection and black-holes
    new ones (accepted, never answered) until `restore()`."""

    def __init__(self, target_port: int, port: int | None = None) -> None:
        self.port = port or free_port()
        self.target_port = target_port
        self.cut_off = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            self._drop_all()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    def cut(self) -> None:
        self.cut_off = True
        self._drop_all()

    def restore(self) -> None:
        self.cut_off = False
        self._drop_all()  # black-holed connections are closed so clients reconnect

    def _drop_all(self) -> None:
        for w in list(self._writers):
            with contextlib.suppress(Exception):
                w.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self.cut_off:
            return  # black hole: held open, never forwarded, aborted on restore()
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            self._writers.discard(writer)
            return
        self.connections += 1
        self._writers.add(up_writer)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if self.cut_off:
                        break
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.discard(writer)
        self._writers.discard(up_writer)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class ChaosBroker:
    """A single KRaft node on its own ports and data directory, advertised as the proxy."""

    def __init__(self, workdir: Path, advertised_port: int, heap: str = "-Xms128m -Xmx512m"):
        self.dir = workdir / "kafka"
        self.port = free_port()
        self.controller_port = free_port()
        self.advertised_port = advertised_port
        self.heap = heap
        self.libs = repo_root() / "deploy" / "kafka" / "target" / "libs"
        self.log4j = repo_root() / "deploy" / "kafka" / "log4j2.properties"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def properties(self) -> Path:
        return self.dir / "server.properties"

    def _write(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.properties.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    # Clients are sent to the proxy: every connection passes through it.
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.advertised_port}",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={self.dir / 'data'}",
                    "default.replication.factor=1",
                    "min.insync.replicas=1",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "offsets.topic.num.partitions=3",
                    "transaction.state.log.num.partitions=3",
                    "share.coordinator.state.topic.num.partitions=3",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "num.partitions=3",
                    "",
                ]
            )
        )

    def _java(self, *args: str) -> list[str]:
        tmp = self.dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return [
            "java",
            *self.heap.split(),
            # The GC flags, or what ADUAN_KAFKA_JVM_OPTS puts in their place (a bench that
            # tries other flags; deploy/scripts/kafka.sh has more of its own and ignores it).
            *os.environ.get("ADUAN_KAFKA_JVM_OPTS", "-XX:+UseG1GC -XX:MaxGCPauseMillis=20").split(),
            "-Djava.awt.headless=true",
            f"-Djava.io.tmpdir={tmp}",
            f"-Dlog4j2.configurationFile={self.log4j}",
            f"-Dkafka.logs.dir={self.dir}",
            "-cp",
            f"{self.libs}/*",
            *args,
        ]

    def format(self) -> None:
        if not list(self.libs.glob("kafka_2.13-*.jar")):
            # This checkout has not started Kafka itself (another checkout's broker may be
            # the one on 9092): fetch the classpath (Maven's ~/.m2 cache is shared).
            subprocess.run(
                [str(repo_root() / "deploy" / "scripts" / "kafka.sh"), "libs"],
                check=True,
                timeout=900,
            )
        self._write()
        subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                "QWR1YW4tY2hhb3MtMDAwMA",
                "-c",
                str(self.properties),
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )

    async def start(self, timeout: float = 120.0) -> float:
        """Seconds until the client port answers."""
        started = time.monotonic()
        with (self.dir / "stdout.log").open("ab") as out:
            self.proc = subprocess.Popen(
                self._java("kafka.Kafka", str(self.properties)),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while not _port_open(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"chaos broker exited ({self.proc.returncode}); see {self.dir}")
            if time.monotonic() - started > timeout:
                raise RuntimeError("chaos broker did not open its port in time")
            await asyncio.sleep(0.25)
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    return found[-1].parent


class ChaosPostgres:
    """A throwaway cluster on a free port; `stop_immediately()` is `pg_ctl -m immediate`
    (no checkpoint: crash recovery on the next start, as after a power cut)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="aduan-chaos-pg-"))
        self.data = self.dir / "data"
        self.bindir = _bindir()

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres:postgres@127.0.0.1:{self.port}/postgres"

    def _as_pg(self, *cmd: str, timeout: float = 120) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=timeout, cwd="/")

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._as_pg(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth-host=trust",
            "--auth-local=trust",
            "--no-sync",
        )
        conf = self.data / "postgresql.conf"
        with conf.open("a") as f:
            f.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.dir}'\nmax_connections = 200\n"
                "shared_buffers = 128MB\n"
            )

    def start(self) -> float:
        started = time.monotonic()
        self._as_pg(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "server.log"),
            "-w",
            "-t",
            "120",
            "start",
        )
        return time.monotonic() - started

    def stop_immediately(self) -> None:
        self._as_pg(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._as_pg(
                str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"
            )

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
