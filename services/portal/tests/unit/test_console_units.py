"""Units in the console (issue 19, routing by place): the unit tree, the areas a unit form
names, the unit/area/"escalated to us" filters kept in the URL, escalation badges on queue
rows and the report page, the routing reason, and the dashboard's sub-unit and escalation
figures, rendered from gateway-shaped data."""

from __future__ import annotations

import re
from typing import Any

from aduan_portal.console.core import render_console
from aduan_portal.console.dashboard import escalation_figures, unit_figures
from aduan_portal.console.i18n import console_strings
from aduan_portal.console.queues import QUEUES, QueueFilters, _export_row, area_code
from aduan_portal.console.units import (
    parse_area_codes,
    routing_reason_text,
    unit_area_choices,
    unit_tree,
)
from aduan_portal.gateway_client import AdminUser, Category, Unit

from .test_console_pages import render_report, report, session

MENTENG = "31.71.06"
JAKPUS = "31.71"


def unit(unit_id: str, parent: str | None = None, **extra: Any) -> Unit:
    data: dict[str, Any] = {
        "unit_id": unit_id,
        "name": extra.pop("name", unit_id.replace("-", " ").title()),
        "kind": "kecamatan",
        "parent_id": parent,
    }
    data.update(extra)
    return Unit.model_validate(data)


def test_the_unit_tree_puts_sub_units_under_their_parent_by_name() -> None:
    units = [
        unit("kec-menteng", "sudin-jakpus", name="Kecamatan Menteng"),
        unit("dinas-bm", None, name="Dinas Bina Marga", kind="dinas"),
        unit("kel-cikini", "kec-menteng", name="Kelurahan Cikini"),
        unit("sudin-jakpus", "dinas-bm", name="Sudin Jakarta Pusat"),
        unit("kec-gambir", "sudin-jakpus", name="Kecamatan Gambir"),
        # A head's view: the parent is outside the list, so this is a root.
        unit("kec-tebet", "sudin-jaksel", name="Kecamatan Tebet"),
    ]
    rows = [(r.unit_id, r.depth) for r in unit_tree(units)]
    assert rows == [
        ("dinas-bm", 0),
        ("sudin-jakpus", 1),
        ("kec-gambir", 2),
        ("kec-menteng", 2),
        ("kel-cikini", 3),
        ("kec-tebet", 0),
    ]
    # A cycle (the gateway refuses one) neither loops nor loses a unit.
    cyclic = unit_tree([unit("a", "b"), unit("b", "a"), unit("c", "c")])
    assert sorted(r.unit_id for r in cyclic) == ["a", "b", "c"]


def test_unit_areas_are_known_codes_and_unknown_ones_are_named() -> None:
    codes, unknown = parse_area_codes([MENTENG], "3171, 3171061001 99.99 ")
    assert codes == [MENTENG, JAKPUS, "31.71.06.1001"] and unknown == ["99.99"]
    assert parse_area_codes([], "") == ([], [])
    choices = unit_area_choices()
    by_code = {code: (name, depth) for code, name, depth in choices}
    assert by_code[JAKPUS][1] == 0 and by_code[MENTENG] == ("Kec. Menteng", 1)
    assert by_code["31.71.06.1001"][1] == 2  # kelurahan are offered too
    # Tree order: Menteng's kelurahan come right after Menteng.
    codes_in_order = [c for c, _, _ in choices]
    i = codes_in_order.index(MENTENG)
    assert codes_in_order[i + 1].startswith(MENTENG + ".")


