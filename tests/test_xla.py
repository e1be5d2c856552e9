"""XLA-compiled training (issue 18): same numbers as uncompiled, bit-identical across processes,
recorded in every run, the ``xla`` axis validated. Tiny models (hidden 8, T = 10)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, run_cli


def _step_and_profile(cfg, task, xla: bool, probe: bool):
    """Loss and gradient norms of two training steps, and (if ``probe``) the probe's record at
    step 0, compiled with XLA or not."""
    from tensorflow.python.framework import config as tf_config

    from suite.api import sequence_length
    from suite.health.probe import make_probe
    from suite.model.builder import build_model
    from suite.model.losses import keras_loss
    from suite.model.run_loop import StepRecorder, make_optimizer

    tf_config.disable_op_determinism()  # another test's train() may have turned it on
    p = cfg["task_params"]
    model = build_model(cfg, task.input_spec(p), task.head(p), max_steps=sequence_length(task, p))
    model.compile(optimizer=make_optimizer(cfg), loss=keras_loss(task.head(p).loss), jit_compile=xla)
    assert bool(model.jit_compile) is xla
    x, y = task.make_data("train", 16, 0, p)
    record = None
    if probe:
        probed = make_probe(model, x[:8], y[:8])
        assert probed.jit_compile is xla
        probed(0, trajectory=False)
        record = probed.records[0]
    rec = StepRecorder(chance=1.0)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[rec])
    return rec.curves, record


@pytest.mark.parametrize("cell,bn", [("simple_rnn", "none"), ("lstm", "none"), ("gru", "none"),
                                     ("simple_rnn", "recurrent"), ("lstm", "recurrent"),
                                     ("gru", "recurrent"), ("lstm", "input"), ("gru", "output")])
def test_compiled_step_matches_the_uncompiled_one(make_config, tasks, cell, bn):
    cfg = make_config(cell=cell, batchnorm=bn, global_clipnorm=1.0)
    probe = cell == "simple_rnn"  # the probes' XLA compilation is slow: checked on the cheap cell
    plain, plain_probe = _step_and_profile(cfg, tasks["adding"], xla=False, probe=probe)
    compiled, compiled_probe = _step_and_profile(cfg, tasks["adding"], xla=True, probe=probe)
    assert set(plain) == set(compiled) and len(plain["loss"]) == 2
    for key in plain:  # loss, grad_norm, gn/<layer>, clipped: float32 tolerance
        np.testing.assert_allclose(compiled[key], plain[key], rtol=2e-5, atol=1e-7, err_msg=key)
    if not probe:
        return
    assert compiled_probe["loss"] == pytest.approx(plain_probe["loss"], rel=2e-5)
    np.testing.assert_allclose(compiled_probe["profile"], plain_probe["profile"], rtol=1e-4)


def test_record_says_whether_compiled(make_config, tasks):
    from suite.health.probe import make_probe
    from suite.model.run_loop import train

    for setting in (True, False):
        cfg = make_config(cell="simple_rnn", steps=2, eval_every=2, probe_every=2, xla=setting)
        result = train(cfg, tasks["adding"], make_probe=make_probe)
        assert result["status"] == "ok"
        assert result["xla"]["setting"] is setting and result["xla"]["compiled"] is setting
        assert result["xla"]["op_determinism"] is (not setting)  # Keras drops XLA under it
        assert f"xla = {str(setting).lower()}" == result["xla"]["why"]


def test_auto_rule_and_axis_validation(make_config):
    from suite.api import SuiteError
    from suite.model.xla import AUTO_MAX_HIDDEN, use_xla

    assert make_config()["xla"] == "auto"
    for cell in ("lstm", "gru"):
        assert use_xla(make_config(cell=cell, hidden=32))[0] is True
        assert use_xla(make_config(cell=cell, hidden=AUTO_MAX_HIDDEN))[0] is True
        assert use_xla(make_config(cell=cell, hidden=AUTO_MAX_HIDDEN + 1))[0] is False
    compiled, why = use_xla(make_config(cell="simple_rnn", hidden=32))  # measured slower in the suite
    assert compiled is False and "simple_rnn" in why
    assert use_xla(make_config(cell="simple_rnn", hidden=32, xla=True))[0] is True
    assert use_xla(make_config(hidden=AUTO_MAX_HIDDEN + 1, xla=True)) == (True, "xla = true")
    assert use_xla(make_config(hidden=8, xla=False)) == (False, "xla = false")
    for bad in ("yes", 1, 0, "True"):
        with pytest.raises(SuiteError, match="'xla' must be true, false or \"auto\""):
            make_config(xla=bad)


def test_bad_xla_value_is_one_line_and_exit_2(tmp_path):
    proc = run_cli("--suite", "quick", "--set", "xla=maybe", "--dry-run", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "xla" in lines[0], lines
    assert not (tmp_path / "o").exists()


_TRAIN = """
import hashlib, json, sys
from suite.execution.worker import configure_threads
configure_threads(1)
from suite.axes import resolve
from suite.health.probe import make_probe
from suite.model.run_loop import train
from suite.registry import discover
tasks = discover(entry_points=False)
out = {}
for task, cell, bn in [("adding", "simple_rnn", "none"), ("adding", "lstm", "recurrent"),
                       ("adding", "gru", "input"), ("copy_memory", "lstm", "output")]:
    params = {"seq_len": 10} if task == "adding" else {"seq_len": 5}
    cfg = resolve(tasks[task], cell=cell, batchnorm=bn, hidden=8, steps=12, eval_every=6,
                  probe_every=6, batch_size=16, eval_size=32, global_clipnorm=1.0, xla=True,
                  task_params=params)
    r = train(cfg, tasks[task], make_probe=make_probe)
    assert r["xla"]["compiled"] and not r["xla"]["op_determinism"], r["xla"]
    blob = json.dumps({k: r[k] for k in ("curves", "evals", "probes")}, sort_keys=True)
    out[f"{task}/{cell}/{bn}"] = hashlib.sha256(blob.encode()).hexdigest()
