"""Small SVG charts for certificates: the thermal soak over time and the VRAM per-bit error histogram.

Plain SVG text, so WeasyPrint draws it as vectors and the same data always gives the same bytes (no plotting
library, no fonts of its own, no timestamps).
"""

from __future__ import annotations

import math
from html import escape

WIDTH, PANEL_HEIGHT, LEFT, RIGHT, TOP, GAP = 480, 62, 44, 8, 6, 14


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.1f}"


def _points(xs: list[float], ys: list[float], x0: float, x1: float, y0: float, y1: float, top: float) -> str:
    span_x = (x1 - x0) or 1.0
    span_y = (y1 - y0) or 1.0
    inner = WIDTH - LEFT - RIGHT
    return " ".join(f"{LEFT + (x - x0) / span_x * inner:.1f},"
                    f"{top + PANEL_HEIGHT - (y - y0) / span_y * PANEL_HEIGHT:.1f}" for x, y in zip(xs, ys, strict=True))


def _clean(xs, ys) -> tuple[list[float], list[float]]:
    pairs = [(float(x), float(y)) for x, y in zip(xs or [], ys or [], strict=False)
             if isinstance(x, int | float) and isinstance(y, int | float) and math.isfinite(x) and math.isfinite(y)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


LEGEND = 11  # layout 2: a row above each panel for its legend, so that no label sits on a line
DASHES = {"GPU": "", "hotspot": "4 2", "memory": "1 2"}  # layout 2: two series that coincide both stay visible


def thermal_chart(columns: dict, *, layout: int = 2) -> str:
    """Stacked panels sharing the time axis: temperatures (GPU and hotspot), SM clock, board power. "" when the
    run kept no telemetry. `layout` 1 is how certificates of payload schema 4 and older draw it (legend inside the
    plot, solid lines), kept so that they draw again byte for byte; 2 puts each legend above its panel, with a
    swatch, and dashes the hotspot and memory lines."""
    times = columns.get("time") or []
    legend_row = LEGEND if layout >= 2 else 0
    # (unit, axis floor: temperatures from room temperature, clock and power from 0, unless the data goes lower)
    panels = [
        ("°C", 20.0, [("GPU", "gpu_temp_c", "#d62728"), ("hotspot", "hotspot_temp_c", "#ff9896"),
                ("memory", "memory_temp_c", "#9467bd")]),
        ("MHz", 0.0, [("SM clock", "sm_clock_mhz", "#1f77b4")]),
        ("W", 0.0, [("power", "power_w", "#2ca02c")]),
    ]
    drawn = []
    for unit, floor, series in panels:
        lines = [(label, *_clean(times, columns.get(key)), color) for label, key, color in series]
        lines = [line for line in lines if len(line[1]) >= 2]
        if lines:
            drawn.append((unit, floor, lines))
    if not drawn:
        return ""
    all_x = [x for _, _, lines in drawn for line in lines for x in line[1]]
    x0, x1 = min(all_x), max(all_x)
    height = TOP + len(drawn) * (PANEL_HEIGHT + GAP + legend_row) + 12
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
             f'height="{height}" font-family="sans-serif" font-size="8">']
    for index, (unit, floor, lines) in enumerate(drawn):
        top = TOP + legend_row + index * (PANEL_HEIGHT + GAP + legend_row)
        ys = [y for line in lines for y in line[2]]
        y0, y1 = min([*ys, floor]), max(ys)
        if y1 - y0 < 1:
            y0, y1 = y0 - 1, y1 + 1
        parts.append(f'<rect x="{LEFT}" y="{top}" width="{WIDTH - LEFT - RIGHT}" height="{PANEL_HEIGHT}" '
                     'fill="#fafafa" stroke="#ccc" stroke-width="0.5"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{top + 8}" text-anchor="end">{_fmt(y1)}</text>')
        parts.append(f'<text x="{LEFT - 4}" y="{top + PANEL_HEIGHT}" text-anchor="end">{_fmt(y0)}</text>')
        parts.append(f'<text x="{LEFT - 4}" y="{top + PANEL_HEIGHT / 2 + 3}" text-anchor="end" '
                     f'fill="#555">{escape(unit)}</text>')
        legend_x = LEFT + 6 if layout < 2 else LEFT
        for label, xs, line_ys, color in lines:
            dash = f' stroke-dasharray="{DASHES[label]}"' if layout >= 2 and DASHES.get(label) else ""
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.2"{dash} '
                         f'points="{_points(xs, line_ys, x0, x1, y0, y1, top)}"/>')
            if layout < 2:
                parts.append(f'<text x="{legend_x}" y="{top + 10}" fill="{color}">{escape(label)}</text>')
                legend_x += 8 + 5 * len(label)
                continue
            parts.append(f'<line x1="{legend_x}" y1="{top - 6}" x2="{legend_x + 12}" y2="{top - 6}" stroke="{color}" '
                         f'stroke-width="1.5"{dash}/>')
            parts.append(f'<text x="{legend_x + 15}" y="{top - 3}" fill="#333">{escape(label)}</text>')
            legend_x += 24 + 5 * len(label)
    bottom = TOP + len(drawn) * (PANEL_HEIGHT + GAP + legend_row) - GAP + 10
    parts.append(f'<text x="{LEFT}" y="{bottom}">0 s</text>')
    parts.append(f'<text x="{WIDTH - RIGHT}" y="{bottom}" text-anchor="end">{_fmt(x1 - x0)} s</text>')
    parts.append("</svg>")
    return "".join(parts)


def bit_histogram_chart(counts: list) -> str:
    """Bars of error counts per bit position (0 = least significant), with the non-zero counts labelled."""
    values = [int(c) if isinstance(c, int | float) and math.isfinite(c) else 0 for c in counts or []]
    if not values or not any(values):
        return ""
    height, bottom = 90, 72
    inner = WIDTH - LEFT - RIGHT
    step = inner / len(values)
    peak = max(values)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
             f'height="{height}" font-family="sans-serif" font-size="7">',
             f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" stroke="#999" stroke-width="0.5"/>',
             f'<text x="{LEFT - 4}" y="{bottom - 56}" text-anchor="end">errors</text>']
    for bit, count in enumerate(values):
        x = LEFT + bit * step
        bar = 60 * count / peak if peak else 0
        if count:
            parts.append(f'<rect x="{x + 1:.1f}" y="{bottom - bar:.1f}" width="{max(step - 2, 1):.1f}" '
                         f'height="{bar:.1f}" fill="#d62728"/>')
            parts.append(f'<text x="{x + step / 2:.1f}" y="{bottom - bar - 2:.1f}" '
                         f'text-anchor="middle">{count}</text>')
        if bit % 4 == 0 or count:
            parts.append(f'<text x="{x + step / 2:.1f}" y="{bottom + 9}" text-anchor="middle">{bit}</text>')
    parts.append(f'<text x="{WIDTH - RIGHT}" y="{bottom + 17}" text-anchor="end">bit position</text>')
    parts.append("</svg>")
    return "".join(parts)
