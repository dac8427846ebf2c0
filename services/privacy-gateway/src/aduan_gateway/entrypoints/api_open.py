"""Open surfaces for third parties: Open311 GeoReport v2 reads and the open-data export.
Public reports only, through the same public view as the portal (scrubbed text, month,
coarse area; never coordinates, street address, exact time or people).

Open311 (https://wiki.open311.org/GeoReport_v2; the one root clients use is the portal's
facade, docs/open311.md, which adds the XML format and discovery):

- `GET /open311/v2/requests.json`: `service_request_id` (comma-separated, overrides every
  other argument), `service_code` and `status` (comma-separated), `start_date`/`end_date`
  (W3C datetimes with a zone; at most 90 days apart; by default the last 90 days), and the
  `page`/`page_size` extension (1,000 at most, the spec's ceiling). Dates filter on the
  `requested_datetime` the public sees (the first day of the month, Jakarta time), never on
  the exact filing time: narrowing the range cannot reveal more than the month.
- `GET /open311/v2/requests/{id}.json`: one public request, as an array of one.
- `GET /open311/v2/tokens/{token}.json`: the token is the receipt code intake answered the
  POST with; it resolves to the `service_request_id` once the report is public, and to none
  while it is not (not yet projected, private, or unknown: the same answer, so a token
  tells nothing about a private report).

Errors are the spec's array of `{"code", "description"}`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from aduan_contracts.enums import ReportStatus
from aduan_contracts.values import AREA_CODE_PATTERN, normalize_receipt_code
from aduan_gateway.adapters.identity import list_agencies
from aduan_gateway.adapters.readmodel import ReportFilter, find_by_receipt, list_public, load_public
from aduan_gateway.domain.views import PublicReportView, public_view
from aduan_gateway.entrypoints.api_console import throttle_lookup
from aduan_gateway.entrypoints.deps import RuntimeDep, SessionsDep, SettingsDep
from aduan_gateway.service.categories import list_categories
from aduan_kit.csvsafe import write_csv

__all__ = ["EXPORT_COLUMNS", "Open311Request", "open_router"]

_CLOSED = {ReportStatus.COMPLETED, ReportStatus.REJECTED, ReportStatus.MERGED}
_OPEN = tuple(s for s in ReportStatus if s not in _CLOSED)
_JAKARTA = ZoneInfo("Asia/Jakarta")
# GeoReport v2: a date range "may not span more than 90 days"; without one, the last 90
# days; at most 1,000 requests an answer.
_SPAN = timedelta(days=90)
_MAX_PAGE = 1000
_MAX_IDS = 100
EXPORT_COLUMNS = (
    "report_id",
    "month",
    "status",
    "status_label",
    "category",
    "agency_id",
    "channel",
    "area",
    "area_code",
    "title",
    "text",
    "confidentiality_label",
)
_EXPORT_MAX = 10_000


class Open311Request(BaseModel):
    """A service request as GeoReport v2 describes it, with privacy applied: the request
    time is the first day of its month (Jakarta time), the update time the first day of the
    month of its latest step, the address is the coarse area, and lat/long are always
    absent."""

    model_config = ConfigDict(frozen=True)

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str | None
    service_code: str | None
    description: str
    agency_responsible: str | None
    service_notice: str | None = None
    requested_datetime: str
    updated_datetime: str | None = None
    expected_datetime: str | None = None
    address: str | None
    address_id: str | None = None
    zipcode: str | None = None
    media_url: str | None = Field(default=None, description="never set: photos stay inside")


class Open311Token(BaseModel):
    token: str
    service_request_id: str | None


class Open311Error(BaseModel):
    code: int
    description: str


def errors(status: int, *descriptions: str) -> JSONResponse:
    body = [Open311Error(code=status, description=d).model_dump() for d in descriptions]
    return JSONResponse(body, status_code=status)


def _month_datetime(month: str) -> str:
    return f"{month}-01T00:00:00+07:00"


def _open311(
    view: PublicReportView, names: dict[str, str], agencies: dict[str, str]
) -> Open311Request:
    updated = view.timeline[-1].month if view.timeline else view.month
    code = view.category
    return Open311Request(
        service_request_id=str(view.report_id),
        status="closed" if view.status in _CLOSED else "open",
        status_notes=view.status_label,
        service_name=names.get(code, code) if code else None,
        service_code=code,
        description=((view.title + ": ") if view.title else "") + view.text,
        agency_responsible=agencies.get(view.agency_id, view.agency_id) if view.agency_id else None,
        requested_datetime=_month_datetime(view.month),
        updated_datetime=_month_datetime(max(updated, view.month)),
        address=view.area,
    )


def _w3c(raw: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(
            f"{name} must be a W3C datetime with a time zone, e.g. 2026-11-05T08:15:30+07:00"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} must include a time zone (Z or +HH:MM)")
    return moment


def _month_start(moment: datetime) -> datetime:
    local = moment.astimezone(_JAKARTA)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(start: datetime) -> datetime:
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month)


def _received_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Filing times whose public month start (`requested_datetime`) lies in [start, end]:
    from the first month start at or after `start`, before the month after `end`'s."""
    first = _month_start(start)
    if first < start:
        first = _next_month(first)
    return first, _next_month(_month_start(end))