def test_unit_area_and_escalated_filters_are_kept_in_the_url_and_sent_to_the_gateway() -> None:
    queue = QUEUES["agency"]
    f = QueueFilters.from_query(
        {"wilayah": "317106", "unit": "kec-menteng", "escalated": "1", "area": "Cikini"},
        queue,
        "agency-officer",
    )
    assert f.wilayah == MENTENG and f.unit == "kec-menteng" and f.escalated and f.active
    # The picked code wins over typed text (the gateway takes one `area`).
    assert f.gateway_params() == {
        "area": MENTENG,
        "unit": "kec-menteng",
        "escalated": "true",
        "sort": "due",
    }
    assert f.link(2) == f"?area=Cikini&wilayah={MENTENG}&unit=kec-menteng&escalated=1&page=2"
    # "Escalated to us" asks once for every status; a chosen status narrows it again.
    assert f.asked_statuses == ("",)
    narrowed = QueueFilters.from_query({"escalated": "1", "status": "dispatched"}, queue, "x")
    assert narrowed.asked_statuses == ("dispatched",)
    assert QueueFilters.from_query({}, queue, "agency-officer").asked_statuses == queue.statuses
    # Bad values are dropped, not sent.
    odd = QueueFilters.from_query({"wilayah": "99.99", "unit": "<x>"}, queue, "agency-officer")
    assert (odd.wilayah, odd.unit, odd.active) == ("", "", False)
    assert area_code("") == "" and area_code("31") == "31"


def escalated_report(**overrides: Any) -> Any:
    return report(
        status="dispatched",
        unit_id="kec-menteng",
        escalations=[
            {"kind": "reminder", "from_unit": "kec-menteng", "to_unit": "sudin-jakpus"},
            {"kind": "breach", "from_unit": "kec-menteng", "to_unit": "sudin-jakpus"},
        ],
        **overrides,
    )


UNIT_NAMES = {"kec-menteng": "Kecamatan Menteng", "sudin-jakpus": "Sudin Jakarta Pusat"}


def render_queue(
    role: str, queue: str, rows: list[Any], query: dict[str, str], **extra: Any
) -> str:
    return render_console(
        "queue.html",
        "id",
        session(role, "dinas-bm"),
        f"/console/{queue}",
        queue=QUEUES[queue],
        title="Antrean",
        reports=rows,
        page=1,
        has_next=False,
        error=None,
        filters=QueueFilters.from_query(query, QUEUES[queue], role),
        **extra,
    )


def test_queue_rows_show_where_a_report_is_overdue_and_the_filters_keep_their_values() -> None:
    from aduan_portal.console.units import UnitRow
    from aduan_portal.rendering import area_choices

    rows = [escalated_report(), report(status="dispatched")]
    html = render_queue(
        "agency-officer",
        "agency",
        rows,
        {"wilayah": MENTENG, "unit": "kec-menteng", "escalated": "1"},
        unit_names=UNIT_NAMES,
        unit_choices=[
            UnitRow(unit("sudin-jakpus", name="Sudin Jakarta Pusat"), 0),
            UnitRow(unit("kec-menteng", "sudin-jakpus", name="Kecamatan Menteng"), 1),
        ],
        area_choices=area_choices(),
        escalation_view=True,
    )
    badges = re.findall(
        r'<span class="badge escalation[^"]*" data-escalation="(\w+)"[^>]*>([^<]*)<', html
    )
    assert badges == [("breach", "Terlambat di Kecamatan Menteng")]  # the breach, not both
    assert f'<option value="{MENTENG}" selected>Kec. Menteng</option>' in html
    assert '<option value="kec-menteng" data-depth="1" selected>' in html
    assert 'id="filter-escalated" name="escalated" value="1" checked' in html
    assert 'class="unit" data-unit-id="kec-menteng">Kecamatan Menteng<' in html
    # The CSV link keeps the filters.
    assert f"export.csv?wilayah={MENTENG}&amp;unit=kec-menteng&amp;escalated=1" in html
    # No unit list from the gateway, no escalation role: neither control is offered.
    plain = render_queue("ticket-admin", "triage", [report(status="received")], {})
    assert 'id="filter-unit"' not in plain and 'id="filter-escalated"' not in plain
    assert 'id="filter-wilayah"' in plain


def test_the_export_row_names_the_unit_and_the_escalation() -> None:
    row = _export_row(
        escalated_report(),
        "id",
        {},
        {},
        UNIT_NAMES,
        {"breach": "terlambat", "reminder": "pengingat"},
    )
    assert (
        row["unit"] == "Kecamatan Menteng" and row["escalation"] == "terlambat: Kecamatan Menteng"
    )
    assert _export_row(report(), "en", {}, {})["escalation"] is None


