"""Each role's queue (triage, agency, validation) with its filters, its CSV download, and
the ticket-admin's bulk dispatch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

import aduan_areas
from aduan_kit.csvsafe import write_csv
from aduan_kit.logging import get_logger
from aduan_portal.console.core import (
    CODE,
    FULL_ACCESS,
    PAGE_SIZE,
    WIB,
    Console,
    agency_options,
    console_map,
    explain,
    no_store,
    redirect,
    signed_in,
    state_of,
    status_label,
    text_field,
    uuid_or_none,
    when,
)
from aduan_portal.console.i18n import N_, ConsoleLanguage
from aduan_portal.console.units import UNIT_ID, unit_options
from aduan_portal.gateway_client import (
    ActionResult,
    GatewayClient,
    GatewayError,
    OfficerReport,
    ReportPage,
)
from aduan_portal.rendering import area_choices

__all__ = ["QUEUES", "Queue", "QueueFilters", "router"]

log = get_logger(__name__)

router = APIRouter(prefix="/console", include_in_schema=False)


@dataclass(frozen=True)
class Queue:
    name: str
    title_key: str
    statuses: tuple[str, ...]
    role: str


QUEUES = {
    "triage": Queue("triage", N_("triage"), ("received", "coordination"), "ticket-admin"),
    "agency": Queue(
        "agency",
        N_("agency_queue"),
        ("dispatched", "in_progress", "followup_rejected"),
        "agency-officer",
    ),
    "validation": Queue(
        "validation", N_("validation"), ("awaiting_validation", "field_verification"), "validator"
    ),
}


def area_code(raw: str) -> str:
    """A known Kemendagri area code (dotted), or "" (an unknown one is dropped like any
    bad filter, so a stale bookmark still opens the queue)."""
    if not raw:
        return ""
    try:
        found = aduan_areas.get(raw)
    except ValueError:
        return ""
    return found.code if found is not None else ""


def _day(raw: str) -> str:
    """A YYYY-MM-DD day, or "" (a bad value is dropped like any unknown filter)."""
    try:
        return date.fromisoformat(raw).isoformat() if raw else ""
    except ValueError:
        return ""


@dataclass(frozen=True)
class QueueFilters:
    """What an officer narrowed a queue by (query string in, gateway parameters out).
    Unknown or out-of-queue values are dropped, not errors: a bookmarked link from another
    queue still opens. Text search is offered to the roles the gateway allows it (an
    agency officer may not probe scrubbed text for hidden words)."""

    statuses: tuple[str, ...]
    status: str = ""
    category: str = ""
    area: str = ""
    q: str = ""
    search_allowed: bool = False
    mine: bool = False  # agency officers: only the reports assigned to me
    # Nearest deadline first (the gateway sorts the whole queue, not only a page), or
    # newest first.
    sort: str = "due"
    sla: str = ""  # "overdue" | "due_soon"
    # Filing days (YYYY-MM-DD), for the roles that see filing dates (not agency officers).
    date_from: str = ""
    date_to: str = ""
    # Routing by place (issue 19): a kota or kecamatan by its Kemendagri code (the
    # public `wilayah=` list; the gateway includes everything inside it), a unit (the
    # gateway keeps it within the officer's scope: their unit, and a head's sub-units),
    # and "escalated to us": reports overdue at a sub-unit, flagged up to this unit.
    wilayah: str = ""
    unit: str = ""
    escalated: bool = False

    @classmethod
    def from_query(cls, query: Mapping[str, str], queue: Queue, role: str) -> QueueFilters:
        def value(name: str, limit: int) -> str:
            raw = query.get(name) or ""
            return " ".join(raw.split())[:limit]

        status = value("status", 40)
        if status not in queue.statuses:
            status = ""
        category = value("category", 100)
        if category and not CODE.match(category):
            category = ""
        search_allowed = role in FULL_ACCESS
        return cls(
            statuses=(status,) if status else queue.statuses,
            status=status,
            category=category,
            area=value("area", 200),
            q=value("q", 200) if search_allowed else "",
            search_allowed=search_allowed,
            mine=role == "agency-officer" and query.get("mine") == "1",
            sort="newest" if query.get("sort") == "newest" else "due",
            sla=sla if (sla := value("sla", 10)) in ("overdue", "due_soon") else "",
            date_from=_day(value("from", 10)) if search_allowed else "",
            date_to=_day(value("to", 10)) if search_allowed else "",
            wilayah=area_code(value("wilayah", 20)),
            unit=unit if (unit := value("unit", 64)) and UNIT_ID.match(unit) else "",
            escalated=query.get("escalated") == "1",
        )

    @property
    def asked_statuses(self) -> tuple[str, ...]:
        """The statuses to ask the gateway for, one call each. "Escalated to us" without a
        chosen status asks once for every status: a report overdue at a sub-unit is
        flagged here whatever step it is stuck in (a validator's bureau sees reports
        still with an agency)."""
        if self.escalated and not self.status:
            return ("",)
        return self.statuses

    def gateway_params(self) -> dict[str, str]:
        # The gateway's `area` takes a name or a code; the picked code wins over typed text.
        area = self.wilayah or self.area
        params = {"category": self.category, "area": area, "q": self.q, "unit": self.unit}
        params["escalated"] = "true" if self.escalated else ""
        params["assignee"] = "me" if self.mine else ""
        params["sort"] = self.sort
        params["sla"] = self.sla
        params["received_from"], params["received_to"] = self.date_from, self.date_to
        return {k: v for k, v in params.items() if v}

    @property
    def active(self) -> bool:
        return bool(
            self.status
            or self.category
            or self.area
            or self.q
            or self.mine
            or self.sla
            or self.date_from
            or self.date_to
            or self.wilayah
            or self.unit
            or self.escalated
        )

    def link(self, page: int) -> str:
        """This queue's URL at `page` with the same filters (pager links keep them)."""
        params = {"status": self.status, "category": self.category, "area": self.area}
        params |= {"q": self.q, "mine": "1" if self.mine else ""}
        params |= {"sort": "newest" if self.sort == "newest" else "", "sla": self.sla}
        params |= {"from": self.date_from, "to": self.date_to}
        params |= {"wilayah": self.wilayah, "unit": self.unit}
        params |= {"escalated": "1" if self.escalated else ""}
        params |= {"page": str(page) if page > 1 else ""}
        return "?" + urlencode({k: v for k, v in params.items() if v})


