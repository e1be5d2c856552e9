"""Small inline SVG line charts for the per-run pages.

A report over thousands of runs cannot afford a matplotlib figure per run
(about 0.2 s each), so each run's page draws its curves as inline SVG paths:
about a millisecond per chart, crisp at any zoom, no scripts.

* **Thinning**: a line longer than :data:`MAX_POINTS` is cut into
  ``(MAX_POINTS - 2) // 2`` buckets of consecutive points, and each bucket
  keeps its lowest and highest point, in step order, as do both ends of the
  line (min/max decimation). Spikes, such as an exploding gradient or a
  diverging loss, survive at full height; the full curves stay in the run's
  record, ``runs/<id>.json``, which the page links.
* **Axes**: linear axes get 1-2-5 ticks; log axes get decade ticks (at most
  seven), or 1-2-5 ticks when the range spans less than two decades, or plain
  linear ticks when it is narrower than a factor of two. A degenerate range
  (one point, all values equal) is widened by half a unit (half a decade on a
  log axis) each way.
* **Gaps**: missing (None/NaN) values, and zero or negative values on a log
  axis, break the line.
* **Compact paths**: each line is one ``<path>`` in relative coordinates of
  half a pixel (a group scaled by 0.5), without the points that lie within
  half a pixel of the chord between their neighbours, so a run page stays
  small. The chart's size, font size and line width come from ``svg.chart``
  in ``templates/style.css`` (once per report, not once per chart).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence, overload

import numpy as np
from markupsafe import Markup, escape

WIDTH, HEIGHT = 460, 230
LEFT, RIGHT, TOP, BOTTOM = 58, 12, 24, 40
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
#: Points per drawn line at most: the ends, and the min and max of (MAX_POINTS - 2) // 2
#: buckets (74, about one per 5 px of the plot): the budget that keeps 10,000 run pages of
#: 2000-step runs under 100 MB (``bench --report-records``).
MAX_POINTS = 150
#: Decade ticks on a log axis at most (more decades: every second, third, ... one).
MAX_DECADE_TICKS = 7
#: Path coordinates per pixel (paths are drawn in a group scaled by 1 / SUBPIXEL).
SUBPIXEL = 2


@dataclasses.dataclass(frozen=True)
class Axis:
    """A data range (log10 units on a log axis) mapped linearly onto pixels ``p0`` to ``p1``."""

    lo: float
    hi: float
    p0: float
    p1: float

    @overload
    def px(self, v: float) -> float: ...
    @overload
    def px(self, v: np.ndarray) -> np.ndarray: ...

    def px(self, v: np.ndarray | float) -> np.ndarray | float:
        """Pixel position of ``v`` (already in log10 units on a log axis)."""
        return self.p0 + (v - self.lo) / (self.hi - self.lo) * (self.p1 - self.p0)


def value_range(values: np.ndarray, pad: float = 0.0) -> tuple[float, float]:
    """``(lo, hi)`` of the finite ``values``, widened by 0.5 each way when degenerate.

    Args:
        values: At least one finite value.
        pad: Fraction of the range added on each side (after widening).
    """
    finite = values[np.isfinite(values)]
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo <= 1e-9 * max(abs(lo), abs(hi)):
        lo, hi = lo - 0.5, hi + 0.5
    margin = pad * (hi - lo)
    return lo - margin, hi + margin


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Ticks at multiples of 1, 2 or 5 times a power of ten, about ``n`` intervals over [lo, hi]."""
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    return [k * step for k in range(first, last + 1)]  # k * step: zero is exactly 0


def fmt_tick(v: float) -> str:
    """A tick label: ``%g``, or one significant digit with an exponent from 1e5."""
    return f"{v:g}" if abs(v) < 1e5 else f"{v:.0e}"


