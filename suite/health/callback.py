"""Gradient-health instruments for any Keras RNN model, inside or outside a suite.

Three pieces (all importable from :mod:`suite.instruments`, the stable public path):

* :class:`~suite.model.train_step.GradientNormsMixin`: a ``train_step`` that logs,
  every step, Keras' own logs (loss, compiled metrics; sample weights honoured)
  plus the batch loss, the global gradient norm *before clipping*, the norm per
  layer and whether the optimizer's ``clipnorm`` / ``global_clipnorm`` /
  ``clipvalue`` changed the gradients. The suite's own model inherits it;
  :class:`~suite.model.train_step.Instrumented` wraps any Keras model with it.
* :class:`~suite.health.views.RecurrentView`: how to run one recurrent layer
  of a model in isolation, which the probes of :mod:`suite.health.probe` and
  :mod:`suite.health.dynamics` need; :func:`~suite.health.views.view_of`
  builds it for a Sequential or functional model (``go_backwards`` honoured;
  masking, ``return_state`` and ``stateful`` refused with a ValueError).
* :class:`GradientHealth` (here): a callback that records the per-step numbers
  and runs the probes (temporal profile, rho, reach, spectra, saturation)
  every ``every`` steps, with :meth:`GradientHealth.summary` for the diagnosis
  by the same function, with the same rules, as the suite's runs
  (:func:`suite.health.diagnosis.summarise`).

Example (docs/own-model.md)::

    model = Instrumented(my_keras_model)
    model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=1.0), loss="mse")
    health = GradientHealth(layer=my_lstm_layer, x=x[:32], y=y[:32], loss="mse", every=100)
    model.fit(x, y, batch_size=64, callbacks=[health])
    print(health.summary())
"""
from __future__ import annotations

import math
from typing import Any, Callable

import keras

from suite.health.diagnosis import summarise
from suite.health.probe import Probe
from suite.health.views import view_of
from suite.model.train_step import append_step_logs, clip_settings


class GradientHealth(keras.callbacks.Callback):
    """Records per-step gradient numbers and runs gradient-health probes during ``fit``.

    Use with a model whose ``train_step`` logs gradient norms (:class:`Instrumented`
    or the suite's model); with any other model only the probes run.

    Args:
        layer: The recurrent layer to probe.
        x, y: A fixed probe batch (e.g. 32 training examples).
        loss: Loss name or callable for the profile.
        every: Probe cadence in optimizer steps (default 100; also at the start and end).
        per_step: See :func:`view_of`.
        horizon: The dependency horizon of the task in steps, if it has one
            (default None: none known; see docs/gradient-health.md), for
            :meth:`summary`.

    Attributes:
        curves: Per-step lists: ``loss`` (the batch loss), ``grad_norm``, ``gn/<layer>``,
            ``clipped``, and the running values of the compiled metrics; for a model that
            is not :class:`Instrumented`, ``mean_loss`` (Keras' running mean) instead.
        probes: One dict per probe (``step``, ``profile``, ``rho``, ``reach``,
            ``kernel``, and on some probes ``jacobian_sigma_*`` and ``saturation``).
    """

    def __init__(self, layer, x, y, loss: str | Callable, every: int = 100,
                 per_step: bool | None = None, horizon: int | None = None):
        super().__init__()
        self.layer, self.x, self.y, self.loss = layer, x, y, loss
        self.every, self.per_step, self.horizon = every, per_step, horizon
        self.curves: dict[str, list[float]] = {}
        self._probe = None
        self._step = 0

    @property
    def probes(self) -> list[dict[str, Any]]:
        return self._probe.results() if self._probe is not None else []

    def on_train_begin(self, logs=None):
        if self._probe is None:
            self._probe = Probe(view_of(self.model, self.layer, self.loss, self.per_step),
                                self.x, self.y)
            self._probe(0)

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        append_step_logs(self.curves, logs)
        if logs and "batch_loss" not in logs and "loss" in logs:
            # a plain model logs only Keras' running mean, which turns non-finite at the
            # first non-finite batch loss and stays so: enough to date a divergence
            self.curves.setdefault("mean_loss", []).append(float(logs["loss"]))
        if self.every and self._step % self.every == 0:
            self._probe(self._step)

    def on_train_end(self, logs=None):
        self._probe.finish(self._step)

    def result(self) -> dict[str, Any]:
        """This run as a training result of :func:`suite.model.run_loop.train` would give it.

        ``status`` is ``diverged`` at the first step whose loss or gradient norm
        is not finite (user models have no chance loss, so the suite's loss
        bound is not applied; a model that is not :class:`Instrumented` is
        judged by Keras' running-mean loss), else ``ok``; ``curves`` holds
        ``loss``, ``grad_norm`` and ``clipped`` where logged, ``probes`` the probes.
        """
        curves = {k: list(self.curves[k]) for k in ("loss", "grad_norm", "clipped")
                  if k in self.curves}
        watched = [curves.get("loss", []), curves.get("grad_norm", []),
                   self.curves.get("mean_loss", [])]
        bad = next((i + 1 for i in range(max(map(len, watched)))
                    if not all(math.isfinite(c[i]) for c in watched if i < len(c))), None)
        return {"status": "diverged" if bad else "ok", "diverged_step": bad,
                "error": f"non-finite loss or gradient at step {bad}" if bad else None,
                "curves": curves, "probes": self.probes, "steps_done": self._step,
                "clip": clip_settings(self.model.optimizer) if self.model is not None else {},
                "horizon": self.horizon}

    def summary(self) -> dict[str, Any]:
        """The numbers and the diagnosis of this run, by the rules of suite runs.

        :func:`suite.health.diagnosis.summarise` of :meth:`result` with this
        callback's ``horizon`` and the optimizer's clip settings: the function
        a suite run's worker calls, so the same rules apply (reach against the
        horizon, growth over it, spikes after the warm-up, the timeline).

        Returns:
            The summary numbers (``rho``, ``reach``, ``growth``, ``spikes``,
            ``spike_rate``, spread quantiles, spectra, saturation, ``diagnosis``,
            ...) plus ``reason``, ``trajectory`` (the timeline in words),
            ``timeline`` (``[{"step", "label"}]``) and ``spike_steps``.
        """
        result = self.result()
        out = summarise(result, horizon=self.horizon, clip=result["clip"])
        return {**out["summary"], "reason": out["reason"], "trajectory": out["trajectory"],
                "timeline": out["timeline"], "spike_steps": out["spike_steps"]}
