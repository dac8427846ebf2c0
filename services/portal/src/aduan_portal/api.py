"""HTTP routes: public pages (HTML), the same data as JSON, the map data, the open-data
downloads and the track page. Thin: parse, query, render."""

from __future__ import annotations

import json
import uuid
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from aduan_contracts.enums import ReportStatus
from aduan_kit.runtime import ServiceRuntime
from aduan_portal.after_photos import AfterPhotos, after_photos_router
from aduan_portal.catalogue import PortalCatalogue
from aduan_portal.config import Settings
from aduan_portal.domain import (
    Filters,
    Language,
    PublicReport,
    month_name,
    parse_filters,
    pick_language,
    shown_status_label,
    ui_strings,
)
from aduan_portal.domain.opendata import to_csv, to_geojson
from aduan_portal.filing import filing_router, recently_issued
from aduan_portal.intake_client import IntakeClient
from aduan_portal.open311 import open311_router
from aduan_portal.public_gateway import RECEIPT_CODE, PublicGateway, PublicQuestion
from aduan_portal.readmodel import ReadModel
from aduan_portal.rendering import (
    STATIC_DIR,
    VENDOR_LEAFLET,
    IndexExtras,
    map_config,
    render_index,
    render_not_found,
    render_open_data,
    render_question,
    render_report,
    render_stats,
    render_track,
)
from aduan_portal.reporter import ReporterGateway, load_session, mine, reporter_router

__all__ = ["api_router"]

Lang = Annotated[str | None, Query(description="`en` for English; Indonesian otherwise")]
Page = Annotated[int, Query(ge=1, le=10_000)]
# Documented for the OpenAPI page; the values are read from the query string by
# `parse_filters` (invalid ones are ignored with a notice instead of failing the page).
_FILTER_DOC = (
    "Filters (all optional): category, agency, status, area (contains), "
    "from / to (YYYY-MM, inclusive month range)."
)
_HTML_NO_STORE = {"Cache-Control": "no-store"}


def _tile_origin(template: str) -> str:
    """The tile server's origin for the CSP (`{s}` subdomains become a wildcard)."""
    parts = urlsplit(template.replace("{s}", "*"))
    if parts.scheme in ("http", "https") and parts.netloc and "{" not in parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return "https:"


