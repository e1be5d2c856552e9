"""Pure-NumPy gradient-health numbers and the diagnosis of a run (no TensorFlow).

**Summary numbers** (documented in docs/gradient-health.md):
  * ``rho``: exp of the least-squares slope of ln ||dL/dh_k|| against d over
    all steps with a non-zero norm; rho < 1 vanishing, rho > 1 exploding.
  * ``reach``: the largest d with ||dL/dh_k|| >= 1e-3 ||dL/dh_{T-1}||.
  * ``growth``: profile(H) / profile(0), the total growth over the horizon H
    (the task's dependency horizon, else T - 1).
  * per-example spread: the 10/50/90% quantiles of the per-example rho and reach.
  * spectral norm (largest singular value) and spectral radius of the top
    layer's recurrent kernel, per gate block.

**Diagnosis.** Every probe gets a *profile label*: ``exploding`` when
growth > :data:`EXPLODING_GROWTH`; else, for a task without a horizon,
``no horizon`` (its reach is reported, nothing is judged); else ``healthy``
when reach >= H, ``borderline`` when :data:`BORDERLINE_FRACTION` H <= reach < H,
``vanishing`` below. The labels of all probes form the run's timeline
("vanishing at init, healthy from step 500"). Gradient *spikes* are steps
after a warm-up whose pre-clip norm is above :data:`SPIKE_FACTOR` times the
median of the previous :data:`SPIKE_WINDOW` steps. The run's label, in this
order: ``diverged``, ``exploding`` (the final probe), ``spiking`` (a spike over
:data:`SPIKE_LABEL_FACTOR` times its running median; "held by clipping" where the
optimizer clipped every spike; smaller spikes are counted, not labelled),
``vanishing`` / ``borderline`` / ``healthy`` / ``no horizon`` (the final
probe), ``unknown`` (no profile). Every threshold is a named constant here and
a row of the table in docs/gradient-health.md.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any, Iterable

import numpy as np

#: Relative threshold that defines the gradient reach.
REACH_THRESHOLD = 1e-3
#: reach in [BORDERLINE_FRACTION * H, H) is borderline; below it is vanishing. For a
#: geometric profile this is a gradient at the horizon between 1e-4 and 1e-3 of the
#: last step's: within one decade of :data:`REACH_THRESHOLD`.
BORDERLINE_FRACTION = 0.75
#: profile(H) / profile(0) above this is exploding (at T = 100: rho ~ 1.023 per step).
EXPLODING_GROWTH = 10.0
#: A pre-clip gradient norm above this times the running median is a spike.
SPIKE_FACTOR = 10.0
#: The run is labelled ``spiking`` only when a spike exceeds this times its running median:
#: a jump of two orders of magnitude, as exploding gradients show (Pascanu et al. 2013,
#: section 3.1). Smaller spikes (a loss plateau ending, say) are counted and reported,
#: and the label stays the profile's.
SPIKE_LABEL_FACTOR = 100.0
#: The running median is over this many previous steps.
SPIKE_WINDOW = 50
#: Warm-up: no spike is counted in the first min(WARMUP_STEPS, WARMUP_FRACTION * steps)
#: steps, and never before MIN_HISTORY finite norms precede the step.
WARMUP_STEPS = 100
#: See :data:`WARMUP_STEPS`.
WARMUP_FRACTION = 0.05
#: Finite norms a running median needs.
MIN_HISTORY = 10
#: Quantiles of the per-example rho and reach stored in every probe.
QUANTILES = (0.1, 0.5, 0.9)
#: Labels in order of precedence (also the order of counts over seeds at equal count).
LABELS = ("diverged", "exploding", "spiking", "vanishing", "borderline", "healthy",
          "no horizon", "unknown")
#: Segments of a timeline spelled out before the rest is summarised as a count.
TIMELINE_WORDS = 4


def fit_rate(profile: np.ndarray) -> float | None:
    """Per-step rate rho: exp(slope) of ln ||g|| against distance (index 0 = last step).

    Args:
        profile: Norms ordered by distance d = 0, 1, ... (last step first).

    Returns:
        rho, or None with fewer than two positive finite entries.
    """
    rates = fit_rates([profile])
    return None if math.isnan(rates[0]) else float(rates[0])


def fit_rates(profiles: np.ndarray) -> np.ndarray:
    """:func:`fit_rate` of every row of ``(examples, T)`` per-example profiles (NaN: none)."""
    p = np.asarray(profiles, "float64")
    ok = np.isfinite(p) & (p > 0)
    logs = np.log(p, out=np.zeros_like(p), where=ok)
    n = ok.sum(1)
    with np.errstate(invalid="ignore"):  # 0 / 0 for rows with fewer than two entries
        d_mean = (np.arange(p.shape[1]) * ok).sum(1) / n
        dd = np.where(ok, np.arange(p.shape[1]) - d_mean[:, None], 0.0)
        slope = (dd * logs).sum(1) / (dd * dd).sum(1)  # least squares: sum(dd) = 0
    return np.where(n >= 2, np.exp(slope), np.nan)


def reach(profile: np.ndarray, threshold: float = REACH_THRESHOLD) -> int | None:
    """Largest distance whose norm is at least ``threshold`` of the norm at distance 0."""
    value = reaches([profile], threshold)[0]
    return None if math.isnan(value) else int(value)


def reaches(profiles: np.ndarray, threshold: float = REACH_THRESHOLD) -> np.ndarray:
    """:func:`reach` of every row of ``(examples, T)`` profiles (NaN where undefined)."""
    p = np.asarray(profiles, "float64")
    if p.shape[1] == 0:
        return np.full(p.shape[0], np.nan)
    first = p[:, :1]
    valid = np.isfinite(first[:, 0]) & (first[:, 0] > 0)
    hit = np.isfinite(p) & (p >= threshold * first)
    last = p.shape[1] - 1 - np.argmax(hit[:, ::-1], axis=1)
    return np.where(valid, last, np.nan)


def spread(profiles: np.ndarray) -> dict[str, list[float | None]]:
    """Quantiles :data:`QUANTILES` of the per-example rho and reach of ``(examples, T)`` profiles.

    Returns:
        ``{"rho_quantiles": [q10, q50, q90], "reach_quantiles": [...]}``; None
        entries where no example has the number.
    """
    out = {}
    for key, values in (("rho", fit_rates(profiles)), ("reach", reaches(profiles))):
        finite = values[np.isfinite(values)]
        out[f"{key}_quantiles"] = ([float(q) for q in np.quantile(finite, QUANTILES)]
                                   if len(finite) else [None] * len(QUANTILES))
    return out


def spectral_numbers(kernel: np.ndarray, blocks: int) -> dict[str, Any]:
    """Spectral norm of a recurrent kernel and, per square gate block, norm and radius.

    Args:
        kernel: ``(units, blocks * units)`` recurrent kernel.
        blocks: Gate blocks (1 SimpleRNN, 4 LSTM i/f/c/o, 3 GRU z/r/h).
    """
    k = np.asarray(kernel, "float64")
    units = k.shape[0]
    out: dict[str, Any] = {"sigma_max": float(np.linalg.norm(k, 2)), "blocks": []}
    for i in range(blocks):
        b = k[:, i * units:(i + 1) * units]
        out["blocks"].append({"sigma_max": float(np.linalg.norm(b, 2)),
                              "radius": float(np.abs(np.linalg.eigvals(b)).max())})
    return out


def span(length: int, horizon: int | None) -> int:
    """The distance the growth is measured over: ``horizon`` (at most T - 1), else T - 1."""
    return length - 1 if horizon is None else min(int(horizon), length - 1)


def growth(profile: np.ndarray, horizon: int | None = None) -> float | None:
    """Total growth profile(H) / profile(0) over the horizon H (default None: H = T - 1).

    Returns:
        The ratio, or None for a profile shorter than 2 steps or with a zero or
        non-finite norm at distance 0 or H.
    """
    p = np.asarray(profile, "float64")
    if len(p) < 2:
        return None
    h = span(len(p), horizon)
    if not (np.isfinite(p[0]) and np.isfinite(p[h])) or p[0] <= 0:
        return None
    return float(p[h] / p[0])


def profile_label(profile: np.ndarray, horizon: int | None) -> tuple[str, dict[str, Any]]:
    """The label of one probe's profile and the numbers behind it.

    Args:
        profile: Norms by distance d = 0, 1, ...
        horizon: The task's dependency horizon in steps (None: none known).

    Returns:
        ``(label, {"reach", "growth", "span"})``; label ``unknown`` without a
        usable profile.
    """
    p = np.asarray(profile)
    r, g = reach(p), growth(p, horizon)
    facts = {"reach": r, "growth": g, "span": span(len(p), horizon) if len(p) else None}
    if r is None or g is None:
        return "unknown", facts
    if g > EXPLODING_GROWTH:
        return "exploding", facts
    if horizon is None:
        return "no horizon", facts
    if r >= facts["span"]:
        return "healthy", facts
    if r >= BORDERLINE_FRACTION * facts["span"]:
        return "borderline", facts
    return "vanishing", facts


def warmup(steps: int) -> int:
    """Steps at the start of a ``steps``-step run in which no spike is counted."""
    return max(MIN_HISTORY, min(WARMUP_STEPS, math.ceil(WARMUP_FRACTION * steps)))


def spike_ratios(grad_norms: Iterable[float | None]) -> tuple[list[int], list[float]]:
    """Training steps (1-based) whose pre-clip norm is a spike, and each one's ratio to
    its running median.

    A spike is a finite norm above :data:`SPIKE_FACTOR` times the median of the
    finite norms of the previous :data:`SPIKE_WINDOW` steps, at a step after
    :func:`warmup` with at least :data:`MIN_HISTORY` finite norms in that window.
    """
    g = np.array(list(grad_norms), "float64")  # None -> NaN
    start = warmup(len(g))
    padded = np.concatenate([np.full(SPIKE_WINDOW, np.nan), g])
    windows = np.lib.stride_tricks.sliding_window_view(padded, SPIKE_WINDOW)[start:len(g)]
    rows = np.nonzero(np.isfinite(windows).sum(1) >= MIN_HISTORY)[0]  # enough history
    median = np.nanmedian(windows[rows], axis=1)
    norm = g[start + rows]
    spike = np.isfinite(norm) & (norm > SPIKE_FACTOR * median)
    with np.errstate(divide="ignore"):
        ratio = norm[spike] / median[spike]
    return [int(t) + start + 1 for t in rows[spike]], [float(r) for r in ratio]


def spike_steps(grad_norms: Iterable[float | None]) -> list[int]:
    """The steps of :func:`spike_ratios`."""
    return spike_ratios(grad_norms)[0]


def spikes(grad_norms: list[float | None], clipped: list[float] | None = None,
           clip: dict[str, float] | None = None) -> dict[str, Any]:
    """Spike events of a run: ``count``, ``rate``, ``steps``, ``clipped`` and ``held``.

    Args:
        grad_norms: Pre-clip global gradient norm per step.
        clipped: Per step 1.0 where the optimizer's clipping acted (default None: not recorded).
        clip: The optimizer's positive clip settings (default None: none).

    Returns:
        ``count``; ``rate`` = count / steps after the warm-up (None if there are
        none); ``steps`` (1-based); ``clipped``: spikes at which clipping acted
        (None without the ``clipped`` curve); ``held``: clipping acted at every
        spike (without the curve: clipping was configured); ``max_ratio``: the
        largest spike's norm over its running median (None without spikes).
    """
    steps, ratios = spike_ratios(grad_norms)
    eligible = len(grad_norms) - warmup(len(grad_norms))
    acted = None
    if clipped:
        acted = sum(1 for s in steps if s <= len(clipped) and clipped[s - 1])
    held = bool(steps) and (acted == len(steps) if acted is not None else bool(clip))
    return {"count": len(steps), "rate": len(steps) / eligible if eligible > 0 else None,
            "steps": steps, "clipped": acted, "held": held,
            "max_ratio": max(ratios) if ratios else None}


def timeline(probes: list[dict[str, Any]], horizon: int | None) -> list[dict[str, Any]]:
    """``[{"step", "label"}]``: the :func:`profile_label` of every probe with a profile."""
    return [{"step": int(p["step"]), "label": profile_label(p["profile"], horizon)[0]}
            for p in probes if p.get("profile")]


def describe_timeline(points: list[dict[str, Any]]) -> str:
    """Words for a timeline: "vanishing at init, healthy from step 500".

    Consecutive probes with one label form a segment; the first is "at init"
    when it starts at step 0; after :data:`TIMELINE_WORDS` segments the rest
    are counted ("then 3 more changes, ending borderline").
    """
    segments: list[tuple[str, int]] = []
    for point in points:
        if not segments or segments[-1][0] != point["label"]:
            segments.append((point["label"], point["step"]))
    if not segments:
        return "no probes"
    if len(segments) == 1:
        return f"{segments[0][0]} at every probe"
    label, step = segments[0]
    words = [f"{label} at init" if step == 0 else f"{label} from step {step}"]
    words += [f"{lab} from step {s}" for lab, s in segments[1:TIMELINE_WORDS]]
    rest = len(segments) - TIMELINE_WORDS
    if rest > 0:
        words.append(f"then {rest} more change{'s' * (rest > 1)}, ending {segments[-1][0]}")
    return ", ".join(words)


def _profile_sentence(label: str, facts: dict[str, Any], horizon: int | None) -> str:
    """Why the final probe got ``label``."""
    r, g, h = facts["reach"], facts["growth"], facts["span"]
    if label == "unknown":
        return "no gradient profile was recorded"
    grow = f"the gradient {h} steps back is {g:.3g}x the last step's"
    if label == "exploding":
        return f"{grow} (over {EXPLODING_GROWTH:g}x: exploding)"
    if horizon is None:
        return f"gradient reach {r} steps (the task states no horizon to compare it with); {grow}"
    verdict = {"healthy": "reaches", "borderline": "falls just short of",
               "vanishing": "falls short of"}[label]
    return f"gradient reach {r} {verdict} the task's horizon of {h} steps; {grow}"


def _spike_sentence(events: dict[str, Any], steps: int) -> str:
    """The spike events in words (empty without spikes)."""
    if not events["count"]:
        return ""
    first = ", ".join(str(s) for s in events["steps"][:5]) + (", ..." if events["count"] > 5 else "")
    largest = events.get("max_ratio")
    text = (f"{events['count']} gradient spike{'s' * (events['count'] > 1)} after step "
            f"{warmup(steps)} (pre-clip norm over {SPIKE_FACTOR:g}x the running median; "
            f"rate {events['rate']:.2g}; at step {first}"
            + (f"; the largest {largest:.3g}x" if largest is not None else "") + ")")
    return text + (", held by clipping" if events["held"] else ", not held by clipping")


def diagnose(status: str | None, profile_facts: tuple[str, dict[str, Any]], events: dict[str, Any],
             horizon: int | None, steps: int, error: str | None = None) -> tuple[str, str]:
    """The run's label and reason (precedence: :data:`LABELS`).

    Args:
        status: The run status (``diverged`` decides; None: not recorded).
        profile_facts: :func:`profile_label` of the final probe.
        events: :func:`spikes` of the run.
        horizon: The task's horizon (None: none known).
        steps: Training steps recorded.
        error: The divergence reason, if any (default None).
    """
    if status == "diverged":
        return "diverged", f"training diverged: {error or 'non-finite values'}"
    label, facts = profile_facts
    parts = [_profile_sentence(label, facts, horizon), _spike_sentence(events, steps)]
    reason = "; ".join(p for p in parts if p)
    if label != "exploding" and (events.get("max_ratio") or 0) > SPIKE_LABEL_FACTOR:
        return "spiking", reason
    return label, reason


def summarise(result: dict[str, Any], horizon: int | None = None,
              clip: dict[str, float] | None = None) -> dict[str, Any]:
    """Health summary of a training result: numbers, label, reason and timeline.

    The worker calls it for a suite run and :meth:`GradientHealth.summary` for a
    user's run, so both follow the same rules.

    Args:
        result: A training result (``status``, ``error``, ``curves``, ``probes``;
            ``horizon`` and ``clip`` are read from it when not given).
        horizon: The task's dependency horizon in steps (default None: the
            result's ``horizon``, else none known: reach is reported, not judged).
        clip: The optimizer's positive clip settings (default None: the
            result's ``clip``, else none).

    Returns:
        ``{"summary": {...}, "reason", "profile_length", "timeline", "trajectory",
        "spike_steps"}``; ``summary`` holds the final probe's ``rho``, ``reach``,
        ``growth``, spread quantiles, spectra, saturation, the first probe's
        ``rho_init``/``reach_init``/``diagnosis_init``/``lyapunov_init`` (its largest
        Lyapunov exponent, None without one), the spike numbers and
        the ``diagnosis``.
    """
    horizon = result.get("horizon") if horizon is None else horizon
    clip = result.get("clip") if clip is None else clip
    probes = [p for p in result.get("probes") or [] if p.get("profile")]
    last = probes[-1] if probes else {}
    first = probes[0] if probes else {}
    curves = result.get("curves") or {}
    norms = curves.get("grad_norm", [])
    events = spikes(norms, curves.get("clipped"), clip)
    final = profile_label(last.get("profile", []), horizon)
    points = timeline(probes, horizon)
    label, reason = diagnose(result.get("status"), final, events, horizon, len(norms),
                             result.get("error"))
    if len(points) > 1:
        reason += f"; over training: {describe_timeline(points)}"
    summary = {"rho": last.get("rho"), "reach": last.get("reach"), "growth": final[1]["growth"],
               "horizon": horizon, "rho_init": first.get("rho"), "reach_init": first.get("reach"),
               "lyapunov_init": first.get("lyapunov_1"),
               "diagnosis_init": points[0]["label"] if points else None,
               "spikes": events["count"], "spike_rate": events["rate"],
               "spikes_held": events["held"] if events["count"] else None,
               "diagnosis": label, **_final_numbers(last)}
    return {"summary": summary, "reason": reason, "profile_length": len(last.get("profile", [])) or None,
            "timeline": points, "trajectory": describe_timeline(points), "spike_steps": events["steps"]}


def _final_numbers(last: dict[str, Any]) -> dict[str, Any]:
    """Spread quantiles, spectra and saturation of the final probe, as summary columns."""
    out: dict[str, Any] = {"kernel_sigma_max": (last.get("kernel") or {}).get("sigma_max"),
                           "jacobian_sigma_mean": last.get("jacobian_sigma_mean"),
                           "jacobian_sigma_max": last.get("jacobian_sigma_max")}
    for key in ("rho", "reach"):
        q = last.get(f"{key}_quantiles") or [None] * len(QUANTILES)
        out.update({f"{key}_q{round(100 * level)}": v for level, v in zip(QUANTILES, q)})
    for gate, value in (last.get("saturation") or {}).items():
        out[f"saturation_{gate}"] = value
    return out


def over_seeds(labels: Iterable[str | None]) -> tuple[str, str]:
    """Counts of the seeds' labels: ``("vanishing 2/2", "vanishing")`` or
    ``("mixed: vanishing 1, healthy 1", "mixed")``.

    Deterministic: counts descending, ties in the order of :data:`LABELS`, then
    by name; a run without a label counts as "no diagnosis".

    Returns:
        ``(text, class)``: the class is the label when all seeds agree, else
        ``mixed``; ``("", "")`` for no runs.
    """
    names = [v if isinstance(v, str) and v else "no diagnosis" for v in labels]
    if not names:
        return "", ""
    counts = Counter(names)
    rank = {name: i for i, name in enumerate(LABELS)}
    order = sorted(counts, key=lambda k: (-counts[k], rank.get(k, len(LABELS)), k))
    if len(order) == 1:
        return f"{order[0]} {len(names)}/{len(names)}", order[0]
    return "mixed: " + ", ".join(f"{k} {counts[k]}" for k in order), "mixed"
