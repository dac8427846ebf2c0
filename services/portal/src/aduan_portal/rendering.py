"""Server-side HTML: Jinja2 templates shipped in the package, autoescaped.

Pure functions of the read model and the UI language, so unit tests render pages without a
database or a broker.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from aduan_contracts.enums import ReportStatus
from aduan_portal.after_photos import after_texts
from aduan_portal.config import Settings
from aduan_portal.domain import (
    LANGUAGES,
    Filters,
    Language,
    PublicReport,
    bar_chart,
    city_date,
    hidden_marks,
    month_name,
    shown_status_label,
    trend_chart,
    ui_strings,
)
from aduan_portal.domain.opendata import column_docs

__all__ = [
    "STATIC_DIR",
    "VENDOR_LEAFLET",
    "MapConfig",
    "render_filed",
    "render_filing",
    "render_index",
    "render_not_found",
    "render_open_data",
    "render_question",
    "render_report",
    "render_stats",
    "render_track",
]

PACKAGE_DIR = Path(__file__).parent
STATIC_DIR = PACKAGE_DIR / "static"
# Filled by deploy/scripts/assets.sh (git-ignored); without it the map says it is unavailable.
VENDOR_LEAFLET = STATIC_DIR / "vendor" / "leaflet"

_CHANNEL_NAMES: dict[str, dict[Language, str]] = {
    "app": {"id": "Aplikasi", "en": "App"},
    "web": {"id": "Situs web", "en": "Website"},
    "email": {"id": "Surel", "en": "Email"},
    "sms": {"id": "SMS", "en": "SMS"},
    "whatsapp": {"id": "WhatsApp", "en": "WhatsApp"},
    "x": {"id": "X", "en": "X"},
    "facebook": {"id": "Facebook", "en": "Facebook"},
    "instagram": {"id": "Instagram", "en": "Instagram"},
    "lapor": {"id": "LAPOR!", "en": "LAPOR!"},
    "call_centre": {"id": "Pusat panggilan", "en": "Call centre"},
    "walk_in": {"id": "Datang langsung", "en": "Walk-in"},
    "letter": {"id": "Surat", "en": "Letter"},
    "open311": {"id": "Open311", "en": "Open311"},
}


@dataclass(frozen=True)
class MapConfig:
    """What the map script needs; `available` is False when Leaflet is not installed."""

    available: bool
    tile_url: str = ""
    attribution: str = ""
    center_lat: float = 0.0
    center_lon: float = 0.0
    zoom: int = 11


def map_config(settings: Settings, vendor: Path = VENDOR_LEAFLET) -> MapConfig:
    """The map settings, `available` only when Leaflet is installed in `vendor`. Checked
    per request: `deploy/scripts/assets.sh` may run after the portal started."""
    available = all((vendor / name).is_file() for name in ("leaflet.js", "leaflet.css"))
    return MapConfig(
        available=available,
        tile_url=settings.map_tile_url,
        attribution=settings.map_tile_attribution,
        center_lat=settings.map_center_lat,
        center_lon=settings.map_center_lon,
        zoom=settings.map_zoom,
    )


@dataclass(frozen=True)
class IndexExtras:
    total: int | None = None
    page_size: int = 50
    ignored: Sequence[str] = ()
    choices: Mapping[str, Sequence[str]] = field(default_factory=dict)
    category_names: Mapping[str, str] = field(default_factory=dict)
    # Agency names by code (from the gateway); a code without a name is shown as is.
    agency_names: Mapping[str, str] = field(default_factory=dict)
    map: MapConfig = MapConfig(available=False)


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(PACKAGE_DIR / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a missing variable is a bug, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["month_name"] = month_name
    env.filters["city_date"] = city_date
    env.filters["hidden_marks"] = hidden_marks
    env.globals["status_label"] = shown_status_label
    return env


def _link(path: str, lang: Language, **params: Any) -> str:
    """A link that keeps the chosen language (Indonesian needs no parameter)."""
    query = {k: v for k, v in params.items() if v not in (None, "")}
    if lang != "id":
        query["lang"] = lang
    return f"{path}?{urlencode(query)}" if query else path


def _common(lang: Language, path: str, section: str = "", **params: Any) -> dict[str, Any]:
    t = ui_strings(lang)
    return {
        "lang": lang,
        "t": t,
        "link": lambda p, **kw: _link(p, lang, **kw),
        "section": section,
        "nav": [
            {"key": "file", "href": _link("/lapor", lang), "label": t["nav_file"]},
            {"key": "reports", "href": _link("/", lang), "label": t["nav_reports"]},
            {"key": "stats", "href": _link("/stats", lang), "label": t["nav_stats"]},
            {"key": "track", "href": _link("/track", lang), "label": t["nav_track"]},
            {"key": "open_data", "href": _link("/open-data", lang), "label": t["nav_open_data"]},
        ],
        "switch": [
            {
                "code": code,
                "label": "Bahasa Indonesia" if code == "id" else "English",
                "href": _link(path, code, **params),
                "current": code == lang,
            }
            for code in LANGUAGES
        ],
    }


def channel_name(channel: str, lang: Language) -> str:
    return _CHANNEL_NAMES.get(channel, {}).get(lang, channel)


@functools.cache
def area_choices() -> tuple[tuple[tuple[str, str], tuple[tuple[str, str], ...]], ...]:
    """Jakarta's kota/kabupaten, each with its kecamatan, as (code, name) for the public
    area filter (from `aduan_areas`, shipped with the portal)."""
    import aduan_areas

    out = []
    for kota in aduan_areas.children("31"):
        kecamatan = tuple(
            (k.code, aduan_areas.short_name(k)) for k in aduan_areas.children(kota.code)
        )
        out.append(((kota.code, aduan_areas.short_name(kota)), kecamatan))
    return tuple(out)


def render_index(
    reports: Sequence[PublicReport],
    lang: Language,
    page: int = 1,
    has_next: bool = False,
    status: str | None = None,
    *,
    filters: Filters | None = None,
    extras: IndexExtras | None = None,
) -> str:
    extras = extras or IndexExtras()
    if filters is None:
        filters = Filters(status=ReportStatus(status) if status else None)
    params = filters.params()
    pages = None
    if extras.total is not None:
        pages = max(1, math.ceil(extras.total / extras.page_size))
        has_next = page < pages
    t = ui_strings(lang)
    return (
        _environment()
        .get_template("index.html")
        .render(
            reports=reports,
            page=page,
            pages=pages,
            has_next=has_next,
            total=extras.total,
            filters=filters,
            params=params,
            area_choices=area_choices(),
            ignored=list(extras.ignored),
            choices=extras.choices,
            category_names=extras.category_names,
            agency_names=extras.agency_names,
            statuses=[(s.value, shown_status_label(s, s.label_id, lang)) for s in ReportStatus],
            map=extras.map,
            result_count=(
                t["result_count"].format(n=extras.total) if extras.total is not None else ""
            ),
            page_of=t["page_of"].format(page=page, pages=pages) if pages else "",
            report_params={**params, **({"page": str(page)} if page > 1 else {})},
            **_common(lang, "/", "reports", page=page if page > 1 else None, **params),
        )
    )


def render_report(
    report: PublicReport,
    lang: Language,
    back: Mapping[str, str] | None = None,
    category_name: str | None = None,
    agency_names: Mapping[str, str] | None = None,
    map: MapConfig | None = None,
    after_photos: Sequence[Any] = (),
) -> str:
    """`after_photos`: the completed report's blurred after-photos (`after_photos.py`)."""
    path = f"/reports/{report.public_id}"
    back = dict(back or {})
    return (
        _environment()
        .get_template("report.html")
        .render(
            report=report,
            back=back,
            category_name=category_name or report.category,
            agency_names=agency_names or {},
            channel=channel_name(report.channel.value, lang),
            map=map or MapConfig(available=False),
            after_photos=after_photos,
            after=after_texts(lang),
            **_common(lang, path, "reports", **back),
        )
    )