BULK_MAX = 100  # reports per bulk dispatch (one gateway call each)
# Who is flagged when a report is overdue down the line (issue 19): the parent unit's
# officers and the validator bureau; they get the "escalated to us" filter.
ESCALATION_ROLES = ("agency-officer", "validator")
# A queue's CSV: the first rows only (an export is a work list, not a data dump).
EXPORT_MAX_ROWS = 5000
EXPORT_COLUMNS_AGENCY = (
    "report_id", "title", "status", "category", "agency", "unit", "area", "address", "month",
    "sla", "due_at", "escalation",
)  # fmt: skip
EXPORT_COLUMNS_FULL = (
    "report_id", "receipt_code", "title", "status", "category", "agency", "unit", "area",
    "address", "received_at", "sla", "due_at", "escalation",
)  # fmt: skip


def _export_row(
    r: OfficerReport,
    lang: ConsoleLanguage,
    categories: Mapping[str, Any],
    agencies: Mapping[str, str],
    units: Mapping[str, str] | None = None,
    escalation_words: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    units = units or {}
    cat = categories.get(r.category or "")
    esc = r.latest_escalation
    escalation = None
    if esc is not None:
        # "reminder|breach at <unit>": the row's badge, in the export's language.
        kind = (escalation_words or {}).get(esc.kind, esc.kind)
        escalation = f"{kind}: {units.get(esc.from_unit or '', esc.from_unit or '')}".strip()
    return {
        "report_id": str(r.report_id),
        "receipt_code": r.receipt_code,
        "title": r.title,
        "status": status_label(r.status, lang),
        "category": (cat.name_en if lang == "en" else cat.name_id) if cat else r.category,
        "agency": agencies.get(r.agency_id or "", r.agency_id),
        "unit": units.get(r.unit_id or "", r.unit_id),
        "area": r.shown_area,
        "address": r.location.address if r.location else None,
        "month": r.month,
        "received_at": when(r.received_at) if r.received_at else None,
        "sla": r.sla_badge,
        "due_at": when(r.due_at) if r.due_at else None,
        "escalation": escalation,
    }


async def _queue_page(request: Request, queue: Queue, page: int) -> Response:
    c = await signed_in(request, queue.role)
    page = max(1, min(page, 1000))
    reports: list[OfficerReport] = []
    has_next = False
    error = None
    filters = QueueFilters.from_query(request.query_params, queue, c.role)
    try:
        for status in filters.asked_statuses:
            r = await c.api(
                "GET",
                "/v1/reports",
                params={
                    **({"status": status} if status else {}),
                    "limit": PAGE_SIZE,
                    "offset": (page - 1) * PAGE_SIZE,
                    **filters.gateway_params(),
                },
            )
            got = GatewayClient.parse(ReportPage, r)
            reports.extend(got.items)
            has_next = has_next or len(got.items) == PAGE_SIZE
    except GatewayError as exc:
        error = explain(exc, c.t)
    if filters.sort == "due":
        # Each status's page came nearest deadline first from the gateway (over the
        # whole queue); merged here the same way: what needs attention on top.
        rank = {"overdue": 0, "due_soon": 1}
        reports.sort(
            key=lambda r: (
                rank.get(r.sla_badge or "", 2),
                r.due_at or datetime.max.replace(tzinfo=WIB),
            )
        )
    units = await unit_options(c)
    map_points = [
        {
            "lat": r.location.point.lat,
            "lon": r.location.point.lon,
            "title": r.title or r.text[:60] or str(r.report_id),
            "status": status_label(r.status, c.lang),
            "url": f"/console/reports/{r.report_id}",
        }
        for r in reports
        if r.location is not None and r.location.point is not None
    ]
    return await c.page(
        "queue.html",
        queue=queue,
        title=c.t[queue.title_key],
        reports=reports,
        page=page,
        has_next=has_next,
        error=error,
        filters=filters,
        map_points=map_points,
        console_map=console_map(state_of(request).settings),
        # Bulk dispatch (ticket-admins): the agencies to pick from.
        bulk_agencies=await agency_options(c) if queue.name == "triage" and reports else [],
        area_choices=area_choices(),
        unit_choices=units,
        unit_names={row.unit_id: row.name for row in units},
        escalation_view=c.role in ESCALATION_ROLES,
    )


@router.get("/{name}/export.csv")
async def export_queue(request: Request, name: str) -> Response:
    """The officer's own queue (with its filters) as CSV: what the queue shows, no
    identity (no view carries any), exact times only for roles that see them, every
    cell through the one CSV writer that neutralises spreadsheet formulas."""
    queue = QUEUES.get(name)
    if queue is None:
        return no_store(Response("not found", status_code=404, media_type="text/plain"))
    c = await signed_in(request, queue.role)
    filters = QueueFilters.from_query(request.query_params, queue, c.role)
    names = await c.names.category_names() if c.names else {}
    agencies = await c.names.agency_names() if c.names else {}
    unit_names = {row.unit_id: row.name for row in await unit_options(c)}
    words = {
        "reminder": c.t["escalation_reminder_short"],
        "breach": c.t["escalation_breach_short"],
    }
    rows: list[dict[str, Any]] = []
    try:
        for status in filters.asked_statuses:
            for page in range(EXPORT_MAX_ROWS // 100):
                r = await c.api(
                    "GET",
                    "/v1/reports",
                    params={
                        **({"status": status} if status else {}),
                        "limit": 100,
                        "offset": page * 100,
                        **filters.gateway_params(),
                    },
                )
                got = GatewayClient.parse(ReportPage, r).items
                rows += [_export_row(x, c.lang, names, agencies, unit_names, words) for x in got]
                if len(got) < 100 or len(rows) >= EXPORT_MAX_ROWS:
                    break
    except GatewayError as exc:
        return no_store(Response(explain(exc, c.t), status_code=502, media_type="text/plain"))
    full = c.role in FULL_ACCESS
    columns = EXPORT_COLUMNS_FULL if full else EXPORT_COLUMNS_AGENCY
    body = write_csv(columns, rows[:EXPORT_MAX_ROWS])
    log.info("console queue export", queue=name, rows=min(len(rows), EXPORT_MAX_ROWS))
    response = Response(body, media_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="aduan-{name}.csv"'
    return no_store(response)


@router.post("/triage/bulk-dispatch")
async def bulk_dispatch(request: Request) -> Response:
    """Dispatch several reports to one agency at once (ticket-admins). Each is its own
    gateway call with the version the officer saw: one changed meanwhile is refused
    alone (409), the rest go through; the summary says which."""
    c: Console = await signed_in(request)
    form = await c.checked_form()
    c.require("ticket-admin")
    agency = text_field(form, "agency_id")
    picked = [v for v in form.getlist("report") if isinstance(v, str)][:BULK_MAX]
    if not agency:
        return await c.flash_and_go("error", c.t["agency_required_msg"], "/console/triage")
    if not picked:
        return await c.flash_and_go("error", c.t["bulk_none_msg"], "/console/triage")
    note = text_field(form, "note") or None
    done, failed = 0, []
    for value in picked:
        raw_id, _, raw_version = value.partition(":")
        target = uuid_or_none(raw_id)
        if target is None:
            continue
        body: dict[str, Any] = {"agency_id": agency, "note": note}
        if raw_version.isdigit():
            body["expected_version"] = int(raw_version)
        try:
            r = await c.api("POST", f"/v1/reports/{target}/dispatch", json=body)
        except GatewayError as exc:
            failed.append(f"{str(target)[:8]}: {explain(exc, c.t)}")
            continue
        c.session.expect(str(target), GatewayClient.parse(ActionResult, r).version)
        done += 1
    log.info("console bulk dispatch", dispatched=done, refused=len(failed))
    if done:
        c.session.flash("success", c.t["bulk_ok"].format(n=done))
    if failed:
        c.session.flash("error", c.t["bulk_failed"].format(n=len(failed)) + " " + "; ".join(failed))
    await c.store.save(c.session)
    return redirect("/console/triage")


@router.get("/triage")
async def triage(request: Request, page: int = 1) -> Response:
    return await _queue_page(request, QUEUES["triage"], page)


@router.get("/agency")
async def agency_queue(request: Request, page: int = 1) -> Response:
    return await _queue_page(request, QUEUES["agency"], page)


@router.get("/validation")
async def validation_queue(request: Request, page: int = 1) -> Response:
    return await _queue_page(request, QUEUES["validation"], page)