def log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Ticks (in log10 units) and labels of a log axis spanning ``lo`` to ``hi`` (log10 units)."""
    decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
    if len(decades) >= 2:
        decades = decades[:: math.ceil(len(decades) / MAX_DECADE_TICKS)]
        return [float(d) for d in decades], [f"1e{d}" for d in decades]
    ticks = [math.log10(m) + d for d in range(math.floor(lo), math.ceil(hi) + 1) for m in (1, 2, 5)]
    ticks = [t for t in ticks if lo - 1e-9 <= t <= hi + 1e-9]
    if len(ticks) >= 2:
        return ticks, [f"{10 ** t:.3g}" for t in ticks]
    linear = [v for v in nice_ticks(10 ** lo, 10 ** hi) if v > 0]
    return [math.log10(v) for v in linear], [fmt_tick(v) for v in linear]


def decimate(x: np.ndarray, y: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points of a line: the min and max of each bucket, in order.

    The first and last points are kept too (the line spans the same x range). A
    bucket with no finite ``y`` keeps its first point (a NaN: the line breaks there).
    """
    n = len(y)
    if n <= max_points:
        return x, y
    buckets = max(1, (max_points - 2) // 2)
    size = math.ceil(n / buckets)
    padded = np.full(size * math.ceil(n / size), np.nan)
    padded[:n] = y
    grid = padded.reshape(-1, size)
    missing = np.isnan(grid)
    base = np.arange(grid.shape[0]) * size
    lows = base + np.where(missing, np.inf, grid).argmin(axis=1)
    highs = base + np.where(missing, -np.inf, grid).argmax(axis=1)
    keep = np.unique(np.minimum(np.concatenate([[0, n - 1], lows, highs]), n - 1))
    return x[keep], y[keep]


def line_points(line: dict, logy: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` of one line, thinned, y in log10 units on a log axis, NaN where not drawable."""
    x = np.asarray(line["x"], dtype=float)
    y = np.asarray(line["y"], dtype=float)  # None -> NaN
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    if logy:
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(y > 0, np.log10(np.where(y > 0, y, 1.0)), np.nan)
    y = np.where(np.isfinite(y) & np.isfinite(x), y, np.nan)
    return decimate(x, y)


def straighten(qx: np.ndarray, qy: np.ndarray, tol: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Drops points within ``tol`` (path units) of the chord between their neighbours.

    At most every other point goes, so that the kept neighbours bound the
    error: a drawn line moves by at most ``tol / SUBPIXEL`` pixels (half a
    pixel). Smooth stretches (a profile, an evaluation curve) lose about half
    their points; spikes and noise keep theirs.
    """
    if len(qx) < 3:
        return qx, qy
    ux, uy = qx[2:] - qx[:-2], qy[2:] - qy[:-2]
    vx, vy = qx[1:-1] - qx[:-2], qy[1:-1] - qy[:-2]
    cross, dot, len2 = ux * vy - uy * vx, ux * vx + uy * vy, ux * ux + uy * uy
    flat = (cross * cross <= tol * tol * len2) & (dot >= 0) & (dot <= len2) & (len2 > 0)
    flat[1::2] = False  # never two neighbours
    keep = np.concatenate([[True], ~flat, [True]])
    return qx[keep], qy[keep]


def path_data(px: np.ndarray, py: np.ndarray) -> str:
    """SVG path data through the pixel points, in relative 1/SUBPIXEL-pixel steps; NaN breaks it."""
    ok = np.isfinite(py)
    qx = np.rint(px * SUBPIXEL).astype(np.int64)
    qy = np.rint(np.where(ok, py, 0.0) * SUBPIXEL).astype(np.int64)
    starts = np.flatnonzero(ok & ~np.concatenate([[False], ok[:-1]]))
    ends = np.flatnonzero(ok & ~np.concatenate([ok[1:], [False]])) + 1
    parts = []
    for a, b in zip(starts, ends):
        sx, sy = qx[a:b], qy[a:b]
        moved = np.concatenate([[True], (np.diff(sx) != 0) | (np.diff(sy) != 0)])
        sx, sy = straighten(sx[moved], sy[moved])
        steps = np.column_stack([np.diff(sx), np.diff(sy)]).ravel().tolist()
        body = "l" + " ".join(map(str, steps)) if steps else "h0"  # h0: a lone point (a dot)
        parts.append(f"M{sx[0]} {sy[0]}{body}".replace(" -", "-"))
    return "".join(parts)


def axes_for(pts: list[tuple[np.ndarray, np.ndarray]], hline: float | None) -> tuple[Axis, Axis] | None:
    """The x and y axes of a chart (y padded by 4%), or None when there is no finite point."""
    xs = np.concatenate([x[np.isfinite(y)] for x, y in pts]) if pts else np.empty(0)
    if not len(xs):
        return None
    ys = np.concatenate([y for _, y in pts] + ([np.array([hline])] if hline is not None else []))
    x0, x1 = value_range(xs)
    y0, y1 = value_range(ys, pad=0.04)
    return Axis(x0, x1, LEFT, LEFT + PLOT_W), Axis(y0, y1, TOP + PLOT_H, TOP)


def _num(v: float) -> str:
    """A pixel coordinate to 0.5 px, without a trailing ``.0``."""
    return f"{round(v * 2) / 2:g}"


def _y_ticks(ya: Axis, logy: bool) -> str:
    """Grid lines and labels of the y axis."""
    if logy:
        ticks, labels = log_ticks(ya.lo, ya.hi)
    else:
        ticks = nice_ticks(ya.lo, ya.hi)
        labels = [fmt_tick(v) for v in ticks]
    grid = "".join(f"M{LEFT} {_num(ya.px(t))}H{WIDTH - RIGHT}" for t in ticks)
    text = "".join(f'<text y="{_num(ya.px(t))}">{lab}</text>' for t, lab in zip(ticks, labels))
    return (f'<path stroke="#e5e5e5" d="{grid}"/>'
            f'<g transform="translate({LEFT - 4} 4)" text-anchor="end">{text}</g>')


def _x_ticks(xa: Axis) -> str:
    """Labels of the x axis."""
    text = "".join(f'<text x="{_num(xa.px(t))}">{fmt_tick(t)}</text>' for t in nice_ticks(xa.lo, xa.hi))
    return f'<g transform="translate(0 {TOP + PLOT_H + 14})" text-anchor="middle">{text}</g>'


def _lines(lines: Sequence[dict], pts: list[tuple[np.ndarray, np.ndarray]], xa: Axis, ya: Axis) -> str:
    """One path per line; each path also draws the line's legend swatch (same colour and dash)."""
    out = []
    for i, (line, (x, y)) in enumerate(zip(lines, pts)):
        dash = line.get("dash")
        dash = (' stroke-dasharray="' + " ".join(f"{SUBPIXEL * float(v):g}" for v in dash.split())
                + '"') if dash else ""
        swatch = f"M{SUBPIXEL * (LEFT + 6)} {SUBPIXEL * (TOP + 8 + 13 * i)}h{SUBPIXEL * 16}"
        data = path_data(xa.px(x), ya.px(y)) if np.isfinite(y).any() else ""
        out.append(f'<path stroke="{line["colour"]}"{dash} d="{swatch}{data}"/>')
    return f'<g class="ln" transform="scale({1 / SUBPIXEL:g})" fill="none">{"".join(out)}</g>'


def _legend(lines: Sequence[dict]) -> str:
    """The legend's labels (the swatches are drawn with the lines)."""
    text = "".join(f'<text y="{TOP + 12 + 13 * i}">{escape(line["label"])}</text>'
                   for i, line in enumerate(lines))
    return f'<g transform="translate({LEFT + 26} 0)">{text}</g>'



def _hline(ya: Axis, hline: float | None) -> str:
    if hline is None:
        return ""
    return f'<path stroke="#000" stroke-dasharray="5 4" d="M{LEFT} {_num(ya.px(hline))}H{WIDTH - RIGHT}"/>'


def _frame(title: str, xlabel: str, ylabel: str) -> tuple[str, str]:
    """Opening (svg element, plot border) and closing (title and axis labels) markup."""
    mid_y = TOP + PLOT_H / 2
    head = (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img">'
            f'<path stroke="#999" fill="none" d="M{LEFT} {TOP}h{PLOT_W}v{PLOT_H}H{LEFT}z"/>')
    tail = (f'<g text-anchor="middle" font-size="11">'
            f'<text x="{WIDTH / 2:g}" y="15" font-size="12">{escape(title)}</text>'
            f'<text x="{LEFT + PLOT_W / 2:g}" y="{HEIGHT - 6}">{escape(xlabel)}</text>'
            f'<text transform="translate(12 {mid_y:g}) rotate(-90)">{escape(ylabel)}</text></g></svg>')
    return head, tail


def line_chart(lines: Sequence[dict], title: str, xlabel: str, ylabel: str,
               logy: bool = True, hline: float | None = None) -> Markup:
    """An SVG chart of several lines.

    Args:
        lines: Dicts with ``x``, ``y`` (sequences; None marks a missing value),
            ``label``, ``colour`` and optional ``dash`` (an SVG dash array).
        title, xlabel, ylabel: Text (escaped).
        logy: Log-scale y axis (default True).
        hline: Draw a dashed reference line at this y (e.g. the chance level);
            ignored when not positive on a log axis.

    Returns:
        The ``<svg>`` element as safe markup, or a short note when no line has
        a drawable point.
    """
    pts = [line_points(line, logy) for line in lines]
    ref = None if hline is None or (logy and not hline > 0) else (math.log10(hline) if logy else hline)
    axes = axes_for(pts, ref)
    if axes is None:
        return Markup('<p class="small">{}: nothing to draw.</p>').format(title)
    xa, ya = axes
    head, tail = _frame(title, xlabel, ylabel)
    body = _y_ticks(ya, logy) + _x_ticks(xa) + _hline(ya, ref) + _lines(lines, pts, xa, ya) + _legend(lines)
    return Markup(head + body + tail)