def render_not_found(lang: Language, path: str) -> str:
    return _environment().get_template("not_found.html").render(**_common(lang, path))


def _hours_text(hours: float | None, lang: Language) -> str:
    t = ui_strings(lang)
    if hours is None:
        return t["no_completed"]
    if hours >= 48:
        return f"{hours / 24:.1f} {t['days']}".replace(".", "," if lang == "id" else ".")
    return f"{hours:.1f} {t['hours']}".replace(".", "," if lang == "id" else ".")


def render_stats(
    stats: Any,
    lang: Language,
    category_names: Mapping[str, str],
    agency_names: Mapping[str, str] | None = None,
) -> str:
    """`stats` is a `readmodel.Stats` (typed loosely to keep rendering free of SQL)."""
    agency_names = agency_names or {}
    t = ui_strings(lang)
    unassigned = t["unassigned"]
    channels = [(channel_name(c, lang), n) for c, n in stats.by_channel]
    agencies = [(agency_names.get(a, a) if a else unassigned, n) for a, n in stats.by_agency]
    categories = [(category_names.get(c, c) if c else unassigned, n) for c, n in stats.by_category]
    months = [(m, n) for m, n in stats.by_month]
    kota_names = dict(kota for kota, _ in area_choices())
    areas = [
        (kota_names.get(a, a) if a else t["area_unknown"], n)
        for a, n in getattr(stats, "by_area", ())
    ]
    share = stats.share_completed
    sections = [
        ("by-channel", t["by_channel"], t["channel"], channels),
        ("by-agency", t["by_agency"], t["agency"], agencies),
        ("by-category", t["by_category"], t["category"], categories),
        ("by-area", t["by_area"], t["area_kota"], areas),
    ]
    return (
        _environment()
        .get_template("stats.html")
        .render(
            stats=stats,
            share_text=(
                f"{share * 100:.0f}% ({stats.completed}/{stats.total})"
                if share is not None
                else "—"
            ),
            median_text=_hours_text(stats.median_completed_hours, lang),
            charts=[
                {
                    "id": cid,
                    "title": title,
                    "key": key,
                    "rows": rows,
                    "svg": bar_chart(cid, title, rows),
                }
                for cid, title, key, rows in sections
            ],
            trend={
                "id": "trend",
                "title": t["trend"],
                "key": t["month"],
                "rows": [(month_name(m, lang), n) for m, n in months],
                "svg": trend_chart("trend", t["trend"], months),
            },
            **_common(lang, "/stats", "stats"),
        )
    )


