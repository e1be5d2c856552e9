"""Jacobian products and Lyapunov exponents (suite/health/lyapunov.py) against known answers."""
from __future__ import annotations

import numpy as np
import pytest

from suite.health.lyapunov import (
    log_product_bound,
    log_product_norm,
    lyapunov_spectrum,
    norm_distances,
    product_numbers,
)


def orthogonal(size: int, seed: int) -> np.ndarray:
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((size, size)))[0]


def constant(jac: np.ndarray, examples: int, steps: int) -> np.ndarray:
    """The same Jacobian at every step of every example: ``(E, T, P, P)``."""
    return np.broadcast_to(jac, (examples, steps, *jac.shape)).copy()


def sigma_of(jac: np.ndarray) -> np.ndarray:
    return np.linalg.norm(jac, 2, axis=(-2, -1))


@pytest.mark.parametrize("gain", [0.8, 1.0, 1.25])
def test_scaled_orthogonal_has_lambda_ln_g_and_norm_equal_to_bound(gain):
    """W = g x orthogonal: every direction grows by g per step, so lambda_i = ln g
    exactly and the product norm and the bound are both g^d."""
    w = gain * orthogonal(6, 1)
    jac = constant(w, 2, 40)
    spectrum = lyapunov_spectrum(jac)
    np.testing.assert_allclose(spectrum, np.log(gain), atol=1e-12)
    d = np.arange(40)
    np.testing.assert_allclose(log_product_norm(jac), d * np.log(gain), atol=1e-10)
    np.testing.assert_allclose(log_product_bound(sigma_of(jac)), d * np.log(gain), atol=1e-10)


def test_diagonal_gives_ln_of_largest_entry_and_ordered_spectrum():
    """Diagonal W (largest |w_ii| not first): lambda_1 = ln max|w_ii|, the next exponents
    in decreasing order (needs the re-orthonormalisation: without it every direction
    collapses onto the first), and the norm max|w_ii|^d exactly."""
    w = np.diag([0.5, -0.9, 0.7, 0.3])
    jac = constant(w, 1, 3000)
    spectrum = lyapunov_spectrum(jac, directions=4)[0]
    np.testing.assert_allclose(spectrum, np.log([0.9, 0.7, 0.5, 0.3]), atol=3e-3)
    short = constant(w, 1, 30)
    np.testing.assert_allclose(log_product_norm(short), np.arange(30) * np.log(0.9), atol=1e-10)


def test_windows_end_at_the_last_step_and_skip_step_zero():
    """J_t = a_t x orthogonal with a different a_t per step: the window of distance d is
    steps T-d .. T-1, and lambda_1 averages ln a_t over steps 1 .. T-1 (J_0, from the
    zero initial state, is not crossed by any gradient)."""
    steps = 12
    a = 1.0 + 0.1 * np.arange(steps)
    a[0] = 50.0
    jac = np.stack([a_t * orthogonal(5, t) for t, a_t in enumerate(a)])[None]
    want = np.concatenate([[0.0], np.cumsum(np.log(a[:0:-1]))])
    np.testing.assert_allclose(log_product_norm(jac), want, atol=1e-10)
    np.testing.assert_allclose(log_product_bound(sigma_of(jac)), want, atol=1e-10)
    assert lyapunov_spectrum(jac)[0, 0] == pytest.approx(np.log(a[1:]).mean(), abs=1e-10)


def test_norm_of_random_products_matches_the_explicit_product():
    rng = np.random.default_rng(3)
    jac = rng.standard_normal((3, 15, 5, 5)) * 0.8
    want = np.zeros((3, 15))
    for e in range(3):
        product = np.eye(5)
        for d in range(1, 15):
            product = product @ jac[e, 15 - d]
            want[e, d] = np.log(np.linalg.norm(product, 2))
    np.testing.assert_allclose(log_product_norm(jac), want.mean(axis=0), atol=1e-9)
    bound = log_product_bound(sigma_of(jac))
    assert np.all(bound >= log_product_norm(jac) - 1e-9)  # submultiplicativity


def test_norm_on_a_grid_of_distances_equals_the_dense_one():
    """The probe takes the norm at :func:`norm_distances` only (NaN elsewhere); the
    products in between still advance every step."""
    rng = np.random.default_rng(5)
    jac = rng.standard_normal((2, 60, 4, 4)) * 0.6
    grid = norm_distances(60)
    assert grid[0] == 1 and grid[-1] == 59 and set(range(1, 9)) <= set(grid) and len(grid) < 59
    dense, sparse = log_product_norm(jac), log_product_norm(jac, grid)
    np.testing.assert_allclose(sparse[grid], dense[grid], atol=1e-9)
    assert sparse[0] == 0 and np.isnan(np.delete(sparse, np.concatenate([[0], grid]))).all()
    single = log_product_norm(jac, grid, dtype=np.float32)  # what the probe uses
    np.testing.assert_allclose(single[grid], dense[grid], atol=1e-4)


