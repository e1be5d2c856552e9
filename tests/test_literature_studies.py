"""The literature suite's studies without training: the impulse task, ``lyapunov_init``
against an unrolled NumPy computation, the initialisation figures, and the suite file itself."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from suite.api import SuiteError
from suite.health.diagnosis import summarise
from suite.health.lyapunov import lyapunov_spectrum
from suite.report import init_figures


def test_impulse_data_is_a_kick_then_silence_or_noise(tasks):
    task = tasks["impulse"]
    params = {"seq_len": 50, "features": 4, "drive": 0.0}
    x, y = task.make_data("train", 200, 3, params)
    assert x.shape == (200, 50, 4) and y.shape == (200, 4)
    np.testing.assert_array_equal(x[:, 0], y)
    assert not x[:, 1:].any()
    assert abs(y.std() - 1.0) < 0.1
    x, _ = task.make_data("train", 200, 3, {**params, "drive": 2.0})
    assert abs(x[:, 1:].std() - 2.0) < 0.05
    for bad in ({"seq_len": 1}, {"features": 0}, {"drive": -1.0}, {"drive": float("nan")}):
        with pytest.raises(SuiteError, match="impulse."):
            task.validate({**params, **bad})


def test_lyapunov_init_is_lambda1_of_the_unrolled_network(make_config, tasks):
    """The first probe's lambda_1, stored as the summary's ``lyapunov_init``, equals the QR
    estimate on Jacobians diag(1 - h_t^2) W_h^T of a NumPy unroll of the same network."""
    from suite.health.probe import make_probe
    from suite.model.run_loop import train

    cfg = make_config("impulse", task_params={"seq_len": 30, "features": 3, "drive": 0.5},
                      cell="simple_rnn", hidden=6, recurrent_initializer="normal:1.5",
                      kernel_initializer="normal:1", steps=1, probe_every=1000, batch_size=8)
    task = tasks["impulse"]
    seen = {}

    def probe_factory(model, x, y):
        seen["weights"] = [w.numpy().astype(np.float64) for w in model.rnns[0].cell.weights]
        seen["x"] = np.asarray(x, np.float64)
        return make_probe(model, x, y)

    result = train(cfg, task, probe_factory)
    first = result["probes"][0]
    kernel, recurrent, bias = seen["weights"]
    x = seen["x"][:4]  # the trajectory probe follows the first 4 examples
    h, jac = np.zeros((4, 6)), []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent + bias)
        jac.append((1 - h**2)[:, :, None] * recurrent.T[None])  # d h_t / d h_{t-1}
    want = lyapunov_spectrum(np.stack(jac, 1))[:, 0].mean()
    assert first["step"] == 0 and first["lyapunov_1"] == pytest.approx(want, rel=1e-3, abs=1e-4)
    assert summarise(result)["summary"]["lyapunov_init"] == first["lyapunov_1"]


def test_summary_has_no_lyapunov_init_without_one():
    result = {"status": "ok", "probes": [{"step": 0, "profile": [1.0, 0.5]}], "curves": {}}
    assert summarise(result)["summary"]["lyapunov_init"] is None


def _runs(rows):
    return pd.DataFrame(rows)


def test_lyapunov_figure_draws_lambda1_against_the_gain_per_drive():
    rows, records = [], {}
    for i, (g, drive, lam) in enumerate([(0.5, 0.0, -0.6), (1.5, 0.0, 0.05), (0.5, 1.0, -1.0),
                                         (1.5, 1.0, -0.1)]):
        rows.append({"run_id": f"r{i}", "config_id": f"c{i}", "short": f"g={g}", "lyapunov_init": lam,
                     "axis:recurrent_initializer": f"normal:{g}", "axis:impulse.drive": drive})
        records[f"r{i}"] = {"config": {"steps": 1}}
    varying = ["recurrent_initializer", "impulse.drive"]
    src = init_figures.lyapunov_against_gain(records, _runs(rows), "impulse", varying)
    assert src and src.startswith("data:image/png;base64,")
    assert init_figures.lyapunov_against_gain(records, _runs(rows), "impulse", ["impulse.drive"]) is None
    assert init_figures.preset_gain("normal:1.25") == 1.25 and init_figures.preset_gain("default") is None


def test_init_profile_figure_only_for_studies_that_do_not_train():
    profile = list(np.geomspace(1.0, 1e-3, 20))
    records = {"a": {"config": {"steps": 1}, "probes": [{"step": 0, "profile": profile}]},
               "b": {"config": {"steps": 500}, "probes": [{"step": 0, "profile": profile}]}}
    rows = [{"run_id": "a", "config_id": "ca", "short": "gamma=0.1"}]
    src = init_figures.init_profiles(records, _runs(rows), "adding", "bn_gamma")
    assert src and src.startswith("data:image/png;base64,")
    trained = _runs(rows + [{"run_id": "b", "config_id": "cb", "short": "gamma=1"}])
    assert init_figures.init_profiles(records, trained, "adding", "bn_gamma") is None


def test_literature_suite_cites_a_source_for_every_claim_and_runs_its_papers_settings(tasks):
    from suite.suite_file import load_suite

    suite = load_suite("literature", tasks)
    claims = [c for s in suite.studies for c in s.claims]
    assert len(claims) >= 18 and all(c["source"].strip() for c in claims)
    by_study = {s.name: s for s in suite.studies}
    for name in ("adding_T100", "adding_T200", "copy_rnn", "copy_lstm", "copy_gru"):
        for rid in by_study[name].run_ids:
            cfg = suite.runs[rid]
            assert (cfg["clipvalue"], cfg["batch_size"], cfg["optimizer"]) == (1.0, 20, "rmsprop")
            assert cfg["recurrent_initializer"] == "glorot_uniform"
        assert len({suite.runs[r]["seed"] for r in by_study[name].run_ids}) == 3
    for rid in by_study["bn_gamma_flow"].run_ids:
        cfg = suite.runs[rid]
        assert cfg["batchnorm"] == "recurrent_sum" and cfg["recurrent_initializer"] == "identity"
        assert cfg["hidden"] == 100 and suite.lengths[rid] >= 300


def test_lyapunov_panel_without_lambda1_is_drawn_without_it():
    """A final probe whose lambda_1 is null (not finite) still gets its panel."""
    from suite.report import figures

    probe = {"step": 1, "profile": [1.0, 0.5, 0.25], "product_bound": [0.0, -0.5, -1.0],
             "product_norm": [0.0, -0.6, -1.2], "lyapunov_1": None}
    records = {"r": {"seed": 0, "probes": [probe]}}
    runs = pd.DataFrame([{"run_id": "r", "config_id": "c", "short": "g=1.5", "label": "g=1.5"}])
    assert figures.lyapunov(records, runs, "impulse").startswith("data:image/png;base64,")
