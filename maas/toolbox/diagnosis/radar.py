"""Radar (spider) charts of dimension scores: inline SVG for HTML, PNG for DOCX.

Geometry, shared by both: axis i points at angle -90° + 360°·i/n (the first axis straight up,
then clockwise), and a value v sits at radius r·v/max from the centre. The SVG is hand-built
(no JavaScript, no external assets) so the HTML report prints and archives as one file.
"""

from __future__ import annotations

import io
import math
from html import escape
from pathlib import Path

RINGS = (20, 40, 60, 80, 100)
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
LATIN_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)


def radar_points(values: list[float], *, size: float = 400, margin: float = 80,
                 max_value: float = 100) -> list[tuple[float, float]]:
    """The vertex of each value, rounded to 0.01 (what the SVG writes)."""
    n = len(values)
    centre, radius = size / 2, size / 2 - margin
    points = []
    for i, value in enumerate(values):
        angle = -math.pi / 2 + 2 * math.pi * i / n
        r = radius * max(0.0, min(float(value), max_value)) / max_value
        points.append((round(centre + r * math.cos(angle), 2),
                       round(centre + r * math.sin(angle), 2)))
    return points


def _xy(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:.2f},{y:.2f}" for x, y in points)


def radar_svg(labels: list[str], values: list[float], *, size: int = 400, margin: int = 80,
              max_value: float = 100, title: str = "") -> str:
    """An SVG radar chart; labels are escaped. Needs at least three axes to be a polygon."""
    if len(labels) != len(values) or len(values) < 3:
        raise ValueError("a radar chart needs one label per value and at least three values")
    centre = size / 2
    pad = size * 0.3  # room for long labels left and right; coordinates stay unshifted
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="radar" '
             f'width="{size + 2 * pad:.0f}" height="{size}" '
             f'viewBox="{-pad:.0f} 0 {size + 2 * pad:.0f} {size}" role="img" '
             f'aria-label="{escape(title or "radar chart")}">']
    for ring in RINGS:
        ring_pts = radar_points([ring] * len(values), size=size, margin=margin,
                                max_value=max_value)
        parts.append(f'<polygon class="radar-ring" points="{_xy(ring_pts)}" fill="none" '
                     'stroke="#c8ccd4" stroke-width="1"/>')
    outer = radar_points([max_value] * len(values), size=size, margin=margin,
                         max_value=max_value)
    for (x, y), label in zip(outer, labels, strict=True):
        parts.append(f'<line class="radar-axis" x1="{centre:.2f}" y1="{centre:.2f}" '
                     f'x2="{x:.2f}" y2="{y:.2f}" stroke="#c8ccd4" stroke-width="1"/>')
        lx, ly = centre + (x - centre) * 1.12, centre + (y - centre) * 1.12
        anchor = "middle" if abs(lx - centre) < 1 else ("start" if lx > centre else "end")
        parts.append(f'<text class="radar-label" x="{lx:.2f}" y="{ly + 4:.2f}" '
                     f'text-anchor="{anchor}" font-size="13">{escape(label)}</text>')
    pts = radar_points(values, size=size, margin=margin, max_value=max_value)
    parts.append(f'<polygon class="radar-values" points="{_xy(pts)}" fill="#2f6fdf" '
                 'fill-opacity="0.25" stroke="#2f6fdf" stroke-width="2"/>')
    for (x, y), label, value in zip(pts, labels, values, strict=True):
        parts.append(f'<circle class="radar-vertex" cx="{x:.2f}" cy="{y:.2f}" r="4" '
                     f'fill="#2f6fdf"><title>{escape(label)}: {float(value):.2f}</title>'
                     '</circle>')
    parts.append("</svg>")
    return "".join(parts)


def _font(paths: tuple[str, ...], size: int):  # noqa: ANN202 - PIL type is optional
    from PIL import ImageFont

    for path in paths:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return None


def radar_png(labels: list[str], values: list[float], *, fallback_labels: list[str] | None = None,
              size: int = 800) -> bytes:
    """The same chart as a PNG (for DOCX). Without a CJK font on the machine, labels that
    need one are replaced by `fallback_labels` (e.g. the English names) rather than boxes."""
    from PIL import Image, ImageDraw, ImageFont

    if len(labels) != len(values) or len(values) < 3:
        raise ValueError("a radar chart needs one label per value and at least three values")
    needs_cjk = any(ord(ch) > 0x2E7F for label in labels for ch in label)
    font = _font(CJK_FONTS, size // 30) if needs_cjk else None
    if font is None:
        if needs_cjk and fallback_labels:
            labels = fallback_labels
        font = _font(LATIN_FONTS, size // 30) or ImageFont.load_default()
    margin = size // 5
    pad = size * 3 // 10  # room for long labels left and right
    image = Image.new("RGB", (size + 2 * pad, size), "white")
    draw = ImageDraw.Draw(image)
    centre = size / 2

    def shift(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(x + pad, y) for x, y in points]

    for ring in RINGS:
        pts = shift(radar_points([ring] * len(values), size=size, margin=margin))
        draw.polygon(pts, outline=(200, 204, 212))
    outer = radar_points([100] * len(values), size=size, margin=margin)
    for (x, y), label in zip(outer, labels, strict=True):
        draw.line([(centre + pad, centre), (x + pad, y)], fill=(200, 204, 212), width=1)
        lx, ly = centre + (x - centre) * 1.14, centre + (y - centre) * 1.14
        anchor = "mm" if abs(lx - centre) < 1 else ("lm" if lx > centre else "rm")
        draw.text((lx + pad, ly), label, fill=(30, 30, 30), font=font, anchor=anchor)
    pts = shift(radar_points(values, size=size, margin=margin))
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(overlay).polygon(pts, fill=(47, 111, 223, 64))
    image.paste(overlay, (0, 0), overlay)
    draw.polygon(pts, outline=(47, 111, 223), width=3)
    for x, y in pts:
        draw.ellipse([x - 6, y - 6, x + 6, y + 6], fill=(47, 111, 223))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
