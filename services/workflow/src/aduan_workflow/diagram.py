"""The lifecycle as a Mermaid state diagram, generated from `RULES` (the table `decide`
checks), so the picture in docs/workflow.md cannot drift from the code unnoticed."""

from __future__ import annotations

from pathlib import Path

from aduan_contracts.enums import ReportStatus
from aduan_workflow.domain.lifecycle import RULES

__all__ = ["BEGIN", "END", "mermaid", "render_into"]

BEGIN = "<!-- BEGIN GENERATED: python -m aduan_workflow.cli diagram -->"
END = "<!-- END GENERATED -->"

_ROLE_ORDER = ("ticket-admin", "system", "agency-officer", "validator", "reporter")


def mermaid() -> str:
    """A ```mermaid block: one state per status (with its Indonesian label), one edge per
    (source, target) pair, labelled with the commands and roles that take it."""
    edges: dict[tuple[ReportStatus, ReportStatus], list[str]] = {}
    for command, rule in RULES.items():
        roles = ", ".join(r for r in _ROLE_ORDER if r in {role.value for role in rule.roles})
        label = f"{command.__name__} ({roles})"
        for source in sorted(rule.sources, key=list(ReportStatus).index):
            for target in sorted(rule.targets, key=list(ReportStatus).index):
                edges.setdefault((source, target), []).append(label)
    order = list(ReportStatus)
    lines = ["```mermaid", "stateDiagram-v2"]
    for status in ReportStatus:
        lines.append(f"    {status.value}: {status.value} ({status.label_id})")
    lines.append("    [*] --> received: ReportSubmitted (system)")
    for (source, target), labels in sorted(
        edges.items(), key=lambda e: (order.index(e[0][0]), order.index(e[0][1]))
    ):
        lines.append(f"    {source.value} --> {target.value}: {' / '.join(labels)}")
    lines.append("    merged --> merged: primary changed status (system, primary_status)")
    for status in ReportStatus:
        if status.is_terminal:
            lines.append(f"    {status.value} --> [*]")
    lines.append("```")
    return "\n".join(lines)


def render_into(path: Path) -> bool:
    """Replace the generated block in `path` (between BEGIN and END) with `mermaid()`;
    True when the file changed."""
    text = path.read_text(encoding="utf-8")
    try:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise ValueError(f"{path} has no {BEGIN} ... {END} block") from None
    new = f"{head}{BEGIN}\n{mermaid()}\n{END}{tail}"
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True
