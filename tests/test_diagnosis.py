"""The pure-NumPy diagnosis (suite/health/diagnosis.py): every rule at its boundaries.

Known answers only: profiles and gradient-norm curves built by hand so that
each number (rho, reach, growth, spike steps, labels, counts over seeds) is
known exactly, one step either side of every threshold.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import ROOT

from suite.health import diagnosis as dg


def cliff(length: int, reach_: int, low: float = 1e-6) -> list[float]:
    """A profile of ``length`` steps whose reach is exactly ``reach_`` (1 up to it, ``low`` after)."""
    return [1.0] * (reach_ + 1) + [low] * (length - reach_ - 1)


# --- rho and reach --------------------------------------------------------------------------

def test_fit_rate_is_the_geometric_rate_and_skips_zeros_and_non_finite():
    prof = 0.5 ** np.arange(20.0)
    assert dg.fit_rate(prof) == pytest.approx(0.5, rel=1e-12)
    holes = prof.copy()
    holes[[3, 7]] = [0.0, np.nan]
    holes[11] = np.inf
    assert dg.fit_rate(holes) == pytest.approx(0.5, rel=1e-12)
    assert dg.fit_rate([2.0, 0.0, np.nan]) is None  # one usable entry
    assert dg.fit_rate([3.0, 3.0 * 1.1]) == pytest.approx(1.1)  # two entries are enough
    assert isinstance(dg.fit_rate(prof), float)


def test_fit_rates_per_example_match_a_least_squares_fit():
    rng = np.random.default_rng(0)
    profiles = np.exp(rng.normal(size=(6, 15)) + np.arange(15) * rng.normal(size=(6, 1)))
    profiles[2, ::2] = 0.0  # ignored entries: fitted on the odd distances only
    profiles[5] = 0.0       # no usable entry: NaN
    rates = dg.fit_rates(profiles)
    for row, rate in zip(profiles[:5], rates[:5]):
        ok = row > 0
        slope = np.polyfit(np.arange(15)[ok], np.log(row[ok]), 1)[0]
        assert rate == pytest.approx(np.exp(slope), rel=1e-10)
    assert np.isnan(rates[5])


def test_float64_profiles_far_below_float32_range():
    # 0.1**k reaches 1e-99 at k = 99: zero in float32 (below ~1e-45), exact in float64
    prof = 0.1 ** np.arange(100.0)
    assert np.float32(prof[60]) == 0.0 and prof[99] > 0
    assert dg.fit_rate(prof) == pytest.approx(0.1, rel=1e-9)
    assert dg.fit_rates(prof[None])[0] == pytest.approx(0.1, rel=1e-9)
    assert dg.growth(prof) == pytest.approx(1e-99, rel=1e-9)
    # float32 input is read as float64: the reach of a float32 profile at the threshold
    assert dg.reach(np.array([1.0, 1e-3, 1e-4], "float32")) == 1


def test_reach_boundaries_off_by_one():
    assert dg.reach(cliff(10, 4)) == 4
    assert dg.reach([1.0, 1e-3, 9.99e-4]) == 1        # exactly the threshold counts
    assert dg.reach([2.0, 2e-3, 1.999e-3]) == 1       # relative to the norm at distance 0
    assert dg.reach([1.0, 1e-5, 1e-2]) == 2           # the largest distance, not the first drop
    assert dg.reach([1.0, np.nan, np.inf, 1e-2, 1e-9]) == 3  # non-finite norms never count
    assert dg.reach(0.5 ** np.arange(100.0)) == 9      # 0.5**9 = 2e-3 >= 1e-3 > 0.5**10
    assert dg.reach([1.0, 0.5], threshold=0.6) == 0
    assert dg.reach([1.0]) == 0
    for bad in ([], [0.0, 1.0], [np.nan, 1.0], [np.inf, 1.0], [-1.0, 1.0]):
        assert dg.reach(bad) is None


def test_reaches_per_example_and_spread_quantiles():
    profiles = np.array([cliff(12, r) for r in range(11)])  # reaches 0..10
    profiles = np.concatenate([profiles, [[0.0] * 12]])      # no reach: left out
    np.testing.assert_array_equal(dg.reaches(profiles)[:11], np.arange(11))
    assert np.isnan(dg.reaches(profiles)[11])
    rates = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5])
    geometric = rates[:, None] ** np.arange(12.0)
    out = dg.spread(geometric)
    assert out["rho_quantiles"] == pytest.approx([0.6, 1.0, 1.4])
    assert dg.spread(profiles)["reach_quantiles"] == pytest.approx([1.0, 5.0, 9.0])
    assert dg.spread(np.zeros((3, 5))) == {"rho_quantiles": [None, None, None],
                                           "reach_quantiles": [None, None, None]}
    assert dg.reaches(np.zeros((2, 0))).shape == (2,)


# --- growth and the profile label ----------------------------------------------------------

def test_growth_is_measured_at_the_horizon():
    prof = [2.0, 1.0, 4.0, 8.0, 30.0]
    assert dg.growth(prof) == pytest.approx(15.0)             # no horizon: T - 1 = 4
    assert dg.growth(prof, horizon=2) == pytest.approx(2.0)   # profile(2) / profile(0)
    assert dg.growth(prof, horizon=3) == pytest.approx(4.0)
    assert dg.growth(prof, horizon=9) == pytest.approx(15.0)  # beyond the profile: T - 1
    assert dg.span(5, None) == 4 and dg.span(5, 2) == 2 and dg.span(5, 7) == 4
    assert dg.growth([1.0]) is None and dg.growth([]) is None
    assert dg.growth([0.0, 1.0]) is None and dg.growth([1.0, np.nan]) is None
    assert dg.growth([np.inf, 1.0]) is None
    assert dg.growth([1.0, 0.0]) == 0.0


def test_vanishing_borderline_healthy_at_their_boundaries():
    horizon = 8  # borderline from 0.75 * 8 = 6
    labels = {r: dg.profile_label(cliff(10, r), horizon)[0] for r in range(10)}
    assert labels[9] == labels[8] == "healthy"
    assert labels[7] == labels[6] == "borderline"
    assert labels[5] == labels[0] == "vanishing"
    label, facts = dg.profile_label(cliff(10, 5), horizon)
    assert facts == {"reach": 5, "growth": pytest.approx(1e-6), "span": 8}
    # a horizon of 99 (adding, T = 100): 74.25 is the borderline edge
    assert dg.profile_label(cliff(100, 75), 99)[0] == "borderline"
    assert dg.profile_label(cliff(100, 74), 99)[0] == "vanishing"
    assert dg.profile_label(cliff(100, 98), 99)[0] == "borderline"
    assert dg.profile_label(cliff(100, 99), 99)[0] == "healthy"


def test_no_horizon_reports_reach_without_a_failure_label():
    label, facts = dg.profile_label(cliff(50, 24), None)
    assert label == "no horizon" and facts["reach"] == 24 and facts["span"] == 49
    text = dg.summarise({"status": "ok", "probes": [{"step": 0, "profile": cliff(50, 24)}]})
    assert text["summary"]["diagnosis"] == "no horizon"
    assert "gradient reach 24 steps (the task states no horizon" in text["reason"]


def test_exploding_is_total_growth_over_the_horizon_not_a_per_step_rate():
    # rho = 1.05 per step: 1.05**29 = 4.1x at T = 30 (not exploding), 1.05**99 = 125x at T = 100
    assert dg.profile_label(1.05 ** np.arange(30.0), 29)[0] == "healthy"
    assert dg.profile_label(1.05 ** np.arange(100.0), 99)[0] == "exploding"
    at = [1.0] * 5 + [10.0]
    assert dg.profile_label(at, 5)[0] == "healthy"                         # exactly 10x: not over
    assert dg.profile_label(at[:-1] + [10.0 * (1 + 1e-9)], 5)[0] == "exploding"
    assert dg.profile_label(at[:-1] + [10.0 * (1 + 1e-9)], None)[0] == "exploding"
    # growth beyond the horizon does not count: copy memory needs T - 11 steps, not T - 1
    assert dg.profile_label([1.0] * 5 + [1e3], 4)[0] == "healthy"
    assert dg.profile_label([], 4) == ("unknown", {"reach": None, "growth": None, "span": None})
    assert dg.profile_label([0.0, 1.0], 1)[0] == "unknown"
    assert dg.profile_label([1.0], 0)[0] == "unknown"           # a reach (0) but no growth
    assert dg.profile_label([1.0, np.nan], 1)[0] == "unknown"   # ... nor at the horizon


# --- spikes ---------------------------------------------------------------------------------

def test_warmup_is_the_smaller_of_100_steps_and_5_percent_but_at_least_10():
    assert [dg.warmup(n) for n in (0, 40, 199, 200, 201, 1000, 1001, 2000, 2001, 10**5)] == \
        [10, 10, 10, 10, 11, 50, 51, 100, 100, 100]


def test_a_handful_of_spikes_in_2000_steps_is_counted():
    norms = [1.0] * 2000
    for step in (500, 1200, 1900):
        norms[step - 1] = 50.0
    events = dg.spikes(norms)
    assert events == {"count": 3, "rate": pytest.approx(3 / 1900), "steps": [500, 1200, 1900],
                      "clipped": None, "held": False, "max_ratio": 50.0}


def test_spike_factor_is_strict_and_relative_to_the_running_median():
    norms = [2.0] * 300
    norms[149], norms[199], norms[249] = 20.0, 20.0 * (1 + 1e-9), 19.0
    assert dg.spike_steps(norms) == [200]  # 10x the median is not over it; 9.5x neither


def test_the_running_median_covers_the_previous_50_steps():
    # a jump to a new level: spikes until 25 of the previous 50 steps are at the new level
    norms = [1.0] * 200 + [100.0] * 100
    assert dg.spike_steps(norms) == list(range(201, 226))
    # a spike never counts itself: the median is of the steps before it
    assert dg.spike_steps([1.0] * 40 + [11.0]) == [41]


def test_no_spike_in_the_warmup_and_not_without_history():
    # the normal:2.0 tanh RNN: every large norm in steps 1-13, then calm
    start = [1e3 * 0.5 ** k for k in range(13)] + [1.0] * 287
    start[2] = 5e4  # even a rise inside the warm-up is not a spike
    assert dg.warmup(300) == 15 and dg.spike_steps(start) == []
    edge = [1.0] * 300
    edge[14], edge[15] = 100.0, 100.0  # step 15 is the last warm-up step, 16 the first counted
    assert dg.spike_steps(edge) == [16]
    gaps = [None] * 41 + [1.0] * 9 + [50.0]   # 9 finite norms before: too few for a median
    assert dg.spike_steps(gaps) == []
    assert dg.spike_steps([None] * 40 + [1.0] * 10 + [50.0]) == [51]
    assert dg.spike_steps([1.0] * 30 + [np.nan, np.inf]) == []  # divergence is not a spike
    assert dg.spike_steps([]) == [] and dg.spike_steps([1.0] * 10) == []
    assert dg.spikes([1.0] * 5)["rate"] is None
    assert dg.spikes([1.0] * 10)["rate"] is None  # the warm-up is all there is
    assert dg.spikes([1.0] * 11)["rate"] == 0.0   # one step after it


def test_held_by_clipping_needs_clipping_at_every_spike():
    norms = [1.0] * 200
    norms[99], norms[149] = 30.0, 40.0
    clipped = [0.0] * 200
    clipped[99] = 1.0
    assert dg.spikes(norms, clipped) | {"rate": 0} == {
        "count": 2, "rate": 0, "steps": [100, 150], "clipped": 1, "held": False, "max_ratio": 40.0}
    clipped[149] = 1.0
    assert dg.spikes(norms, clipped)["held"] and dg.spikes(norms, clipped)["clipped"] == 2
    # without the curve, a configured clip is taken to have held them
    assert dg.spikes(norms, None, {"clipnorm": 1.0})["held"]
    assert not dg.spikes(norms, None, {})["held"]
    assert not dg.spikes([1.0] * 200, clipped, {"clipnorm": 1.0})["held"]  # no spike: nothing held
    assert dg.spikes(norms, clipped[:120])["clipped"] == 1  # a short curve: step 150 unknown
    assert dg.spikes(norms, clipped[:150])["clipped"] == 2  # ... up to and including its last step


# --- the timeline ---------------------------------------------------------------------------

def test_timeline_labels_every_probe_and_reads_as_words():
    probes = [{"step": 0, "profile": cliff(10, 2)}, {"step": 100, "profile": cliff(10, 3)},
              {"step": 500, "profile": cliff(10, 9)}, {"step": 600}]
    points = dg.timeline(probes, 9)
    assert points == [{"step": 0, "label": "vanishing"}, {"step": 100, "label": "vanishing"},
                      {"step": 500, "label": "healthy"}]
    assert dg.describe_timeline(points) == "vanishing at init, healthy from step 500"
    assert dg.describe_timeline(points[:2]) == "vanishing at every probe"
    assert dg.describe_timeline([]) == "no probes"
    assert dg.describe_timeline([{"step": 5, "label": "healthy"}, {"step": 9, "label": "borderline"}]
                                ) == "healthy from step 5, borderline from step 9"


def test_a_long_timeline_is_cut_after_four_segments():
    labels = ["vanishing", "healthy"] * 3 + ["borderline"]
    points = [{"step": 100 * i, "label": lab} for i, lab in enumerate(labels)]
    assert dg.describe_timeline(points) == (
        "vanishing at init, healthy from step 100, vanishing from step 200, healthy from step 300, "
        "then 3 more changes, ending borderline")
    assert dg.describe_timeline(points[:5]) == (
        "vanishing at init, healthy from step 100, vanishing from step 200, healthy from step 300, "
        "then 1 more change, ending vanishing")
    assert dg.describe_timeline(points[:4]).endswith("healthy from step 300")
    assert dg.describe_timeline(points[:6]).endswith("then 2 more changes, ending healthy")


# --- the run's label and summary ------------------------------------------------------------

def run(profiles: list[list[float]], norms: list[float] | None = None, **extra) -> dict:
    """A training result with probes every 100 steps."""
    probes = [{"step": 100 * i, "profile": p, "rho": dg.fit_rate(p), "reach": dg.reach(p)}
              for i, p in enumerate(profiles)]
    return {"status": "ok", "probes": probes, "curves": {"grad_norm": norms or [1.0] * 300},
            **extra}


def test_label_precedence_and_reasons():
    out = dg.summarise(run([cliff(10, 9)], status="diverged", error="loss is NaN"))
    assert (out["summary"]["diagnosis"], out["reason"]) == ("diverged", "training diverged: loss is NaN")
    assert dg.summarise(run([cliff(10, 9)], status="diverged"))["reason"] == (
        "training diverged: non-finite values")
    spiky = [1.0] * 300
    spiky[199] = 1e5
    exploding = run([[1.0] * 9 + [20.0]], spiky, horizon=9)
    assert dg.summarise(exploding)["summary"]["diagnosis"] == "exploding"  # wins over spikes
    out = dg.summarise(run([cliff(10, 3)], spiky, horizon=9))
    assert out["summary"]["diagnosis"] == "spiking"                      # wins over vanishing
    assert out["reason"] == (
        "gradient reach 3 falls short of the task's horizon of 9 steps; the gradient 9 steps back is "
        "1e-06x the last step's; 1 gradient spike after step 15 (pre-clip norm over 10x the "
        "running median; rate 0.0035; at step 200; the largest 1e+05x), not held by clipping")
    assert dg.summarise(run([cliff(10, 3)], horizon=9))["summary"]["diagnosis"] == "vanishing"
    out = dg.summarise(run([cliff(10, 7)], horizon=9))
    assert out["summary"]["diagnosis"] == "borderline"
    assert out["reason"].startswith("gradient reach 7 falls just short of the task's horizon of 9 steps;")
    out = dg.summarise(run([cliff(10, 9)], horizon=9))
    assert out["summary"]["diagnosis"] == "healthy" and "reach 9 reaches" in out["reason"]
    out = dg.summarise({"status": "ok", "curves": {"grad_norm": spiky}})
    assert out["summary"]["diagnosis"] == "spiking" and out["profile_length"] is None
    out = dg.summarise({"status": "ok"})
    assert out["summary"]["diagnosis"] == "unknown"
    assert out["reason"] == "no gradient profile was recorded" and out["timeline"] == []


def test_only_a_spike_over_100x_its_running_median_labels_the_run():
    norms = [1.0] * 300
    norms[199] = 100.0  # a spike, counted, but not two orders of magnitude
    out = dg.summarise(run([cliff(10, 9)], norms, horizon=9))
    assert (out["summary"]["diagnosis"], out["summary"]["spikes"]) == ("healthy", 1)
    assert "1 gradient spike" in out["reason"] and "the largest 100x" in out["reason"]
    norms[199] = 100.0 * (1 + 1e-9)
    assert dg.summarise(run([cliff(10, 9)], norms, horizon=9))["summary"]["diagnosis"] == "spiking"
    # a vanishing run with a small spike stays vanishing: the spike does not hide the profile
    norms[199] = 50.0
    assert dg.summarise(run([cliff(10, 3)], norms, horizon=9))["summary"]["diagnosis"] == "vanishing"


def test_spike_sentences_in_words():
    norms = [1.0] * 400
    for step in (100, 150, 200, 250, 300):
        norms[step - 1] = 1e3
    five = dg.summarise(run([cliff(10, 9)], norms, horizon=9, clip={"clipnorm": 1.0}))
    assert five["reason"].endswith(
        "5 gradient spikes after step 20 (pre-clip norm over 10x the running median; rate 0.013; "
        "at step 100, 150, 200, 250, 300; the largest 1e+03x), held by clipping")
    norms[349] = 1e3
    six = dg.summarise(run([cliff(10, 9)], norms, horizon=9))
    assert six["reason"].endswith("at step 100, 150, 200, 250, 300, ...; the largest 1e+03x), "
                                  "not held by clipping")
    assert six["summary"]["spikes"] == 6 and six["spike_steps"][-1] == 350
    norms = [1.0] * 400
    norms[99] = norms[199] = 1e3
    assert "; 2 gradient spikes after step 20" in dg.summarise(run([cliff(10, 9)], norms))["reason"]
    # the clipped curve wins over the configuration
    norms[199] = 1.0
    result = run([cliff(10, 9)], norms, clip={"clipnorm": 1.0})
    result["curves"]["clipped"] = [0.0] * 400
    assert dg.summarise(result)["summary"]["spikes_held"] is False
    result["curves"]["clipped"][99] = 1.0
    assert dg.summarise(result, clip={})["summary"]["spikes_held"] is True


def test_degenerate_input_raises_no_warnings():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(dg.fit_rates(np.zeros((2, 5)))).all()
        assert np.isnan(dg.fit_rates(np.array([[1.0, 0.0, 0.0]]))).all()
        assert dg.spike_steps([None] * 60 + [1.0]) == [] and dg.spike_steps([1.0] * 10) == []
        assert dg.summarise({})["summary"]["diagnosis"] == "unknown"
        assert dg.spread(np.full((3, 4), np.nan))["rho_quantiles"] == [None] * 3


def test_float32_input_is_computed_in_float64():
    rng = np.random.default_rng(3)
    prof32 = np.exp(rng.normal(size=40)).astype("float32")
    prof64 = prof32.astype("float64")
    slope = np.polyfit(np.arange(40.0), np.log(prof64), 1)[0]
    assert dg.fit_rate(prof32) == pytest.approx(np.exp(slope), rel=1e-12)
    assert dg.fit_rates(prof32[None])[0] == pytest.approx(np.exp(slope), rel=1e-12)
    assert dg.growth(prof32) == pytest.approx(prof64[-1] / prof64[0], rel=1e-14)
    assert dg.profile_label(prof32, None)[1]["growth"] == pytest.approx(prof64[-1] / prof64[0], rel=1e-14)
    # a norm that float32 arithmetic puts at the threshold but float64 puts just below it
    t32 = np.float32(dg.REACH_THRESHOLD)
    first = next(f for f in np.float32(1.0) + np.arange(1, 2000, dtype="float32") * np.float32(1e-3)
                 if float(t32 * f) < dg.REACH_THRESHOLD * float(f))
    prof = np.array([first, t32 * first], "float32")
    assert prof[1] >= np.float32(dg.REACH_THRESHOLD) * prof[0]   # float32 would count it
    assert dg.reach(prof) == 0 and dg.reaches(prof[None])[0] == 0


def test_spectral_numbers_of_a_scaled_rotation_and_a_shear():
    theta = 0.3
    rot = 1.5 * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    shear = np.array([[0.5, 2.0], [0.0, 0.5]])  # radius 0.5, norm (sqrt(5) + 2) / 2
    out = dg.spectral_numbers(np.concatenate([rot, shear], axis=1), blocks=2)
    assert out["blocks"][0] == pytest.approx({"sigma_max": 1.5, "radius": 1.5})
    assert out["blocks"][1]["radius"] == pytest.approx(0.5)
    assert out["blocks"][1]["sigma_max"] == pytest.approx((np.sqrt(5) + 2) / 2)
    full = np.concatenate([rot, shear], axis=1)
    assert out["sigma_max"] == pytest.approx(np.sqrt(np.linalg.eigvalsh(full @ full.T).max()))
    assert len(dg.spectral_numbers(np.eye(3), blocks=1)["blocks"]) == 1
    k32 = np.random.default_rng(0).normal(size=(8, 16)).astype("float32")  # computed in float64
    assert dg.spectral_numbers(k32, 2) == pytest.approx(dg.spectral_numbers(k32.astype("float64"), 2),
                                                        rel=1e-13)


def test_the_normal_2_0_run_is_not_exploding_for_its_first_13_steps():
    norms = [1e3 * 0.5 ** k for k in range(13)] + [1.0] * 287
    out = dg.summarise(run([[1.0] * 100, [1.0] * 100], norms, horizon=99))
    assert out["summary"]["diagnosis"] == "healthy" and out["summary"]["spikes"] == 0


def test_summary_keys_timeline_and_spread():
    final = {"step": 200, "profile": cliff(10, 9), "rho": 0.9, "reach": 9,
             "rho_quantiles": [0.8, 0.9, 1.0], "reach_quantiles": [7, 9, 9],
             "kernel": {"sigma_max": 1.5}, "jacobian_sigma_mean": 1.1, "jacobian_sigma_max": 2.0,
             "saturation": {"forget": 0.25}}
    result = {"status": "ok", "probes": [{"step": 0, "profile": cliff(10, 2), "rho": 0.5, "reach": 2},
                                         final], "curves": {"grad_norm": [1.0] * 300}}
    out = dg.summarise(result, horizon=9)
    s = out["summary"]
    assert s["diagnosis"] == "healthy" and s["diagnosis_init"] == "vanishing"
    assert (s["rho"], s["reach"], s["rho_init"], s["reach_init"], s["horizon"]) == (0.9, 9, 0.5, 2, 9)
    assert (s["rho_q10"], s["rho_q50"], s["rho_q90"]) == (0.8, 0.9, 1.0)
    assert (s["reach_q10"], s["reach_q50"], s["reach_q90"]) == (7, 9, 9)
    assert (s["kernel_sigma_max"], s["jacobian_sigma_mean"], s["jacobian_sigma_max"]) == (1.5, 1.1, 2.0)
    assert s["saturation_forget"] == 0.25 and s["growth"] == pytest.approx(1.0)
    assert (s["spikes"], s["spike_rate"], s["spikes_held"]) == (0, 0.0, None)
    assert out["timeline"] == [{"step": 0, "label": "vanishing"}, {"step": 200, "label": "healthy"}]
    assert out["trajectory"] == "vanishing at init, healthy from step 200"
    assert out["reason"] == ("gradient reach 9 reaches the task's horizon of 9 steps; the gradient "
                             "9 steps back is 1x the last step's; over training: vanishing at init, "
                             "healthy from step 200")
    assert out["profile_length"] == 10 and out["spike_steps"] == []
    lone = dg.summarise({**result, "probes": [final]}, horizon=9)
    assert "over training" not in lone["reason"] and lone["summary"]["rho_q10"] == 0.8
    assert dg.summarise({**result, "probes": [{"step": 0, "profile": cliff(10, 9)}]}
                        )["summary"]["rho_q50"] is None


def test_horizon_and_clip_come_from_the_arguments_or_the_result():
    spiky = [1.0] * 300
    spiky[199] = 1e5
    result = run([cliff(10, 3)], spiky, horizon=9, clip={"clipnorm": 1.0})
    assert dg.summarise(result)["summary"]["horizon"] == 9
    assert dg.summarise(result)["summary"]["spikes_held"] is True
    assert dg.summarise(result, clip={})["summary"]["spikes_held"] is False  # an argument wins
    assert dg.summarise(result, horizon=3)["summary"]["horizon"] == 3
    bare = run([cliff(10, 3)], spiky)
    assert dg.summarise(bare)["summary"]["horizon"] is None
    assert dg.summarise(bare)["summary"]["spikes_held"] is False
    assert dg.summarise(bare, clip={"global_clipnorm": 1.0})["summary"]["spikes_held"] is True
    assert dg.summarise(bare, horizon=9)["summary"]["diagnosis_init"] == "vanishing"
    assert dg.summarise(bare)["summary"]["diagnosis_init"] == "no horizon"
    assert "held by clipping" in dg.summarise(bare, clip={"clipnorm": 1.0})["reason"]


# --- over seeds -----------------------------------------------------------------------------

def test_counts_over_seeds():
    assert dg.over_seeds(["vanishing", "vanishing"]) == ("vanishing 2/2", "vanishing")
    assert dg.over_seeds(["healthy", "vanishing"]) == ("mixed: vanishing 1, healthy 1", "mixed")
    assert dg.over_seeds(["healthy", "healthy", "vanishing"]) == (
        "mixed: healthy 2, vanishing 1", "mixed")
    assert dg.over_seeds(["healthy", None, ""]) == ("mixed: no diagnosis 2, healthy 1", "mixed")
    assert dg.over_seeds(["zeta", "alpha"]) == ("mixed: alpha 1, zeta 1", "mixed")
    assert dg.over_seeds(["zeta", "unknown"]) == ("mixed: unknown 1, zeta 1", "mixed")
    assert dg.over_seeds([]) == ("", "")


LEADERBOARD_SCRIPT = textwrap.dedent("""
    import itertools, json, sys
    from suite.report.aggregate import leaderboard, run_table
    from suite.store.io import load_manifest, load_records
    out = sys.argv[1]
    runs = run_table(load_records(out)[0], load_manifest(out))
    labels = ["healthy", "vanishing", "exploding", "borderline", "spiking", "no horizon"]
    pairs = itertools.cycle(itertools.combinations(labels, 2))
    for _, index in runs.groupby(["study", "config_id"], sort=False).groups.items():
        for i, label in zip(index, next(pairs) if len(index) == 2 else ()):
            runs.loc[i, "diagnosis"] = label  # every two-seed configuration: a tie
    print(json.dumps([e["diagnosis"] for e in leaderboard(runs)]))
