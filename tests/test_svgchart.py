"""The inline SVG charts of the run pages: scales, ticks, thinning and gaps."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from suite.report import svgchart as sc


def line(y, x=None, **kw):
    return {"x": list(range(len(y))) if x is None else x, "y": y, "label": "a", "colour": "#333", **kw}


def paths(chart: str) -> list[list[list[tuple[float, float]]]]:
    """Per line: its drawn subpaths as absolute pixel points (the legend swatch left out)."""
    out = []
    for d in re.findall(r'<path stroke="#[0-9a-f]+"(?: stroke-dasharray="[^"]*")? d="([^"]*)"',
                        chart.split('transform="scale(')[1]):
        subpaths = []
        for sub in re.findall(r"M[^M]*", d)[1:]:  # the first subpath is the legend swatch
            nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", sub)]
            x, y = nums[0], nums[1]
            pts = [(x, y)]
            if "l" in sub:
                for dx, dy in zip(nums[2::2], nums[3::2]):
                    x, y = x + dx, y + dy
                    pts.append((x, y))
            subpaths.append([(px / sc.SUBPIXEL, py / sc.SUBPIXEL) for px, py in pts])
        out.append(subpaths)
    return out


def y_labels(chart: str) -> list[str]:
    group = re.search(r'text-anchor="end">(.*?)</g>', chart).group(1)
    return re.findall(r">([^<]*)</text>", group)


def x_labels(chart: str) -> list[str]:
    group = re.search(rf'translate\(0 {sc.TOP + sc.PLOT_H + 14}\)" text-anchor="middle">(.*?)</g>',
                      chart).group(1)
    return re.findall(r">([^<]*)</text>", group)


# ---------------------------------------------------------------- ticks and ranges


@pytest.mark.parametrize("lo, hi, expected", [
    (0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    (0, 2000, [0, 500, 1000, 1500, 2000]),
    (1, 2000, [500, 1000, 1500, 2000]),
    (3, 97, [20, 40, 60, 80]),
    (-7, 7, [-5, 0, 5]),
])
def test_nice_ticks(lo, hi, expected):
    assert sc.nice_ticks(lo, hi) == pytest.approx(expected)


@pytest.mark.parametrize("lo, hi", [(0.013, 0.77), (-3.2, 41.0), (1e-6, 3e-6), (5.0, 5.4), (-1e7, 1e7)])
def test_nice_ticks_are_evenly_spaced_1_2_5_steps_inside_the_range(lo, hi):
    ticks = sc.nice_ticks(lo, hi)
    assert 3 <= len(ticks) <= 11 and all(lo <= t <= hi for t in ticks)
    step = ticks[1] - ticks[0]
    assert np.allclose(np.diff(ticks), step)
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
    assert min(abs(mantissa - m) for m in (1, 2, 5)) < 1e-6


def test_ticks_at_the_ends_survive_rounding_and_zero_is_exactly_zero():
    ticks = sc.nice_ticks(-0.3, 0.2)  # -0.3 / 0.1 is -2.9999999999999996 in floating point
    assert 0.0 in ticks
    assert [sc.fmt_tick(t) for t in ticks] == ["-0.3", "-0.2", "-0.1", "0", "0.1", "0.2"]


def test_degenerate_ranges_are_widened():
    assert sc.nice_ticks(5.0, 5.0) == [5.0]
    assert sc.value_range(np.array([3.0])) == (2.5, 3.5)
    assert sc.value_range(np.array([2.0, np.nan, 2.0, np.inf])) == (1.5, 2.5)
    assert sc.value_range(np.array([0.0, 0.0])) == (-0.5, 0.5)
    assert sc.value_range(np.array([1.0, 3.0]), pad=0.25) == (0.5, 3.5)
    assert sc.value_range(np.array([1e-12, 2e-12])) == (1e-12, 2e-12)  # small, not degenerate


def test_log_axis_ticks_are_decades():
    ticks, labels = sc.log_ticks(-3.1, 0.2)
    assert ticks == [-3, -2, -1, 0] and labels == ["1e-3", "1e-2", "1e-1", "1e0"]


def test_many_decades_are_thinned_to_at_most_seven_evenly_spaced_ticks():
    ticks, labels = sc.log_ticks(-12.5, 3.5)
    assert 2 <= len(ticks) <= sc.MAX_DECADE_TICKS and ticks[0] == -12
    assert len(set(np.diff(ticks))) == 1 and all(t == int(t) for t in ticks)
    assert labels[0] == "1e-12"


def test_less_than_two_decades_get_1_2_5_ticks():
    ticks, labels = sc.log_ticks(math.log10(0.015), math.log10(0.3))
    assert labels == ["0.02", "0.05", "0.1", "0.2"]
    assert [10 ** t for t in ticks] == pytest.approx([0.02, 0.05, 0.1, 0.2])


def test_less_than_a_factor_two_gets_linear_ticks_on_the_log_axis():
    ticks, labels = sc.log_ticks(math.log10(1.0), math.log10(1.04))
    assert labels == ["1", "1.01", "1.02", "1.03", "1.04"]
    assert [10 ** t for t in ticks] == pytest.approx([1.0, 1.01, 1.02, 1.03, 1.04])


def test_axis_maps_its_range_onto_pixels():
    x = sc.Axis(0.0, 10.0, 58.0, 448.0)
    assert (x.px(0.0), x.px(5.0), x.px(10.0)) == (58.0, 253.0, 448.0)
    y = sc.Axis(-2.0, 0.0, 190.0, 24.0)  # pixels grow downwards
    assert (y.px(-2.0), y.px(-1.0), y.px(0.0)) == (190.0, 107.0, 24.0)


# ---------------------------------------------------------------- whole charts


def test_points_land_where_the_scales_put_them_on_a_log_axis():
    chart = sc.line_chart([line([0.01, 1.0, 0.1], x=[0, 5, 10])], "t", "step", "loss")
    (pts,) = paths(chart)[0]
    x = sc.Axis(0, 10, sc.LEFT, sc.LEFT + sc.PLOT_W)
    y = sc.Axis(-2 - 0.08, 0 + 0.08, sc.TOP + sc.PLOT_H, sc.TOP)  # 4% padding each way
    assert len(pts) == 3
    for (px, py), (dx, dy) in zip(pts, [(0, -2), (5, 0), (10, -1)]):
        assert px == pytest.approx(x.px(dx), abs=0.5) and py == pytest.approx(y.px(dy), abs=0.5)
    assert y_labels(chart) == ["1e-2", "1e-1", "1e0"]
    assert x_labels(chart) == ["0", "2", "4", "6", "8", "10"]


def test_linear_axis_has_nice_labels():
    chart = sc.line_chart([line([0.0, 0.5, 0.8])], "t", "x", "y", logy=False)
    assert y_labels(chart) == ["0", "0.2", "0.4", "0.6", "0.8"]


def test_a_single_point_and_all_equal_values_still_draw():
    one = sc.line_chart([line([3.0], x=[5])], "t", "x", "y", logy=False)
    (pts,) = paths(one)[0]
    assert len(pts) == 1 and "h0" in one  # a dot in the middle of the plot
    assert pts[0][0] == pytest.approx(sc.LEFT + sc.PLOT_W / 2, abs=0.5)
    assert pts[0][1] == pytest.approx(sc.TOP + sc.PLOT_H / 2, abs=0.5)
    assert x_labels(one) == ["4.6", "4.8", "5", "5.2", "5.4"]
    flat = sc.line_chart([line([2.0] * 50)], "t", "x", "y")
    assert y_labels(flat) == ["1", "2", "5"]  # half a decade either way: 1-2-5 ticks
    (pts,) = paths(flat)[0]
    assert {round(p[1], 1) for p in pts} == {sc.TOP + sc.PLOT_H / 2}


def test_missing_values_break_the_line():
    chart = sc.line_chart([line([1.0, 2.0, None, 4.0, float("nan"), 6.0, 7.0])], "t", "x", "y",
                          logy=False)
    assert [len(sub) for sub in paths(chart)[0]] == [2, 1, 2]


def test_zero_and_negative_values_break_a_log_line_but_not_a_linear_one():
    y = [1.0, 2.0, 0.0, 4.0, -1.0, 6.0, 7.0]
    assert [len(s) for s in paths(sc.line_chart([line(y)], "t", "x", "y"))[0]] == [2, 1, 2]
    assert [len(s) for s in paths(sc.line_chart([line(y)], "t", "x", "y", logy=False))[0]] == [7]


def test_nothing_drawable_is_said_in_words():
    assert "nothing to draw" in sc.line_chart([line([None, 0.0, -1.0])], "t", "x", "y")
    assert "nothing to draw" in sc.line_chart([line([])], "t", "x", "y")
    assert "<svg" in sc.line_chart([line([None, 0.0, -1.0])], "t", "x", "y", logy=False)


def test_reference_line_widens_the_range_and_is_skipped_when_not_positive_on_a_log_axis():
    chart = sc.line_chart([line([1.0, 2.0])], "t", "x", "y", hline=10.0)
    assert y_labels(chart) == ["1e0", "1e1"] and 'stroke-dasharray="5 4"' in chart
    chart = sc.line_chart([line([1.0, 2.0])], "t", "x", "y", hline=0.0)
    assert 'stroke-dasharray="5 4"' not in chart and y_labels(chart)[0] == "1"


def test_text_is_escaped():
    chart = sc.line_chart([line([1.0, 2.0], label="<i>")], "<b>", "<x>", "<y>")
    assert "<b>" not in chart and "&lt;b&gt;" in chart and "&lt;i&gt;" in chart


# ---------------------------------------------------------------- thinning


def test_decimation_keeps_spikes_dips_and_both_ends_in_order():
    rng = np.random.default_rng(0)
    y = rng.uniform(1, 2, 10_000)
    y[4321], y[777] = 1e6, 1e-6
    x = np.arange(10_000, dtype=float)
    xd, yd = sc.decimate(x, y, 160)
    assert len(xd) <= 160 and np.all(np.diff(xd) > 0)
    assert {0, 777, 4321, 9999} <= set(xd.astype(int))
    assert yd.max() == 1e6 and yd.min() == 1e-6
    for lo in range(0, 10_000, 500):  # every stretch keeps its own extremes
        sel = (xd >= lo) & (xd < lo + 500)
        assert yd[sel].max() == pytest.approx(y[lo:lo + 500].max(), rel=0.2)


def test_decimation_leaves_short_lines_alone_and_keeps_gaps():
    x = np.arange(160, dtype=float)
    y = np.ones(160)
    assert sc.decimate(x, y, 160)[0] is x
    y = np.ones(1000)
    y[400:600] = np.nan
    _, yd = sc.decimate(np.arange(1000.0), y, 100)
    assert np.isnan(yd).any() and np.isfinite(yd).sum() >= 40


def test_a_long_line_is_drawn_with_at_most_max_points_and_its_spike():
    y = [1.0] * 5000
    y[2500] = 1000.0
    chart = sc.line_chart([line(y)], "t", "x", "y")
    pts = [p for sub in paths(chart)[0] for p in sub]
    assert len(pts) <= sc.MAX_POINTS
    assert min(p[1] for p in pts) == pytest.approx(sc.TOP + 0.04 / 1.08 * sc.PLOT_H, abs=0.5)


def test_straightening_drops_only_points_on_a_straight_stretch():
    qx = np.arange(0, 100, 10)
    qy = 3 * qx
    sx, sy = sc.straighten(qx, qy)
    assert len(sx) == 6 and (sx[0], sx[-1]) == (0, 90)  # every other point, the ends kept
    spike = np.array([0, 50, 0])
    assert len(sc.straighten(np.array([0, 1, 2]), spike)[0]) == 3  # a spike stays
    assert len(sc.straighten(np.array([0, 1, 0]), np.array([0, 0, 0]))[0]) == 3  # so does a turn back
    noisy = np.array([0, 9, 0, 9, 0, 9])
    assert len(sc.straighten(np.arange(6), noisy)[0]) == 6
