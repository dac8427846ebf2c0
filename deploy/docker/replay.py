"""Replay a service's Dockerfile without a Docker engine, then start what it would contain.

    uv run python deploy/docker/replay.py [SERVICE ...]     # default: all five

For each service: copy the build context (the repository less `.dockerignore`) into a
scratch `app/`, run the build stage's `uv sync` (and the portal's asset script) there, keep
ONLY the paths the runtime stage copies `--from=build`, and start the image's CMD from them
with the image's ENV, on the local Kafka, PostgreSQL and Redis (`deploy/scripts/infra.sh
up`), in a private topic namespace and database that are dropped afterwards. It passes when
`/health` answers 200, the image's HEALTHCHECK command exits 0, and no other service or
test/lint package is importable. The host's Python and uv stand in for the image's, and
RUN steps that need the image's OS (pip, apt-get, useradd) are not replayed: this checks the
layout and the command, not the base image. Run as root, it starts the service as the image's
USER (setpriv) over files it cannot write, as the Pod's read-only root filesystem would.
Overrides: KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL (a server URL; the database name is
replaced) and REDIS_URL.
"""

# It runs the commands written in the repository's own Dockerfiles; that is its purpose.
# ruff: noqa: S603

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "deploy" / "docker"
SERVICES = ["gateway", "intake", "workflow", "notifier", "portal"]
MODULES = {s: f"aduan_{s}" for s in SERVICES}
SYSTEM_PYTHON = "/usr/bin/python3.11"
NOT_IN_AN_IMAGE = ["aduan_testing", "pytest", "mypy", "ruff", *MODULES.values()]


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parents wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern.removeprefix("!")
        if glob.startswith("**/"):
            hit = any(fnmatch.fnmatch(part, glob[3:]) for part in parts)
        else:
            hit = any(fnmatch.fnmatch(c, glob) for c in candidates)
        if hit:
            ignored = not negate
    return ignored


def copy_context(target: Path) -> None:
    patterns = dockerignore_patterns()
    for directory, subdirs, files in os.walk(ROOT):
        rel = Path(directory).relative_to(ROOT)
        # Descend into an ignored folder only if a later "!" pattern may take a file back.
        subdirs[:] = [
            d
            for d in subdirs
            if not dockerignored(str(rel / d), patterns)
            or any(p.startswith(f"!{rel / d}/") for p in patterns)
        ]
        for name in files:
            path = rel / name
            if not dockerignored(str(path), patterns):
                (target / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / path, target / path)


def stages(dockerfile: Path) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for item in DockerfileParser(str(dockerfile)).structure:
        if item["instruction"] == "FROM":
            result.append([])
        elif item["instruction"] != "COMMENT":
            result[-1].append((item["instruction"], item["value"]))
    return result


