"""Console pages rendered from gateway-shaped data (no I/O): labels verbatim, photo locks,
SLA badges, role-specific action forms, CSRF tokens in every POST form, and the gateway
error texts the console shows."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from aduan_kit.catalogue import suggest_category
from aduan_portal.console.core import explain, render_console, safe_next
from aduan_portal.console.i18n import (
    ConsoleLanguage,
    console_strings,
    evidence_text,
    system_reason_text,
)
from aduan_portal.console.queues import QUEUES, QueueFilters
from aduan_portal.console.replies import TEMPLATE_KINDS, ReplyTemplate, wanted_kinds
from aduan_portal.console_session import ConsoleSession, csrf_matches
from aduan_portal.gateway_client import (
    Agency,
    Category,
    Conversation,
    EvidenceCheck,
    GatewayError,
    GatewayUnavailable,
    Grant,
    Officer,
    OfficerReport,
    _detail,
)

LABEL = "Rahasia — hanya untuk petugas yang berwenang; dilarang disebarluaskan"
SHA = "a" * 64


def session(role: str, agency: str | None = None) -> ConsoleSession:
    return ConsoleSession(
        session_id="sid",
        access_token="access",
        refresh_token="refresh",
        access_expires_at=0,
        user_id=f"{role}-id",
        username=f"{role}-user",
        role=role,
        agency_id=agency,
        csrf_token="the-csrf-token",
    )


def report(**overrides: Any) -> OfficerReport:
    data: dict[str, Any] = {
        "access": "agency",
        "report_id": str(uuid.uuid4()),
        "channel": "web",
        "privacy": "private",
        "confidentiality_label": LABEL,
        "title": "Jalan berlubang",
        "text": "Lubang di depan sekolah",
        "category": "jalan-rusak",
        "agency_id": "dinas-uji",
        "status": "awaiting_validation",
        "status_label": "Menunggu Validasi",
        "status_version": 5,
        "month": "2026-11",
        "area": "Menteng",
        "reporter": "Pelapor-7F3A",
        "photos": [],
        "photos_locked": True,
        "sla_badge": "overdue",
        "due_at": "2026-11-20T03:00:00Z",
        "timeline": [
            {
                "version": 5,
                "status": "awaiting_validation",
                "label": "Menunggu Validasi",
                "month": "2026-11",
                "actor_role": "agency-officer",
                "actor_agency": "dinas-uji",
                "actor_display_name": "Petugas A",
                "follow_up": {
                    "follow_up_id": str(uuid.uuid4()),
                    "confidentiality_label": LABEL,
                    "note": "Sudah ditambal",
                    "officer_name": "Petugas A",
                    "officer_agency": "dinas-uji",
                    "photos": [],
                    "photos_locked": True,
                    "evidence": {
                        "photos_checked": 2,
                        "newer_than_report": True,
                        "within_distance": True,
                        "max_distance_m": 200.0,
                        "nearest_distance_m": 12.4,
                        "summary": "all 2 dated photo(s) taken after the report; within 200 m "
                        "of the report (nearest 12 m, farthest 40 m)",
                    },
                },
            }
        ],
    }
    data.update(overrides)
    return OfficerReport.model_validate(data)


def render_report(role: str, r: OfficerReport, lang: str = "id", **extra: Any) -> str:
    context: dict[str, Any] = {
        "duplicates": [],
        "agencies": [],
        "categories": [],
        "grants": [],
        "officers": [],
        "officer_names": {},
        "notes": [],
        "applying": False,
    }
    context.update(extra)
    return render_console(
        "report.html",
        lang,  # type: ignore[arg-type]
        session(role),
        f"/console/reports/{r.report_id}",
        report=r,
        **context,
    )


def test_labels_in_the_console_language_locked_photos_and_sla_badge() -> None:
    r = report()
    html = render_report("validator", r)
    # The officers' reminder on the report and on the follow-up, in the console's words
    # for the report's privacy (the gateway's label is Indonesian only).
    assert html.count('class="label confidentiality') == 2 and html.count(">Privat<") == 2
    assert LABEL not in html
    assert 'id="photos-locked"' in html
    assert "follow-up-photos-locked" in html
    assert 'data-sla="overdue"' in html and "Lewat tenggat" in html
    # The evidence check, said in the console's language from its fields (not workflow's
    # English summary).
    assert (
        "2 foto diperiksa; semua foto bertanggal diambil setelah laporan dibuat; semua foto "
        "berlokasi dalam radius 200 m dari laporan (terdekat 12 m)."
    ) in html
    assert "dated photo(s)" not in html
    assert "Pelapor-7F3A" in html
    assert "<img" not in html  # nothing to show when the gateway returned no photos


def test_photos_shown_only_when_the_gateway_returns_them() -> None:
    r = report(
        photos=[{"sha256": SHA, "content_type": "image/jpeg", "size_bytes": 10}],
        photos_locked=False,
    )
    html = render_report("agency-officer", r)
    assert f'src="/console/reports/{r.report_id}/photos/{SHA}?size=thumb"' in html
    assert 'id="photos-locked"' not in html


@pytest.mark.parametrize(
    ("role", "status", "forms", "absent"),
    [
        (
            "ticket-admin",
            "received",
            ["dispatch-form", "coordinate-form", "reject-form", "merge-form"],
            ["accept-form", "validate-form"],
        ),
        ("agency-officer", "dispatched", ["accept-form", "return-form"], ["dispatch-form"]),
        ("agency-officer", "in_progress", ["followup-form"], ["accept-form"]),
        ("agency-officer", "followup_rejected", ["resume-form"], ["followup-form"]),
        (
            "validator",
            "awaiting_validation",
            ["validate-form", "order-fv-form", "reject-followup-form", "grant-form"],
            ["record-fv-form", "dispatch-form"],
        ),
        (
            "validator",
            "field_verification",
            ["record-fv-form", "reject-followup-form"],
            ["validate-form"],
        ),
        ("administrator", "received", [], ["dispatch-form", "grant-form"]),
    ],
)
def test_each_role_gets_its_actions_and_every_post_form_has_csrf(
    role: str, status: str, forms: list[str], absent: list[str]
) -> None:
    html = render_report(role, report(status=status))
    for form in forms:
        assert f'id="{form}"' in html, form
    for form in absent:
        assert f'id="{form}"' not in html, form
    if not forms:
        assert 'id="no-actions"' in html
    posts = re.findall(r'<form method="post".*?</form>', html, flags=re.S)
    assert len(posts) >= len(forms)
    for form_html in posts:
        assert 'name="csrf_token" value="the-csrf-token"' in form_html
    # The follow-up form uploads files as multipart.
    if "followup-form" in forms:
        assert 'enctype="multipart/form-data"' in html


def test_applying_hides_actions_and_refreshes() -> None:
    html = render_report("agency-officer", report(status="dispatched"), applying=True)
    assert 'http-equiv="refresh"' in html
    assert 'id="applying"' in html
    assert 'id="accept-form"' not in html


def test_queue_rows_carry_sla_badges_and_stable_ids() -> None:

    rows = [report(), report(sla_badge="due_soon"), report(sla_badge=None)]
    html = render_console(
        "queue.html",
        "en",
        session("validator"),
        "/console/validation",
        queue=QUEUES["validation"],
        title="Validation queue",
        reports=rows,
        page=1,
        has_next=False,
        error=None,
        filters=QueueFilters.from_query({}, QUEUES["validation"], "validator"),
    )
    for r in rows:
        assert f'id="report-row-{r.report_id}"' in html
    assert html.count('data-sla="overdue"') == 1
    assert html.count('data-sla="due_soon"') == 1
    assert "Due soon" in html


def test_a_triage_checkbox_is_named_by_the_reports_words_not_its_id() -> None:
    # Most complaints come without a title (the portal's form, SMS, WhatsApp): a screen
    # reader said "Pilih 3b341b75-a96b-..." for each of them.
    untitled = report(title=None, text="Sampah menumpuk di pinggir kali dekat Jalan Kenari")
    html = render_console(
        "queue.html",
        "id",
        session("ticket_admin"),
        "/console/triage",
        queue=QUEUES["triage"],
        title="Triase",
        reports=[untitled, report()],
        page=1,
        has_next=False,
        error=None,
        filters=QueueFilters.from_query({}, QUEUES["triage"], "ticket_admin"),
        bulk_agencies=[("satpol-pp", "Satpol PP")],
    )
    labels = re.findall(r'id="pick-[^"]+" aria-label="([^"]+)"', html)
    assert labels == [
        "Pilih Sampah menumpuk di pinggir kali dekat Jalan Kenari",
        "Pilih Jalan berlubang",
    ]


def test_the_validation_queue_says_the_evidence_check_in_the_console_language() -> None:

    html = render_console(
        "queue.html",
        "id",
        session("validator"),
        "/console/validation",
        queue=QUEUES["validation"],
        title="Antrean validasi",
        reports=[report()],
        page=1,
        has_next=False,
        error=None,
        filters=QueueFilters.from_query({}, QUEUES["validation"], "validator"),
    )
    cell = re.search(r'class="evidence">(.*?)</td>', html, re.S)
    assert cell is not None
    assert cell.group(1).strip().startswith("2 foto diperiksa; semua foto bertanggal diambil")
    assert "taken after the report" not in html  # workflow's English summary


def test_gateway_reasons_are_shown_verbatim_and_explained() -> None:
    t = console_strings("id")
    # Workflow's two everyday refusals, in the console's language and saying plainly that
    # nothing happened (issue 14: "version 2 expected, report is at 3" inside Indonesian).
    conflict = explain(GatewayError(409, "cannot accept a report in status 'received'"), t)
    assert conflict == (
        "Tindakan ini tidak dapat dilakukan pada laporan berstatus “Menunggu”. "
        "Tindakan Anda belum dilakukan."
    )
    stale = explain(GatewayError(409, "version 2 expected, report is at 3"), t)
    assert "sudah diubah orang lain" in stale and "versi 2, sekarang versi 3" in stale
    assert "expected" not in stale
    en = explain(GatewayError(409, "version 2 expected, report is at 3"), console_strings("en"))
    assert en.startswith("Someone else changed this report after you opened it")
    # Any other conflict: the reason as sent, in a sentence.
    other = explain(GatewayError(409, "a report cannot be merged into itself"), t)
    assert "a report cannot be merged into itself" in other and "Muat ulang" in other
    assert "sedang tidak dapat dihubungi" in explain(GatewayUnavailable(502, "down"), t)
    assert explain(GatewayError(418, "teapot"), t) == "Permintaan ditolak: teapot"


def test_gateway_error_bodies_are_read_into_one_sentence() -> None:
    plain = httpx.Response(409, json={"detail": "agency exists"})
    assert _detail(plain) == "agency exists"
    validation = httpx.Response(
        422,
        json={"detail": [{"loc": ["body", "reason"], "msg": "String should have at least 3"}]},
    )
    assert _detail(validation) == "reason: String should have at least 3"
    assert _detail(httpx.Response(502, text="<html>bad gateway</html>")) == "Bad Gateway"


def test_csrf_and_redirect_targets() -> None:
    assert csrf_matches("abc", "abc")
    assert not csrf_matches("abc", "abd")
    assert not csrf_matches("abc", None)
    assert not csrf_matches(None, "")
    assert safe_next("/console/agency") == "/console/agency"
    for bad in ("https://evil.example/", "//evil.example", "/console/..\\x", None):
        assert safe_next(bad) == "/console/"


# --- workflow's English, said in the console's language ----------------------------------------


def evidence(**fields: Any) -> EvidenceCheck:
    return EvidenceCheck.model_validate({"photos_checked": 3, "summary": "raw", **fields})


@pytest.mark.parametrize(
    ("fields", "lang", "expected"),
    [
        (
            {
                "newer_than_report": False,
                "within_distance": False,
                "max_distance_m": 1500.0,
                "nearest_distance_m": 1722.6,
            },
            "id",
            "3 foto diperiksa; ada foto yang diambil sebelum laporan dibuat; ada foto di luar "
            "radius 1.500 m dari laporan (terdekat 1.723 m).",
        ),
        (
            {
                "newer_than_report": False,
                "within_distance": False,
                "max_distance_m": 1500.0,
                "nearest_distance_m": 1722.6,
            },
            "en",
            "3 photo(s) checked; some photo was taken before the report; some photo is beyond "
            "1,500 m of the report (nearest 1,723 m).",
        ),
        (
            {
                "newer_than_report": True,
                "within_distance": True,
                "max_distance_m": 150.5,
                "nearest_distance_m": 3.0,
            },
            "id",
            "3 foto diperiksa; semua foto bertanggal diambil setelah laporan dibuat; semua foto "
            "berlokasi dalam radius 150,5 m dari laporan (terdekat 3 m).",
        ),
        (
            {},
            "id",
            "3 foto diperiksa; tidak ada foto yang memuat waktu pengambilan; lokasi tidak dapat "
            "dibandingkan (laporan atau foto tanpa lokasi).",
        ),
        # A verdict without its radius does not add up: workflow's own words, not a guess.
        ({"within_distance": True}, "id", "raw"),
    ],
)
def test_evidence_check_is_rendered_from_its_fields(
    fields: dict[str, Any], lang: ConsoleLanguage, expected: str
) -> None:
    assert evidence_text(evidence(**fields), lang) == expected


def test_system_reasons_are_translated_and_officers_words_are_not() -> None:
    auto = "auto-routed by the rule for category jalan-rusak"
    assert system_reason_text(auto, "system", "id") == (
        "Didisposisikan otomatis menurut aturan rute kategori jalan-rusak"
    )
    assert system_reason_text(auto, "system", "en", {"jalan-rusak": "Damaged road"}) == (
        "Auto-routed by the routing rule of category Damaged road"
    )
    # An officer who writes the same words wrote them: shown as written.
    assert system_reason_text(auto, "ticket-admin", "id") == auto
    # A system reason the console does not know is shown verbatim, never dropped.
    assert system_reason_text("something new", "system", "id") == "something new"

    step = {
        "version": 2,
        "status": "dispatched",
        "label": "Disposisi",
        "month": "2026-11",
        "actor_role": "system",
        "reason": auto,
    }
    officer_step = {**step, "version": 3, "actor_role": "ticket-admin", "reason": "tolong cek"}
    html = render_report(
        "validator",
        report(timeline=[step, officer_step]),
        category_names={"jalan-rusak": "Jalan rusak"},
    )
    assert "Didisposisikan otomatis menurut aturan rute kategori Jalan rusak" in html
    assert "auto-routed" not in html
    assert "tolong cek" in html


def test_grant_form_offers_the_agency_officers_by_name_and_keeps_the_typed_id() -> None:
    officers = [
        Officer(user_id="u-budi", username="budi-dbm", display_name="Budi Santoso"),
        Officer(user_id="u-ani", username="ani-dbm", display_name=None),
    ]
    grant = {
        "grant_id": str(uuid.uuid4()),
        "report_id": str(uuid.uuid4()),
        "grantee": "u-budi",
        "granted_by": "validator-id",
        "created_at": "2026-11-20T03:00:00Z",
        "expires_at": "2026-11-21T03:00:00Z",
        "active": True,
    }
    html = render_report(
        "validator",
        report(),
        officers=officers,
        officer_names={"u-budi": "Budi Santoso (budi-dbm)"},
        grants=[Grant.model_validate(grant)],
    )
    assert '<label for="grant-officer">Petugas instansi laporan ini</label>' in html
    assert '<select id="grant-officer" name="officer">' in html
    assert '<option value="u-budi">Budi Santoso (budi-dbm)</option>' in html
    assert '<option value="u-ani">ani-dbm (ani-dbm)</option>' in html
    # The typed id stays, labelled, for an officer who is not in the list.
    assert '<label for="grant-grantee">Atau ID pengguna petugas lain</label>' in html
    assert 'id="grant-grantee" name="grantee"' in html
    assert 'id="no-officers"' not in html
    # The grant table names the officer too (the id stays for the record).
    assert "Budi Santoso (budi-dbm)<br><small>u-budi</small>" in html

    html = render_report("validator", report())
    assert 'id="grant-officer"' not in html
    assert 'id="no-officers"' in html and 'id="grant-grantee"' in html


def test_ticket_admins_get_moderation_forms_on_public_reports_only() -> None:
    # SPEC Revision 2 / issue 13, hole 10: hide, show again, correct the public text.
    public = report(access="full", privacy="public", text="Pohon tumbang, kata Pak Darto")
    html = render_report("ticket-admin", public)
    assert 'id="moderation-section"' in html
    assert 'name="op" value="hide"' in html and 'name="op" value="show"' in html
    assert 'id="moderation-correct"' in html and "Pohon tumbang, kata Pak Darto</textarea>" in html
    # Each form carries the CSRF token.
    forms = re.findall(r'<form[^>]*id="moderation-[^"]*".*?</form>', html, re.S)
    assert len(forms) == 2
    for form in forms:
        assert 'value="the-csrf-token"' in form
    assert 'id="moderation-section"' not in render_report("ticket-admin", report())  # private
    for role in ("validator", "agency-officer", "administrator"):
        assert 'id="moderation-section"' not in render_report(role, public)


def test_names_not_codes_on_the_report_page() -> None:
    r = report(channel="call_centre", agency_id="dinas-bina-marga")
    html = render_report(
        "agency-officer",
        r,
        agency_names={"dinas-bina-marga": "Dinas Bina Marga"},
        category_names={"jalan-rusak": "Jalan rusak"},
    )
    assert re.search(r'id="report-agency"[^>]*>Dinas Bina Marga<', html)
    assert re.search(r'id="report-category"[^>]*>Jalan rusak<', html)
    assert re.search(r'id="report-channel"[^>]*>Pusat panggilan<', html)
    assert re.search(r'id="report-privacy"[^>]*>Rahasia', html)
    # A code without a known name is still shown (not hidden).
    html = render_report("validator", report(agency_id="dinas-baru"))
    assert re.search(r'id="report-agency"[^>]*>dinas-baru<', html)


def test_report_map_only_with_a_point_and_leaflet() -> None:
    from aduan_portal.rendering import MapConfig

    cfg = MapConfig(True, "https://tiles.example/{z}/{x}/{y}.png", "© OSM", -6.2, 106.8, 11)
    located = report(location={"address": "Jl. Kenanga 3", "point": {"lat": -6.21, "lon": 106.83}})
    html = render_report("agency-officer", located, console_map=cfg)
    assert 'id="report-map"' in html and 'data-lat="-6.21"' in html
    assert "/static/console-map.js" in html and "leaflet.js" in html
    assert 'id="report-point-link"' in html
    # No point: no map (and no scripts loaded for nothing); no Leaflet: coordinates only.
    assert 'id="report-map"' not in render_report("agency-officer", report(), console_map=cfg)
    html = render_report("agency-officer", located, console_map=None)
    assert 'id="report-map"' not in html and 'id="report-point"' in html


def test_queue_filters_from_the_query_and_pager_links_keep_them() -> None:
    queue = QUEUES["agency"]
    f = QueueFilters.from_query(
        {"status": "in_progress", "category": "jalan-rusak", "area": "  Menteng ", "q": "x"},
        queue,
        "agency-officer",
    )
    assert f.statuses == ("in_progress",)
    # No q; the gateway sorts the whole queue by the nearest deadline unless asked.
    assert f.gateway_params() == {"category": "jalan-rusak", "area": "Menteng", "sort": "due"}
    assert not f.search_allowed and f.active
    assert f.link(2) == "?status=in_progress&category=jalan-rusak&area=Menteng&page=2"
    # "Only my reports" for agency officers, asked of the gateway as `assignee=me`.
    mine = QueueFilters.from_query({"mine": "1"}, queue, "agency-officer")
    assert mine.gateway_params() == {"assignee": "me", "sort": "due"}
    assert mine.link(1) == "?mine=1"
    assert not QueueFilters.from_query({"mine": "1"}, QUEUES["triage"], "ticket-admin").mine
    # A status from another queue or a malformed code is dropped, not sent on.
    other = QueueFilters.from_query(
        {"status": "received", "category": "<x>"}, queue, "agency-officer"
    )
    assert other.statuses == queue.statuses and other.category == "" and not other.active
    # Full-access roles search text.
    full = QueueFilters.from_query({"q": "lampu"}, QUEUES["triage"], "ticket-admin")
    assert full.search_allowed and full.gateway_params() == {"q": "lampu", "sort": "due"}
    # Newest first on request (kept by the pager); anything else is the due-date order.
    newest = QueueFilters.from_query({"sort": "newest"}, QUEUES["validation"], "validator")
    assert newest.gateway_params() == {"sort": "newest"}
    assert newest.link(2) == "?sort=newest&page=2"
    for odd in ("due_asc", "oldest", ""):
        assert QueueFilters.from_query({"sort": odd}, queue, "agency-officer").sort == "due"


def test_queue_page_filter_form_and_map_points_are_escaped() -> None:
    from aduan_portal.rendering import MapConfig

    cfg = MapConfig(True, "", "", -6.2, 106.8, 11)
    queue = QUEUES["triage"]
    points = [{"lat": -6.2, "lon": 106.8, "title": "a'b\"<script>", "status": "s", "url": "/x"}]
    html = render_console(
        "queue.html",
        "en",
        session("ticket-admin"),
        "/console/triage",
        queue=queue,
        title="Triage",
        reports=[report(status="received")],
        page=2,
        has_next=True,
        error=None,
        filters=QueueFilters.from_query(
            {"status": "received", "q": "lampu"}, queue, "ticket-admin"
        ),
        map_points=points,
        console_map=cfg,
        category_names={"jalan-rusak": "Damaged road"},
    )
    assert 'id="queue-filters"' in html and 'id="filter-q"' in html and 'value="lampu"' in html
    assert '<option value="received" selected>' in html
    assert '<option value="jalan-rusak">Damaged road</option>' in html
    assert 'href="?status=received&amp;q=lampu&amp;page=3"' in html
    assert 'href="?status=received&amp;q=lampu"' in html  # back to page 1
    m = re.search(r"data-points='([^']*)'", html)
    assert m is not None and "<script>" not in m.group(1)
    import html as html_lib
    import json

    assert json.loads(html_lib.unescape(m.group(1)))[0]["title"] == "a'b\"<script>"


def test_english_console_says_private_and_hidden_in_english() -> None:
    """Found by trying it: English pages showed the gateway's "Privat" and the scrub's
    "[disembunyikan]"."""
    r = report(text="Hubungi [disembunyikan] untuk detail.")
    html = render_report("validator", r, lang="en")
    assert ">Private<" in html and "Privat<" not in html
    assert "Hubungi [hidden] untuk detail." in html and "[disembunyikan]" not in html


def reply_template(kind: str, title: str, **overrides: Any) -> ReplyTemplate:
    data: dict[str, Any] = {
        "template_id": str(uuid.uuid4()),
        "kind": kind,
        "title": title,
        "body_id": f"Teks {title} <b>",
        "body_en": f'Text "{title}" <b>',
        "active": True,
        "updated_by": "admin-id",
        "updated_at": "2026-12-01T03:00:00Z",
    }
    data.update(overrides)
    return ReplyTemplate.model_validate(data)


@pytest.mark.parametrize(
    ("role", "status", "kind", "targets"),
    [
        ("ticket-admin", "received", "reject", ["reject-reason"]),
        ("agency-officer", "dispatched", "return", ["return-reason"]),
        ("agency-officer", "in_progress", "followup", ["followup-note"]),
        ("validator", "awaiting_validation", "reject", ["reject-followup-reason"]),
    ],
)
def test_report_forms_offer_reply_templates_in_the_console_language(
    role: str, status: str, kind: str, targets: list[str]
) -> None:
    # The kinds the page asks the gateway for follow the forms it shows.
    assert wanted_kinds(role, status, can_ask=False) == {kind}
    assert wanted_kinds(role, status, can_ask=True) == {kind, "question"}
    offered = {kind: [reply_template(kind, "Pertama"), reply_template(kind, "Kedua")]}
    # The text in the page's language, escaped as an attribute value.
    for lang, shown in (
        ("id", "Teks Pertama &lt;b&gt;"),
        ("en", "Text &#34;Pertama&#34; &lt;b&gt;"),
    ):
        html = render_report(role, report(status=status), lang=lang, reply_templates=offered)
        for target in targets:
            picker = re.search(
                rf'<div class="template-pick" hidden>.*?id="{target}-template".*?</div>',
                html,
                flags=re.S,
            )
            assert picker is not None, target
            # No name: the select is never sent with the form.
            assert "name=" not in picker.group(0)
            assert f'data-target="{target}"' in picker.group(0)
            assert f'data-text="{shown}"' in picker.group(0), lang
            assert picker.group(0).count("<option") == 3
        assert 'src="/console/static/console-replies.js"' in html
    # No templates of the kind: no picker and no script.
    html = render_report(role, report(status=status), reply_templates={})
    assert "template-pick" not in html and "console-replies.js" not in html


def test_the_question_form_offers_question_templates() -> None:
    r = report(status="in_progress")
    conversation = Conversation.model_validate({"entries": [], "can_ask": True})
    offered = {"question": [reply_template("question", "Patokan")]}
    html = render_report("agency-officer", r, conversation=conversation, reply_templates=offered)
    assert 'id="question-text-template"' in html
    assert 'id="followup-note-template"' not in html  # no follow-up templates offered


def test_the_administrators_templates_page_lists_every_kind_and_both_languages() -> None:
    kept = reply_template("return", "Bukan wewenang")
    retired = reply_template("return", "Lama", active=False)
    for lang, heading in (("id", "Template balasan"), ("en", "Reply templates")):
        html = render_console(
            "admin_templates.html",
            lang,  # type: ignore[arg-type]
            session("administrator"),
            "/console/admin/templates",
            templates=[kept, retired],
            kinds=TEMPLATE_KINDS,
            editors={"admin-id": "Admin Satu"},
            notes=[],
        )
        assert f'<h1 id="templates-title">{heading}</h1>' in html
        for kind in TEMPLATE_KINDS:
            assert f'id="templates-{kind}"' in html
        assert 'id="no-templates-followup"' in html and 'id="no-templates-return"' not in html
        assert f'id="template-{kept.template_id}" data-kind="return" data-active="true"' in html
        assert f'id="template-{retired.template_id}" data-kind="return" data-active="false"' in html
        # Retire only what is active; the edit form carries both texts and the flag.
        assert f'id="template-retire-{kept.template_id}"' in html
        assert f'id="template-retire-{retired.template_id}"' not in html
        assert f'id="tpl-{kept.template_id}-body-id"' in html
        assert f'id="tpl-{kept.template_id}-body-en"' in html
        assert "Admin Satu" in html
        assert 'id="create-template-form"' in html
        posts = re.findall(r'<form method="post".*?</form>', html, flags=re.S)
        # Sign-out, two edits, one retirement, one creation; each with the CSRF token.
        assert len(posts) == 5
        assert all('name="csrf_token" value="the-csrf-token"' in p for p in posts)


def test_queue_filters_sla_state_and_filing_dates_for_the_roles_that_see_dates() -> None:
    query = {"sla": "overdue", "from": "2026-11-01", "to": "2026-11-30"}
    full = QueueFilters.from_query(query, QUEUES["triage"], "ticket-admin")
    assert full.gateway_params() == {
        "sla": "overdue",
        "received_from": "2026-11-01",
        "received_to": "2026-11-30",
        "sort": "due",
    }
    assert full.active and full.link(2) == "?sla=overdue&from=2026-11-01&to=2026-11-30&page=2"
    # Agency officers see months, not filing days: the dates are dropped, the SLA kept.
    agency = QueueFilters.from_query(query, QUEUES["agency"], "agency-officer")
    assert agency.gateway_params() == {"sla": "overdue", "sort": "due"}
    # Bad values are dropped like any unknown filter.
    bad = QueueFilters.from_query(
        {"sla": "late", "from": "31-12-2026"}, QUEUES["triage"], "validator"
    )
    assert bad.gateway_params() == {"sort": "due"} and not bad.active


def test_a_keyword_suggestion_is_offered_for_the_ticket_admin_to_confirm() -> None:
    """Issue 16: a free-text report has no category; the catalogue's keywords suggest one,
    pre-chosen in the dispatch form with a note saying where it comes from. Retired
    categories are never offered for dispatch."""
    categories = [
        Category(code="saluran", name_id="Saluran tersumbat", name_en="Blocked drain",
                 keywords=("got", "saluran", "tersumbat")),
        Category(code="banjir", name_id="Banjir", name_en="Flooding", keywords=("banjir",)),
        Category(code="pohon", name_id="Pohon tumbang", name_en="Fallen tree",
                 keywords=("pohon",), active=False),
    ]  # fmt: skip
    text = "Got di gang kami tersumbat, dekat pohon besar"
    pairs = [(c.code, c.keywords) for c in categories if c.active]
    assert suggest_category(pairs, text) == "saluran"
    assert suggest_category(pairs, "Lampu taman mati") is None
    r = report(status="received", category=None, text=text, access="full")
    html = render_report(
        "ticket-admin",
        r,
        agencies=[Agency(agency_id="dinas-sda", name="Dinas SDA")],
        categories=categories,
        suggested_category="saluran",
    )
    assert '<option value="saluran" selected>' in html
    assert 'id="dispatch-category-suggested" data-category="saluran"' in html
    assert "Disarankan dari kata-kata laporan" in html
    assert '<option value="pohon"' not in html  # retired: not a dispatch choice
    plain = render_report(
        "ticket-admin", r, agencies=[Agency(agency_id="dinas-sda", name="Dinas SDA")],
        categories=categories,
    )  # fmt: skip
    assert "dispatch-category-suggested" not in plain and " selected>Saluran" not in plain
