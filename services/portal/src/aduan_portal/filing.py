"""Filing a complaint from the portal (the citizen's front door): the form with a map, the
post, and the acknowledgement.

The portal stays a client: the complaint is posted to intake's web channel exactly as the
citizen's browser could (docs/decisions.md, D12), with the citizen's address forwarded for
intake's rate limit. What the portal adds is the citizen's side of it: one look and language,
a map and "use my location", categories from the one catalogue, errors in plain words that
keep what was typed, and "filed once whatever the browser does":

- the form's submission id lives in a cookie (not only in the page), so Back + send, a
  double click or a reload of the form posts the same id, and intake answers with the same
  receipt (`200`, duplicate);
- a resend of the same id with *different* content is a new complaint (intake says 409):
  the portal takes a fresh id and files it;
- Post/Redirect/Get: the acknowledgement is its own page, so reloading it sends nothing.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from redis.exceptions import RedisError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from aduan_contracts.values import AREA_CODE_PATTERN
from aduan_kit.logging import get_logger
from aduan_kit.runtime import ServiceRuntime
from aduan_portal.catalogue import PortalCatalogue
from aduan_portal.config import Settings
from aduan_portal.domain import Language, pick_language, ui_strings
from aduan_portal.intake_client import FileOutcome, IntakeClient, Photo
from aduan_portal.public_gateway import RECEIPT_CODE
from aduan_portal.rendering import VENDOR_LEAFLET, map_config, render_filed, render_filing

__all__ = ["SUBMISSION_COOKIE", "filing_router", "recently_issued"]

log = get_logger(__name__)

SUBMISSION_COOKIE = "aduan_submission"
_COOKIE_AGE_S = 3600
_ACK_TTL_S = 3600
# How long a receipt code this portal just gave out reads as "being recorded" on the
# tracking page rather than "no such report": the report reaches the gateway's read model
# within a second or two (longer in an outage, which the citizen should then hear of).
_ISSUED_TTL_S = 600
_AREA_CODE = re.compile(AREA_CODE_PATTERN)
TEXT_MIN, TEXT_MAX = 10, 5000  # intake's limits, checked here first to answer in words
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
FIELDS = (
    "title",
    "text",
    "category",
    "address",
    "area",
    "area_code",
    "lat",
    "lon",
    "name",
    "contact",
    "follows",
)
_LIMITS = {
    "title": 300,
    "address": 500,
    "area": 200,
    "area_code": 13,
    "name": 200,
    "contact": 254,
}


def _client_chain(request: Request) -> str | None:
    peer = request.client.host if request.client is not None else None
    return ", ".join(h for h in (request.headers.get("x-forwarded-for"), peer) if h) or None


def _submission_id(raw: str | None) -> str:
    try:
        return str(uuid.UUID(raw or ""))
    except ValueError:
        return str(uuid.uuid4())


def _report_id(raw: str) -> str:
    try:
        return str(uuid.UUID(raw)) if raw else ""
    except ValueError:
        return ""


def _error_for(outcome: FileOutcome, t: dict[str, str], max_photos: int) -> tuple[str, str]:
    """(field, message in the reporter's language) for what intake refused."""
    field = outcome.field or "form"
    reason = (outcome.reason or "").lower()
    if field == "text":
        return field, t["file_err_text_long"] if "at most" in reason else t["file_err_text"]
    if field == "contact":
        return field, t["file_err_contact"]
    if field in ("lat", "lon"):
        return "location", t["file_err_location"]
    if field == "photos":
        if ("at most" in reason and "photos" in reason) or "too many" in reason:
            return field, t["file_err_photo_count"].format(n=max_photos)
        if "bytes" in reason or outcome.status == 413:
            return field, t["file_err_photo_size"]
        if outcome.status == 415 or "type" in reason:
            return field, t["file_err_photo_type"]
        return field, t["file_err_photo_bad"]
    if field in _LIMITS:
        return field, t["file_err_too_long"]
    return "form", t["file_err_form"]


def filing_router(
    runtime: ServiceRuntime,
    settings: Settings,
    catalogue: PortalCatalogue,
    intake: IntakeClient,
    html: Callable[..., HTMLResponse],
) -> APIRouter:
    router = APIRouter(tags=["pages"])
    no_store = {"Cache-Control": "no-store"}
    max_photos = settings.file_max_photos

    async def categories(lang: Language) -> list[tuple[str, str]]:
        # The active categories of the one catalogue: the form offers codes, never a box
        # for free text (which would become a category nobody routes).
        return await catalogue.choices(lang)

    async def page(
        lang: Language,
        submission_id: str,
        values: dict[str, str] | None = None,
        error: tuple[str, str] | None = None,
        photos_dropped: bool = False,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        body = render_filing(
            lang,
            submission_id=submission_id,
            categories=await categories(lang),
            values=values or {},
            error=error,
            photos_dropped=photos_dropped,
            max_photos=max_photos,
            map=map_config(settings, VENDOR_LEAFLET),
        )
        response = html(body, status_code=status_code, headers={**no_store, **(headers or {})})
        response.set_cookie(
            SUBMISSION_COOKIE,
            submission_id,
            max_age=_COOKIE_AGE_S,
            path="/lapor",
            httponly=True,
            samesite="lax",
            secure=settings.console_cookie_secure,
        )
        return response

    @router.get("/lapor", response_class=HTMLResponse)
    async def filing_form(request: Request, lang: str | None = None) -> HTMLResponse:
        """The complaint form. The submission id is the one in the cookie when there is
        one: the form reloaded after Back posts the complaint it already filed again, and
        intake answers with the same receipt."""
        language = pick_language(lang)
        return await page(language, _submission_id(request.cookies.get(SUBMISSION_COOKIE)))

    @router.post("/lapor", response_class=HTMLResponse, response_model=None)
    async def file_complaint(request: Request, lang: str | None = None) -> Response:
        language = pick_language(lang)
        t = ui_strings(language)
        cookie_id = request.cookies.get(SUBMISSION_COOKIE)
        try:
            form = await request.form(
                max_files=max_photos + 1, max_fields=24, max_part_size=64 * 1024
            )
        except StarletteHTTPException:
            return await page(
                language,
                _submission_id(cookie_id),
                error=("photos", t["file_err_photo_count"].format(n=max_photos)),
                status_code=400,
            )
        try:
            values = {
                name: " ".join(str(form.get(name) or "").split())
                if name != "text"
                else str(form.get(name) or "").strip()
                for name in FIELDS
            }
            values["visibility"] = "public" if form.get("visibility") == "public" else "private"
            submission_id = _submission_id(str(form.get("submission_id") or cookie_id or ""))
            uploads = [
                v
                for v in form.getlist("photos")
                if isinstance(v, UploadFile) and (v.filename or v.size)
            ]
            photos = [
                Photo(u.filename or "photo", u.content_type or "", await u.read())
                for u in uploads[: max_photos + 1]
            ]
        finally:
            await form.close()

        async def again(field: str, message: str, status_code: int = 422) -> HTMLResponse:
            # Photos cannot be put back into a file input: the page says so.
            return await page(
                language,
                submission_id,
                values,
                (field, message),
                photos_dropped=bool(photos),
                status_code=status_code,
            )

        # What the portal can tell at once, in words (intake checks all of it again).
        if len(values["text"]) < TEXT_MIN:
            return await again("text", t["file_err_text"])
        if len(values["text"]) > TEXT_MAX:
            return await again("text", t["file_err_text_long"])
        for name, limit in _LIMITS.items():
            if len(values[name]) > limit:
                return await again(name, t["file_err_too_long"])
        if len(photos) > max_photos:
            return await again("photos", t["file_err_photo_count"].format(n=max_photos))
        if any(p.content_type not in PHOTO_TYPES for p in photos):
            return await again("photos", t["file_err_photo_type"])
        names = dict(await categories(language))
        category = values["category"]
        if category and category not in names:
            # Retired (or never a category) since the form was loaded: say so and let the
            # citizen pick again, rather than file it as something they did not choose.
            values["category"] = ""
            return await again("category", t["file_err_category"])
        fields = {
            "title": values["title"],
            "text": values["text"],
            "category": category,  # "" ("other"): the ticket-admin triages it
            "address": values["address"],
            "area": values["area"],
            # The kelurahan picked in the area box (file.js); intake checks it on the list.
            "area_code": values["area_code"] if _AREA_CODE.fullmatch(values["area_code"]) else "",
            "lat": values["lat"],
            "lon": values["lon"],
            "name": values["name"],
            "contact": values["contact"],
            "public": "on" if values["visibility"] == "public" else "",
            # "Me too": the open public report the citizen chose from "already reported?"
            # (workflow merges the new report into it; they hear what its reporter hears).
            "follows": _report_id(values["follows"]),
            "language": language,
            "submission_id": submission_id,
        }
        chain = _client_chain(request)
        outcome = await intake.file(fields, photos, forwarded_for=chain)
        if outcome.kind == "conflict":
            # The same form id with other content: the citizen went Back and wrote another
            # complaint. It is a new one.
            submission_id = str(uuid.uuid4())
            outcome = await intake.file(
                fields | {"submission_id": submission_id}, photos, forwarded_for=chain
            )
        if outcome.kind in ("filed", "duplicate"):
            assert outcome.receipt_code is not None
            nonce = secrets.token_urlsafe(12)
            summary = {
                "receipt_code": outcome.receipt_code,
                "title": values["title"],
                "category": names.get(category, ""),
                "area": values["area"],
                "public": values["visibility"] == "public",
                "contact_given": bool(values["contact"]),
                "photos": len(photos),
                "pinned": bool(values["lat"] and values["lon"]),
                "again": outcome.kind == "duplicate",
                "follows": bool(fields["follows"]),
            }
            async with runtime.redis.pipeline(transaction=False) as pipe:
                pipe.set(f"{settings.redis_prefix}ack:{nonce}", json.dumps(summary), ex=_ACK_TTL_S)
                pipe.set(_issued_key(settings, outcome.receipt_code), b"1", ex=_ISSUED_TTL_S)
                await pipe.execute()
            params = f"k={nonce}" + (f"&lang={language}" if language != "id" else "")
            response = RedirectResponse(
                f"/lapor/diterima/{outcome.receipt_code}?{params}", status_code=303
            )
            # The cookie keeps the id: a Back + send of this form gets the same receipt.
            response.set_cookie(
                SUBMISSION_COOKIE,
                submission_id,
                max_age=_COOKIE_AGE_S,
                path="/lapor",
                httponly=True,
                samesite="lax",
                secure=settings.console_cookie_secure,
            )
            log.info("complaint filed from the portal", duplicate=outcome.kind == "duplicate")
            return response
        if outcome.kind == "invalid":
            field, message = _error_for(outcome, t, max_photos)
            return await again(field, message)
        if outcome.kind == "limited":
            return await again("form", t["file_err_limited"], 429)
        return await again("form", t["file_err_unavailable"], 503)

    @router.get("/lapor/diterima/{receipt_code}", response_class=HTMLResponse)
    async def filed(receipt_code: str, k: str = "", lang: str | None = None) -> HTMLResponse:
        """The acknowledgement: the receipt code, the tracking link, and a summary of what
        was filed (from the filing itself, kept an hour; nothing re-identifying)."""
        language = pick_language(lang)
        code = receipt_code.strip().upper()
        if not RECEIPT_CODE.match(code):
            return html(render_filed(language, None, None), status_code=404)
        summary = None
        if k and len(k) <= 32:
            raw = await runtime.redis.get(f"{settings.redis_prefix}ack:{k}")
            if raw:
                stored = json.loads(raw)
                summary = stored if stored.get("receipt_code") == code else None
        return html(render_filed(language, code, summary), headers=no_store)

    return router


def _issued_key(settings: Settings, receipt_code: str) -> str:
    return f"{settings.redis_prefix}issued:{receipt_code}"


async def recently_issued(runtime: ServiceRuntime, settings: Settings, receipt_code: str) -> bool:
    """Whether this portal gave out `receipt_code` in the last few minutes (so a tracking
    page that does not find it yet says it is being recorded). False if Redis fails: the
    page then says what the gateway said."""
    try:
        return bool(await runtime.redis.exists(_issued_key(settings, receipt_code)))
    except (RedisError, OSError):
        return False
