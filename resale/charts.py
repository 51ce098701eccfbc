"""The dashboard's charts as plain SVG text (as the certificate's): per lot, its yield as a stacked bar, and its
realised margin as a bar either side of zero. No plotting library; all text escaped."""

from __future__ import annotations

from html import escape

YIELD_PARTS = [("F-A", "#1a7f37"), ("F-B", "#57ab5a"), ("F-C", "#d4a72c"), ("FAIL", "#c0392b"),
               ("in repair", "#e67e22"), ("not graded", "#c8ccd0")]
ROW, LABEL, WIDTH = 18, 130, 640


def _legend(parts, y: float) -> str:
    x, out = LABEL, []
    for name, colour in parts:
        out.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{x + 14}" y="{y + 9}">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return "".join(out)


def yield_chart(rows) -> str:
    """One stacked bar per lot: its cards by current grade, in repair, or not graded yet."""
    if not rows:
        return ""
    height = 24 + ROW * len(rows)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" '
           f'font-size="11" role="img" aria-label="yield per lot">', _legend(YIELD_PARTS, 2)]
    inner = WIDTH - LABEL - 40
    for i, row in enumerate(rows):
        y = 20 + i * ROW
        # A card in repair was mostly graded FAIL on the way there: counted once, as in repair.
        counts = [row.grades.get("F-A", 0), row.grades.get("F-B", 0), row.grades.get("F-C", 0),
                  max(0, row.grades.get("FAIL", 0) - row.in_repair_graded_fail), row.in_repair]
        counts.append(max(0, row.bought - sum(counts)))
        out.append(f'<text x="{LABEL - 6}" y="{y + 12}" text-anchor="end">{escape(row.reference[:20])}</text>')
        x = LABEL
        for (name, colour), n in zip(YIELD_PARTS, counts, strict=True):
            if n and row.bought:
                w = inner * n / row.bought
                out.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{ROW - 4}" fill="{colour}">'
                           f'<title>{escape(name)}: {n}</title></rect>')
                x += w
        out.append(f'<text x="{LABEL + inner + 4}" y="{y + 12}">{row.bought}</text>')
    out.append("</svg>")
    return "".join(out)


def margin_chart(rows) -> str:
    """Each lot's realised margin (sales less fees, shipping, returns and the lot's cost), either side of zero."""
    if not rows:
        return ""
    values = [float(r.margin) for r in rows]
    span = max(max(abs(v) for v in values), 1.0)
    height = 8 + ROW * len(rows)
    inner = (WIDTH - LABEL - 80) / 2
    zero = LABEL + inner
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" '
           f'font-size="11" role="img" aria-label="realised margin per lot">',
           f'<line x1="{zero}" y1="0" x2="{zero}" y2="{height}" stroke="#999"/>']
    for i, (row, value) in enumerate(zip(rows, values, strict=True)):
        y = 4 + i * ROW
        w = inner * abs(value) / span
        x = zero if value >= 0 else zero - w
        colour = "#1a7f37" if value >= 0 else "#c0392b"
        out.append(f'<text x="{LABEL - 6}" y="{y + 12}" text-anchor="end">{escape(row.reference[:20])}</text>'
                   f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{ROW - 4}" fill="{colour}"/>'
                   f'<text x="{zero + inner + 6}" y="{y + 12}">{value:,.0f} {escape(row.currency)}</text>')
    out.append("</svg>")
    return "".join(out)
