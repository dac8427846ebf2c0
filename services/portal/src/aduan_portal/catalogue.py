"""The portal's copy of the one category catalogue (the gateway's, read from the compacted
topic gateway.categories.v1 into the portal's table `category_catalogue`; aduan_kit.catalogue).

The filing form offers the ACTIVE categories only (a citizen picks a code or "other"; free
text never becomes a category); the public list's filters, the report page and the
statistics name every category, retired ones included, so old reports keep their names.
Read from the portal's own database (a handful of rows, kept for `_TTL_S` so a busy list
page does not ask for them on every request): a gateway that is down or slow changes
nothing here, and a restart during a broker outage keeps the copy."""

from __future__ import annotations

import time

from sqlalchemy.exc import SQLAlchemyError

from aduan_contracts.events import CategoryPublished
from aduan_kit.catalogue import load_catalogue, subscribe_catalogue
from aduan_kit.logging import get_logger
from aduan_kit.runtime import ServiceRuntime
from aduan_portal.tables import CATALOGUE

__all__ = ["PortalCatalogue", "register_catalogue"]

log = get_logger(__name__)

# A change in the console shows on the public pages within this long (plus the topic's
# own delay, well under a second).
_TTL_S = 2.0


def register_catalogue(runtime: ServiceRuntime) -> None:
    subscribe_catalogue(
        runtime,
        CATALOGUE,
        title="portal.on-category",
        description="Keeps the portal's copy of the category catalogue (filing form, filters, "
        "names); every replica reads the whole compacted topic, no consumer group.",
    )


class PortalCatalogue:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime
        self._cached: tuple[float, list[CategoryPublished]] | None = None

    async def records(self) -> list[CategoryPublished]:
        """Every category the portal knows, retired included; empty when its database
        cannot be read (pages then show codes rather than fail; not cached)."""
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < _TTL_S:
            return self._cached[1]
        try:
            async with self._runtime.sessions() as session:
                records = await load_catalogue(session, CATALOGUE)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("category catalogue unreadable", error=type(exc).__name__)
            return []
        self._cached = (now, records)
        return records

    async def names(self, language: str) -> dict[str, str]:
        """Names by code in `language` ("id" or "en"), retired categories included."""
        return {
            c.code: (c.name_en if language == "en" else c.name_id) for c in await self.records()
        }

    async def choices(self, language: str) -> list[tuple[str, str]]:
        """(code, name) of the active categories, by name: the filing form's options."""
        active = [c for c in await self.records() if c.active]
        named = [(c.code, c.name_en if language == "en" else c.name_id) for c in active]
        return sorted(named, key=lambda item: item[1].casefold())
