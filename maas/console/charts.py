"""Inline SVG charts drawn on the server: no chart library, nothing fetched by the browser."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 560, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 26


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 1_000:
        return f"{value / 1_000:.1f}k"
    return f"{value:g}" if value >= 1 or value == 0 else f"{value:.2g}"


def _frame(top: float, labels: list[str], plot_w: float, plot_h: float) -> list[str]:
    parts = []
    for i in range(5):
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{_short(top * i / 4)}</text>')
    step = max(1, len(labels) // 7)
    for i, label in enumerate(labels):
        if i % step == 0 or i == len(labels) - 1:
            x = LEFT + plot_w * (i + 0.5) / len(labels)
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                         f'{escape(label)}</text>')
    return parts


def chart(labels: list[str], values: list[float], kind: str = "bar", color: str = "#2856d8",
          title: str = "") -> Markup:
    """One series over the labels (days) as bars or an area line, sized by the viewBox."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_max(max(values, default=0))
    parts = _frame(top, labels, plot_w, plot_h)
    n = max(1, len(values))
    if kind == "bar":
        slot = plot_w / n
        for i, (label, value) in enumerate(zip(labels, values, strict=True)):
            h, x = plot_h * value / top, LEFT + slot * i + slot * 0.18
            parts.append(f'<rect x="{x:.1f}" y="{TOP + plot_h - h:.1f}" '
                         f'width="{slot * 0.64:.1f}" height="{h:.1f}" rx="2" fill="{color}">'
                         f'<title>{escape(label)}: {_short(value)}</title></rect>')
    else:
        points = [(LEFT + plot_w * (i + 0.5) / n, TOP + plot_h - plot_h * v / top)
                  for i, v in enumerate(values)]
        if points:
            line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            base = TOP + plot_h
            parts.append(f'<polygon points="{points[0][0]:.1f},{base} {line} '
                         f'{points[-1][0]:.1f},{base}" fill="{color}" opacity="0.12"/>')
            parts.append(f'<polyline points="{line}" fill="none" stroke="{color}" '
                         f'stroke-width="2"/>')
            for (x, y), label, value in zip(points, labels, values, strict=True):
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                             f'<title>{escape(label)}: {_short(value)}</title></circle>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" '
                 f'y2="{TOP + plot_h}"/>')
    return Markup(f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
                  f'aria-label="{escape(title)}">{"".join(parts)}</svg>')
