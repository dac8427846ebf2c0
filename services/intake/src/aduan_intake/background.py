"""Intake's runtime: the kit's `ServiceRuntime` plus the parts that are not HTTP routes (the
SMTP listener, the LAPOR! pull) and the outbound HTTP client, started after the database and
Kafka are up and stopped before them."""

from __future__ import annotations

from typing import Protocol

import httpx
from sqlalchemy import Table

from aduan_kit.runtime import ServiceRuntime
from aduan_kit.settings import ServiceSettings

__all__ = ["Background", "IntakeRuntime"]


class Background(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class IntakeRuntime(ServiceRuntime):
    # Intake's one use of Redis, the rate limit, bounds each call itself (adapters/
    # ratelimit.py), as the readiness check does.
    redis_calls_bounded_by_caller = True

    def __init__(
        self, settings: ServiceSettings, migrations: str | None, outbox: Table | None = None
    ) -> None:
        super().__init__(settings, migrations, outbox)
        self.background: list[Background] = []
        self.http: httpx.AsyncClient | None = None

    async def start(self) -> None:
        await super().start()
        started: list[Background] = []
        try:
            for part in self.background:
                await part.start()
                started.append(part)
        except BaseException:
            for part in reversed(started):
                await part.stop()
            await super().stop()
            raise

    async def stop(self) -> None:
        # Stop taking mail and pulling first, so nothing new arrives while the outbox drains.
        for part in reversed(self.background):
            await part.stop()
        if self.http is not None:
            await self.http.aclose()
        await super().stop()
