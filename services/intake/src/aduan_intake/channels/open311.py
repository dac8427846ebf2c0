"""Open311 GeoReport v2 for third-party civic apps: `GET /open311/v2/services.json` and
`POST /open311/v2/requests.json` (https://wiki.open311.org/GeoReport_v2).

- services.json lists intake's categories (`data/categories.json`, or `categories_file`)
  as `realtime` services without extra attributes (`metadata: false`).
- requests.json takes the spec's form-encoded fields: `api_key` (one of
  `open311_api_keys`), `service_code`, a location (`lat`+`long`, `address_string` or
  `address_id`), `description`, and the requester's `email`, `phone`, `first_name`,
  `last_name`, `device_id`, `account_id`. It answers `[{"service_request_id": <receipt
  code>, "service_notice": ..., "account_id": null}]`; errors are the spec's list of
  `{"code", "description"}`.
- Retries file once: the channel message id is the `Idempotency-Key` header when sent, else
  a digest of the requester and the request (the same device posting the same complaint
  twice is a retry). `media_url` is not fetched (an arbitrary URL is an SSRF door); the
  service notice says so.
- Reading requests back (`GET requests.json`) is the privacy gateway's, which alone decides
  what may be shown.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aduan_contracts.enums import Channel
from aduan_contracts.values import GeoPoint, Location
from aduan_intake.channels.common import (
    BodyTooLarge,
    ChannelContext,
    key_matches,
    read_body,
    sender_address,
)
from aduan_intake.config import Settings
from aduan_intake.domain import NormalizedReport, ReporterIdentity
from aduan_intake.domain.contact import normalize_contact
from aduan_intake.filing import SubmissionConflict

__all__ = ["Category", "load_categories", "router"]

MAX_BODY = 64 * 1024


class Category(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=1000)
    group: str | None = Field(default=None, max_length=100)
    keywords: tuple[str, ...] = ()


class Open311Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool = False
    type: Literal["realtime", "batch", "blackbox"] = "realtime"
    keywords: str
    group: str | None


class Open311Error(BaseModel):
    code: int
    description: str


class Open311Created(BaseModel):
    service_request_id: str
    service_notice: str | None = None
    account_id: str | None = None


def load_categories(settings: Settings) -> list[Category]:
    if settings.categories_file:
        raw = Path(settings.categories_file).read_text(encoding="utf-8")
    else:
        raw = resources.files("aduan_intake").joinpath("data/categories.json").read_text("utf-8")
    return [Category.model_validate(item) for item in json.loads(raw)]


def errors(status: int, *descriptions: str) -> JSONResponse:
    body = [Open311Error(code=status, description=d).model_dump() for d in descriptions]
    return JSONResponse(body, status_code=status)


def _coordinate(raw: str | None, name: str, bound: float) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a decimal number") from None
    if not math.isfinite(value) or not -bound <= value <= bound:
        raise ValueError(f"{name} must be between -{bound:g} and {bound:g}")
    return value


def normalize_open311(
    form: dict[str, str],
    categories: Sequence[Category],
    idempotency_key: str | None,
    received_at: datetime,
    default_region: str = "ID",
) -> NormalizedReport | JSONResponse:
    """The report, or the Open311 error answer naming every problem found."""
    problems: list[str] = []
    code = form.get("service_code", "").strip()
    known = {c.code for c in categories}
    if not code:
        problems.append("service_code is required")
    elif code not in known:
        return errors(404, f"service_code {code[:100]!r} not found")
    description = form.get("description", "").strip()
    if not description:
        problems.append("description is required")
    elif len(description) > 4000:
        problems.append("description may be at most 4000 characters")
    try:
        lat = _coordinate(form.get("lat"), "lat", 90)
        lon = _coordinate(form.get("long"), "long", 180)
    except ValueError as exc:
        problems.append(str(exc))
        lat = lon = None
    if (lat is None) != (lon is None):
        problems.append("lat and long must be given together")
    address = (form.get("address_string") or form.get("address_id") or "").strip()[:500]
    if lat is None and lon is None and not address:
        problems.append("a location is required: lat and long, address_string or address_id")
    contact = None
    for field in ("email", "phone"):
        raw = form.get(field, "").strip()
        if raw and contact is None:
            try:
                contact = normalize_contact(raw, default_region).value
            except ValueError:
                problems.append(f"{field} is not valid")
    if problems:
        return errors(400, *problems)
    name = " ".join(p for p in (form.get("first_name", ""), form.get("last_name", "")) if p)
    handle = (form.get("account_id") or form.get("device_id") or "").strip()[:256] or None
    reply = {"device_id": form["device_id"][:256]} if form.get("device_id") else None
    identity = ReporterIdentity(
        name=name.strip()[:200] or None, contact=contact, handle=handle, reply=reply
    )
    if idempotency_key:
        message_id = "key:" + idempotency_key.strip()[:200]
    else:
        material = json.dumps(
            [form.get("api_key"), handle, contact, code, description, lat, lon, address]
        )
        message_id = "sha256:" + hashlib.sha256(material.encode()).hexdigest()
    point = GeoPoint(lat=lat, lon=lon) if lat is not None and lon is not None else None
    return NormalizedReport.build(
        channel=Channel.OPEN311,
        channel_message_id=message_id,
        text=description,
        category_hint=code,
        location=Location(point=point, address=address or None),
        reporter=None if identity.is_empty else identity,
        received_at=received_at,
    )


def router(ctx: ChannelContext) -> APIRouter:
    api = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])
    settings = ctx.settings
    categories = load_categories(settings)

    @api.get("/services.json", response_model=list[Open311Service])
    async def list_services() -> Response:
        """GeoReport v2 service list: the categories a request may be filed under."""
        # Not rate limited: static data, cheaper to serve than to count.
        services = [
            Open311Service(
                service_code=c.code,
                service_name=c.name,
                description=c.description,
                keywords=",".join(c.keywords),
                group=c.group,
            ).model_dump()
            for c in categories
        ]
        return JSONResponse(services)

    @api.post(
        "/requests.json",
        status_code=201,
        response_model=list[Open311Created],
        responses={
            200: {"model": list[Open311Created], "description": "already filed (a retry)"},
            400: {"model": list[Open311Error]},
            403: {"model": list[Open311Error]},
            404: {"model": list[Open311Error]},
            409: {"model": list[Open311Error]},
            413: {"model": list[Open311Error]},
            415: {"model": list[Open311Error]},
            429: {"model": list[Open311Error]},
        },
    )
    async def create_request(request: Request) -> Response:
        """GeoReport v2 POST Service Request (form-encoded)."""
        verdict = await ctx.limiter.hit(
            "open311", sender_address(request, settings.trust_forwarded_for)
        )
        if not verdict.allowed:
            response = errors(429, f"too many requests; retry in {verdict.retry_after_s} s")
            response.headers["Retry-After"] = str(verdict.retry_after_s)
            return response
        try:
            await read_body(request, MAX_BODY)
        except BodyTooLarge:
            return errors(413, f"the request body may be at most {MAX_BODY} bytes")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return errors(415, "post the request as application/x-www-form-urlencoded")
        try:
            form_data = await request.form(max_files=0, max_fields=64, max_part_size=16 * 1024)
        except Exception:  # starlette raises its HTTPException or MultiPartException
            return errors(400, "the form cannot be read")
        form = {k: v for k, v in form_data.multi_items() if isinstance(v, str)}
        if not key_matches(form.get("api_key"), settings.open311_api_keys):
            return errors(403, "api_key is missing or not valid")
        try:
            result = normalize_open311(
                form,
                categories,
                request.headers.get("idempotency-key"),
                datetime.now(UTC),
                settings.default_phone_region,
            )
        except ValidationError:
            return errors(400, "the request has fields out of range")
        if isinstance(result, JSONResponse):
            return result
        try:
            filed = await ctx.filer.file(result)
        except SubmissionConflict:
            return errors(409, "this Idempotency-Key was used for another request")
        notice = "Aduan diterima / complaint received"
        if form.get("media_url"):
            notice += "; media_url is not fetched, send photos through another channel"
        body: list[Any] = [
            Open311Created(
                service_request_id=filed.receipt_code, service_notice=notice
            ).model_dump()
        ]
        return JSONResponse(body, status_code=200 if filed.duplicate else 201)

    return api
