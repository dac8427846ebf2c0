"""Server-side SVG charts for /stats: no JavaScript, readable by screen readers.

Each chart is named and described in words (the figures stated), as an `<svg role="img">`
with `<title>`/`<desc>` or, for the bars, a `<figure role="img">` whose label and values are
page text; the page also shows the same numbers as a table.
Values are printed next to the bars, so the chart never relies on reading a scale.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "trend_chart"]

_WIDTH = 480
_ROW_H = 30


def _describe(items: Sequence[tuple[str, float]], unit: str) -> str:
    return "; ".join(f"{label}: {_number(value)}{unit}" for label, value in items)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def bar_chart(
    chart_id: str, title: str, items: Sequence[tuple[str, float]], unit: str = ""
) -> Markup:
    """Horizontal bars, one per item, largest scale = largest value. The labels and
    values are HTML text beside each bar (an SVG scaled to a phone's width shrank them to
    about 8 px and cut long agency names): they wrap and keep the page's font size; only
    the bar itself is a small SVG (its width an attribute, as the CSP allows no inline
    style)."""
    top = max((v for _, v in items), default=0) or 1
    cid = escape(chart_id)
    parts = [
        f'<figure class="bars" id="{cid}" role="img" aria-labelledby="{cid}-t {cid}-d">',
        f'<figcaption id="{cid}-t" class="bars-title">{escape(title)}</figcaption>',
        f'<p id="{cid}-d" class="visually-hidden">{escape(_describe(items, unit))}</p>',
        '<ul class="bar-rows" aria-hidden="true">',
    ]
    for label, value in items:
        width = max(0.5, 100 * value / top) if value > 0 else 0
        parts.append(
            f'<li class="bar-row"><span class="bar-label">{escape(label)}</span>'
            '<svg class="bar-track" viewBox="0 0 100 10" preserveAspectRatio="none" '
            'focusable="false">'
            f'<rect class="bar" x="0" y="0" width="{width:.1f}" height="10"/></svg>'
            f'<span class="bar-value">{escape(_number(value))}{escape(unit)}</span></li>'
        )
    parts.append("</ul></figure>")
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