def render_track(
    lang: Language,
    code: str = "",
    report: Any = None,
    message: str | None = None,
    *,
    reporter: Mapping[str, Any] | None = None,
    csrf: str = "",
    error: str | None = None,
    notice: str | None = None,
    typed: str = "",
    category_names: Mapping[str, str] | None = None,
    after_photos: Sequence[Any] = (),
    pending: str | None = None,
) -> str:
    """`report` is a `public_gateway.TrackedReport` or None; `after_photos` the blurred
    after-photos of a completed public report (`after_photos.py`); `pending` says a code
    just given out is being recorded (the page then reloads itself)."""
    path = f"/track/{code}" if report is not None else "/track"
    # A merged report records every move of its primary as "merged" again: the citizen
    # sees one step per change they can tell apart.
    steps: list[Any] = []
    for step in report.timeline if report is not None else ():
        if not steps or steps[-1].status != step.status:
            steps.append(step)
    return (
        _environment()
        .get_template("track.html")
        .render(
            code=code,
            tracked=report,
            steps=steps,
            reporter=reporter,
            csrf=csrf,
            error=error,
            notice=notice,
            typed=typed,
            category_names=category_names or {},
            message=message,
            pending=pending,
            after_photos=after_photos,
            after=after_texts(lang),
            **_common(lang, path, "track"),
        )
    )


def render_filing(
    lang: Language,
    *,
    submission_id: str,
    categories: Sequence[tuple[str, str]],
    values: Mapping[str, str],
    error: tuple[str, str] | None,
    photos_dropped: bool,
    max_photos: int,
    map: MapConfig,
) -> str:
    """The complaint form; `values` are what was typed (kept after an error), `error` is
    (field, message) in the page's language."""
    return (
        _environment()
        .get_template("file.html")
        .render(
            submission_id=submission_id,
            categories=categories,
            v={**dict.fromkeys(FORM_FIELDS, ""), "visibility": "private", **values},
            error=error,
            photos_dropped=photos_dropped,
            max_photos=max_photos,
            map=map,
            **_common(lang, "/lapor", "file"),
        )
    )


FORM_FIELDS = (
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


def render_filed(lang: Language, code: str | None, summary: Mapping[str, Any] | None) -> str:
    return (
        _environment()
        .get_template("filed.html")
        .render(
            code=code,
            summary=summary,
            **_common(lang, f"/lapor/diterima/{code}" if code else "/lapor", "file"),
        )
    )


def render_question(
    lang: Language,
    path: str,
    question: Any = None,
    message: str | None = None,
    error: str | None = None,
    sent: bool = False,
    text: str = "",
    submission_id: str = "",
) -> str:
    """`question` is a `public_gateway.PublicQuestion` or None (unknown link)."""
    return (
        _environment()
        .get_template("question.html")
        .render(
            question=question,
            message=message,
            error=error,
            sent=sent,
            text=text,
            submission_id=submission_id,
            **_common(lang, path, "track"),
        )
    )


def render_open_data(lang: Language, filters: Filters) -> str:
    return (
        _environment()
        .get_template("open_data.html")
        .render(
            params=filters.params(),
            columns=column_docs(lang),
            **_common(lang, "/open-data", "open_data", **filters.params()),
        )
    )
