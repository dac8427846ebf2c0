"""Server-side SVG charts for /stats: no JavaScript, readable by screen readers.

Each chart is an `<svg role="img">` named by its `<title>` and described by its `<desc>`
(which states the figures in words); the page also shows the same numbers as a table.
Values are printed next to the bars, so the chart never relies on reading a scale.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "trend_chart"]

_WIDTH = 480
_LABEL_W = 170
_ROW_H = 30
_BAR_H = 20
_VALUE_W = 56


def _short(label: str, limit: int = 20) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _describe(items: Sequence[tuple[str, float]], unit: str) -> str:
    return "; ".join(f"{label}: {_number(value)}{unit}" for label, value in items)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def bar_chart(
    chart_id: str, title: str, items: Sequence[tuple[str, float]], unit: str = ""
) -> Markup:
    """Horizontal bars, one per item, largest scale = largest value."""
    height = max(1, len(items)) * _ROW_H + 10
    top = max((v for _, v in items), default=0) or 1
    span = _WIDTH - _LABEL_W - _VALUE_W
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" '
        f'viewBox="0 0 {_WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{escape(_describe(items, unit))}</desc>',
    ]
    for i, (label, value) in enumerate(items):
        y = 5 + i * _ROW_H
        width = max(1.0, span * value / top) if value > 0 else 0
        parts.append(
            f"<g><title>{escape(label)}: {escape(_number(value))}{escape(unit)}</title>"
            f'<text class="label" x="{_LABEL_W - 8}" y="{y + 15}" text-anchor="end">'
            f"{escape(_short(label))}</text>"
            f'<rect class="bar" x="{_LABEL_W}" y="{y}" width="{width:.1f}" height="{_BAR_H}"/>'
            f'<text class="value" x="{_LABEL_W + width + 6:.1f}" y="{y + 15}">'
            f"{escape(_number(value))}{escape(unit)}</text></g>"
        )
    parts.append("</svg>")
    # Every text and attribute above went through escape(); numbers are formatted here.
    return Markup("".join(parts))  # noqa: S704


def trend_chart(chart_id: str, title: str, items: Sequence[tuple[str, float]]) -> Markup:
    """Columns per month, joined by a line, with each month's count above its column."""
    height, base, top_pad, left = 240, 200, 24, 10
    count = max(1, len(items))
    slot = (_WIDTH - 2 * left) / count
    top = max((v for _, v in items), default=0) or 1
    parts = [
        f'<svg class="chart trend" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" '
        f'viewBox="0 0 {_WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{escape(_describe(items, ""))}</desc>',
        f'<line class="axis" x1="{left}" y1="{base}" x2="{_WIDTH - left}" y2="{base}"/>',
    ]
    points: list[str] = []
    every = max(1, (count + 11) // 12)  # at most ~12 month labels, so they never overlap
    for i, (label, value) in enumerate(items):
        h = (base - top_pad) * value / top
        x = left + i * slot
        cx = x + slot / 2
        points.append(f"{cx:.1f},{base - h:.1f}")
        parts.append(
            f"<g><title>{escape(label)}: {escape(_number(value))}</title>"
            f'<rect class="bar" x="{x + slot * 0.15:.1f}" y="{base - h:.1f}" '
            f'width="{slot * 0.7:.1f}" height="{h:.1f}"/>'
            f'<text class="value" x="{cx:.1f}" y="{base - h - 6:.1f}" text-anchor="middle">'
            f"{escape(_number(value))}</text>"
        )
        if i % every == 0:
            parts.append(
                f'<text class="label" x="{cx:.1f}" y="{base + 18}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
        parts.append("</g>")
    if len(points) > 1:
        parts.append(f'<polyline class="line" points="{" ".join(points)}"/>')
    parts.append("</svg>")
    # Every text and attribute above went through escape(); numbers are formatted here.
    return Markup("".join(parts))  # noqa: S704
