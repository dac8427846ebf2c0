"""The public list's filters, shared by the list, the map data and the open-data downloads.

Values come from a GET form, so every one is optional, and a value that is not valid is
dropped (with the reason kept for the page) rather than failing the whole page.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from aduan_contracts.enums import ReportStatus
from aduan_contracts.values import AREA_CODE_PATTERN

__all__ = ["GRID", "MONTH", "Filters", "parse_filters", "snap"]

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
AREA_CODE = re.compile(AREA_CODE_PATTERN)
GRID = 0.01  # degrees, ~1.1 km north-south: the public map's resolution


def snap(value: float) -> float:
    """A coordinate on the public grid (0.01°), never finer."""
    return round(round(value / GRID) * GRID, 2)


class Filters(BaseModel):
    """What the reader asked for. Empty means "all"."""

    model_config = ConfigDict(frozen=True)

    category: str | None = None
    agency: str | None = None
    status: ReportStatus | None = None
    area: str | None = None
    # A Kemendagri code from the area list (kota or kecamatan): it and everything inside.
    area_code: str | None = None
    month_from: str | None = None  # YYYY-MM, inclusive
    month_to: str | None = None  # YYYY-MM, inclusive

    def params(self) -> dict[str, str]:
        """As query parameters (for links that keep the filters), empty ones left out."""
        out = {
            "category": self.category,
            "agency": self.agency,
            "status": self.status.value if self.status else None,
            "area": self.area,
            "wilayah": self.area_code,
            "from": self.month_from,
            "to": self.month_to,
        }
        return {k: v for k, v in out.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.params())


def _text(value: str | None, limit: int) -> str | None:
    value = (value or "").strip()
    return value[:limit] or None


def parse_filters(raw: dict[str, Any]) -> tuple[Filters, list[str]]:
    """Filters from query parameters, and the names of those that were ignored as invalid."""
    ignored: list[str] = []
    status: ReportStatus | None = None
    if raw_status := _text(raw.get("status"), 32):
        try:
            status = ReportStatus(raw_status)
        except ValueError:
            ignored.append("status")
    months: dict[str, str | None] = {}
    for key in ("from", "to"):
        value = _text(raw.get(key), 7)
        if value is not None and not MONTH.match(value):
            ignored.append(key)
            value = None
        months[key] = value
    area_code = _text(raw.get("wilayah"), 13)
    if area_code is not None and not AREA_CODE.fullmatch(area_code):
        ignored.append("wilayah")
        area_code = None
    low, high = months["from"], months["to"]
    if low and high and low > high:
        low, high = high, low  # a reversed range means the same months
    return (
        Filters(
            category=_text(raw.get("category"), 100),
            agency=_text(raw.get("agency"), 64),
            status=status,
            area=_text(raw.get("area"), 200),
            area_code=area_code,
            month_from=low,
            month_to=high,
        ),
        ignored,
    )
