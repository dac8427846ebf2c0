"""The portal's pure part: the public report model, UI language, labels (no I/O)."""

from aduan_portal.domain.i18n import LANGUAGES, Language, month_name, pick_language, ui_strings
from aduan_portal.domain.model import PublicReport, PublicTimelineStep, shown_status_label

__all__ = [
    "LANGUAGES",
    "Language",
    "PublicReport",
    "PublicTimelineStep",
    "month_name",
    "pick_language",
    "shown_status_label",
    "ui_strings",
]
