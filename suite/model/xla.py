"""Whether a run compiles its training step, evaluation and probes with XLA (TF-free).

The run axis ``xla`` is ``"auto"`` (default), ``true`` or ``false``.
``true`` and ``false`` are obeyed; ``"auto"`` follows :func:`use_xla`'s rule,
drawn from the quick suite run both ways on one day, 2 workers on 2 cores
(docs/performance.md, "Compiled steps"):

* the gated cells (:data:`AUTO_CELLS`: LSTM, GRU) compile up to hidden
  :data:`AUTO_MAX_HIDDEN`: measured faster there (hidden 64: 0.54-0.75 of the
  uncompiled time per step, BatchNorm included; hidden 128: about even) and
  bit-reproducible across processes (``tests/test_xla.py``);
* SimpleRNN stays uncompiled: its compiled runs took 1.33x the wall time of the
  uncompiled ones in that suite run; alone, compiled was faster on the adding
  problem (0.87x) but slower on copy memory at hidden 128 (1.31x; char-LM in the
  suite: 1.16-1.47x per step), so it loses wherever a head scores every step;
* above hidden 128 nothing was measured, so the uncompiled step stays.

When XLA compiles, TensorFlow's op determinism is *off* (Keras drops
``jit_compile`` under it) and every other determinism measure stays (seeds,
thread pools, the process environment). This module never imports
TensorFlow, so ``--dry-run`` estimates use the same rule.
"""
from __future__ import annotations

from typing import Any, Mapping

#: ``xla = "auto"`` compiles runs whose hidden size is at most this ...
AUTO_MAX_HIDDEN = 128
#: ... and whose cell is one of these.
AUTO_CELLS = ("lstm", "gru")


def use_xla(config: Mapping[str, Any]) -> tuple[bool, str]:
    """``(compile with XLA, why)`` for a resolved run configuration.

    Args:
        config: The run configuration; ``xla`` missing counts as ``"auto"``.
    """
    setting = config.get("xla", "auto")
    if setting is True:
        return True, "xla = true"
    if setting is False:
        return False, "xla = false"
    if config["cell"] not in AUTO_CELLS:
        return False, f"auto: {config['cell']} compiled was measured slower in the quick suite's runs"
    if config["hidden"] > AUTO_MAX_HIDDEN:
        return False, f"auto: hidden {config['hidden']} > {AUTO_MAX_HIDDEN}, XLA gains nothing measured"
    return True, f"auto: {config['cell']}, hidden <= {AUTO_MAX_HIDDEN}: XLA measured faster and bit-reproducible"