def test_the_report_page_shows_escalations_in_the_timeline_and_the_routing_reason() -> None:
    t = console_strings("id")
    cat = Category(code="jalan-rusak", name_id="Jalan rusak", name_en="Damaged road")
    r = escalated_report(
        timeline=[
            {
                "version": 2,
                "status": "dispatched",
                "label": "Disposisi",
                "month": "2026-11",
                "actor_role": "system",
                "reason": "auto-routed by the rule for category jalan-rusak in area 31.71.06",
                # The gateway's shape (ReportStatusChanged.route).
                "route": {
                    "rule": "area",
                    "category": "jalan-rusak",
                    "area_code": MENTENG,
                    "agency_id": "kec-menteng",
                },
            },
            {
                "version": 3,
                "status": "dispatched",
                "label": "Disposisi",
                "month": "2026-11",
                "actor_role": "system",
                "reason": "overdue at Kecamatan Menteng, flagged to Sudin and the validator bureau",
                "escalation": {
                    "kind": "breach",
                    "stage": "dispatch",
                    "from_unit": "kec-menteng",
                    "to_unit": "sudin-jakpus",
                },
            },
        ]
    )
    html = render_report(
        "agency-officer",
        r,
        unit_names=UNIT_NAMES,
        routing_text=lambda reason: routing_reason_text(
            reason, t, UNIT_NAMES, {"jalan-rusak": cat}, "id"
        ),
    )
    assert 'id="report-agency" data-agency-id="dinas-uji">' in html
    assert 'id="report-escalation"' in html
    entry = html[html.index('id="timeline-3"') :]
    assert "Terlambat di Kecamatan Menteng" in entry
    assert "diteruskan ke Sudin Jakarta Pusat dan Biro" in entry
    # Workflow's and the gateway's English reason is not shown: the entry is said from
    # its structured fields.
    assert "overdue at" not in html
    # The dispatch is said once, from its structured route, not also from the note.
    assert "Didisposisikan otomatis" not in html
    assert (
        "aturan rute kategori Jalan rusak di Kec. Menteng, Kota Jakarta Pusat ke Kecamatan Menteng"
        in html
    )
    # The other rules, in English.
    en = console_strings("en")
    fallback = routing_reason_text({"rule": "fallback", "unit_id": "dinas-bm"}, en, {}, {}, "en")
    assert fallback == "no route matched; to the province agency dinas-bm"
    by_cat = routing_reason_text(
        {"category": "jalan-rusak", "unit_id": "x"}, en, {}, {"jalan-rusak": cat}, "en"
    )
    assert by_cat == "the route of category Damaged road to x"


def test_the_dashboard_shows_sub_units_and_escalations() -> None:
    data: dict[str, Any] = {
        "agency_id": "dinas-bm",
        "open_by_status": {"dispatched": 3},
        "overdue": 1,
        "completed_by_month": [["2026-11", 2]],
        "stages": [],
        "by_unit": [
            {"unit_id": "kec-menteng", "open": 2, "overdue": 1, "escalated": 1},
            {"bad": "row"},
        ],
        "escalations": {"reminders": 1, "breaches": 2},
    }
    assert unit_figures(data) == [data["by_unit"][0]] and unit_figures(None) == []
    assert escalation_figures(data) == {"reminders": 1, "breaches": 2}
    assert escalation_figures({}) is None
    html = render_console(
        "dashboard.html",
        "id",
        session("validator"),
        "/console/dashboard",
        title="Dasbor",
        data=data,
        chart=[],
        agencies=[],
        selected="",
        months=12,
        error=None,
        unit="",
        wilayah=MENTENG,
        unit_names=UNIT_NAMES,
        by_unit=unit_figures(data),
        escalations=escalation_figures(data),
    )
    assert '<dd id="escalation-breaches">2</dd>' in html
    row = html[html.index('id="unit-row-kec-menteng"') :]
    assert "Kecamatan Menteng" in row and '<td class="unit-overdue">1</td>' in row


