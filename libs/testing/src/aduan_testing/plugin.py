"""Pytest plugin (loaded with `-p aduan_testing.plugin`): real-infrastructure fixtures and
the CI guard that fails a run in which the real-service layer did not run.

Fixtures give each test its own database, topic namespace and Redis prefix, so tests share
one broker/server without seeing each other's data.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import make_url

from aduan_kit.messaging import delete_namespace_topics, ensure_topics
from aduan_testing.infra import Infra

REAL_MARKERS = ("integration", "e2e")
TEST_PARTITIONS = 2


@dataclass(frozen=True)
class Isolation:
    """What one test owns on the shared real services."""

    namespace: str
    database_url: str
    redis_prefix: str
    kafka: str
    redis_url: str

    def database(self, service: str) -> str:
        """A separate database per service, as in production (same test suffix)."""
        url = make_url(self.database_url)
        return url.set(database=f"{url.database}_{service}").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """Real Kafka, PostgreSQL and Redis for the session (see aduan_testing.infra)."""
    got = Infra.obtain()
    yield got
    got.close()


async def _drop_databases(admin_url: str, prefix: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        names = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", prefix + "%"
        )
        for row in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def isolation(infra: Infra) -> AsyncIterator[Isolation]:
    """A unique topic namespace (topics created), database name and Redis prefix, removed
    afterwards. The `isolated` fixture is this per test; a module-scoped fixture (one
    platform shared by a module's tests, as in tests/browser) enters it itself."""
    suffix = uuid.uuid4().hex[:10]
    namespace = f"t{suffix}"
    # Two partitions per topic: enough to catch ordering assumptions across partitions,
    # few enough that a whole suite does not load the single test broker with thousands.
    await ensure_topics(infra.kafka, namespace, max_partitions=TEST_PARTITIONS)
    base = make_url(infra.database_url)
    db_name = f"test_{suffix}"
    iso = Isolation(
        namespace=namespace,
        database_url=base.set(database=db_name).render_as_string(hide_password=False),
        redis_prefix=f"test:{suffix}:",
        kafka=infra.kafka,
        redis_url=infra.redis_url,
    )
    try:
        yield iso
    finally:
        admin = base.set(drivername="postgresql", database="postgres")
        await _drop_databases(admin.render_as_string(hide_password=False), db_name)
        # Best effort (a broker test may have stopped it). Left behind, test partitions pile
        # up across runs until the single local broker runs out of heap and fences itself.
        with contextlib.suppress(Exception):
            await delete_namespace_topics(infra.kafka, namespace)


@pytest_asyncio.fixture
async def isolated(infra: Infra) -> AsyncIterator[Isolation]:
    """A unique topic namespace (topics created), database name and Redis prefix."""
    async with isolation(infra) as iso:
        yield iso


# --- CI guard -------------------------------------------------------------------------------

_counts = {"passed": 0, "skipped": 0, "failed": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not any(m in report.keywords for m in REAL_MARKERS):
        return
    if report.when == "call" and report.passed:
        _counts["passed"] += 1
    elif report.skipped:
        _counts["skipped"] += 1
    elif report.failed:
        _counts["failed"] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With ADUAN_REQUIRE_REAL=1 (CI), a run where real-service tests were skipped or none
    ran is a failure, not a green build."""
    if os.environ.get("ADUAN_REQUIRE_REAL") != "1":
        return
    if session.config.option.collectonly:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    problem = None
    if _counts["skipped"]:
        problem = f"{_counts['skipped']} real-service test(s) were skipped"
    elif _counts["passed"] + _counts["failed"] == 0:
        problem = "no real-service (integration/e2e) test ran"
    if problem:
        if reporter:
            reporter.write_line(f"ADUAN_REQUIRE_REAL: {problem}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter:
        reporter.write_line(
            f"ADUAN_REQUIRE_REAL: {_counts['passed']} real-service tests passed", green=True
        )
