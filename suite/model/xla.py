"""Whether a run compiles its training step, evaluation and probes with XLA (TF-free).

The run axis ``xla`` is ``"auto"`` (default), ``true`` or ``false``.
``true`` and ``false`` are obeyed; ``"auto"`` follows :func:`use_xla`'s rule,
drawn from ``bench`` figures (docs/performance.md, "Compiled steps"):

* XLA on CPU only where it was measured faster and bit-reproducible across
  processes (``tests/test_xla.py``), i.e. every cell and BatchNorm placement
  at hidden sizes up to :data:`AUTO_MAX_HIDDEN`;
* above that the compiled step gains nothing measurable on this machine, so
  the uncompiled step (with TensorFlow's op determinism) stays.

When XLA compiles, TensorFlow's op determinism is *off* (Keras drops
``jit_compile`` under it) and every other determinism measure stays (seeds,
thread pools, the process environment). This module never imports
TensorFlow, so ``--dry-run`` estimates use the same rule.
"""
from __future__ import annotations

from typing import Any, Mapping

#: ``xla = "auto"`` compiles runs whose hidden size is at most this.
AUTO_MAX_HIDDEN = 128


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
    if config["hidden"] > AUTO_MAX_HIDDEN:
        return False, f"auto: hidden {config['hidden']} > {AUTO_MAX_HIDDEN}, XLA gains nothing measured"
    return True, f"auto: hidden <= {AUTO_MAX_HIDDEN}, XLA measured faster and bit-reproducible"
