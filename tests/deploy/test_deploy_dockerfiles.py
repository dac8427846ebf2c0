"""The container images' recipes (deploy/docker/*.Dockerfile), checked without a Docker engine.

Each Dockerfile is parsed (dockerfile-parse) and held against the workspace it builds: the
package it installs exists, the module it runs has a `__main__`, the ports it exposes are the
service's own defaults, it runs as a numeric non-root user, its health check really fails on
a 503 and passes on a 200, and hadolint finds nothing. A renamed package, a moved port or a
new service without an image breaks a test here.
"""

from __future__ import annotations

import http.server
import importlib
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "deploy" / "docker"
BASE_IMAGE = "python:3.11-slim"
# What a container must listen on (the services' default, 127.0.0.1, is for a laptop).
ALL_INTERFACES = "0.0.0.0"  # noqa: S104


@dataclass(frozen=True)
class Service:
    name: str  # the Settings' service_name: image, Deployment and Dockerfile name
    package: str  # the workspace project, e.g. aduan-intake
    module: str  # the import package, e.g. aduan_intake
    directory: Path  # services/<dir>
    settings: Any  # the service's Settings class


def _project(pyproject: Path) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads(pyproject.read_text())
    return data


def workspace_services() -> list[Service]:
    services = []
    for pyproject in sorted((ROOT / "services").glob("*/pyproject.toml")):
        data = _project(pyproject)
        (package_dir,) = data["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
        module = Path(package_dir).name
        settings = importlib.import_module(f"{module}.config").Settings
        name = settings.model_fields["service_name"].default
        services.append(Service(name, data["project"]["name"], module, pyproject.parent, settings))
    return services


SERVICES = workspace_services()


def workspace_members() -> dict[str, Path]:
    """Project name -> member directory, for every member of the uv workspace."""
    root = _project(ROOT / "pyproject.toml")
    members: dict[str, Path] = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for directory in sorted(ROOT.glob(pattern)):
            if (directory / "pyproject.toml").exists():
                members[_project(directory / "pyproject.toml")["project"]["name"]] = directory
    return members


def workspace_closure(package: str) -> set[str]:
    """The workspace members a package needs at runtime (itself included)."""
    members = workspace_members()
    seen: set[str] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        deps = _project(members[name] / "pyproject.toml")["project"].get("dependencies", [])
        for dep in deps:
            dep_name = re.split(r"[\s<>=!~\[;]", dep, maxsplit=1)[0]
            if dep_name in members:
                todo.append(dep_name)
    return seen


@dataclass
class Stage:
    base: str
    alias: str | None
    instructions: list[tuple[str, str]]

    def values(self, instruction: str) -> list[str]:
        return [value for name, value in self.instructions if name == instruction]


def stages(dockerfile: Path) -> list[Stage]:
    parser = DockerfileParser(str(dockerfile))
    result: list[Stage] = []
    for item in parser.structure:
        instruction, value = item["instruction"], item["value"]
        if instruction == "FROM":
            parts = value.split()
            alias = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            result.append(Stage(parts[0], alias, []))
        elif instruction != "COMMENT":
            assert result, f"{dockerfile.name}: {instruction} before FROM"
            result[-1].instructions.append((instruction, value))
    return result


def final_envs(dockerfile: Path) -> dict[str, str]:
    return dict(DockerfileParser(str(dockerfile)).envs)


def dockerfile_of(service: Service) -> Path:
    return DOCKER / f"{service.name}.Dockerfile"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment: a developer's ADUAN_* must not change the defaults."""
    import os

    for key in list(os.environ):
        if key.startswith("ADUAN_"):
            monkeypatch.delenv(key)


def expected_ports(service: Service) -> set[int]:
    # Development defaults are the production ones minus the secrets' refusals; only
    # ENVIRONMENT=test moves intake's SMTP listener to an ephemeral port.
    settings = service.settings(environment="development")
    ports = {settings.port}
    # Intake also listens for e-mail.
    if hasattr(settings, "smtp_bind_port"):
        ports.add(settings.smtp_bind_port)
    return ports


def test_every_service_has_an_image() -> None:
    assert {s.name for s in SERVICES} == {"intake", "workflow", "gateway", "notifier", "portal"}
    have = {p.name.removesuffix(".Dockerfile") for p in DOCKER.glob("*.Dockerfile")}
    assert have == {s.name for s in SERVICES}


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_build_stage_installs_only_the_package_from_the_lock(service: Service) -> None:
    build, runtime = stages(dockerfile_of(service))
    assert build.base == BASE_IMAGE and build.alias == "build"
    assert runtime.base == BASE_IMAGE and runtime.alias is None
    makefile_uv = re.search(r"^UV_VERSION \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert makefile_uv, "the Makefile pins uv"
    assert f"pip install --no-cache-dir uv=={makefile_uv.group(1)}" in build.values("RUN")
    syncs = [shlex.split(run) for run in build.values("RUN") if "uv sync" in run]
    assert len(syncs) == 1
    sync = syncs[0]
    # --frozen: the lock is installed as it is; --no-dev: no pytest/mypy in the image.
    for flag in ("--frozen", "--no-dev"):
        assert flag in sync
    assert sync[sync.index("--package") + 1] == service.package
    assert service.package in workspace_members()
    # The workspace (every member's pyproject.toml) and the lock are in the build context.
    copies = {tuple(c.split()) for c in build.values("COPY")}
    assert ("pyproject.toml", "uv.lock", "./") in copies
    assert ("libs/", "libs/") in copies and ("services/", "services/") in copies


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_runtime_stage_carries_the_venv_and_the_sources_it_imports(service: Service) -> None:
    _, runtime = stages(dockerfile_of(service))
    members = workspace_members()
    copied = set()
    for value in runtime.values("COPY"):
        parts = value.split()
        assert parts[0] == "--from=build", f"runtime COPY not from the build stage: {value}"
        source, target = parts[1], parts[2]
        assert source == target, "editable installs point at the build stage's paths"
        copied.add(source)
    wanted = {"/app/.venv"} | {
        f"/app/{members[name].relative_to(ROOT)}/src" for name in workspace_closure(service.package)
    }
    assert copied == wanted
    assert "aduan-testing" not in workspace_closure(service.package)


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_runs_the_service_module(service: Service) -> None:
    _, runtime = stages(dockerfile_of(service))
    (cmd,) = runtime.values("CMD")
    assert json.loads(cmd) == ["python", "-m", service.module]
    assert importlib.util.find_spec(f"{service.module}.__main__") is not None
    assert (service.directory / "src" / service.module / "__main__.py").exists()


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_exposes_the_service_ports(service: Service, clean_env: None) -> None:
    _, runtime = stages(dockerfile_of(service))
    exposed = {int(port) for value in runtime.values("EXPOSE") for port in value.split()}
    assert exposed == expected_ports(service)


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_runs_as_a_numeric_non_root_user(service: Service) -> None:
    _, runtime = stages(dockerfile_of(service))
    users = runtime.values("USER")
    assert users, "no USER: the container would run as root"
    uid, _, gid = users[-1].partition(":")
    # Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
    assert uid.isdigit() and int(uid) != 0
    assert gid.isdigit() and int(gid) != 0
    # ... and the user exists in the image (the last instruction that sets the user wins).
    assert any(f"--uid {uid}" in run for run in runtime.values("RUN"))
    index = [name for name, _ in runtime.instructions].index("USER")
    assert "USER" not in [name for name, _ in runtime.instructions[index + 1 :]]


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_environment_names_are_settings_of_the_service(service: Service) -> None:
    prefix = service.settings.model_config["env_prefix"]
    envs = final_envs(dockerfile_of(service))
    ours = {k.removeprefix(prefix).lower(): v for k, v in envs.items() if k.startswith("ADUAN_")}
    assert all(k.startswith(prefix) for k in envs if k.startswith("ADUAN_"))
    assert set(ours) <= set(service.settings.model_fields)
    # The code's defaults are for a laptop (127.0.0.1): a container must listen outside.
    assert ours["host"] == ALL_INTERFACES
    assert ours["environment"] == "production"
    if "smtp_host" in service.settings.model_fields and service.name == "intake":
        assert ours["smtp_host"] == ALL_INTERFACES
    if "blob_root" in service.settings.model_fields:
        assert ours["blob_root"] == "/data/blobs"


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[int, type[_Health]]]:
    handler = type("Handler", (_Health,), {"status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_healthcheck_passes_on_200_and_fails_on_503(
    service: Service, health_server: tuple[int, type[_Health]], clean_env: None
) -> None:
    _, runtime = stages(dockerfile_of(service))
    (check,) = runtime.values("HEALTHCHECK")
    command = json.loads(check[check.index("CMD") + 3 :].strip())
    assert command[0] == "python" and "/health" in command[-1]
    prefix = service.settings.model_config["env_prefix"]
    port_default = service.settings.model_fields["port"].default
    assert f"os.environ.get('{prefix}PORT', '{port_default}')" in command[-1]
    port, handler = health_server
    argv = [sys.executable, *command[1:]]
    env = {f"{prefix}PORT": str(port), "PATH": "/usr/bin:/bin"}
    handler.status = 200
    assert subprocess.run(argv, env=env, capture_output=True, timeout=20).returncode == 0
    handler.status = 503
    assert subprocess.run(argv, env=env, capture_output=True, timeout=20).returncode != 0


def test_portal_image_fetches_the_map_assets() -> None:
    build, _ = stages(DOCKER / "portal.Dockerfile")
    runs = build.values("RUN")
    assert "bash deploy/scripts/assets.sh" in runs
    assert (ROOT / "deploy" / "scripts" / "assets.sh").exists()
    names = [f"{n} {v}" for n, v in build.instructions]
    # After the sources are in place (the script writes into the portal's static folder).
    assert names.index("RUN bash deploy/scripts/assets.sh") > names.index(
        "COPY services/ services/"
    )


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    files = sorted(str(p) for p in DOCKER.glob("*.Dockerfile"))
    result = subprocess.run(
        [hadolint, "--no-color", *files], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _replay() -> Any:
    """deploy/docker/replay.py: its .dockerignore matcher is the one the replay uses."""
    spec = importlib.util.spec_from_file_location("aduan_deploy_replay", DOCKER / "replay.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dockerignore_keeps_what_the_builds_copy_and_nothing_local() -> None:
    replay = _replay()
    patterns = replay.dockerignore_patterns()
    needed = {"pyproject.toml", "uv.lock", "deploy/scripts/assets.sh", "deploy/scripts/lib.sh"}
    for service in SERVICES:
        for member in workspace_closure(service.package):
            directory = workspace_members()[member].relative_to(ROOT)
            needed.add(f"{directory}/pyproject.toml")
            src = next((ROOT / directory / "src").iterdir())
            needed.add(f"{directory}/src/{src.name}/__init__.py")
    for path in sorted(needed):
        assert not replay.dockerignored(path, patterns), f"{path} must be in the build context"
    for local in (
        ".venv/bin/python",
        ".run/blobs/x",
        ".git/HEAD",
        "libs/kit/src/aduan_kit/__pycache__/x.pyc",
        "services/portal/src/aduan_portal/static/vendor/leaflet/leaflet.js",
        "deploy/kafka/target/libs/kafka.jar",
    ):
        assert replay.dockerignored(local, patterns), f"{local} must stay out of the build context"