def test_per_step_norm_above_one_need_not_explode():
    """Non-normal J with sigma_max(J) = 3.08 > 1 but eigenvalues 0.5: the bound grows as
    3.08^d, the product norm and lambda_1 = ln 0.5 say the gradient vanishes."""
    w = np.array([[0.5, 3.0], [0.0, 0.5]])
    jac = constant(w, 1, 2000)
    out = product_numbers(jac[:, :60], sigma_of(jac[:, :60]))
    assert out["product_bound"][59] == pytest.approx(59 * np.log(np.linalg.norm(w, 2)))
    assert out["product_norm"][59] == pytest.approx(np.log(np.linalg.norm(
        np.linalg.matrix_power(w, 59), 2)), abs=1e-9)
    assert out["product_norm"][59] < 0 < out["product_bound"][59]
    assert lyapunov_spectrum(jac)[0, 0] == pytest.approx(np.log(0.5), abs=0.01)
    assert len(out["product_norm"]) == len(out["product_bound"]) == 60


def test_a_zero_product_is_minus_infinity_not_an_error():
    jac = constant(np.zeros((3, 3)), 2, 5)
    norm = log_product_norm(jac)
    assert norm[0] == 0 and np.all(np.isneginf(norm[1:]))


def _simple_rnn(make_config, tasks, gain: float):
    from suite.model.builder import build_model

    task = tasks["adding"]
    cfg = make_config(cell="simple_rnn", hidden=6, recurrent_initializer=f"orthogonal:{gain}")
    p = cfg["task_params"]
    model = build_model(cfg, task.input_spec(p), task.head(p))
    x, y = task.make_data("train", 8, 0, p)
    return model, x, y


@pytest.mark.parametrize("gain", [0.9, 2.0])
def test_simple_rnn_probe_matches_the_closed_form_jacobians(make_config, tasks, gain):
    """tanh SimpleRNN: J_t = diag(1 - h_t^2) R^T along the trajectory (h_t = tanh(x_t K +
    h_{t-1} R + b)), computed here in NumPy; the probe's products and lambda_1 agree."""
    from suite.health.dynamics import TrajectoryProbe
    from suite.health.views import suite_view

    model, x, _ = _simple_rnn(make_config, tasks, gain)
    cell = model.rnns[0].cell
    kernel, rec, bias = (v.numpy().astype(np.float64) for v in (cell.kernel, cell.recurrent_kernel,
                                                                cell.bias))
    z = np.asarray(model.embed(x[:4]), dtype=np.float64)
    h = np.zeros((4, rec.shape[0]))
    jac = []
    for t in range(z.shape[1]):
        h = np.tanh(z[:, t] @ kernel + h @ rec + bias)
        jac.append((1 - h ** 2)[:, :, None] * rec.T[None])
    jac = np.stack(jac, axis=1)
    want = product_numbers(jac, sigma_of(jac))
    got = TrajectoryProbe(suite_view(model), x, examples=4)()
    assert got["lyapunov_1"] == pytest.approx(want["lyapunov_1"], abs=1e-4)
    np.testing.assert_allclose(got["lyapunov_spectrum"], want["lyapunov_spectrum"], atol=1e-4)
    np.testing.assert_allclose(got["product_norm"], want["product_norm"], atol=1e-4)
    np.testing.assert_allclose(got["product_bound"], want["product_bound"], atol=1e-4)
    np.testing.assert_allclose(got["jacobian_sigma_by_step"], sigma_of(jac).mean(axis=0), rtol=1e-4)


def test_probe_records_products_on_trajectory_probes_only(make_config, tasks):
    from suite.health.probe import Probe
    from suite.health.views import suite_view

    model, x, y = _simple_rnn(make_config, tasks, 1.0)
    probe = Probe(suite_view(model), x, y)
    probe(0)
    probe(1)
    first, second = probe.results()
    assert len(first["product_norm"]) == len(first["product_bound"]) == len(first["profile"])
    assert first["product_norm"][0] == first["product_bound"][0] == 0.0
    assert np.isfinite(first["lyapunov_1"])
    assert "lyapunov_1" not in second and "product_norm" not in second


def test_recurrent_batchnorm_with_batch_statistics_skips_products_with_a_reason(make_config, tasks):
    from suite.health.dynamics import BN_PRODUCTS_SKIPPED, TrajectoryProbe
    from suite.health.views import suite_view
    from suite.model.builder import build_model

    task = tasks["adding"]
    cfg = make_config(cell="lstm", batchnorm="recurrent")
    p = cfg["task_params"]
    model = build_model(cfg, task.input_spec(p), task.head(p), max_steps=p["seq_len"])
    x, _ = task.make_data("train", 8, 0, p)
    got = TrajectoryProbe(suite_view(model), x, batch_statistics=True)()
    assert got["products_skipped"] == BN_PRODUCTS_SKIPPED
    assert "lyapunov_1" not in got and "product_norm" not in got
    inference = TrajectoryProbe(suite_view(model), x, batch_statistics=False)()
    assert len(inference["product_norm"]) == p["seq_len"] and "products_skipped" not in inference


