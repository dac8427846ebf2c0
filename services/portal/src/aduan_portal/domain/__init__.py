"""The portal's pure part: the public report model, UI language, labels, filters, charts
(no I/O)."""

from aduan_portal.domain.charts import bar_chart, trend_chart
from aduan_portal.domain.filters import GRID, MONTH, Filters, parse_filters, snap
from aduan_portal.domain.i18n import (
    LANGUAGES,
    Language,
    city_date,
    hidden_marks,
    month_name,
    pick_language,
    ui_strings,
)
from aduan_portal.domain.model import PublicReport, PublicTimelineStep, shown_status_label

__all__ = [
    "GRID",
    "LANGUAGES",
    "MONTH",
    "Filters",
    "Language",
    "PublicReport",
    "PublicTimelineStep",
    "bar_chart",
    "city_date",
    "hidden_marks",
    "month_name",
    "parse_filters",
    "pick_language",
    "shown_status_label",
    "snap",
    "trend_chart",
    "ui_strings",
]
