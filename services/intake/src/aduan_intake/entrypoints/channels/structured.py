"""What the JSON channels (citizen app, staff entry) share: a JSON body, or a multipart body
with the JSON in a `report` part and photos in `photos` parts; and the location model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from aduan_contracts.values import GeoPoint, Location, PhotoRef
from aduan_intake.adapters.photos import PhotoError
from aduan_intake.adapters.ratelimit import PendingHit
from aduan_intake.domain import NormalizedReport
from aduan_intake.entrypoints.channels.common import (
    BodyTooLarge,
    ChannelContext,
    FieldError,
    problem,
    read_body,
    too_large,
)

__all__ = ["Refused", "StructuredLocation", "Upload", "read_structured", "store_uploads"]

M = TypeVar("M", bound=BaseModel)


class StructuredLocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    address: str | None = Field(default=None, max_length=500)
    area: str | None = Field(default=None, max_length=200)

    def to_location(self) -> Location | None:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        point = GeoPoint(lat=self.lat, lon=self.lon) if self.lat is not None else None
        if self.lon is not None and point is None:  # pragma: no cover - checked above
            raise ValueError("lat and lon go together")
        if point is None and not self.address and not self.area:
            return None
        return Location(point=point, address=self.address, area=self.area)


@dataclass(frozen=True, slots=True)
class Upload:
    content_type: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    response: JSONResponse


def _validation_error(exc: ValidationError) -> JSONResponse:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "body"
    # The message never echoes the input (it may be personal data).
    body = FieldError(field=field, reason=str(first["msg"])[:200])
    return JSONResponse(body.model_dump(), status_code=422)


async def read_structured(
    request: Request, ctx: ChannelContext, model: type[M]
) -> tuple[M, list[Upload]] | Refused:
    settings = ctx.settings
    try:
        body = await read_body(request, settings.max_body_bytes)
    except BodyTooLarge:
        return Refused(too_large(settings.max_body_bytes))
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    uploads: list[Upload] = []
    if ctype == "application/json":
        raw: str | bytes = body
    elif ctype == "multipart/form-data":
        try:
            form = await request.form(
                max_files=settings.photo_max_count, max_fields=4, max_part_size=64 * 1024
            )
        except StarletteHTTPException as exc:
            return Refused(problem(400, "invalid_form", str(exc.detail)))
        try:
            part = form.get("report")
            if part is None:
                return Refused(
                    problem(422, "missing_report", "the 'report' part (JSON) is required")
                )
            raw = part if isinstance(part, str) else await part.read()
            for name, value in form.multi_items():
                if isinstance(value, UploadFile) and name == "photos":
                    uploads.append(Upload(value.content_type, await value.read()))
        finally:
            # The spooled temporary files behind file parts are ours to close.
            await form.close()
    else:
        return Refused(
            problem(415, "unsupported_media_type", "send application/json or multipart/form-data")
        )
    try:
        data = json.loads(raw)
    except ValueError:
        return Refused(problem(400, "malformed_json", "the report is not valid JSON"))
    try:
        return model.model_validate(data), uploads
    except ValidationError as exc:
        return Refused(_validation_error(exc))


async def store_uploads(
    ctx: ChannelContext,
    report: NormalizedReport,
    uploads: list[Upload],
    gate: PendingHit | None = None,
) -> NormalizedReport | Refused:
    """Clean and store the photos, unless this message was filed already (a retry) or
    the post's rate-limit hit (`gate`) is refused: photos are the costly part of a post,
    so their post's verdict is fetched first, not with its filing group."""
    if not uploads:
        return report
    if gate is not None and not (verdict := await gate.verdict()).allowed:
        return Refused(ctx.too_many(verdict))
    if await ctx.filer.known(report.channel, report.channel_message_id):
        return report
    photos: list[PhotoRef] = []
    try:
        ctx.photos.check_count(len(uploads))
        for upload in uploads:
            photos.append(
                await ctx.photos.store(upload.data, report.channel.value, upload.content_type)
            )
    except PhotoError as exc:
        return Refused(problem(exc.status, "invalid_photo", exc.reason))
    return report.model_copy(update={"photos": tuple(photos)})