def as_image_user(runtime: list[tuple[str, str]]) -> tuple[int, int] | None:
    """The runtime stage's numeric USER, when this process can become it (root, setpriv)."""
    users = [v for i, v in runtime if i == "USER"]
    if not users or os.geteuid() != 0 or not shutil.which("setpriv"):
        return None
    uid, _, gid = users[-1].partition(":")
    return int(uid), int(gid or uid)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def replay(service: str, scratch: Path, namespace: str) -> dict[str, Any]:
    dockerfile = DOCKER / f"{service}.Dockerfile"
    build, runtime = stages(dockerfile)
    app = scratch / "app"
    copy_context(app)
    started = time.monotonic()
    uv_env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    uv_env.update(UV_COMPILE_BYTECODE="1", UV_LINK_MODE="copy", UV_PYTHON_DOWNLOADS="never")
    user = as_image_user(runtime)
    if user and Path(SYSTEM_PYTHON).exists():
        # The image's user must be able to run the interpreter the venv links to; a Python
        # under /root (pyenv) is out of its reach, the system one is not.
        uv_env["UV_PYTHON"] = SYSTEM_PYTHON
    for instruction, value in build:
        words = shlex.split(value) if instruction == "RUN" else []
        if "uv" in words and "sync" in words:
            argv = [w for w in words if not w.startswith("--mount=")]
            subprocess.run(argv, cwd=app, env=uv_env, check=True, capture_output=True)
        elif words[:2] == ["bash", "deploy/scripts/assets.sh"]:
            subprocess.run(words, cwd=app, check=True, capture_output=True)
    build_s = time.monotonic() - started
    # The runtime stage: only what it copies from the build stage, at the same paths.
    built = scratch / "app.build"
    app.rename(built)
    for instruction, value in runtime:
        if instruction == "COPY":
            flag, source, dest = value.split()
            assert flag == "--from=build", value
            shutil.copytree(
                built / Path(source).relative_to("/app"),
                app / Path(dest).relative_to("/app"),
                symlinks=True,
            )
    image_env = {
        k: v.replace("/app", str(app)) for k, v in DockerfileParser(str(dockerfile)).envs.items()
    }
    # dockerfile-parse expands the base image's ${PATH} to nothing: append the host's.
    image_env["PATH"] = image_env.get("PATH", "").rstrip(":") + ":" + os.environ["PATH"]
    prefix = f"ADUAN_{service.upper()}_"
    port = free_port()
    server = os.environ.get(
        "DATABASE_URL", "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/postgres"
    ).rsplit("/", 1)[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADUAN_", "UV_", "VIRTUAL"))}
    env.update(image_env)
    env.update(
        {
            # The local database user has the development password, which production
            # refuses; development also creates the topics (the Job's work in a cluster).
            f"{prefix}ENVIRONMENT": "development",
            f"{prefix}PORT": str(port),
            f"{prefix}TOPIC_NAMESPACE": namespace,
            f"{prefix}DATABASE_URL": f"{server}/{namespace}_{service}",
            f"{prefix}KAFKA_BOOTSTRAP_SERVERS": os.environ.get(
                "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"
            ),
            f"{prefix}REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            f"{prefix}REDIS_PREFIX": f"{namespace}:{service}:",
        }
    )
    if f"{prefix}BLOB_ROOT" in env:
        # The volume of the Pod: the only place besides /tmp the service may write.
        blobs = scratch / "blobs"
        blobs.mkdir()
        if user:
            os.chown(blobs, *user)
        env[f"{prefix}BLOB_ROOT"] = str(blobs)
    env["HOME"] = "/nonexistent"
    if service == "intake":
        env[f"{prefix}SMTP_PORT"] = "0"  # 2525 may be taken by a `make up` intake
    (cmd,) = [json.loads(v) for i, v in runtime if i == "CMD"]
    if user:
        # As the image's USER: the files are root's and not writable by it, as in the Pod
        # (readOnlyRootFilesystem); only /tmp (an emptyDir there) and the blob volume are.
        scratch.chmod(0o755)
        cmd = [
            shutil.which("setpriv") or "setpriv",
            f"--reuid={user[0]}",
            f"--regid={user[1]}",
            "--clear-groups",
            *cmd,
        ]
    (check,) = [v for i, v in runtime if i == "HEALTHCHECK"]
    healthcheck = json.loads(check[check.index("CMD") + 3 :].strip())
    log = scratch / f"{service}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd="/", env=env, stdout=out, stderr=subprocess.STDOUT)
    healthy = False
    try:
        deadline = time.monotonic() + 120
        while not healthy and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3):
                    healthy = True
            except OSError:
                time.sleep(1)
        check_rc = subprocess.run(healthcheck, env=env, cwd="/", check=False).returncode
    finally:
        proc.terminate()
        proc.wait(30)
    probe = (
        "import importlib.util as u, json, sys; "
        f"print(json.dumps([m for m in {NOT_IN_AN_IMAGE!r} if u.find_spec(m)]))"
    )
    found = json.loads(
        subprocess.run(
            [str(app / ".venv" / "bin" / "python"), "-c", probe],
            env=env,
            cwd="/",
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    extra = sorted(set(found) - {MODULES[service]})
    size = sum(f.stat().st_size for f in app.rglob("*") if f.is_file() and not f.is_symlink())
    result = {
        "service": service,
        "build_s": round(build_s, 1),
        "runtime_mib": round(size / 2**20),
        "health_200": healthy,
        "as_user": f"{user[0]}:{user[1]}" if user else "current",
        "healthcheck_exit": check_rc,
        "unexpected_modules": extra,
        "ok": healthy and check_rc == 0 and not extra and MODULES[service] in found,
    }
    if not result["ok"]:
        print(log.read_text()[-3000:], file=sys.stderr)
    return result


async def cleanup(namespace: str, services: list[str]) -> None:
    import asyncpg

    from aduan_kit.messaging import delete_namespace_topics

    await delete_namespace_topics(
        os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"), namespace
    )
    server = os.environ.get(
        "DATABASE_URL", "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/postgres"
    ).replace("+asyncpg", "")
    conn = await asyncpg.connect(server)
    try:
        for service in services:
            await conn.execute(f'DROP DATABASE IF EXISTS "{namespace}_{service}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="*", metavar="SERVICE", help=", ".join(SERVICES))
    args = parser.parse_args()
    services = args.services or SERVICES
    unknown = set(services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown service(s): {', '.join(sorted(unknown))}")
    namespace = f"replay{os.getpid()}"
    results = []
    try:
        for service in services:
            with tempfile.TemporaryDirectory(prefix=f"aduan-replay-{service}-") as scratch:
                results.append(replay(service, Path(scratch), namespace))
                print(json.dumps(results[-1]), flush=True)
    finally:
        asyncio.run(cleanup(namespace, services))
    passed = sum(r["ok"] for r in results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(services) else 1


if __name__ == "__main__":
    sys.exit(main())
