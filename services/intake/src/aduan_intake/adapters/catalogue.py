"""Intake's copy of the category catalogue (owned by the privacy gateway, read from the
compacted topic gateway.categories.v1; aduan_kit.catalogue) and the one normalization rule
every channel follows:

- a structured channel (web form, citizen app, staff entry, Open311) names a category by
  code; it must be an ACTIVE catalogue code, else the filing is refused (422 naming the valid
  codes; Open311 answers in its own error format). A form never turns free text into a new
  category, and a retired category takes no new reports;
- a free-text channel (SMS, WhatsApp, e-mail, X, Messenger, Instagram) never sets a
  category: the citizen's words stay in the text and the ticket-admin triages it;
- the LAPOR! sync keeps LAPOR!'s `kategori` only when it is an active catalogue code.

The in-memory `Catalogue` (`ChannelContext.catalogue`) answers on the request path without
I/O; it is warmed from intake's table `category_catalogue` at start-up (so a restart during
a broker outage still knows every category) and kept current by the topic consumer."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from aduan_intake.adapters.tables import CATALOGUE
from aduan_intake.domain import InvalidField
from aduan_kit.catalogue import Catalogue, CategoryRefused, subscribe_catalogue, warm
from aduan_kit.logging import get_logger
from aduan_kit.runtime import ServiceRuntime

__all__ = [
    "CatalogueWarmup",
    "CategoryItem",
    "catalogue_router",
    "checked_category",
    "known_category",
    "register_catalogue",
]

log = get_logger(__name__)


def checked_category(catalogue: Catalogue, code: str | None, field: str = "category") -> str | None:
    """A structured channel's category: None stays None (the ticket-admin triages it); a
    code must be active in the catalogue, else `InvalidField` naming the valid codes."""
    if code is None:
        return None
    code = code.strip()
    if not code:
        return None
    try:
        return catalogue.require_active(code).code
    except CategoryRefused as exc:
        raise InvalidField(field, exc.reason) from None


def known_category(catalogue: Catalogue, value: str | None) -> str | None:
    """For channels whose category comes from another system (LAPOR!): kept only when it
    is an active catalogue code, else dropped for triage (never refused: the report is
    the citizen's, the label is not)."""
    if not value:
        return None
    found = catalogue.get(value.strip())
    return found.code if found is not None and found.active else None


def register_catalogue(runtime: ServiceRuntime, catalogue: Catalogue) -> None:
    subscribe_catalogue(
        runtime,
        CATALOGUE,
        catalogue=catalogue,
        title="intake.on-category",
        description="Keeps intake's copy of the category catalogue (which codes a structured "
        "channel may file under); every replica reads the whole compacted topic, no group.",
    )


class CatalogueWarmup:
    """Loads the stored copy into memory when intake starts (a background part: it runs
    once the database is migrated; the topic consumer then brings it up to date)."""

    def __init__(self, runtime: ServiceRuntime, catalogue: Catalogue) -> None:
        self._runtime = runtime
        self._catalogue = catalogue

    async def start(self) -> None:
        count = await warm(self._runtime, CATALOGUE, self._catalogue)
        log.info("category catalogue warmed from the local copy", count=count)

    async def stop(self) -> None:
        return None


class CategoryItem(BaseModel):
    """An active category as a filing client sees it."""

    code: str
    name_id: str
    name_en: str
    description_id: str
    description_en: str
    group: str | None
    keywords: tuple[str, ...]


def catalogue_router(catalogue: Catalogue) -> APIRouter:
    api = APIRouter(tags=["categories"])

    @api.get("/v1/categories", response_model=list[CategoryItem])
    async def categories() -> list[CategoryItem]:
        """The codes a report may be filed under (the active catalogue, by group): what the
        citizen app's and a partner's category picker offers. Retired categories are not
        listed; a filing naming one is refused with the valid codes."""
        return [
            CategoryItem(
                code=c.code,
                name_id=c.name_id,
                name_en=c.name_en,
                description_id=c.description_id,
                description_en=c.description_en,
                group=c.group,
                keywords=c.keywords,
            )
            for c in catalogue.active()
        ]

    return api