def _split(raw: str | None) -> list[str]:
    return [p.strip() for p in (raw or "").split(",") if p.strip()]


# A Kemendagri code, dotted ("31", "31.71", "31.71.01", "31.71.01.1001"): open data is cut by
# administrative area, never by a free-text name that could match a street.
AreaCodeQuery = Annotated[
    str | None,
    Query(
        pattern=AREA_CODE_PATTERN,
        description="only reports in this area (Kemendagri code: province, kota, "
        "kecamatan or kelurahan, e.g. 31.71)",
    ),
]


def _area_filter(area: str | None) -> ReportFilter:
    return ReportFilter(area=area) if area else ReportFilter()


def _row(view: PublicReportView) -> dict[str, Any]:
    dumped = view.model_dump(mode="json")
    return {c: dumped.get(c) for c in EXPORT_COLUMNS}


def _geometry(view: PublicReportView) -> dict[str, Any] | None:
    point = view.coarse_point
    if point is None:
        return None
    return {"type": "Point", "coordinates": [point.lon, point.lat]}


def open_router() -> APIRouter:
    router = APIRouter()

    async def public_views(
        sessions: SessionsDep, f: ReportFilter, limit: int
    ) -> list[PublicReportView]:
        async with sessions() as session:
            records = await list_public(session, limit, 0, f)
        return [v for v in (public_view(r) for r in records) if v is not None]

    async def names_and_agencies(sessions: Any) -> tuple[dict[str, str], dict[str, str]]:
        async with sessions() as session:
            names = {c.code: c.name_id for c in await list_categories(session)}
            agencies = dict(await list_agencies(session))
        return names, agencies

    @router.get(
        "/open311/v2/requests.json",
        response_model=list[Open311Request],
        responses={400: {"model": list[Open311Error]}},
        tags=["open311"],
    )
    async def open311_requests(
        sessions: SessionsDep,
        service_request_id: str | None = None,
        service_code: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        status: str | None = None,
        page: str | None = None,
        page_size: str | None = None,
    ) -> Response:
        """GeoReport v2 "GET Service Requests": public reports only, newest first."""
        names, agencies = await names_and_agencies(sessions)
        ids = _split(service_request_id)
        if ids:
            # "This overrides all other arguments." Ids that are not ours match nothing.
            if len(ids) > _MAX_IDS:
                return errors(400, f"service_request_id may list at most {_MAX_IDS} ids")
            found: list[dict[str, Any]] = []
            async with sessions() as session:
                for raw in dict.fromkeys(ids):
                    try:
                        record = await load_public(session, UUID(raw))
                    except ValueError:
                        continue
                    view = public_view(record) if record is not None else None
                    if view is not None:
                        found.append(_open311(view, names, agencies).model_dump())
            return JSONResponse(found)
        problems: list[str] = []
        codes = _split(service_code)
        if any(len(c) > 100 for c in codes) or len(codes) > 100:
            problems.append("service_code must be at most 100 codes of at most 100 characters")
        statuses = set(_split(status))
        if not statuses <= {"open", "closed"}:
            problems.append("status must be open, closed or both (comma-separated)")
        start = end = None
        try:
            start = _w3c(start_date, "start_date") if start_date else None
        except ValueError as exc:
            problems.append(str(exc))
        try:
            end = _w3c(end_date, "end_date") if end_date else None
        except ValueError as exc:
            problems.append(str(exc))
        number = size = 0
        try:
            number = int(page) if page else 1
            size = int(page_size) if page_size else _MAX_PAGE
        except ValueError:
            problems.append("page and page_size must be whole numbers")
        if number < 1 or not 1 <= size <= _MAX_PAGE:
            problems.append(f"page must be at least 1 and page_size between 1 and {_MAX_PAGE}")
        if problems:
            return errors(400, *problems)
        if start is None and end is None:
            end = datetime.now(UTC)
        if start is None:
            assert end is not None
            start = end - _SPAN
        if end is None:
            end = start + _SPAN
        if end < start:
            return errors(400, "end_date must not be before start_date")
        if end - start > _SPAN:
            return errors(400, "start_date and end_date may not span more than 90 days")
        since, before = _received_window(start, end)
        if since >= before:
            return JSONResponse([])
        wanted = {"open": _OPEN, "closed": tuple(_CLOSED)}
        f = ReportFilter(
            categories=tuple(codes) or None,
            statuses=None if len(statuses) != 1 else wanted[next(iter(statuses))],
            received_from=since,
            received_before=before,
        )
        async with sessions() as session:
            records = await list_public(session, size, (number - 1) * size, f)
        views = [v for v in (public_view(r) for r in records) if v is not None]
        return JSONResponse([_open311(v, names, agencies).model_dump() for v in views])

    @router.get(
        "/open311/v2/requests/{request_id}.json",
        response_model=list[Open311Request],
        responses={404: {"model": list[Open311Error]}},
        tags=["open311"],
    )
    async def open311_request(request_id: str, sessions: SessionsDep) -> Response:
        """GeoReport v2 "GET Service Request" (an array of one, as the standard says)."""
        try:
            report_id = UUID(request_id)
        except ValueError:
            return errors(404, "service_request_id not found")
        async with sessions() as session:
            record = await load_public(session, report_id)
        view = public_view(record) if record is not None else None
        if view is None:
            return errors(404, "service_request_id not found")
        names, agencies = await names_and_agencies(sessions)
        return JSONResponse([_open311(view, names, agencies).model_dump()])

    @router.get(
        "/open311/v2/tokens/{token}.json",
        response_model=list[Open311Token],
        responses={404: {"model": list[Open311Error]}, 429: {"model": list[Open311Error]}},
        tags=["open311"],
    )
    async def open311_token(
        token: str,
        request: Request,
        sessions: SessionsDep,
        settings: SettingsDep,
        runtime: RuntimeDep,
    ) -> Response:
        """GeoReport v2 "GET service_request_id from a token". Throttled like "track my
        report" (the token is a receipt code): tokens must not be guessable by trying."""
        code = normalize_receipt_code(token) if len(token) <= 32 else None
        if code is None:
            return errors(404, "token not found")
        try:
            await throttle_lookup(request, settings, runtime)
        except HTTPException as exc:
            response = errors(exc.status_code, str(exc.detail))
            response.headers.update(exc.headers or {})
            return response
        async with sessions() as session:
            record = await find_by_receipt(session, code)
        view = public_view(record) if record is not None else None
        found = Open311Token(
            token=token, service_request_id=str(view.report_id) if view is not None else None
        )
        return JSONResponse([found.model_dump()])

    @router.get(
        "/v1/public/export.csv",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
        tags=["open data"],
    )
    async def export_csv(sessions: SessionsDep, area: AreaCodeQuery = None) -> Response:
        """Open data: every public report, redacted, one row each (CSV). `area`: only
        reports in that kota, kecamatan or kelurahan (Kemendagri code, e.g. 31.71)."""
        # The kit's writer: complaint texts starting with `=`, `+`, `-`, `@` are written
        # so that a spreadsheet shows them instead of running them (CSV injection).
        views = await public_views(sessions, _area_filter(area), _EXPORT_MAX)
        return Response(
            write_csv(EXPORT_COLUMNS, (_row(view) for view in views)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="aduan-public-reports.csv"'},
        )

    @router.get(
        "/v1/public/export.geojson",
        response_class=Response,
        responses={200: {"content": {"application/geo+json": {}}}},
        tags=["open data"],
    )
    async def export_geojson(sessions: SessionsDep, area: AreaCodeQuery = None) -> Response:
        """Open data as GeoJSON. The geometry is the ~1 km `coarse_point` (the same grid
        the portal's map uses), never the precise point (rule 6); null when the report had
        no location. The coarse place name is the `area` property."""
        features = [
            {"type": "Feature", "geometry": _geometry(view), "properties": _row(view)}
            for view in await public_views(sessions, _area_filter(area), _EXPORT_MAX)
        ]
        body = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
        return Response(body, media_type="application/geo+json")

    return router
