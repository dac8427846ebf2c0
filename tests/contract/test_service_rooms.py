"""Every service has the same rooms (docs/service-conventions.md), and what may import what
is part of them: `domain/` is pure (no I/O library, nothing from the service's other rooms),
`service/` and `adapters/` never reach up into `entrypoints/`, and a use case takes nothing
private from an adapter (what it needs from one is public: a store Protocol, a function).
Read from the source's syntax tree, so a moved import fails here, not in a review."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p for p in (ROOT / "services").glob("*/src/aduan_*") if p.is_dir())

# Libraries that do I/O (database, broker, cache, HTTP): none of them in `domain/`.
IO_LIBRARIES = {
    "aiokafka",
    "asyncpg",
    "fastapi",
    "faststream",
    "httpx",
    "redis",
    "sqlalchemy",
    "starlette",
    "uvicorn",
}


def _imports(path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(module, names imported from it, line) for each import of a file."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [a.name for a in node.names], node.lineno


def _room(package: Path, room: str) -> list[Path]:
    return sorted((package / room).glob("**/*.py"))


def test_every_service_has_the_rooms() -> None:
    assert len(PACKAGES) == 5, PACKAGES
    for package in PACKAGES:
        for room in ("domain", "service", "adapters", "entrypoints"):
            assert (package / room).is_dir(), f"{package.name} has no {room}/"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_domain_is_pure(package: Path) -> None:
    own = package.name
    wrong = []
    for path in _room(package, "domain"):
        for module, _, line in _imports(path):
            top = module.split(".")[0]
            inner = module.split(".")[1] if top == own and "." in module else None
            if top in IO_LIBRARIES or inner in {"adapters", "service", "entrypoints"}:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert wrong == []


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_use_cases_and_adapters_do_not_reach_up(package: Path) -> None:
    own = package.name
    wrong = []
    for room in ("service", "adapters"):
        for path in _room(package, room):
            for module, names, line in _imports(path):
                if module.startswith(f"{own}.entrypoints"):
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
                if room == "service" and module.startswith(f"{own}.adapters"):
                    private = [n for n in names if n.startswith("_")]
                    if private:
                        wrong.append(f"{path.relative_to(ROOT)}:{line} takes {private}")
    assert wrong == []
