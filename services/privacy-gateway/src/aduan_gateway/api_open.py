"""Open surfaces for third parties: Open311 GeoReport v2 reads and the open-data export.
Public reports only, through the same public view as the portal (scrubbed text, month,
coarse area; never coordinates, street address, exact time or people)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from aduan_contracts.enums import ReportStatus
from aduan_gateway.deps import SessionsDep, not_found
from aduan_gateway.domain.views import PublicReportView, public_view
from aduan_gateway.readmodel import ReportFilter, list_public, load_public
from aduan_kit.csvsafe import write_csv

__all__ = ["EXPORT_COLUMNS", "Open311Request", "open_router"]

_CLOSED = {ReportStatus.COMPLETED, ReportStatus.REJECTED, ReportStatus.MERGED}
EXPORT_COLUMNS = (
    "report_id",
    "month",
    "status",
    "status_label",
    "category",
    "agency_id",
    "channel",
    "area",
    "title",
    "text",
    "confidentiality_label",
)
_EXPORT_MAX = 10_000


class Open311Request(BaseModel):
    """A service request as GeoReport v2 describes it, with privacy applied: the request
    time is the first day of its month (Jakarta time), the address is the coarse area, and
    lat/long are always absent."""

    model_config = ConfigDict(frozen=True)

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str | None
    service_code: str | None
    description: str
    agency_responsible: str | None
    requested_datetime: str
    address: str | None
    media_url: str | None = Field(default=None, description="never set: photos stay inside")


def _open311(view: PublicReportView) -> Open311Request:
    return Open311Request(
        service_request_id=str(view.report_id),
        status="closed" if view.status in _CLOSED else "open",
        status_notes=view.status_label,
        service_name=view.category,
        service_code=view.category,
        description=((view.title + ": ") if view.title else "") + view.text,
        agency_responsible=view.agency_id,
        requested_datetime=f"{view.month}-01T00:00:00+07:00",
        address=view.area,
    )


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

    @router.get("/open311/v2/requests.json", response_model=list[Open311Request], tags=["open311"])
    async def open311_requests(
        sessions: SessionsDep,
        service_code: Annotated[str | None, Query(max_length=100)] = None,
        status: Literal["open", "closed"] | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[Open311Request]:
        """GeoReport v2 "GET Service Requests": public reports only, newest first."""
        views = await public_views(sessions, ReportFilter(category=service_code), limit)
        items = [_open311(v) for v in views]
        return [i for i in items if status is None or i.status == status]

    @router.get(
        "/open311/v2/requests/{request_id}.json",
        response_model=list[Open311Request],
        responses={404: {"description": "no public request with that id"}},
        tags=["open311"],
    )
    async def open311_request(request_id: UUID, sessions: SessionsDep) -> list[Open311Request]:
        """GeoReport v2 "GET Service Request" (an array of one, as the standard says)."""
        async with sessions() as session:
            record = await load_public(session, request_id)
        view = public_view(record) if record is not None else None
        if view is None:
            not_found("no public request with that id")
        return [_open311(view)]

    @router.get(
        "/v1/public/export.csv",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
        tags=["open data"],
    )
    async def export_csv(sessions: SessionsDep) -> Response:
        """Open data: every public report, redacted, one row each (CSV)."""
        # The kit's writer: complaint texts starting with `=`, `+`, `-`, `@` are written
        # so that a spreadsheet shows them instead of running them (CSV injection).
        views = await public_views(sessions, ReportFilter(), _EXPORT_MAX)
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
    async def export_geojson(sessions: SessionsDep) -> Response:
        """Open data as GeoJSON. The geometry is the ~1 km `coarse_point` (the same grid
        the portal's map uses), never the precise point (rule 6); null when the report had
        no location. The coarse place name is the `area` property."""
        features = [
            {"type": "Feature", "geometry": _geometry(view), "properties": _row(view)}
            for view in await public_views(sessions, ReportFilter(), _EXPORT_MAX)
        ]
        body = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
        return Response(body, media_type="application/geo+json")

    return router
