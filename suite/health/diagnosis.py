"""Pure-NumPy gradient-health numbers and the diagnosis of a run (no TensorFlow).

**Summary numbers** (documented in README "Gradient health"):
  * ``rho``: exp of the least-squares slope of ln ||dL/dh_k|| against d over
    all steps with a non-zero norm; rho < 1 vanishing, rho > 1 exploding.
  * ``reach``: the largest d with ||dL/dh_k|| >= 1e-3 ||dL/dh_{T-1}||.
  * spectral norm (largest singular value) and spectral radius of the top
    layer's recurrent kernel, per gate block.

**Diagnosis** of each run from the final probe and the gradient norms,
applied in this order: ``diverged`` (NaN/Inf or loss past the bound),
``exploding`` (the 99th percentile of the pre-clip gradient norm is more than
1000x its median, i.e. spikes of three orders of magnitude, even if clipping
kept the run alive; or rho > 1.05),
``vanishing`` (reach < (T - 1) / 2: the first half of the sequence sends back
less than 1e-3 of the last step's gradient), else ``healthy``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Relative threshold that defines the gradient reach.
REACH_THRESHOLD = 1e-3
#: rho above this is diagnosed as exploding.
EXPLODING_RHO = 1.05
#: A 99th-percentile/median ratio of pre-clip gradient norms above this is exploding.
SPIKE_RATIO = 1000.0

def fit_rate(profile: np.ndarray) -> float | None:
    """Per-step rate rho: exp(slope) of ln ||g|| against distance (index 0 = last step).

    Args:
        profile: Norms ordered by distance d = 0, 1, ... (last step first).

    Returns:
        rho, or None with fewer than two positive finite entries.
    """
    p = np.asarray(profile, "float64")
    d = np.arange(len(p))
    ok = np.isfinite(p) & (p > 0)
    if ok.sum() < 2:
        return None
    slope = np.polyfit(d[ok], np.log(p[ok]), 1)[0]
    return float(math.exp(slope))


def reach(profile: np.ndarray, threshold: float = REACH_THRESHOLD) -> int | None:
    """Largest distance whose norm is at least ``threshold`` of the norm at distance 0."""
    p = np.asarray(profile, "float64")
    if not len(p) or not np.isfinite(p[0]) or p[0] <= 0:
        return None
    idx = np.nonzero(np.isfinite(p) & (p >= threshold * p[0]))[0]
    return int(idx.max())


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


def spike_ratio(grad_norms: list[float | None]) -> float | None:
    """99th percentile over median of the finite pre-clip gradient norms of a run."""
    g = np.array([v for v in grad_norms if v is not None], "float64")
    g = g[np.isfinite(g)]
    if len(g) < 10 or np.median(g) <= 0:
        return None
    return float(np.percentile(g, 99) / np.median(g))


def diagnose(status: str, rho: float | None, reach_: int | None, length: int | None,
             error: str | None = None, spikes: float | None = None) -> tuple[str, str]:
    """Labels a run ``diverged``, ``exploding``, ``vanishing`` or ``healthy``, with a reason.

    Args:
        status: The run status.
        rho: Fitted per-step rate of the final profile.
        reach_: Gradient reach of the final profile.
        length: Sequence length T of the profile.
        error: The divergence reason, if any.
        spikes: :func:`spike_ratio` of the run's gradient norms.
    """
    if status == "diverged":
        return "diverged", f"training diverged: {error or 'non-finite values'}"
    if spikes is not None and spikes > SPIKE_RATIO:
        return "exploding", (f"pre-clip gradient norms spiked: their 99th percentile is "
                             f"{spikes:.3g}x their median (clipping may have kept the run alive)")
    if rho is None or reach_ is None or not length:
        return "unknown", "no gradient profile was recorded"
    if rho > EXPLODING_RHO:
        return "exploding", (f"gradient grows by rho = {rho:.3g} per step back in time; "
                             f"at distance {length - 1} it is {rho ** (length - 1):.2g}x its value at T")
    if reach_ < (length - 1) / 2:
        ratio = rho ** ((length - 1) / 2)
        return "vanishing", (f"gradient falls below {REACH_THRESHOLD:g} of its value at T after "
                             f"{reach_} steps; rho = {rho:.3g} (x{ratio:.1e} over half the sequence)")
    return "healthy", f"gradient reaches {reach_} of {length - 1} steps back; rho = {rho:.3g}"


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """Health summary of a training result: final rho, reach, spectra, diagnosis."""
    probes = result.get("probes") or []
    last = probes[-1] if probes else {}
    first = probes[0] if probes else {}
    length = len(last.get("profile", [])) or None
    spikes = spike_ratio((result.get("curves") or {}).get("grad_norm", []))
    label, reason = diagnose(result.get("status", "ok"), last.get("rho"), last.get("reach"),
                             length, result.get("error"), spikes)
    kernel = last.get("kernel", {})
    summary = {"rho": last.get("rho"), "reach": last.get("reach"), "rho_init": first.get("rho"),
               "reach_init": first.get("reach"), "kernel_sigma_max": kernel.get("sigma_max"),
               "jacobian_sigma_mean": last.get("jacobian_sigma_mean"),
               "jacobian_sigma_max": last.get("jacobian_sigma_max"), "grad_spike_ratio": spikes,
               "diagnosis": label}
    for gate, value in (last.get("saturation") or {}).items():
        summary[f"saturation_{gate}"] = value
    return {"summary": summary, "reason": reason, "profile_length": length}
