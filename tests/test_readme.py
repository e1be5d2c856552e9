"""The README's code examples run as written."""
from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import ROOT

README = (ROOT / "README.md").read_text()


def block_after(heading: str) -> str:
    section = README.split(heading, 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_own_model_example_runs(capsys):
    code = block_after("### Gradient health on your own model")
    scope: dict = {}
    exec(compile(code, "README-own-model", "exec"), scope)
    health = scope["health"]
    assert len(health.curves["grad_norm"]) == 32  # 2 epochs x 16 batches
    assert [p["step"] for p in health.probes] == [0, 20, 32]
    summary = health.summary()
    assert summary["diagnosis"] in ("healthy", "borderline", "vanishing", "exploding", "spiking")
    assert summary["horizon"] == 49 and summary["timeline"][0]["step"] == 0
    assert "jacobian_sigma_mean" in health.probes[-1] and "forget" in health.probes[-1]["saturation"]
    assert "clip rate" in capsys.readouterr().out


def test_plugin_example_satisfies_the_contract(tmp_path):
    from suite.registry import discover

    (tmp_path / "parity.py").write_text(block_after("### Writing a task plugin"))
    task = discover([tmp_path], entry_points=False)["parity"]
    p = dict(task.params)
    x, y = task.make_data("train", 64, 0, p)
    assert x.shape == (64, 20, 1) and set(np.unique(y)) <= {0, 1}
    assert task.chance_loss(p) == pytest.approx(np.log(2))