def test_the_units_page_lists_the_tree_and_keeps_a_refused_form() -> None:
    from aduan_portal.console.units import KIND_CODES, area_label

    units = [
        unit("dinas-bm", None, name="Dinas Bina Marga", kind="dinas", officer_count=4),
        unit("kec-menteng", "dinas-bm", name="Kecamatan Menteng", area_codes=[MENTENG]),
    ]
    html = render_console(
        "admin_units.html",
        "id",
        session("administrator"),
        "/console/admin/units",
        tree=unit_tree(units),
        agencies=[],
        notes=[],
        kinds=KIND_CODES,
        area_options=unit_area_choices(),
        area_label=area_label,
        form_error="Permintaan ditolak: unknown parent unit",
        failed_form="create",
        values={
            "unit_id": "kel-cikini",
            "name": "Kelurahan Cikini",
            "kind": "kelurahan",
            "parent_id": "kec-menteng",
            "area_typed": "31.71.06.1001",
            "area_codes": [],
        },
    )
    row = html[html.index('id="unit-kec-menteng"') :]
    assert 'data-depth="1"' in row[:200] and "Kec. Menteng, Kota Jakarta Pusat" in row
    assert "Dinas provinsi" in html  # the kind by name
    form = html[html.index('id="create-unit-form"') :]
    assert 'id="create-unit-error"' in form and "unknown parent unit" in form
    assert 'value="kel-cikini"' in form and 'value="31.71.06.1001"' in form
    assert '<option value="kelurahan" selected>' in form
    assert re.search(r'<option value="kec-menteng" selected>', form)
    # Every POST form carries CSRF.
    assert html.count('name="csrf_token"') == html.count('method="post"')


def test_the_users_page_sets_a_unit_and_unit_head() -> None:
    from aduan_portal.console.units import UnitRow

    users = [
        AdminUser(
            user_id="u1",
            username="camat",
            role="agency-officer",
            unit_id="kec-menteng",
            unit_head=True,
        ),
        AdminUser(user_id="u2", username="lurah", role="agency-officer"),
    ]
    html = render_console(
        "admin_users.html",
        "en",
        session("administrator"),
        "/console/admin/users",
        users=users,
        agencies=[],
        notes=[],
        roles=("agency-officer",),
        unit_rows=[UnitRow(unit("kec-menteng", name="Kecamatan Menteng"), 0)],
        unit_names={"kec-menteng": "Kecamatan Menteng"},
    )
    camat = html[html.index('id="user-camat"') : html.index('id="user-lurah"')]
    assert 'data-unit-head="true"' in camat and "Unit head" in camat
    assert '<option value="kec-menteng" selected>' in camat
    assert 'id="user-unit-head-camat" name="unit_head" value="1" checked' in camat
    lurah = html[html.index('id="user-lurah"') :]
    assert 'data-unit-id=""' in lurah and "checked" not in lurah.split("</tr>")[0]


def test_a_route_by_place_in_the_timeline_is_said_with_the_areas_name() -> None:
    from aduan_portal.console.i18n import system_reason_text

    said = system_reason_text(
        "auto-routed by the rule for category jalan-rusak in area 31.74.01",
        "system",
        "id",
        {"jalan-rusak": "Jalan rusak"},
    )
    assert said == (
        "Didisposisikan otomatis menurut aturan rute kategori Jalan rusak di "
        "Kec. Tebet, Kota Jakarta Selatan"
    )
    english = system_reason_text(
        "auto-routed by the rule for category jalan-rusak in area 31.74.01", "system", "en"
    )
    assert english.endswith("jalan-rusak in Kec. Tebet, Kota Jakarta Selatan")


def test_a_head_reads_a_sub_units_report_but_gets_no_action_forms() -> None:
    # The report sits at the sub-unit; the head's session is the parent unit.
    r = escalated_report(agency_id="kec-menteng")
    html = render_console(
        "report.html",
        "id",
        session("agency-officer", "sudin-jakpus"),
        f"/console/reports/{r.report_id}",
        report=r,
        duplicates=[],
        agencies=[],
        categories=[],
        grants=[],
        officers=[],
        officer_names={},
        notes=[],
        applying=False,
        unit_names=UNIT_NAMES,
    )
    assert 'id="read-only-unit" data-unit-id="kec-menteng"' in html
    assert "ditangani oleh Kecamatan Menteng" in html
    assert 'id="accept-form"' not in html and 'id="no-actions"' not in html
    # The unit's own officer acts.
    own = render_report("agency-officer", r)
    assert 'id="read-only-unit"' not in own


