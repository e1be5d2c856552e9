"""Report figures (matplotlib with seaborn's theme and palettes), returned as inline PNG.

Every function takes the stored records and the rows of :func:`suite.report.aggregate.run_table`
for one study and task, and returns a ``data:image/png;base64,...`` string or
None when there is nothing to draw. A line or panel is one configuration
(``config_id``: the runs of one resolved configuration over seeds), coloured
and named by its short label (the values of the axes the study varies, plus
the axes that tell apart configurations sharing them); seeds are summarised as a median
line with a min-max band. Curves longer than :data:`MAX_POINTS` are thinned.
"""
from __future__ import annotations

import base64
import io
import math
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns

from suite.report.aggregate import mean_ci
from suite.runs import applies, fmt, label_value

#: Points per drawn curve at most (longer curves are thinned evenly).
MAX_POINTS = 400
#: Panels per small-multiple figure at most (the rest are listed in the caption).
MAX_PANELS = 12
DPI = 80

sns.set_theme(style="whitegrid", context="paper", font_scale=1.1)


def png(fig) -> str:
    """Closes ``fig`` and returns it as an inline PNG data URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def palette(labels: list[str]) -> dict[str, Any]:
    colours = sns.color_palette("colorblind" if len(labels) <= 10 else "husl", len(labels))
    return dict(zip(labels, colours))


def _thin(s: pd.Series) -> pd.Series:
    if len(s) <= MAX_POINTS:
        return s
    return s.iloc[:: math.ceil(len(s) / MAX_POINTS)]


def _positive(s: pd.Series) -> pd.Series:
    return s.where(s > 0)


def _enough(s: pd.Series) -> bool:
    """Whether a curve has a line to draw: at least two finite points."""
    return int(np.isfinite(s.to_numpy(dtype=float)).sum()) >= 2


def _drawable(probes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The probes whose profile has a finite positive value at distance 0."""
    return [p for p in probes if p.get("profile") and _finite_positive(p["profile"][0])]


def _finite_positive(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def _band(ax, series: list[pd.Series], colour, label: str, lw: float = 1.5) -> None:
    """Median over seeds as a line, min-max over seeds as a band."""
    df = pd.concat(series, axis=1)
    ax.plot(df.index, df.median(axis=1), color=colour, lw=lw, label=label)
    if df.shape[1] > 1:
        ax.fill_between(df.index, df.min(axis=1), df.max(axis=1), color=colour, alpha=0.2, lw=0)


def _logy(ax) -> None:
    """Log y axis whose minor ticks are labelled when it spans less than two decades."""
    ax.set_yscale("log")
    # plain-text labels: mathtext (10^x) costs more than the rest of a figure
    ax.yaxis.set_major_formatter(matplotlib.ticker.LogFormatter(labelOnlyBase=False))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.LogFormatter(labelOnlyBase=False,
                                                                minor_thresholds=(2, 0.5)))
    ax.tick_params(axis="y", which="minor", labelsize=8)


