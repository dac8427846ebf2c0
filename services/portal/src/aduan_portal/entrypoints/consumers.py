"""The portal's one Kafka consumer: the gateway's public projection -> the read model."""

from __future__ import annotations

from aduan_contracts.events import PublicReportEvent
from aduan_contracts.topics import PUBLIC_REPORTS
from aduan_kit.batching import Route, subscribe_units
from aduan_kit.logging import get_logger
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.uow import UnitOfWork
from aduan_portal.adapters.public_reports import PostgresPublicRows
from aduan_portal.service.public_reports import apply_public_events
from aduan_portal.tables import INBOX

__all__ = ["CONSUMER", "register_consumers"]

log = get_logger(__name__)

CONSUMER = "portal.on_public_report"


async def on_public_reports(uow: UnitOfWork, events: list[PublicReportEvent]) -> list[int]:
    written, unchanged = await apply_public_events(
        PostgresPublicRows(await uow.connection()), events
    )
    # One line a batch (ids only): a line per event cost more than applying it.
    log.info("public report events applied", events=len(events), written=written, stale=unchanged)
    return [written]


def register_consumers(runtime: ServiceRuntime) -> None:
    subscribe_units(
        runtime,
        [
            Route(
                runtime.topic(PUBLIC_REPORTS.name),
                PublicReportEvent,
                CONSUMER,
                apply_many=on_public_reports,
            )
        ],
        inbox=INBOX,
        title="portal.on_public_report",
        description="Builds the public read model from the gateway's redacted projection.",
    )