# --- the report side (no TensorFlow) ------------------------------------------------------

def _records_and_runs(probes_by_run: dict[str, list], status: str = "ok", step=None):
    import pandas as pd

    records = {rid: {"run_id": rid, "seed": 0, "status": status, "diverged_step": step,
                     "config": {"probe_every": 5}, "probes": probes}
               for rid, probes in probes_by_run.items()}
    runs = pd.DataFrame({"run_id": list(records), "config_id": list(records),
                         "short": [f"cell={r}" for r in records],
                         "label": [f"cell={r}" for r in records]})
    return records, runs


def test_lyapunov_figure_draws_the_last_probe_with_products_and_says_why_not():
    from suite.report import figures

    steps = 20
    jac = constant(np.array([[0.5, 3.0], [0.0, 0.5]]), 2, steps)
    probe = {"step": 40, "profile": list(np.geomspace(1.0, 1e-3, steps)),
             **product_numbers(jac, sigma_of(jac), norm_distances(steps))}
    records, runs = _records_and_runs({"a": [{"step": 0, "profile": [1.0] * steps}, probe]})
    assert figures.lyapunov(records, runs, "adding").startswith("data:image/png;base64,")
    old, old_runs = _records_and_runs({"b": [{"step": 0, "profile": [1.0] * steps,
                                              "jacobian_sigma_mean": 1.0}]})
    assert figures.lyapunov(old, old_runs, "adding") is None
    assert "predate" in figures.nothing_to_draw("Lyapunov exponent and Jacobian products",
                                                old, old_runs)
    bn, bn_runs = _records_and_runs({"c": [{"step": 0, "profile": [1.0] * steps,
                                            "products_skipped": "recurrent BatchNorm: because"}]})
    assert figures.nothing_to_draw("Lyapunov exponent and Jacobian products", bn, bn_runs) == (
        "no run has a trajectory probe with Jacobian products: recurrent BatchNorm: because.")


def test_a_study_that_diverged_at_step_one_gets_one_line_per_figure_not_empty_axes():
    from suite.report import figures

    nan_probe = {"step": 0, "profile": [float("nan")] * 5, "jacobian_sigma_mean": 1.0}
    records, runs = _records_and_runs({"a": [nan_probe], "b": [nan_probe]}, "diverged", 1)
    for rec in records.values():
        rec["curves"] = {"grad_norm": [float("inf")]}
        rec["evals"] = []
    assert figures.gradient_norms(records, runs, "t", "cell") is None
    assert figures.profiles(records, runs, "t") is None
    assert figures.spectra(records, runs, "t", "cell") is None
    assert figures.nothing_to_draw("temporal profile", records, runs) == (
        "no run has a probe with a finite gradient profile: every run diverged at step 1.")


def test_report_replaces_empty_figures_by_a_line(example_copy):
    """The example's blowup study diverged at step 2 everywhere: no empty axes."""
    import re

    from suite.cli import main

    main(["report", str(example_copy)])
    html = (example_copy / "index.html").read_text()
    lines = re.findall(r'<p class="small nofig">(.*?)</p>', html)
    assert any("spectra and saturation:</b> no run has two trajectory probes: every run "
               "diverged at step 2." in line for line in lines), lines


def test_captions_state_the_rules_they_draw():
    """Numbers in the captions follow from the definitions (not typed in twice)."""
    from suite.health.dynamics import SATURATION_THRESHOLD as THRESHOLD
    from suite.report.study_figures import CAPTIONS

    spectra = CAPTIONS["spectra and saturation"]
    low = (1 - np.sqrt(1 - 4 * THRESHOLD)) / 2            # s (1 - s) = threshold
    assert f"s < {low:.3f} or s > {1 - low:.3f}" in spectra
    assert f"|tanh a| > {np.sqrt(1 - THRESHOLD):.3f}" in spectra
    assert f"{THRESHOLD / 0.25:.0%} of its maximum 0.25" in spectra
    assert "border" not in spectra and "does not mean the gradient explodes" in spectra
    norms = CAPTIONS["gradient norm"]
    assert "rolling median over 20 steps" in norms and "exploding" not in norms


def test_single_threaded_blas_restores_the_thread_count():
    from suite.health.lyapunov import _openblas_threads, single_threaded_blas

    found = _openblas_threads()
    if found is None:
        pytest.skip("NumPy has no OpenBLAS of its wheel here")
    get, put = found
    put(2)
    with single_threaded_blas():
        assert get() == 1
    assert get() == 2