def security_headers(tile_url: str) -> dict[str, str]:
    """Public pages load nothing from elsewhere but map tiles, and run no inline script."""
    return {
        "Content-Security-Policy": (
            "default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src 'self' data: {_tile_origin(tile_url)}; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def _filters(request: Request) -> tuple[Filters, list[str]]:
    return parse_filters(dict(request.query_params))


def _link(path: str, lang: Language, **params: str) -> str:
    query = {k: v for k, v in params.items() if v}
    if lang != "id":
        query["lang"] = lang
    return f"{path}?{urlencode(query)}" if query else path


@cache
def area_index() -> bytes:
    """The area list for the filing form, built once (`aduan_areas`, when installed)."""
    try:
        import aduan_areas
    except ImportError:
        return b"[]"
    build = getattr(aduan_areas, "search_index_json", None)
    if build is None:
        return b"[]"
    built = build(within="31")
    return built.encode() if isinstance(built, str) else bytes(built)


def _static(path: Path, media_type: str) -> Response:
    return Response(
        path.read_bytes(), media_type=media_type, headers={"Cache-Control": "public, max-age=3600"}
    )


def api_router(
    runtime: ServiceRuntime,
    page_size: int,
    settings: Settings | None = None,
    gateway_transport: httpx.AsyncBaseTransport | None = None,
    intake_transport: httpx.AsyncBaseTransport | None = None,
) -> APIRouter:
    settings = settings or Settings()
    router = APIRouter()
    model = ReadModel(lambda: runtime.sessions)
    page_headers = security_headers(settings.map_tile_url)

    def html(
        content: str, status_code: int = 200, headers: dict[str, str] | None = None
    ) -> HTMLResponse:
        return HTMLResponse(
            content, status_code=status_code, headers={**page_headers, **(headers or {})}
        )

    gateway = PublicGateway(settings.gateway_url, settings.track_timeout_s, gateway_transport)
    intake = IntakeClient(settings.intake_url, settings.track_timeout_s, intake_transport)
    # Names of every category, retired ones included (old reports keep theirs), from the
    # portal's copy of the catalogue.
    catalogue = PortalCatalogue(runtime)
    router.include_router(filing_router(runtime, settings, catalogue, intake, html))
    # The one Open311 GeoReport v2 root: writes to intake, reads from the gateway.
    router.include_router(open311_router(settings, gateway_transport, intake_transport))
    after_photos = AfterPhotos(settings.gateway_url, settings.track_timeout_s, gateway_transport)
    router.include_router(after_photos_router(after_photos, model.find))

    async def category_names(lang: Language) -> dict[str, str]:
        return await catalogue.names(lang)

    @router.get("/", response_class=HTMLResponse, tags=["pages"], description=_FILTER_DOC)
    async def index(request: Request, lang: Lang = None, page: Page = 1) -> HTMLResponse:
        """Public reports with filters, a map and the open-data links, newest first."""
        language = pick_language(lang)
        filters, ignored = _filters(request)
        reports, total = await model.page(filters, page, page_size)
        extras = IndexExtras(
            total=total,
            page_size=page_size,
            ignored=ignored,
            choices=await model.choices(),
            category_names=await category_names(language),
            agency_names=await gateway.agency_names(),
            map=map_config(settings, VENDOR_LEAFLET),
        )
        return html(render_index(reports, language, page, filters=filters, extras=extras))

    @router.get("/reports/{public_id}", response_class=HTMLResponse, tags=["pages"])
    async def report_page(
        public_id: str, request: Request, lang: Lang = None, page: Page = 1
    ) -> HTMLResponse:
        """One public report: text, status, area, month, confidentiality label, timeline.
        The list's filters (and page) in the query string come back on the "back" link."""
        language = pick_language(lang)
        report = await model.find(public_id)
        if report is None:
            return html(render_not_found(language, request.url.path), status_code=404)
        filters, _ = _filters(request)
        back = {**filters.params(), **({"page": str(page)} if page > 1 else {})}
        names = await category_names(language)
        name = names.get(report.category) if report.category else None
        return html(
            render_report(
                report,
                language,
                back,
                name,
                await gateway.agency_names(),
                map_config(settings, VENDOR_LEAFLET),
                after_photos=await after_photos.links(report),
            )
        )

    @router.get("/api/reports", tags=["api"], description=_FILTER_DOC)
    async def reports_json(request: Request, page: Page = 1) -> list[PublicReport]:
        """Public reports as JSON, newest first."""
        filters, _ = _filters(request)
        reports, _ = await model.page(filters, page, page_size)
        return reports

    @router.get("/api/reports/{public_id}", tags=["api"])
    async def report_json(public_id: str) -> PublicReport:
        """One public report as JSON."""
        report = await model.find(public_id)
        if report is None:
            raise HTTPException(status_code=404, detail="report not found")
        return report

    @router.get("/api/map.geojson", tags=["api"], description=_FILTER_DOC)
    async def map_geojson(request: Request, lang: Lang = None) -> Response:
        """Map markers: reports with a coarse point (0.01° grid), same filters as the list."""
        language = pick_language(lang)
        filters, _ = _filters(request)
        untitled = ui_strings(language)["untitled"]
        features = []
        for row in await model.rows(filters, located_only=True):
            status = ReportStatus(row["status"])
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
                    "properties": {
                        "public_id": row["public_id"],
                        "title": row["title"] or untitled,
                        "status": status.value,
                        "status_label": shown_status_label(status, row["status_label"], language),
                        "month": row["month"],
                        "month_label": month_name(row["month"], language),
                        "url": _link(
                            f"/reports/{quote(row['public_id'], safe='')}",
                            language,
                            **filters.params(),
                        ),
                    },
                }
            )
        body = {"type": "FeatureCollection", "features": features}
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/geo+json")

    @router.get("/stats", response_class=HTMLResponse, tags=["pages"])
    async def stats_page(lang: Lang = None) -> HTMLResponse:
        """Reports per channel, agency and category, share completed, median time to
        completion, and reports per month, as SVG charts with data tables."""
        language = pick_language(lang)
        stats = await model.stats()
        names = await category_names(language)
        return html(render_stats(stats, language, names, await gateway.agency_names()))

    @router.get("/track", response_class=HTMLResponse, tags=["pages"], response_model=None)
    async def track_form(
        lang: Lang = None, code: Annotated[str | None, Query(max_length=200)] = None
    ) -> HTMLResponse | RedirectResponse:
        """The "track my report" form; a submitted code goes to /track/{code}."""
        language = pick_language(lang)
        if code is None or not code.strip():
            return html(render_track(language))
        cleaned = code.strip().upper()
        if not RECEIPT_CODE.match(cleaned):
            message = ui_strings(language)["track_invalid"]
            return html(render_track(language, code.strip()[:32], message=message), status_code=400)
        return RedirectResponse(_link(f"/track/{cleaned}", language), status_code=303)

    def client_chain(request: Request) -> str | None:
        peer = request.client.host if request.client is not None else None
        return ", ".join(h for h in (request.headers.get("x-forwarded-for"), peer) if h) or None

    reporter_gateway = ReporterGateway(
        settings.gateway_url, settings.track_timeout_s, gateway_transport
    )

    async def show_track(
        request: Request,
        code: str,
        language: Language,
        error: str | None = None,
        status: int = 200,
        typed: str = "",
        notice: str | None = None,
    ) -> HTMLResponse:
        """The track page; with the reporter's own part when they proved their contact."""
        t = ui_strings(language)
        if not RECEIPT_CODE.match(code):
            return html(
                render_track(language, code[:32], message=t["track_invalid"]), status_code=400
            )
        outcome = await gateway.track(code, forwarded_for=client_chain(request))
        if outcome.kind == "found":
            session = await load_session(runtime, settings, request, code)
            own = await mine(reporter_gateway, session) if session is not None else None
            body = render_track(
                language,
                code,
                outcome.report,
                reporter=own,
                csrf=session.csrf if session is not None and own is not None else "",
                error=t[error] if error else None,
                notice=t[notice] if notice else None,
                typed=typed,
                category_names=await category_names(language),
                # A completed public report's after-photo, blurred (issue 15).
                after_photos=await after_photos.links(
                    await model.find(public_id) if (public_id := outcome.report.public_id) else None
                )
                if outcome.report is not None
                else [],
            )
            return html(body, status_code=status, headers=_HTML_NO_STORE)
        if outcome.kind == "unknown":
            if await recently_issued(runtime, settings, code):
                # Filed here a moment ago and not in the read model yet: a citizen who
                # taps "track" at once must not read "there is no report with this code".
                return html(
                    render_track(language, code, pending=t["track_pending"]),
                    headers=_HTML_NO_STORE,
                )
            return html(render_track(language, code, message=t["track_unknown"]), status_code=404)
        if outcome.kind == "limited":
            return html(
                render_track(language, code, message=t["track_limited"]),
                status_code=429,
                headers={"Retry-After": "60"},
            )
        # The form stays on the page so the reader can simply try again later.
        return html(
            render_track(language, code, message=t["track_unavailable"]),
            status_code=503,
            headers={"Retry-After": "30"},
        )

    @router.get("/track/{receipt_code}", response_class=HTMLResponse, tags=["pages"])
    async def track_page(
        receipt_code: str, request: Request, lang: Lang = None, done: str = ""
    ) -> HTMLResponse:
        """Status and timeline of a report by its receipt code (asked of the gateway); the
        reporter's own part after they proved their contact."""
        notices = {"rated": "rated_done", "reopened": "reopened_done", "erased": "erased_done"}
        return await show_track(
            request, receipt_code.strip().upper(), pick_language(lang), notice=notices.get(done)
        )

    router.include_router(reporter_router(runtime, settings, reporter_gateway, show_track))

    # --- a question from an officer (the link in the reporter's message) ----------------

    async def question_or_page(
        question_id: str, request: Request, language: Language
    ) -> PublicQuestion | HTMLResponse:
        t = ui_strings(language)
        path = f"/q/{question_id}"
        try:
            parsed = uuid.UUID(question_id)
        except ValueError:
            return html(render_question(language, path, message=t["question_unknown"]), 404)
        outcome = await gateway.question(parsed.hex, forwarded_for=client_chain(request))
        if outcome.kind == "found":
            assert outcome.question is not None
            return outcome.question
        if outcome.kind == "unknown":
            return html(render_question(language, path, message=t["question_unknown"]), 404)
        if outcome.kind == "limited":
            return html(
                render_question(language, path, message=t["track_limited"]),
                429,
                headers={"Retry-After": "60"},
            )
        return html(
            render_question(language, path, message=t["track_unavailable"]),
            503,
            headers={"Retry-After": "30"},
        )

    @router.get("/q/{question_id}", response_class=HTMLResponse, tags=["pages"])
    async def question_page(
        question_id: Annotated[str, PathParam(max_length=64)],
        request: Request,
        lang: Lang = None,
        sent: bool = False,
    ) -> HTMLResponse:
        """An officer's question to the reporter, from the link in their message, with a
        form to answer it. The id in the link is what lets the reporter see and answer."""
        language = pick_language(lang)
        found = await question_or_page(question_id, request, language)
        if isinstance(found, HTMLResponse):
            return found
        body = render_question(
            language,
            f"/q/{question_id}",
            found,
            sent=sent,
            # A fresh id per form: a resend of the same form files once, a new visit is a
            # new answer.
            submission_id=str(uuid.uuid4()),
        )
        return html(body, headers=_HTML_NO_STORE)

    @router.post(
        "/q/{question_id}", response_class=HTMLResponse, tags=["pages"], response_model=None
    )
    async def answer_question(
        question_id: Annotated[str, PathParam(max_length=64)],
        request: Request,
        lang: Lang = None,
    ) -> HTMLResponse | RedirectResponse:
        """Post the answer through intake; then back to the question page (post, redirect,
        get: Back and reload do not send it again)."""
        language = pick_language(lang)
        t = ui_strings(language)
        found = await question_or_page(question_id, request, language)
        if isinstance(found, HTMLResponse):
            return found
        form = await request.form(max_files=0, max_fields=4, max_part_size=16 * 1024)
        text = str(form.get("text") or "").strip()
        raw_submission = str(form.get("submission_id") or "")
        path = f"/q/{question_id}"

        def again(error: str, status_code: int = 422) -> HTMLResponse:
            return html(
                render_question(
                    language,
                    path,
                    found,
                    error=error,
                    text=text[:4000],
                    submission_id=raw_submission or str(uuid.uuid4()),
                ),
                status_code,
                headers=_HTML_NO_STORE,
            )

        if not text:
            return again(t["question_empty"])
        if len(text) > 4000:
            return again(t["question_too_long"])
        try:
            submission_id = uuid.UUID(raw_submission)
        except ValueError:
            submission_id = uuid.uuid4()
        outcome = await intake.answer(
            found.receipt_code,
            uuid.UUID(found.question_id),
            submission_id,
            text,
            forwarded_for=client_chain(request),
        )
        if outcome in ("sent", "duplicate"):
            return RedirectResponse(_link(path, language, sent="1"), status_code=303)
        if outcome == "limited":
            return again(t["track_limited"], 429)
        if outcome == "conflict":
            # The same form posted with another text: a new form, the text kept.
            raw_submission = ""
            return again(t["question_send_again"], 409)
        return again(t["track_unavailable"], 503)

    @router.get("/open-data", response_class=HTMLResponse, tags=["pages"])
    async def open_data(request: Request, lang: Lang = None) -> HTMLResponse:
        """The downloads and what their columns mean."""
        filters, _ = _filters(request)
        return html(render_open_data(pick_language(lang), filters))

    async def export_rows(request: Request, filters: Filters) -> list[dict[str, Any]]:
        base = str(request.base_url).rstrip("/")
        rows = await model.rows(filters)
        for row in rows:
            row["url"] = f"{base}/reports/{quote(row['public_id'], safe='')}"
        return rows

    @router.get("/open-data/reports.csv", tags=["open data"], description=_FILTER_DOC)
    async def export_csv(request: Request) -> Response:
        """Public reports as CSV (UTF-8, header row; columns on /open-data)."""
        filters, _ = _filters(request)
        body = to_csv(await export_rows(request, filters))
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="aduan-reports.csv"'},
        )

    @router.get("/open-data/reports.geojson", tags=["open data"], description=_FILTER_DOC)
    async def export_geojson(request: Request) -> Response:
        """Public reports as a GeoJSON FeatureCollection (coarse points only)."""
        filters, _ = _filters(request)
        body = to_geojson(await export_rows(request, filters))
        return Response(
            json.dumps(body, ensure_ascii=False),
            media_type="application/geo+json",
            headers={"Content-Disposition": 'attachment; filename="aduan-reports.geojson"'},
        )

    @router.get("/static/portal.css", include_in_schema=False)
    async def stylesheet() -> Response:
        """The portal's stylesheet."""
        return _static(STATIC_DIR / "portal.css", "text/css")

    @router.get("/static/map.js", include_in_schema=False)
    async def map_script() -> Response:
        """The map's script (progressive enhancement)."""
        return _static(STATIC_DIR / "map.js", "text/javascript")

    @router.get("/static/file.js", include_in_schema=False)
    async def file_script() -> Response:
        """The filing form's map, location and area suggestions (progressive enhancement)."""
        return _static(STATIC_DIR / "file.js", "text/javascript")

    @router.get("/api/nearby", tags=["api"])
    async def nearby(
        category: Annotated[str, Query(min_length=1, max_length=100)],
        lat: Annotated[float, Query(ge=-90, le=90)],
        lon: Annotated[float, Query(ge=-180, le=180)],
        lang: Lang = None,
    ) -> list[dict[str, Any]]:
        """ "Sudah dilaporkan?": open public reports of a category around a point, nearest
        first, for the filing form's "me too" (public data only; distances approximate,
        measured to the report's ~1 km grid point)."""
        language = pick_language(lang)
        found = await model.nearby(category, lat, lon)
        return [
            {
                "report_id": str(r.report_id),
                "title": r.title or r.text[:80],
                "status": shown_status_label(r.status, r.status_label, language),
                "month": month_name(r.month, language),
                "distance_m": int(round(d / 100) * 100),
                "url": _link(f"/reports/{r.public_id}", language),
            }
            for r, d in found
        ]

    @router.get("/api/areas.json", tags=["api"])
    async def areas_json() -> Response:
        """Kelurahan and kecamatan of the city for the filing form's area box: code, name,
        a label with its kecamatan and kota, and a point where the data has one. Shipped
        with the portal (no outside geocoder); empty when the area data is not installed."""
        return Response(
            area_index(),
            media_type="application/json",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @router.get("/static/console-map.js", include_in_schema=False)
    async def console_map_script() -> Response:
        """The officer console's maps (the report's point, the queue's reports)."""
        return _static(STATIC_DIR / "console-map.js", "text/javascript")

    @router.get("/static/vendor/leaflet/{path:path}", include_in_schema=False)
    async def leaflet(path: str) -> FileResponse:
        """Leaflet as installed by deploy/scripts/assets.sh; 404 when it is not."""
        root = VENDOR_LEAFLET.resolve()
        target = (root / path).resolve()
        # Only files inside the vendor folder; never the integrity stamp or anything above.
        if not target.is_relative_to(root) or not target.is_file() or target.name.startswith("."):
            raise HTTPException(status_code=404, detail="not found")
        return FileResponse(target, headers={"Cache-Control": "public, max-age=86400"})

    return router
