"""HTTP routes: the delivery log and the failures view, for operators and tests. Internal:
never expose publicly. Neither shows a body, a contact or a handle."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from aduan_contracts.enums import Channel
from aduan_kit.runtime import ServiceRuntime
from aduan_notifier.tables import DELIVERIES

__all__ = ["DeliveryView", "FailureView", "api_router"]


class DeliveryView(BaseModel):
    """One message for a reporter, without its body: no contact details, no text."""

    report_id: UUID
    status_event_id: UUID
    channel: Channel
    transport: str | None
    template: str
    language: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    finished_at: datetime | None
    receipt_code: str
    last_error: str | None


class FailureView(BaseModel):
    """A message given up on, with the cause (the provider's status and error code only)."""

    delivery_id: int
    report_id: UUID
    status_event_id: UUID
    channel: Channel
    transport: str | None
    template: str
    attempts: int
    error: str | None
    failed_at: datetime | None


def api_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["deliveries"])

    @router.get("/deliveries")
    async def list_deliveries(
        report_id: Annotated[UUID, Query(description="the report whose messages to list")],
    ) -> list[DeliveryView]:
        """Messages for a report, oldest first."""
        d = DELIVERIES.c
        query = (
            select(
                d.report_id,
                d.status_event_id,
                d.channel,
                d.transport,
                d.template,
                d.language,
                d.state,
                d.attempts,
                d.created_at,
                d.next_attempt_at,
                d.finished_at,
                d.receipt_code,
                d.last_error,
            )
            .where(d.report_id == report_id)
            .order_by(d.id)
        )
        async with runtime.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return [DeliveryView.model_validate(dict(r)) for r in rows]

    @router.get("/failures")
    async def list_failures(
        channel: Annotated[Channel | None, Query(description="only this channel")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        before_id: Annotated[int | None, Query(description="page: ids below this")] = None,
    ) -> list[FailureView]:
        """Deliveries that failed for good, newest first."""
        d = DELIVERIES.c
        query = (
            select(
                d.id.label("delivery_id"),
                d.report_id,
                d.status_event_id,
                d.channel,
                d.transport,
                d.template,
                d.attempts,
                d.last_error.label("error"),
                d.finished_at.label("failed_at"),
            )
            .where(d.state == "failed")
            .order_by(d.id.desc())
            .limit(limit)
        )
        if channel is not None:
            query = query.where(d.channel == channel.value)
        if before_id is not None:
            query = query.where(d.id < before_id)
        async with runtime.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return [FailureView.model_validate(dict(r)) for r in rows]

    return router
