"""Kafka subscribers: build the read model from intake and workflow events, and queue the
public projection of public reports in the same transaction (inbox -> state -> outbox)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.events import (
    PublicReportEvent,
    ReportAmended,
    ReportIntakeEvent,
    ReportStatusChanged,
    ReportSubmitted,
)
from aduan_contracts.topics import PUBLIC_REPORTS, REPORT_INTAKE, STATUS_CHANGED
from aduan_gateway.domain.projection import public_event
from aduan_gateway.readmodel import apply_content, apply_status, load_report
from aduan_gateway.tables import INBOX, OUTBOX
from aduan_kit.db import transaction
from aduan_kit.logging import get_logger
from aduan_kit.messaging import add_to_outbox, claim_inbox
from aduan_kit.runtime import ServiceRuntime

__all__ = ["register_handlers"]

log = get_logger(__name__)


def register_handlers(runtime: ServiceRuntime) -> None:
    broker = runtime.broker
    group = runtime.settings.consumer_group
    public_topic = runtime.topic(PUBLIC_REPORTS.name)

    # Declared for the AsyncAPI document only: the outbox relay does the sending.
    broker.publisher(
        public_topic,
        title="gateway.public-reports",
        description="Redacted public views of PUBLIC reports (never private ones), keyed by "
        "report id; PublicReportWithdrawn when a report is rejected.",
        schema=PublicReportEvent,
    )

    async def project(
        session: AsyncSession, report_id: UUID, correlation_id: str, causation_id: str
    ) -> None:
        record = await load_report(session, report_id)
        if record is None:
            return
        event = public_event(record, correlation_id, causation_id)
        if event is not None:
            await add_to_outbox(session, OUTBOX, public_topic, event, key=report_id)

    @broker.subscriber(
        runtime.topic(REPORT_INTAKE.name),
        group_id=group,
        auto_offset_reset="earliest",
        title="gateway.on-intake",
        description="Report content for the read model; public reports are projected.",
    )
    async def on_intake(event: ReportIntakeEvent) -> None:
        async with transaction(runtime.sessions) as session:
            if not await claim_inbox(session, INBOX, "gateway.on_intake", event.event_id):
                return
            if isinstance(event, ReportAmended):
                # Amendments are not shown yet; claimed so a later handler version does not
                # mistake them for unseen messages.
                log.info("amendment noted", report_id=str(event.report_id))
                return
            assert isinstance(event, ReportSubmitted)
            if await apply_content(session, event):
                await project(session, event.report_id, event.correlation_id, str(event.event_id))
        runtime.wake_relay()
        log.info("report content stored", report_id=str(event.report_id))

    @broker.subscriber(
        runtime.topic(STATUS_CHANGED.name),
        group_id=group,
        auto_offset_reset="earliest",
        title="gateway.on-status-changed",
        description="Lifecycle transitions for the read model; public reports are projected.",
    )
    async def on_status_changed(event: ReportStatusChanged) -> None:
        async with transaction(runtime.sessions) as session:
            if not await claim_inbox(session, INBOX, "gateway.on_status_changed", event.event_id):
                return
            if await apply_status(session, event):
                await project(session, event.report_id, event.correlation_id, str(event.event_id))
        runtime.wake_relay()
        log.info(
            "report status stored",
            report_id=str(event.report_id),
            version=event.version,
            status=event.to_status.value,
        )
