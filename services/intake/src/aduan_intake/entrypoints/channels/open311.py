"""Open311 GeoReport v2 for third-party civic apps, the writing half
(https://wiki.open311.org/GeoReport_v2): the service list, service definitions and
`POST requests.json`. Clients use the one root on the portal (docs/open311.md), which
forwards here and adds the XML format; reading requests back is the privacy gateway's.

- `services.json` lists the active categories of the catalogue (`ctx.catalogue`, kept
  current from the gateway's topic; read per request, as it changes while intake runs) as
  `batch` services (the POST answers a token). Names in Indonesian, or English with
  `lang=en` or an English `Accept-Language`. `Last-Modified` is the catalogue's latest
  change (the portal's discovery `changeset`).
- Every service has one attribute (`metadata: true`, `services/{code}.json`): `privacy`,
  `private` (the default) or `public`: a report is private unless its reporter chose public
  (SPEC rule 1), and only a public report can be read back (`GET requests`).
- `POST requests.json` takes the spec's form-encoded fields: `api_key` (one of
  `open311_api_keys`), `service_code` (an active catalogue code), a location (`lat`+`long`,
  `address_string` or `address_id`), `description`, `attribute[privacy]`, and the
  requester's `email`, `phone`, `first_name`, `last_name`, `device_id`, `account_id`;
  `jurisdiction_id` is checked by the portal's root. It answers with a **token** (the
  receipt code): the `service_request_id` is the public report's id, which exists only once
  the gateway has published the report (`GET tokens/{token}.json` tells it then). Errors
  are the spec's list of `{"code", "description"}`.
- Retries file once: the channel message id is the `Idempotency-Key` header when sent, else
  a digest of the requester and the request (the same device posting the same complaint
  twice is a retry). `media_url` is not fetched (an arbitrary URL is an SSRF door); the
  service notice says so.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from aduan_contracts.enums import Channel, Privacy
from aduan_contracts.events import CategoryPublished
from aduan_contracts.values import GeoPoint, Location
from aduan_intake.domain import InvalidField, NormalizedReport, ReporterIdentity
from aduan_intake.domain.contact import normalize_contact
from aduan_intake.entrypoints.channels.common import (
    BodyTooLarge,
    ChannelContext,
    key_matches,
    read_body,
    sender_address,
)
from aduan_intake.service.filing import SubmissionConflict
from aduan_kit.catalogue import Catalogue, CategoryRefused

__all__ = ["PRIVACY_ATTRIBUTE", "normalize_open311", "router", "service_definition"]

MAX_BODY = 64 * 1024

# The one attribute every service has: the reporter's explicit choice (SPEC rule 1).
PRIVACY_ATTRIBUTE: dict[str, Any] = {
    "variable": True,
    "code": "privacy",
    "datatype": "singlevaluelist",
    "required": False,
    "datatype_description": "private (the default) or public",
    "order": 1,
    "description": "Tampilkan laporan di portal publik (disamarkan)? / "
    "Show the report on the public portal (redacted)? Private unless the reporter chooses "
    "public; only public reports can be read back with GET requests.",
    "values": [
        {"key": "private", "name": "Privat / Private"},
        {"key": "public", "name": "Publik / Public"},
    ],
}


class Open311Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool = True
    # batch: "a token will be returned immediately after the service request is submitted".
    type: Literal["realtime", "batch", "blackbox"] = "batch"
    keywords: str
    group: str | None


class Open311Error(BaseModel):
    code: int
    description: str


class Open311Created(BaseModel):
    token: str
    service_notice: str | None = None
    account_id: str | None = None


def errors(status: int, *descriptions: str) -> JSONResponse:
    body = [Open311Error(code=status, description=d).model_dump() for d in descriptions]
    return JSONResponse(body, status_code=status)


def service_definition(category: CategoryPublished) -> dict[str, Any]:
    return {"service_code": category.code, "attributes": [PRIVACY_ATTRIBUTE]}


def _english(request: Request) -> bool:
    lang = request.query_params.get("lang")
    if lang:
        return lang.lower().startswith("en")
    return request.headers.get("accept-language", "").lower().startswith("en")


def _service(category: CategoryPublished, english: bool) -> Open311Service:
    name = category.name_en if english and category.name_en else category.name_id
    described = category.description_en if english else category.description_id
    return Open311Service(
        service_code=category.code,
        service_name=name,
        description=described or category.description_id or name,
        keywords=",".join(category.keywords),
        group=category.group,
    )


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
    catalogue: Catalogue,
    idempotency_key: str | None,
    received_at: datetime,
    default_region: str = "ID",
) -> NormalizedReport | JSONResponse:
    """The report, or the Open311 error answer naming every problem found."""
    problems: list[str] = []
    code = form.get("service_code", "").strip()
    if not code:
        problems.append("service_code is required")
    else:
        try:
            code = catalogue.require_active(code).code
        except CategoryRefused as exc:
            # Unknown: the spec's 404; retired: it exists but takes no new reports (400).
            if not exc.retired:
                return errors(404, f"service_code not found: it {exc.reason}")
            problems.append(f"service_code {exc.reason}")
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
    choice = form.get("attribute[privacy]", "").strip().lower() or "private"
    if choice not in ("private", "public"):
        problems.append("attribute[privacy] must be private or public")
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
            [form.get("api_key"), handle, contact, code, description, lat, lon, address, choice]
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
        privacy=Privacy.PUBLIC if choice == "public" else Privacy.PRIVATE,
        received_at=received_at,
    )


def router(ctx: ChannelContext) -> APIRouter:
    api = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])
    settings = ctx.settings

    @api.get("/services.json", response_model=list[Open311Service])
    async def list_services(request: Request) -> Response:
        """GeoReport v2 service list: the categories a request may be filed under."""
        # Not rate limited: in memory, cheaper to serve than to count.
        english = _english(request)
        services = [_service(c, english).model_dump() for c in ctx.catalogue.active()]
        headers = {}
        changed = [c.updated_at for c in ctx.catalogue.all()]
        if changed:
            headers["Last-Modified"] = format_datetime(max(changed).astimezone(UTC), usegmt=True)
        return JSONResponse(services, headers=headers)

    @api.get(
        "/services/{service_code}.json",
        responses={404: {"model": list[Open311Error]}},
    )
    async def get_service_definition(service_code: str) -> Response:
        """GeoReport v2 service definition: the attributes a request in it may carry.
        A retired category is still defined (old reports name it)."""
        category = ctx.catalogue.get(service_code)
        if category is None:
            return errors(404, "service_code not found")
        return JSONResponse(service_definition(category))

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
        # Behind the portal's root (a trusted proxy) the client's own address counts.
        verdict = await ctx.limiter.hit(
            "open311",
            sender_address(request, settings.trust_forwarded_for, settings.trusted_proxies),
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
                ctx.catalogue,
                request.headers.get("idempotency-key"),
                datetime.now(UTC),
                settings.default_phone_region,
            )
        except InvalidField as exc:
            return errors(400, f"{exc.field} {exc.reason}")
        except ValidationError:
            return errors(400, "the request has fields out of range")
        if isinstance(result, JSONResponse):
            return result
        try:
            filed = await ctx.filer.file(result)
        except SubmissionConflict:
            return errors(409, "this Idempotency-Key was used for another request")
        notice = (
            f"Aduan diterima, kode tiket {filed.receipt_code} / complaint received, receipt "
            f"code {filed.receipt_code}; GET tokens/{filed.receipt_code}.json gives the "
            "service_request_id once the report is public"
        )
        if form.get("media_url"):
            notice += "; media_url is not fetched, send photos through another channel"
        body: list[Any] = [
            Open311Created(token=filed.receipt_code, service_notice=notice).model_dump()
        ]
        return JSONResponse(body, status_code=200 if filed.duplicate else 201)

    return api
