"""Citizen app (JAKI-style) REST API: `POST /v1/channels/app/reports`.

Authenticated with the app's key (`X-App-Key`, one of `app_keys`). The body is JSON, or
multipart with the JSON in a `report` part and up to `photo_max_count` `photos` parts.
`client_report_id` is a UUID the app makes once per report and reuses on every retry: the
channel message id. `reporter.user_id` is the app account (push notifications go to it).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from aduan_contracts.enums import Channel, Privacy
from aduan_intake.adapters.catalogue import checked_category
from aduan_intake.domain import InvalidField, NormalizedReport, ReporterIdentity
from aduan_intake.domain.contact import normalize_contact
from aduan_intake.entrypoints.channels.common import (
    AUTHENTICATED_FILING_ERRORS,
    ChannelContext,
    FiledReceipt,
    field_error,
    key_matches,
    problem,
    sender_address,
)
from aduan_intake.entrypoints.channels.structured import (
    Refused,
    StructuredLocation,
    read_structured,
    store_uploads,
)
from aduan_intake.service.filing import RateLimited, SubmissionConflict
from aduan_kit.catalogue import Catalogue

__all__ = ["AppReport", "normalize_app_report", "router"]


class AppReporter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=256)
    name: str | None = Field(default=None, max_length=200)
    contact: str | None = Field(default=None, max_length=254)
    push_token: str | None = Field(default=None, max_length=512)


class AppReport(BaseModel):
    """What the app posts (the `report` part of a multipart post, or the whole JSON body)."""

    model_config = ConfigDict(extra="forbid")

    client_report_id: uuid.UUID
    text: str = Field(min_length=10, max_length=5000)
    title: str | None = Field(default=None, max_length=300)
    category: str | None = Field(
        default=None,
        max_length=100,
        description="an active catalogue code (GET /v1/categories); none: triaged by staff",
    )
    location: StructuredLocation | None = None
    reporter: AppReporter
    public: bool = False
    language: Literal["id", "en"] = "id"


def normalize_app_report(
    body: AppReport,
    received_at: datetime,
    default_region: str = "ID",
    catalogue: Catalogue | None = None,
) -> NormalizedReport:
    contact = None
    if body.reporter.contact:
        try:
            contact = normalize_contact(body.reporter.contact, default_region).value
        except ValueError as exc:
            raise InvalidField("reporter.contact", str(exc)) from None
    try:
        location = body.location.to_location() if body.location else None
    except ValueError as exc:
        raise InvalidField("location", str(exc)) from None
    text = body.text.strip()
    if len(text) < 10:
        raise InvalidField("text", "must be at least 10 characters")
    reply = {"push_token": body.reporter.push_token} if body.reporter.push_token else None
    return NormalizedReport.build(
        channel=Channel.APP,
        channel_message_id=str(body.client_report_id),
        text=text,
        title=body.title,
        category_hint=checked_category(catalogue or Catalogue(), body.category),
        location=location,
        reporter=ReporterIdentity(
            name=body.reporter.name, contact=contact, handle=body.reporter.user_id, reply=reply
        ),
        privacy=Privacy.PUBLIC if body.public else Privacy.PRIVATE,
        language=body.language,
        received_at=received_at,
    )


def router(ctx: ChannelContext) -> APIRouter:
    api = APIRouter(prefix="/v1/channels/app", tags=["channel: citizen app"])
    settings = ctx.settings

    @api.post(
        "/reports",
        status_code=201,
        response_model=FiledReceipt,
        responses={
            200: {"model": FiledReceipt, "description": "already filed (a retry)"},
            **AUTHENTICATED_FILING_ERRORS,
        },
    )
    async def submit_app_report(request: Request) -> Response:
        """File a complaint from the citizen app (JSON, or multipart with photos)."""
        key = request.headers.get("x-app-key")
        if not key:
            return problem(401, "missing_app_key", "send the app's key in X-App-Key")
        if not key_matches(key, settings.app_keys):
            return problem(403, "unknown_app_key", "X-App-Key is not a known app key")
        # Counted now, answered with the filing's group (or before its photos are stored).
        gate = ctx.limiter.later("app", sender_address(request, settings.trust_forwarded_for))
        if gate.refused:
            return ctx.too_many(gate.refused)
        parsed = await read_structured(request, ctx, AppReport)
        if isinstance(parsed, Refused):
            return parsed.response
        body, uploads = parsed
        try:
            report = normalize_app_report(
                body, datetime.now(UTC), settings.default_phone_region, ctx.catalogue
            )
        except InvalidField as exc:
            return field_error(exc)
        stored = await store_uploads(ctx, report, uploads, gate)
        if isinstance(stored, Refused):
            return stored.response
        try:
            filed = await ctx.filer.file(stored, gate)
        except RateLimited as exc:
            return ctx.too_many(exc.verdict)
        except SubmissionConflict:
            return problem(
                409, "client_report_id_reused", "this client_report_id was used for another report"
            )
        return JSONResponse(
            FiledReceipt.of(filed).model_dump(mode="json"),
            status_code=200 if filed.duplicate else 201,
        )

    return api
