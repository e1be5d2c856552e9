"""Small inline SVG line charts for the per-run pages.

A report over thousands of runs cannot afford a matplotlib figure per run
(about 0.2 s each), so each run's page draws its curves as inline SVG
polylines: a few milliseconds per chart, crisp at any zoom, no scripts.
Log axes use decade ticks; non-positive or missing values leave gaps.
"""
from __future__ import annotations

import math
from typing import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 460, 230
LEFT, RIGHT, TOP, BOTTOM = 58, 12, 24, 40
#: Points per drawn line at most (longer lines are thinned evenly).
MAX_POINTS = 300


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def _fmt(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e5 else f"{v:.0e}"


def line_chart(lines: Sequence[dict], title: str, xlabel: str, ylabel: str,
               logy: bool = True, hline: float | None = None) -> Markup:
    """An SVG chart of several lines.

    Args:
        lines: Dicts with ``x``, ``y`` (sequences), ``label``, ``colour`` and
            optional ``dash`` (an SVG dash array).
        title, xlabel, ylabel: Text (escaped).
        logy: Log-scale y axis (default True).
        hline: Draw a dashed reference line at this y (e.g. the chance level).

    Returns:
        The ``<svg>`` element as safe markup, or a short note when no line has
        a drawable point.
    """
    pts = []
    for line in lines:
        xs, ys = list(line["x"]), list(line["y"])
        step = max(1, math.ceil(len(xs) / MAX_POINTS))
        keep = [(x, y) for x, y in zip(xs[::step], ys[::step])
                if y is not None and math.isfinite(y) and (y > 0 or not logy)]
        pts.append(keep)
    every = [p for keep in pts for p in keep]
    if not every:
        return Markup('<p class="small">{}: nothing to draw.</p>').format(title)
    ty = (lambda v: math.log10(v)) if logy else (lambda v: v)
    ys = [ty(y) for _, y in every] + ([ty(hline)] if hline and (hline > 0 or not logy) else [])
    x0, x1 = min(x for x, _ in every), max(x for x, _ in every)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 - y0 < 1e-9:
        y0, y1 = y0 - 0.5, y1 + 0.5
    pad = 0.04 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * pw

    def sy(v: float) -> float:
        return TOP + (1 - (v - y0) / (y1 - y0)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
           f'width="{WIDTH}" height="{HEIGHT}" role="img">',
           f'<text x="{WIDTH / 2}" y="15" text-anchor="middle" font-size="12">{escape(title)}</text>']
    if logy:
        yticks = [float(d) for d in range(math.ceil(y0), math.floor(y1) + 1)]
        if len(yticks) > 7:
            yticks = yticks[:: math.ceil(len(yticks) / 7)]
        ylab = [f"1e{int(t)}" for t in yticks]
        if len(yticks) < 2:  # less than a decade: label 1, 2 and 5 times powers of ten
            cands = [math.log10(m) + d for d in range(math.floor(y0), math.ceil(y1) + 1) for m in (1, 2, 5)]
            yticks = [t for t in cands if y0 <= t <= y1]
            ylab = [f"{10 ** t:.3g}" for t in yticks]
    else:
        yticks = _nice_ticks(y0, y1)
        ylab = [_fmt(t) for t in yticks]
    for t, lab in zip(yticks, ylab):
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" '
                   f'stroke="#e5e5e5"/><text x="{LEFT - 4}" y="{sy(t) + 4:.1f}" text-anchor="end" '
                   f'font-size="10">{lab}</text>')
    for t in _nice_ticks(x0, x1):
        out.append(f'<text x="{sx(t):.1f}" y="{TOP + ph + 14}" text-anchor="middle" '
                   f'font-size="10">{_fmt(t)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    if hline and (hline > 0 or not logy):
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{sy(ty(hline)):.1f}" '
                   f'y2="{sy(ty(hline)):.1f}" stroke="#000" stroke-dasharray="5 4"/>')
    for line, keep in zip(lines, pts):
        if keep:
            path = " ".join(f"{sx(x):.1f},{sy(ty(y)):.1f}" for x, y in keep)
            dash = f' stroke-dasharray="{line["dash"]}"' if line.get("dash") else ""
            out.append(f'<polyline fill="none" stroke="{line["colour"]}" stroke-width="1.5"{dash} '
                       f'points="{path}"/>')
    legend_x = LEFT + 6
    for i, line in enumerate(lines):
        y = TOP + 12 + 13 * i
        out.append(f'<line x1="{legend_x}" x2="{legend_x + 16}" y1="{y - 4}" y2="{y - 4}" '
                   f'stroke="{line["colour"]}" stroke-width="2"/><text x="{legend_x + 20}" y="{y}" '
                   f'font-size="10">{escape(line["label"])}</text>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{HEIGHT - 6}" text-anchor="middle" '
               f'font-size="11">{escape(xlabel)}</text>')
    out.append(f'<text x="12" y="{TOP + ph / 2}" text-anchor="middle" font-size="11" '
               f'transform="rotate(-90 12 {TOP + ph / 2})">{escape(ylabel)}</text></svg>')
    return Markup("".join(out))