print(json.dumps(out))
"""


@pytest.mark.slow
def test_two_fresh_processes_give_bit_identical_curves_with_xla():
    """Curves, evaluations and probes (profiles, Jacobians, Lyapunov numbers) hashed exactly."""
    hashes = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", _TRAIN], cwd=ROOT, capture_output=True,
                              text=True, timeout=900, env={**os.environ,
                                                           "PYTHONPATH": str(ROOT)})
        assert proc.returncode == 0, proc.stderr[-3000:]
        hashes.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert len(hashes[0]) == 4 and hashes[0] == hashes[1]


def test_dry_run_estimates_use_the_compiled_figures(make_config):
    from suite.execution.estimate import BUILTIN_BENCH, estimate_seconds

    def scaled(factor):  # the built-in figures with the compiled one at factor x the uncompiled
        return {cell: {h: (plain, factor * plain) for h, (plain, _) in sizes.items()}
                for cell, sizes in BUILTIN_BENCH.items()}

    for hidden in (16, 32, 100, 128):
        on, off = (make_config(hidden=hidden, steps=2000, xla=x) for x in (True, False))
        assert estimate_seconds(on, 100) < estimate_seconds(off, 100)  # measured faster everywhere
        # a compiled run follows the compiled figure, an uncompiled one the uncompiled figure
        assert estimate_seconds(on, 100, scaled(0.5)) < estimate_seconds(on, 100, scaled(1.0))
        assert estimate_seconds(off, 100, scaled(0.5)) == estimate_seconds(off, 100, scaled(1.0))
    auto_big = make_config(hidden=256, steps=2000)  # auto leaves it uncompiled
    assert estimate_seconds(auto_big, 100) == estimate_seconds({**auto_big, "xla": False}, 100)