""")


def test_leaderboard_diagnosis_is_the_same_under_any_hash_seed(example_copy):
    outputs = []
    for seed in ("0", "1"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, "-c", LEADERBOARD_SCRIPT, str(example_copy)], env=env, cwd=ROOT,
                              capture_output=True, text=True, check=True)
        outputs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1]
    assert sum(text.startswith("mixed: ") for text in outputs[0]) >= 4, outputs[0]


# --- the tasks' horizons --------------------------------------------------------------------

def test_builtin_horizons_follow_from_the_data():
    from suite.api import horizon, sequence_length
    from suite.registry import discover

    tasks = discover()
    adding, copy = tasks["adding"], tasks["copy_memory"]
    p = {"seq_len": 12}
    x, _ = adding.make_data("train", 2000, 0, p)
    first_marks = x[:, :, 1].argmax(axis=1)
    # the loss is read at step T - 1; the first marker may be at step 0
    assert first_marks.min() == 0 and horizon(adding, p) == sequence_length(adding, p) - 1 == 11
    x, y = copy.make_data("train", 4, 0, p)
    length = sequence_length(copy, p)
    for j in range(10):  # recall step j at T - 10 + j copies input j: always seq_len + 10 back
        assert (y[:, length - 10 + j] == x[:, j]).all()
        assert (length - 10 + j) - j == horizon(copy, p) == 22
    assert horizon(tasks["char_lm"], dict(tasks["char_lm"].params)) is None
