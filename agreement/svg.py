"""Tiny inline-SVG charts for the agreement report: no JavaScript, no external files, no plotting library.

Pure core: each function returns an ``<svg>`` element as a string (text is escaped). The charts
are the few the report needs: a forest plot (a value with an interval per row, over coloured
bands), a heatmap with numbers in the cells, 100%-stacked bars and plain horizontal bars.

Examples
--------
>>> svg = forest_plot([("tone_zone", 0.81, 0.75, 0.86)])
>>> svg.startswith('<svg class="chart forest"'), "tone_zone" in svg
(True, True)
>>> "&lt;b&gt;" in heatmap(["<b>"], [[1.0]])
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

#: Okabe–Ito colour-blind-safe palette, for unordered categories.
CATEGORICAL = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999", "#000000")
FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12"'


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in rgb)


def _mix(a: str, b: str, t: float) -> str:
    ca = [int(a[i:i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i:i + 2], 16) for i in (1, 3, 5)]
    return _hex(tuple(x + (y - x) * t for x, y in zip(ca, cb, strict=True)))  # type: ignore[arg-type]


def diverging(value: float | None, lo: float = -1.0, hi: float = 1.0) -> str:
    """Colour of ``value`` on a red (lo) – white (0) – blue (hi) scale; grey for None/NaN.

    >>> diverging(1.0), diverging(0.0), diverging(None)
    ('#2166ac', '#f7f7f7', '#dddddd')
    """
    if value is None or math.isnan(value):
        return "#dddddd"
    if value >= 0:
        return _mix("#f7f7f7", "#2166ac", min(value / hi, 1.0) if hi else 1.0)
    return _mix("#f7f7f7", "#b2182b", min(value / lo, 1.0) if lo else 1.0)


def ordered_palette(n: int) -> list[str]:
    """``n`` colours for an ordered scale (red → grey → blue), e.g. a bipolar tone zone.

    >>> ordered_palette(3)
    ['#b2182b', '#bbbbbb', '#2166ac']
    """
    if n <= 1:
        return ["#2166ac"][:n]
    out = []
    for i in range(n):
        t = i / (n - 1)
        out.append(_mix("#b2182b", "#bbbbbb", t * 2) if t <= 0.5 else _mix("#bbbbbb", "#2166ac", (t - 0.5) * 2))
    return out


def _text_color(fill: str) -> str:
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"


def forest_plot(
    rows: Sequence[tuple[str, float | None, float | None, float | None]],
    *,
    lo: float = -0.2,
    hi: float = 1.0,
    bands: Sequence[tuple[float, float, str, str]] = (
        (-1.0, 0.667, "#fbe3e3", "unreliable"),
        (0.667, 0.8, "#fdf2d0", "tentative"),
        (0.8, 1.0, "#e0f1e0", "reliable"),
    ),
) -> str:
    """One row per (label, value, low, high): a dot with a whisker over verdict bands."""
    label_w, plot_w, row_h, top = 150, 560, 26, 28
    height = top + row_h * max(len(rows), 1) + 24

    def x(v: float) -> float:
        return label_w + (min(max(v, lo), hi) - lo) / (hi - lo) * plot_w

    parts = [f'<svg class="chart forest" xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 20}" '
             f'height="{height}" role="img" aria-label="alpha with 95% interval per question" {FONT}>']
    for b_lo, b_hi, color, name in bands:
        if b_hi <= lo or b_lo >= hi:
            continue
        parts.append(f'<rect x="{x(b_lo):.1f}" y="{top - 6}" width="{x(b_hi) - x(b_lo):.1f}" '
                     f'height="{row_h * max(len(rows), 1) + 6}" fill="{color}"><title>{escape(name)}</title></rect>')
        parts.append(f'<text x="{(x(b_lo) + x(b_hi)) / 2:.1f}" y="14" text-anchor="middle" fill="#555">{escape(name)}</text>')
    for tick in (lo, 0.0, 0.2, 0.4, 0.667, 0.8, 1.0):
        if lo <= tick <= hi:
            y0 = top + row_h * max(len(rows), 1)
            parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top - 6}" y2="{y0}" stroke="#999" '
                         f'stroke-dasharray="2,3"/>')
            parts.append(f'<text x="{x(tick):.1f}" y="{y0 + 14}" text-anchor="middle" fill="#333">{tick:g}</text>')
    for i, (label, value, low, high) in enumerate(rows):
        y = top + row_h * i + row_h / 2
        parts.append(f'<text x="{label_w - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>')
        if low is not None and high is not None and not (math.isnan(low) or math.isnan(high)):
            parts.append(f'<line class="ci" x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                         f'stroke="#222" stroke-width="2"/>')
            for v in (low, high):
                parts.append(f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{y - 5:.1f}" y2="{y + 5:.1f}" stroke="#222" stroke-width="2"/>')
        if value is None or math.isnan(value):
            parts.append(f'<text x="{label_w + 6}" y="{y + 4:.1f}" fill="#a00">undefined</text>')
        else:
            clipped = " (off scale)" if value < lo else ""
            parts.append(f'<circle class="point" cx="{x(value):.1f}" cy="{y:.1f}" r="5" fill="#0b3d91">'
                         f'<title>{escape(label)}: {value:.3f}{clipped}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def heatmap(
    labels: Sequence[str],
    matrix: Sequence[Sequence[float | None]],
    *,
    col_labels: Sequence[str] | None = None,
    lo: float = -1.0,
    hi: float = 1.0,
    counts: bool = False,
    aria: str = "heatmap",
) -> str:
    """A labelled grid coloured by value (diverging, or sequential blue when ``counts``)."""
    cols = list(col_labels) if col_labels is not None else list(labels)
    cell = 44
    left = 12 + 7 * max((len(s) for s in labels), default=4)
    top = 12 + 7 * max((len(s) for s in cols), default=4)
    width = left + cell * len(cols) + 10 + 5 * max((len(s) for s in cols), default=4)
    height = top + cell * len(labels) + 10
    peak = max((v for row in matrix for v in row if v is not None and not math.isnan(v)), default=1.0) or 1.0
    parts = [f'<svg class="chart heatmap" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="{escape(aria)}" {FONT}>']
    for j, name in enumerate(cols):
        cx = left + cell * j + cell / 2
        parts.append(f'<text transform="translate({cx:.1f},{top - 6}) rotate(-45)" text-anchor="start">{escape(name)}</text>')
    for i, name in enumerate(labels):
        cy = top + cell * i + cell / 2
        parts.append(f'<text x="{left - 6}" y="{cy + 4:.1f}" text-anchor="end">{escape(name)}</text>')
        for j, value in enumerate(matrix[i]):
            if counts:
                fill = "#f7f7f7" if not value else _mix("#eef3fb", "#08306b", float(value) / peak)
            else:
                fill = diverging(value, lo, hi)
            text = "—" if value is None or math.isnan(value) else (f"{int(value)}" if counts else f"{value:.2f}")
            parts.append(f'<rect class="cell" x="{left + cell * j}" y="{top + cell * i}" width="{cell - 2}" '
                         f'height="{cell - 2}" fill="{fill}"><title>{escape(name)} / {escape(cols[j])}: {text}</title></rect>')
            parts.append(f'<text x="{left + cell * j + cell / 2 - 1:.1f}" y="{top + cell * i + cell / 2 + 3:.1f}" '
                         f'text-anchor="middle" fill="{_text_color(fill)}">{text}</text>')
    parts.append("</svg>")
    return "".join(parts)


def stacked_bars(
    rows: Sequence[tuple[str, dict[str, int]]],
    order: Sequence[str],
    colors: Sequence[str],
    *,
    aria: str = "rating distribution",
) -> str:
    """100%-stacked horizontal bars: one row per rater, segments in ``order`` (with a legend)."""
    label_w, plot_w, row_h = 140, 380, 22
    width = label_w + plot_w + 60
    legend: list[str] = []
    lx, ly = label_w, 4
    for value, color in zip(order, colors, strict=False):
        item_w = 24 + 7 * len(value)
        if lx + item_w > width and lx > label_w:  # wrap the legend onto a new line
            lx, ly = label_w, ly + 18
        legend.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{color}"/>')
        legend.append(f'<text x="{lx + 16}" y="{ly + 10}">{escape(value)}</text>')
        lx += item_w
    legend_h = ly + 18
    height = legend_h + row_h * len(rows) + 8
    parts = [f'<svg class="chart bars" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" role="img" aria-label="{escape(aria)}" {FONT}>', *legend]
    for i, (name, dist) in enumerate(rows):
        y = legend_h + row_h * i
        total = sum(dist.values())
        parts.append(f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end">{escape(name)}</text>')
        x = float(label_w)
        for value, color in zip(order, colors, strict=False):
            n = dist.get(value, 0)
            if not n or not total:
                continue
            w = plot_w * n / total
            parts.append(f'<rect class="segment" x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row_h - 6}" '
                         f'fill="{color}"><title>{escape(name)}: {escape(value)} × {n} ({n / total:.0%})</title></rect>')
            x += w
        parts.append(f'<text x="{label_w + plot_w + 6}" y="{y + 14}" fill="#555">n={total}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    rows: Sequence[tuple[str, float | None, str]],
    *,
    lo: float = 0.0,
    hi: float = 1.0,
    aria: str = "bar chart",
) -> str:
    """Horizontal bars, one per (label, value, colour), on a fixed [lo, hi] axis."""
    label_w, plot_w, row_h = 160, 360, 22
    height = row_h * len(rows) + 24
    parts = [f'<svg class="chart hbars" xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 60}" '
             f'height="{height}" role="img" aria-label="{escape(aria)}" {FONT}>']
    for tick in (lo, (lo + hi) / 2, hi):
        tx = label_w + (tick - lo) / (hi - lo) * plot_w
        parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="0" y2="{row_h * len(rows)}" stroke="#ccc"/>')
        parts.append(f'<text x="{tx:.1f}" y="{row_h * len(rows) + 14}" text-anchor="middle" fill="#333">{tick:g}</text>')
    for i, (label, value, color) in enumerate(rows):
        y = row_h * i
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        if value is None or math.isnan(value):
            parts.append(f'<text x="{label_w + 4}" y="{y + 15}" fill="#a00">undefined</text>')
            continue
        w = max(0.0, (min(max(value, lo), hi) - lo) / (hi - lo) * plot_w)
        parts.append(f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 7}" '
                     f'fill="{color}"><title>{escape(label)}: {value:.3f}</title></rect>')
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 15}">{value:.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)
