"""docs/privacy.md's table of fields by role is the views' own output (issue 13): it is
regenerated from a canary report passed through each role's view, and must match."""

from __future__ import annotations

from aduan_gateway.fieldtable import BEGIN, DOC, END, render


def test_the_documented_table_is_what_the_views_give() -> None:
    document = DOC.read_text(encoding="utf-8")
    documented = document[document.index(BEGIN) + len(BEGIN) : document.index(END)].strip()
    assert documented == render(), (
        "docs/privacy.md's fields table differs from the views; regenerate it with "
        "`uv run python -m aduan_gateway.fieldtable --write` and review the diff"
    )


def test_the_table_shows_the_revision_2_decisions() -> None:
    rows = {
        line.split("|")[1].strip().strip("`"): [c.strip() for c in line.split("|")[2:-1]]
        for line in render().splitlines()[2:]
    }
    # public, agency-officer, validator, ticket-admin, administrator, reporter
    assert rows["text"] == ["public scrub", *["officer scrub"] * 4, "as typed"]
    assert rows["photos[].taken_at"] == ["—", "empty", "exact", "exact", "exact", "exact"]
    assert rows["photos[].point"][1:5] == ["empty"] * 4
    assert rows["location.point"][1] == "yes"  # the assigned agency finds the problem
    assert rows["received_at"][1] == "—"
    assert rows["timeline[].due_at"][1] == "dispatch, follow_up"
