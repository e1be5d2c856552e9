"""Figures of studies about initialisation: the gradient profile over time and the largest
Lyapunov exponent against the recurrent gain, both from the probe at step 0.

* :func:`init_profiles` (Cooijmans et al. 2016, figure 1a): ||dL/dh_t|| against the
  time step t on a log scale, one line per configuration, for a study whose runs do
  not train (``steps <= 1``: the probe at step 0 is the measurement, the one optimizer
  step after it only satisfies the run model).
* :func:`lyapunov_against_gain` (the transition to chaos): ``lyapunov_init`` against the
  gain g of the recurrent preset (``normal:g``, ``orthogonal:g``, ``identity:g``), one
  line per setting of the study's other axes, a dot per seed, for a study that varies
  ``recurrent_initializer``.

Each returns a PNG data URI, or None when the study is not of its kind or has nothing
to draw.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from suite.report.figures import _logy, palette, plt, png

CAPTIONS = {
    "gradient profile at initialisation": (
        "The probe at step 0 (before any update): ||dL/dh_t|| against the time step t, log "
        "scale, mean over the 32 probe examples; one line per configuration (median over "
        "seeds, band = min to max). Read from right to left, as the gradient travels: a flat "
        "line carries the loss's gradient back to the first step; a falling one vanishes. "
        "The form of Cooijmans et al. 2016, figure 1a."),
    "largest Lyapunov exponent against the recurrent gain": (
        "Largest Lyapunov exponent lambda_1 of the network at initialisation (per step, "
        "natural log; QR re-orthonormalisation along the trajectories of 4 probe examples "
        "from the zero state) against the gain g of the recurrent weights; dots are seeds, "
        "the line their median, one line per setting of the study's other axes. Dotted: 0, "
        "the edge of chaos: below it nearby trajectories converge, above it they separate."),
}


def _first_probe(rec: dict[str, Any]) -> dict[str, Any] | None:
    probes = [p for p in rec.get("probes") or [] if p.get("profile")]
    return probes[0] if probes else None


def is_init_study(records: dict[str, dict], runs: pd.DataFrame) -> bool:
    """Whether every run of ``runs`` has a stored record with at most one optimizer step."""
    configs = [records[r].get("config", {}) for r in runs["run_id"] if r in records]
    return bool(configs) and all(c.get("steps", math.inf) <= 1 for c in configs)


def init_profiles(records: dict[str, dict], runs: pd.DataFrame, title: str,
                  legend_title: str) -> str | None:
    """||dL/dh_t|| at step 0 against t (log y), one line per configuration; None unless
    :func:`is_init_study`."""
    if not is_init_study(records, runs):
        return None
    lines = []
    for _, group in runs.groupby("config_id", sort=False):
        curves = []
        for rid in group["run_id"]:
            probe = _first_probe(records.get(rid, {}))
            if probe is not None:
                prof = np.array([v if v and v > 0 else np.nan for v in probe["profile"]], float)
                curves.append(prof[::-1])  # by time step t = T-1-d
        if curves and len({len(c) for c in curves}) == 1:
            lines.append((group["short"].iloc[0], np.vstack(curves)))
    if not lines:
        return None
    colours = palette([lab for lab, _ in lines])
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    for lab, stacked in lines:
        t = np.arange(stacked.shape[1])
        with warnings.catch_warnings():  # steps where every seed's gradient is 0: no point
            warnings.simplefilter("ignore", RuntimeWarning)
            low, mid, high = (f(stacked, axis=0) for f in (np.nanmin, np.nanmedian, np.nanmax))
        ax.plot(t, mid, color=colours[lab], lw=1.5, label=lab)
        if stacked.shape[0] > 1:
            ax.fill_between(t, low, high, color=colours[lab], alpha=0.2, lw=0)
    _logy(ax)
    ax.set_xlabel("time step t")
    ax.set_ylabel("||dL/dh_t|| at initialisation")
    ax.set_title(title, fontsize=10)
    ax.legend(title=legend_title or None, fontsize=8, title_fontsize=8, loc="lower right")
    return png(fig)


def preset_gain(preset: Any) -> float | None:
    """The gain g of ``normal:g``, ``orthogonal:g`` or ``identity:g`` (1 without one); None for
    other presets."""
    name, _, gain = str(preset).partition(":")
    if name not in ("normal", "orthogonal", "identity"):
        return None
    return float(gain) if gain else 1.0


def lyapunov_against_gain(records: dict[str, dict], runs: pd.DataFrame, title: str,
                          varying: list[str]) -> str | None:
    """``lyapunov_init`` against the recurrent gain, one line per setting of the other varied
    axes; None unless the study varies ``recurrent_initializer`` over gain presets."""
    if "recurrent_initializer" not in varying or "lyapunov_init" not in runs:
        return None
    others = [k for k in varying if k != "recurrent_initializer" and f"axis:{k}" in runs]
    table = runs.assign(gain=runs["axis:recurrent_initializer"].map(preset_gain))
    table = table[table["gain"].notna() & table["lyapunov_init"].notna()]
    if table.empty:
        return None
    keys = (table[[f"axis:{k}" for k in others]].astype(str).agg(", ".join, axis=1)
            if others else pd.Series("", index=table.index))
    table = table.assign(line=[", ".join(f"{k}={v}" for k, v in zip(others, s.split(", ")))
                               if others else "all runs" for s in keys])
    colours = palette(list(dict.fromkeys(table["line"])))
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    for line, group in table.groupby("line", sort=False):
        ax.scatter(group["gain"], group["lyapunov_init"].astype(float), s=14,
                   color=colours[line], alpha=0.7)
        med = group.groupby("gain")["lyapunov_init"].median().sort_index()
        ax.plot(med.index, med.to_numpy(float), color=colours[line], lw=1.5, label=line)
    ax.axhline(0.0, color="0.3", ls=":", lw=1)
    ax.axvline(1.0, color="0.7", ls=":", lw=1)
    ax.set_xlabel("recurrent gain g")
    ax.set_ylabel("lambda_1 at initialisation (per step)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return png(fig)


def figures(records: dict[str, dict], runs: pd.DataFrame, study: dict[str, Any], title: str,
            legend_title: str) -> list[tuple[str, str]]:
    """``(kind, src)`` of the figures of this module that the study's runs of one task have."""
    out = []
    for kind, src in (("gradient profile at initialisation",
                       init_profiles(records, runs, title, legend_title)),
                      ("largest Lyapunov exponent against the recurrent gain",
                       lyapunov_against_gain(records, runs, title, study.get("varying", [])))):
        if src:
            out.append((kind, src))
    return out