def _legend(ax, title: str, n: int) -> None:
    if not ax.get_legend_handles_labels()[0]:
        return
    if n <= 4:
        ax.legend(title=title or None, fontsize=8, title_fontsize=8, loc="best")
    else:
        ax.legend(title=title or None, fontsize=8, title_fontsize=8, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def _groups(runs: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """(short label, run ids) per configuration (``config_id``), in the order they first appear."""
    return [(g["short"].iloc[0], list(g["run_id"])) for _, g in runs.groupby("config_id", sort=False)]


def _titles(runs: pd.DataFrame) -> dict[str, str]:
    """Short label -> full ``axis=value`` label, for panel titles."""
    return dict(zip(runs["short"], runs["label"]))


def convergence(records, runs: pd.DataFrame, title: str, legend_title: str) -> str | None:
    """Validation loss against step (log y), median and min-max over seeds, chance dashed."""
    groups = _groups(runs)
    colours = palette([g for g, _ in groups])
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    drawn = False
    for lab, ids in groups:
        series = []
        for rid in ids:
            ev = [e for e in records[rid].get("evals", []) if e.get("val_loss") is not None]
            if ev:
                series.append(_positive(pd.Series([e["val_loss"] for e in ev],
                                                  index=[e["step"] for e in ev], dtype=float)))
        series = [s for s in series if _enough(s)]
        if series:
            _band(ax, series, colours[lab], lab)
            drawn = True
    chance = runs["chance_loss"].dropna()
    if not drawn:
        plt.close(fig)
        return None
    if len(chance):
        ax.axhline(chance.iloc[0], color="black", ls="--", lw=1, label="chance")
    _logy(ax)
    ax.set(xlabel="step", ylabel="validation loss", title=title)
    _legend(ax, legend_title, len(groups))
    return png(fig)


def gradient_norms(records, runs: pd.DataFrame, title: str, legend_title: str) -> str | None:
    """Pre-clip global gradient norm (rolling median of 20 steps) and clip rate (rolling mean of 50)."""
    groups = _groups(runs)
    colours = palette([g for g, _ in groups])
    any_clip = any(any(records[r].get("curves", {}).get("clipped") or [0]) for r in runs["run_id"])
    fig, axes = plt.subplots(1, 2 if any_clip else 1, figsize=(9.6 if any_clip else 6.0, 3.2),
                             squeeze=False)
    ax, ax_clip = axes[0][0], (axes[0][1] if any_clip else None)
    drawn = False
    for lab, ids in groups:
        norms, clips = [], []
        for rid in ids:
            curves = records[rid].get("curves", {})
            g = pd.Series(curves.get("grad_norm") or [], dtype=float)
            if _enough(_positive(g)):
                g.index = range(1, len(g) + 1)
                norms.append(_thin(_positive(g.rolling(20, min_periods=1).median())))
            c = pd.Series(curves.get("clipped") or [], dtype=float)
            if len(c):
                c.index = range(1, len(c) + 1)
                clips.append(_thin(c.rolling(50, min_periods=1).mean()))
        if norms:
            _band(ax, norms, colours[lab], lab)
            drawn = True
        if ax_clip is not None and clips:
            _band(ax_clip, clips, colours[lab], lab)
    if not drawn:
        plt.close(fig)
        return None
    _logy(ax)
    ax.set(xlabel="step", ylabel="pre-clip gradient norm", title=title)
    if ax_clip is not None:
        ax_clip.set(xlabel="step", ylabel="fraction of steps clipped", ylim=(-0.03, 1.03),
                    title="clip rate (rolling mean of 50 steps)")
        _legend(ax_clip, legend_title, len(groups))
    else:
        _legend(ax, legend_title, len(groups))
    fig.subplots_adjust(wspace=0.3, hspace=0.55)
    return png(fig)


def _panels(n: int, width: float = 2.6, height: float = 2.2, sharey=True):
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False,
                             sharey=sharey)
    flat = axes.ravel()
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat


def profiles(records, runs: pd.DataFrame, title: str) -> str | None:
    """Small multiples: log ||dL/dh_k|| against T-k per configuration, at init (grey) and end (colour)."""
    groups = [(lab, [r for r in ids if _drawable(records[r].get("probes") or [])])
              for lab, ids in _groups(runs)]
    groups = [(lab, ids) for lab, ids in groups if ids][:MAX_PANELS]
    if not groups:
        return None
    colours = palette([g for g, _ in groups])
    titles = _titles(runs)
    fig, axes = _panels(len(groups))
    for ax, (lab, ids) in zip(axes, groups):
        for rid in ids:
            probes = _drawable(records[rid]["probes"])
            for probe, colour, ls in ((probes[0], "0.55", "--"), (probes[-1], colours[lab], "-")):
                prof = np.array([v if v and v > 0 else np.nan for v in probe["profile"]], float)
                ax.plot(np.arange(len(prof)), prof, color=colour, ls=ls, lw=1.2)
        _logy(ax)
        ax.set_title(titles[lab], fontsize=9)
        ax.set_xlabel("distance T-k")
    axes[0].set_ylabel("||dL/dh_k||")
    axes[0].plot([], [], color="0.55", ls="--", label="initialisation")
    axes[0].plot([], [], color="black", ls="-", label="end")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(title, fontsize=10, y=1.0 + 0.3 / fig.get_figheight())
    fig.subplots_adjust(wspace=0.3, hspace=0.55)
    return png(fig)


def profile_heatmaps(records, runs: pd.DataFrame, title: str) -> str | None:
    """Per configuration (first seed): log10 of ||dL/dh_k|| / ||dL/dh_T|| over training."""
    chosen = []
    for lab, ids in _groups(runs):
        rid = next((r for r in ids if len(_drawable(records[r].get("probes") or [])) > 1), None)
        if rid:
            chosen.append((lab, rid))
    chosen = chosen[:MAX_PANELS]
    if not chosen:
        return None
    titles = _titles(runs)
    fig, axes = _panels(len(chosen), width=2.8, height=2.8, sharey=False)
    image = None
    for ax, (lab, rid) in zip(axes, chosen):
        probes = _drawable(records[rid]["probes"])
        rows = []
        for p in probes:
            prof = np.array([v if v and v > 0 else np.nan for v in p["profile"]], float)
            rows.append(np.log10(prof / prof[0]) if prof[0] and np.isfinite(prof[0]) else prof * np.nan)
        steps = [p["step"] for p in probes]
        image = ax.imshow(np.array(rows), aspect="auto", origin="lower", cmap="magma",
                          vmin=-6, vmax=1, interpolation="nearest",
                          extent=(-0.5, len(rows[0]) - 0.5, -0.5, len(rows) - 0.5))
        ticks = np.linspace(0, len(steps) - 1, min(len(steps), 4)).round().astype(int)
        ax.set_yticks(ticks, [str(steps[i]) for i in ticks] if ax is axes[0] or len(chosen) == 1
                      else [""] * len(ticks))
        ax.set_title(f"{titles[lab]} (seed {records[rid]['seed']})", fontsize=9)
        ax.set_xlabel("distance T-k")
        ax.grid(False)
    axes[0].set_ylabel("training step")
    fig.suptitle(title, fontsize=10, y=1.0 + 0.3 / fig.get_figheight())
    fig.subplots_adjust(wspace=0.3, hspace=0.55)
    fig.colorbar(image, ax=[a for a in axes if a.get_visible()], shrink=0.9,
                 label="log10 relative norm")
    return png(fig)


def spectra(records, runs: pd.DataFrame, title: str, legend_title: str) -> str | None:
    """Over training: sigma_max of the recurrent kernel, mean step-Jacobian norm, unit saturation."""
    groups = _groups(runs)
    colours = palette([g for g, _ in groups])
    panels = (("kernel sigma_max", lambda p: (p.get("kernel") or {}).get("sigma_max")),
              ("mean ||dh_t/dh_t-1||", lambda p: p.get("jacobian_sigma_mean")),
              ("saturated units (mean over gates)",
               lambda p: (np.mean(list(p["saturation"].values())) if p.get("saturation") else None)))
    fig, axes = plt.subplots(1, 3, figsize=(11.0, 3.0))
    drawn = False
    for ax, (name, get) in zip(axes, panels):
        for lab, ids in groups:
            series = []
            for rid in ids:
                pts = [(p["step"], get(p)) for p in records[rid].get("probes") or []]
                pts = [(s, v) for s, v in pts if v is not None]
                if pts:
                    series.append(pd.Series([v for _, v in pts], index=[s for s, _ in pts], dtype=float))
            series = [s for s in series if _enough(s)]
            if series:
                _band(ax, series, colours[lab], lab)
                drawn = True
        ax.set(xlabel="step", title=name)
    if not drawn:
        plt.close(fig)
        return None
    axes[0].axhline(1.0, color="black", ls=":", lw=1)
    axes[1].axhline(1.0, color="black", ls=":", lw=1)
    axes[2].set_ylim(-0.03, 1.03)
    _legend(axes[2], legend_title, max(len(groups), 5))
    fig.suptitle(title, fontsize=10, y=1.0 + 0.3 / fig.get_figheight())
    fig.subplots_adjust(wspace=0.3, hspace=0.55)
    return png(fig)


def factor_effects(runs: pd.DataFrame, axis: str, hue: str | None, title: str) -> str | None:
    """Final loss/chance against one axis, averaged over the study's other axes, per task.

    Dots are runs; diamonds the mean with a 95% t-interval; ``hue`` (e.g. the
    cell) splits the mean by a second axis.
    """
    # a TASK.PARAM axis is drawn for its own task only
    mine = runs[runs["task"].map(lambda t: applies(axis, t))] if not runs.empty else runs
    sub = mine[mine["loss_vs_chance"].notna()] if not mine.empty else mine
    if sub.empty:
        return None
    sub = sub.assign(_x=sub[f"axis:{axis}"].map(label_value),
                     _hue=sub[f"axis:{hue}"].map(label_value) if hue else "")
    tasks = list(dict.fromkeys(sub["task"]))
    values = list(dict.fromkeys(mine[f"axis:{axis}"].map(label_value)))
    position = {v: i for i, v in enumerate(values)}
    hues = list(dict.fromkeys(sub["_hue"]))
    colours = palette(hues)
    width = 0.6 / max(len(hues), 1)
    # with two or three seeds a t-interval is wide; the axis follows the data, not the interval
    top = max(sub["loss_vs_chance"].max(), 1.0) * 2
    bottom = sub["loss_vs_chance"].min() / 2
    fig, axes = plt.subplots(1, len(tasks), figsize=(min(4.2 * len(tasks), 11), 3.2), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        seen: set[str] = set()
        for (x, h), grp in sub[sub["task"] == task].groupby(["_x", "_hue"], sort=False):
            pts = grp["loss_vs_chance"].tolist()
            pos = position[x] + (hues.index(h) - (len(hues) - 1) / 2) * width
            mean, lo, hi, _ = mean_ci(pts)
            ax.scatter([pos] * len(pts), pts, color=colours[h], s=10, alpha=0.4, lw=0)
            # a t-interval can reach below zero; on a log axis it then runs to the bottom
            err = ([[mean - max(lo, 1e-9)], [hi - mean]]
                   if mean is not None and lo is not None and hi is not None else None)
            ax.errorbar([pos], [mean], yerr=err, fmt="D", color=colours[h], ms=5, capsize=3,
                        label=None if h in seen or not hue else h)
            seen.add(h)
        ax.axhline(1.0, color="black", ls="--", lw=1)
        ax.set_xticks(range(len(values)), values, rotation=25 if len(values) > 3 else 0,
                      ha="right" if len(values) > 3 else "center")
        ax.set_xlim(-0.5, len(values) - 0.5)
        _logy(ax)
        ax.set(xlabel=axis, ylabel="final loss / chance", title=task, ylim=(bottom, top))
    if hue:
        _legend(axes[0][-1], hue, len(hues))
    fig.suptitle(title, fontsize=10, y=1.0 + 0.3 / fig.get_figheight())
    fig.subplots_adjust(wspace=0.3, hspace=0.55)
    return png(fig)


def _last_products(probes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last probe with Jacobian products and a drawable profile, if any."""
    return next((p for p in reversed(_drawable(probes)) if p.get("product_bound")), None)


def _exp(values: list) -> np.ndarray:
    """exp of stored natural logs (None, NaN -> NaN), clipped to the float range."""
    logs = np.array([np.nan if v is None else v for v in values], float)
    return np.exp(np.clip(logs, -700.0, 700.0))


def lyapunov(records, runs: pd.DataFrame, title: str) -> str | None:
    """Per configuration (first seed with products), from its last trajectory probe: the
    measured relative profile ||dL/dh_k|| / ||dL/dh_T||, the product bound, the product
    norm and exp(lambda_1 d) against the distance d = T-k (log y)."""
    chosen = []
    for lab, ids in _groups(runs):
        found = next(((r, p) for r in ids if (p := _last_products(records[r].get("probes") or []))),
                     None)
        if found:
            chosen.append((lab, *found))
    chosen = chosen[:MAX_PANELS]
    if not chosen:
        return None
    titles = _titles(runs)
    fig, axes = _panels(len(chosen), width=2.9, height=2.5, sharey=False)
    for ax, (lab, rid, probe) in zip(axes, chosen):
        prof = np.array([v if _finite_positive(v) else np.nan for v in probe["profile"]], float)
        d = np.arange(len(prof))
        norm = _exp(probe["product_norm"])
        shown = np.isfinite(norm)
        ax.plot(d, prof / prof[0], color="black", lw=1.6, label="measured ||dL/dh_k|| / ||dL/dh_T||")
        ax.plot(d, _exp(probe["product_bound"]), color="#d1495b", lw=1.2,
                label="bound: product of sigma_max(J_t)")
        ax.plot(d[shown], norm[shown], color="#00798c", lw=1.2, marker=".", ms=3,
                label="norm of the Jacobian product")
        lam = probe["lyapunov_1"]
        if lam is not None:  # null: not finite (e.g. NaN Jacobians after weights blew up)
            ax.plot(d, np.exp(np.clip(lam * d, -700.0, 700.0)), color="#edae49", ls="--", lw=1.2,
                    label="exp(lambda_1 d)")
        _logy(ax)
        ax.set_title(f"{titles[lab]}\nseed {records[rid]['seed']}, step {probe['step']}, "
                     f"lambda_1 = {fmt(lam, 3)}", fontsize=8)
        ax.set_xlabel("distance d = T-k")
    axes[0].set_ylabel("factor over d steps")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="upper center", ncol=2, frameon=False,
               bbox_to_anchor=(0.5, -0.4 / fig.get_figheight()))
    fig.suptitle(title, fontsize=10, y=1.0 + 0.3 / fig.get_figheight())
    fig.subplots_adjust(wspace=0.35, hspace=0.75)
    return png(fig)


def _fate(records, runs: pd.DataFrame) -> str:
    """How the runs of a figure ended, in words: "every run diverged at step 1"."""
    ends = [(records[r]["status"], records[r].get("diverged_step") or records[r].get("failed_step"))
            for r in runs["run_id"] if r in records]
    if not ends:
        return "no run has a stored result"
    if len(set(ends)) == 1 and ends[0][0] != "ok":
        status, step = ends[0]
        return f"every run {status}" + (f" at step {step}" if step is not None else "")
    counts: dict[str, int] = {}
    for status, _ in ends:
        counts[status] = counts.get(status, 0) + 1
    return "runs: " + ", ".join(f"{n} {status}" for status, n in counts.items())


#: What each figure needs, for the line that replaces it when no run has it.
NEEDS = {
    "convergence": "no run has two evaluations with a validation loss",
    "gradient norm": "no run has two finite gradient norms",
    "temporal profile": "no run has a probe with a finite gradient profile",
    "profile over training": "no run has two probes with a finite gradient profile",
    "spectra and saturation": "no run has two trajectory probes",
    "Lyapunov exponent and Jacobian products": "no run has a trajectory probe with Jacobian products",
}


#: The figures drawn from the gradient-health probes.
PROBED = ("temporal profile", "profile over training", "spectra and saturation",
          "Lyapunov exponent and Jacobian products")


def nothing_to_draw(kind: str, records, runs: pd.DataFrame) -> str:
    """The one line that stands for figure ``kind`` when it has nothing to draw.

    Says what the figure needs and how the runs ended; for the Lyapunov figure
    the stored reason why products were skipped (recurrent BatchNorm), or that
    the records predate them.
    """
    why = NEEDS.get(kind, "nothing to draw")
    probed = [records[r]["config"].get("probe_every") for r in runs["run_id"] if r in records]
    if kind in PROBED and probed and not any(probed):
        return f"{why}: the gradient-health probes were off (probe_every = 0)."
    if kind == "Lyapunov exponent and Jacobian products":
        probes = [p for r in runs["run_id"] if r in records for p in records[r].get("probes") or []]
        skipped = next((p["products_skipped"] for p in probes if p.get("products_skipped")), None)
        if skipped:
            return f"{why}: {skipped}."
        if any("jacobian_sigma_mean" in p for p in probes):
            return f"{why} (the records predate them; rerun to get them)."
    return f"{why}: {_fate(records, runs)}."
