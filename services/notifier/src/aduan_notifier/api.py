"""HTTP routes: the delivery log, for operators and tests. Internal: never expose publicly."""

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

__all__ = ["DeliveryView", "api_router"]


class DeliveryView(BaseModel):
    """One recorded message, without its body: no contact details, no text."""

    report_id: UUID
    status_event_id: UUID
    channel: Channel
    template: str
    language: str
    state: str
    attempts: int
    created_at: datetime
    receipt_code: str


def api_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["deliveries"])

    @router.get("/deliveries")
    async def list_deliveries(
        report_id: Annotated[UUID, Query(description="the report whose messages to list")],
    ) -> list[DeliveryView]:
        """Messages recorded for a report, oldest first."""
        query = (
            select(
                DELIVERIES.c.report_id,
                DELIVERIES.c.status_event_id,
                DELIVERIES.c.channel,
                DELIVERIES.c.template,
                DELIVERIES.c.language,
                DELIVERIES.c.state,
                DELIVERIES.c.attempts,
                DELIVERIES.c.created_at,
                DELIVERIES.c.receipt_code,
            )
            .where(DELIVERIES.c.report_id == report_id)
            .order_by(DELIVERIES.c.id)
        )
        async with runtime.sessions() as session:
            rows = (await session.execute(query)).mappings().all()
        return [DeliveryView.model_validate(dict(r)) for r in rows]

    return router
