"""Server-side HTML: Jinja2 templates shipped in the package, autoescaped.

Pure functions of the read model and the UI language, so unit tests render pages without a
database or a broker.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from aduan_portal.domain import (
    LANGUAGES,
    Language,
    PublicReport,
    month_name,
    shown_status_label,
    ui_strings,
)

__all__ = ["STATIC_DIR", "render_index", "render_not_found", "render_report"]

PACKAGE_DIR = Path(__file__).parent
STATIC_DIR = PACKAGE_DIR / "static"


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
    env.globals["status_label"] = shown_status_label
    return env


def _link(path: str, lang: Language, **params: Any) -> str:
    """A link that keeps the chosen language (Indonesian needs no parameter)."""
    query = {k: v for k, v in params.items() if v not in (None, "")}
    if lang != "id":
        query["lang"] = lang
    return f"{path}?{urlencode(query)}" if query else path


def _common(lang: Language, path: str, **params: Any) -> dict[str, Any]:
    return {
        "lang": lang,
        "t": ui_strings(lang),
        "link": lambda p, **kw: _link(p, lang, **kw),
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


def render_index(
    reports: Sequence[PublicReport],
    lang: Language,
    page: int = 1,
    has_next: bool = False,
    status: str | None = None,
) -> str:
    return (
        _environment()
        .get_template("index.html")
        .render(
            reports=reports,
            page=page,
            has_next=has_next,
            status=status or "",
            **_common(lang, "/", page=page if page > 1 else None, status=status),
        )
    )


def render_report(report: PublicReport, lang: Language) -> str:
    path = f"/reports/{report.public_id}"
    return _environment().get_template("report.html").render(report=report, **_common(lang, path))


def render_not_found(lang: Language, path: str) -> str:
    return _environment().get_template("not_found.html").render(**_common(lang, path))