def test_the_ticket_admin_dispatches_to_a_unit_chosen_from_the_tree() -> None:
    """Issue 19: the dispatch form lists the units as a tree (a kelurahan under its
    kecamatan), so the level the work goes to is visible; the flat list stays the fallback
    when the units cannot be listed."""
    from aduan_portal.console.units import unit_tree
    from aduan_portal.gateway_client import Agency

    tree = unit_tree(
        [
            unit("kec-gambir", name="Kecamatan Gambir"),
            unit("kel-gambir", "kec-gambir", name="Kelurahan Gambir", kind="kelurahan"),
            unit("dinas-sda", name="Dinas SDA", kind="dinas"),
        ]
    )
    assert [(row.unit_id, row.depth) for row in tree] == [
        ("dinas-sda", 0),
        ("kec-gambir", 0),
        ("kel-gambir", 1),
    ]
    r = report(status="received", category=None, access="full")
    flat = [Agency(agency_id="kel-gambir", name="Kelurahan Gambir")]
    html = render_report("ticket-admin", r, agencies=flat, dispatch_units=tree)
    form = html[
        html.index('id="dispatch-agency"') : html.index(
            "</select>", html.index('id="dispatch-agency"')
        )
    ]
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', form)
    assert [value for value, _ in options] == ["", "dinas-sda", "kec-gambir", "kel-gambir"]
    labels = dict(options)
    assert labels["kec-gambir"] == "Kecamatan Gambir (kec-gambir)"
    assert labels["kel-gambir"] == "\u00a0\u00a0\u00a0└ Kelurahan Gambir (kel-gambir)"
    fallback = render_report("ticket-admin", r, agencies=flat, dispatch_units=[])
    assert 'data-tree="1"' not in fallback
    assert '<option value="kel-gambir">Kelurahan Gambir (kel-gambir)</option>' in fallback


def test_bulk_dispatch_from_triage_offers_the_unit_tree() -> None:
    from aduan_portal.console.units import UnitRow
    from aduan_portal.gateway_client import Agency
    from aduan_portal.rendering import area_choices

    tree = [
        UnitRow(unit("kec-gambir", name="Kecamatan Gambir"), 0),
        UnitRow(unit("kel-gambir", "kec-gambir", name="Kelurahan Gambir"), 1),
    ]
    common: dict[str, Any] = {
        "area_choices": area_choices(),
        "bulk_agencies": [Agency(agency_id="kel-gambir", name="Kelurahan Gambir")],
    }
    html = render_queue(
        "ticket-admin", "triage", [report(status="received")], {}, unit_choices=tree, **common
    )
    bulk = html[
        html.index('id="bulk-agency"') : html.index("</select>", html.index('id="bulk-agency"'))
    ]
    options = re.findall(r'<option value="([^"]*)">([^<]*)</option>', bulk)
    assert options == [
        ("", options[0][1]),
        ("kec-gambir", "Kecamatan Gambir"),
        ("kel-gambir", "\u00a0\u00a0\u00a0└ Kelurahan Gambir"),
    ]
    flat = render_queue("ticket-admin", "triage", [report(status="received")], {}, **common)
    assert '<option value="kel-gambir">Kelurahan Gambir</option>' in flat


def test_a_breach_before_any_unit_has_no_escalation_badge() -> None:
    """A report still in triage has no unit to be overdue at: its SLA badge says it is
    overdue, and an "overdue at —" badge beside it would say nothing more."""
    from aduan_portal.rendering import area_choices

    triage = report(
        status="coordination",
        escalations=[{"kind": "breach", "from_unit": None, "to_unit": None}],
    )
    html = render_queue(
        "validator", "triage", [triage], {}, area_choices=area_choices(), unit_names={}
    )
    assert 'class="badge escalation' not in html
    page = render_report("validator", triage, unit_names={})
    assert 'id="report-escalation"' not in page
