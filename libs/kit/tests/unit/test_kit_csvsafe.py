"""The one CSV writer of the open-data downloads: a cell a spreadsheet would run as a formula
is written as text (leading apostrophe), everything else exactly as given."""

from __future__ import annotations

import csv
import io

from aduan_kit.csvsafe import safe_cell, write_csv


def test_formula_starts_get_an_apostrophe_and_nothing_else_changes() -> None:
    for text in ("=1+1", "+62 812", "-x", "@SUM(A1)", "\tX", "\rX", "\nX"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("Jalan = rusak") == "Jalan = rusak"
    assert safe_cell(None) == "" and safe_cell(-6.18) == "-6.18" and safe_cell(3) == "3"
    assert safe_cell(True) == "True"


def test_write_csv_quotes_and_neutralises_every_cell() -> None:
    body = write_csv(
        ("id", "text", "lat"),
        [{"id": "a", "text": '=HYPERLINK("http://x","y"), kata', "lat": -6.2}, {"id": "b"}],
    )
    assert body.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows == [
        ["id", "text", "lat"],
        ["a", '\'=HYPERLINK("http://x","y"), kata', "-6.2"],
        ["b", "", ""],
    ]
