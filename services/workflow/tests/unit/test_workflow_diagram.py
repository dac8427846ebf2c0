"""The committed diagram in docs/workflow.md is the one the code's table generates, and the
table says exactly where `decide` leads."""

from __future__ import annotations

import itertools
from pathlib import Path
from uuid import uuid4

from aduan_contracts.enums import ReportStatus
from aduan_workflow.cli import main
from aduan_workflow.diagram import BEGIN, END, mermaid, render_into
from aduan_workflow.domain.lifecycle import RULES

DOC = Path(__file__).resolve().parents[4] / "docs" / "workflow.md"


def test_committed_diagram_matches_the_transition_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert block == mermaid(), "stale: run `uv run python -m aduan_workflow.cli diagram`"


def test_every_rule_edge_is_drawn() -> None:
    drawn = mermaid()
    for command, rule in RULES.items():
        for source, target in itertools.product(rule.sources, rule.targets):
            prefix = f"{source} --> {target}:"
            edge = next(line for line in drawn.splitlines() if line.strip().startswith(prefix))
            assert command.__name__ in edge
    for status in ReportStatus:
        assert f"{status.value} ({status.label_id})" in drawn


def test_cli_rewrites_only_the_generated_block(tmp_path: Path) -> None:
    doc = tmp_path / "workflow.md"
    marker = uuid4().hex
    doc.write_text(f"# head {marker}\n{BEGIN}\nold\n{END}\ntail {marker}\n", encoding="utf-8")
    assert main(["diagram", "--doc", str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text == f"# head {marker}\n{BEGIN}\n{mermaid()}\n{END}\ntail {marker}\n"
    assert render_into(doc) is False  # idempotent
