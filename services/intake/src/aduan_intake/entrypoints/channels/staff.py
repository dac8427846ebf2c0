"""Staff entry: `POST /v1/channels/staff/reports` for call-centre, walk-in counter and
scanned-letter complaints.

Authenticated with the gateway's HS256 access token (`Authorization: Bearer`, verified with
`jwt_secret` = the gateway's secret); the officer's role must be one of `staff_roles`. The
officer who typed it in is recorded on the report as `entered_by` (id, role, agency, name).
`entry_id` is a UUID the console makes per entry (a resubmitted form files once). A scanned
letter's pages go in `photos` parts; they are stripped and stored like any photo.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from aduan_contracts.enums import Channel, Privacy, Role
from aduan_contracts.values import Actor
from aduan_intake.adapters.catalogue import checked_category
from aduan_intake.domain import InvalidField, NormalizedReport, ReporterIdentity
from aduan_intake.domain.contact import normalize_contact
from aduan_intake.entrypoints.channels.common import (
    AUTHENTICATED_FILING_ERRORS,
    ChannelContext,
    FiledReceipt,
    field_error,
    problem,
    rate_limited,
)
from aduan_intake.entrypoints.channels.structured import (
    Refused,
    StructuredLocation,
    read_structured,
    store_uploads,
)
from aduan_intake.service.filing import SubmissionConflict
from aduan_kit.catalogue import Catalogue

__all__ = ["StaffReport", "normalize_staff_report", "officer_from_token", "router"]

STAFF_CHANNELS = {
    "call_centre": Channel.CALL_CENTRE,
    "walk_in": Channel.WALK_IN,
    "letter": Channel.LETTER,
}


class StaffReporter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    contact: str | None = Field(default=None, max_length=254)
    nik: str | None = Field(default=None, pattern=r"^\d{16}$", description="from the KTP")
    address: str | None = Field(default=None, max_length=500, description="home address")


class StaffReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Literal["call_centre", "walk_in", "letter"]
    entry_id: uuid.UUID
    text: str = Field(min_length=10, max_length=10000)
    title: str | None = Field(default=None, max_length=300)
    category: str | None = Field(
        default=None,
        max_length=100,
        description="an active catalogue code; none: triaged by the ticket-admin",
    )
    location: StructuredLocation | None = None
    reporter: StaffReporter | None = None
    # Only when the reporter said so at the counter or on the phone.
    public: bool = False
    language: Literal["id", "en"] = "id"
    # When the call came in or the letter was dated; defaults to now.
    received_at: AwareDatetime | None = None


class AuthFailure(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def officer_from_token(header: str | None, secret: str, roles: list[str]) -> Actor:
    if not header:
        raise AuthFailure(401, "missing Authorization: Bearer <token>")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthFailure(401, "expected Authorization: Bearer <token>")
    try:
        claims = jwt.decode(
            token.strip(), secret, algorithms=["HS256"], options={"require": ["sub", "role", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise AuthFailure(401, "token expired") from None
    except jwt.InvalidSignatureError:
        raise AuthFailure(401, "token signature invalid") from None
    except jwt.InvalidTokenError:
        raise AuthFailure(401, "token invalid") from None
    if str(claims.get("role")) not in roles:
        raise AuthFailure(403, "this role may not enter complaints")
    try:
        return Actor(
            id=str(claims["sub"]),
            role=Role(str(claims["role"])),
            agency_id=claims.get("agency_id"),
            display_name=claims.get("name"),
        )
    except (ValueError, ValidationError):
        raise AuthFailure(401, "token claims invalid") from None


def normalize_staff_report(
    body: StaffReport,
    officer: Actor,
    now: datetime,
    default_region: str = "ID",
    catalogue: Catalogue | None = None,
) -> NormalizedReport:
    contact = None
    identity = None
    if body.reporter is not None:
        if body.reporter.contact:
            try:
                contact = normalize_contact(body.reporter.contact, default_region).value
            except ValueError as exc:
                raise InvalidField("reporter.contact", str(exc)) from None
        identity = ReporterIdentity(
            name=body.reporter.name,
            contact=contact,
            nik=body.reporter.nik,
            address=body.reporter.address,
        )
    try:
        location = body.location.to_location() if body.location else None
    except ValueError as exc:
        raise InvalidField("location", str(exc)) from None
    received = body.received_at.astimezone(UTC) if body.received_at else now
    if received > now:
        raise InvalidField("received_at", "must not be in the future")
    return NormalizedReport.build(
        channel=STAFF_CHANNELS[body.channel],
        channel_message_id=str(body.entry_id),
        text=body.text.strip(),
        title=body.title,
        category_hint=checked_category(catalogue or Catalogue(), body.category),
        location=location,
        reporter=None if identity is None or identity.is_empty else identity,
        privacy=Privacy.PUBLIC if body.public else Privacy.PRIVATE,
        language=body.language,
        received_at=received,
        entered_by=officer,
    )


def router(ctx: ChannelContext) -> APIRouter:
    api = APIRouter(prefix="/v1/channels/staff", tags=["channel: staff entry"])
    settings = ctx.settings

    @api.post(
        "/reports",
        status_code=201,
        response_model=FiledReceipt,
        responses={
            200: {"model": FiledReceipt, "description": "already entered (resubmitted)"},
            **AUTHENTICATED_FILING_ERRORS,
        },
    )
    async def enter_report(request: Request) -> Response:
        """Enter a complaint taken by phone, at a counter, or by letter (officers only)."""
        try:
            officer = officer_from_token(
                request.headers.get("authorization"), settings.jwt_secret, settings.staff_roles
            )
        except AuthFailure as exc:
            return problem(
                exc.status,
                "unauthorized" if exc.status == 401 else "forbidden",
                exc.reason,
                headers={"WWW-Authenticate": "Bearer"} if exc.status == 401 else None,
            )
        verdict = await ctx.limiter.hit("staff", officer.id)
        if not verdict.allowed:
            return rate_limited(verdict.retry_after_s, ctx.limiter.limit, ctx.limiter.window_s)
        parsed = await read_structured(request, ctx, StaffReport)
        if isinstance(parsed, Refused):
            return parsed.response
        body, uploads = parsed
        try:
            report = normalize_staff_report(
                body, officer, datetime.now(UTC), settings.default_phone_region, ctx.catalogue
            )
        except InvalidField as exc:
            return field_error(exc)
        stored = await store_uploads(ctx, report, uploads)
        if isinstance(stored, Refused):
            return stored.response
        try:
            filed = await ctx.filer.file(stored)
        except SubmissionConflict:
            return problem(409, "entry_id_reused", "this entry_id was used for another report")
        return JSONResponse(
            FiledReceipt.of(filed).model_dump(mode="json"),
            status_code=200 if filed.duplicate else 201,
        )

    return api
