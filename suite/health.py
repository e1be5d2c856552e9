"""Gradient-health probes: the temporal gradient profile, its rate and reach, and a diagnosis.

**Temporal profile.** ``||dL/dh_k||`` for every step k of the top recurrent
layer: the *total* derivative through the recurrence. The layer's cell is
wrapped in :class:`ProbeCell`, which adds a zero "probe" tensor to every new
state; the gradient of the loss with respect to the probe at step k is exactly
dL/dh_k. Norms are taken per example in float64 (float32 squares below ~1e-19
flush to zero) and averaged over a fixed probe batch (32 training examples
drawn from a seed derived from the run seed). The probe runs in inference mode
(``training=False``) so it never touches BatchNorm statistics.

The loss of the profile is the loss at the *last scored position*: the task
loss for last-step tasks (adding), the loss of the last time step for
per-step tasks (copy memory: the last copied symbol, whose input lies
``seq_len + 10`` steps back; char_lm: the last character of the window). The
distance of step k is ``d = T - 1 - k`` (0 for the last step).

For the LSTM the profile is the h-state one; ``profile_c`` holds
``||dL/dc_k||`` for an additive perturbation of the cell state c_k *after*
h_k was computed from it, i.e. the part of the gradient that travels through
the carry alone.

Every :data:`TRAJECTORY_EVERY`-th probe and the last one also carry the
kernel spectra, and the step-Jacobian spectra and gate saturation of
:mod:`suite.dynamics` (the expensive part, kept off the other probes).

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
#: Kernel spectra, step Jacobians and saturation run on every n-th probe and at the end.
TRAJECTORY_EVERY = 5


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


def _state_sizes(cell) -> list[int]:
    size = cell.state_size
    return [size] if isinstance(size, int) else list(size)


def _probe_cell_class():
    import keras

    class ProbeCell(keras.layers.Layer):
        """Wraps a built cell; input is ``concat([x_t, probe_t])`` and ``probe_t`` is
        added to every new state, so d loss / d probe_t = d loss / d state_t."""

        def __init__(self, cell, **kw):
            super().__init__(**kw)
            self.cell = cell
            self.state_size = cell.state_size
            self.output_size = cell.output_size
            self.sizes = _state_sizes(cell)

        def build(self, input_shape):
            self.features = input_shape[-1] - sum(self.sizes)

        def call(self, inputs, states, training=False):
            x = inputs[:, :self.features]
            offsets = np.cumsum([self.features] + self.sizes).tolist()
            probes = [inputs[:, a:b] for a, b in zip(offsets[:-1], offsets[1:])]
            _, new = self.cell(x, states, training=training)
            new = list(new) if isinstance(new, (list, tuple)) else [new]
            new = [s + p for s, p in zip(new, probes)]
            return new[0], new

    return ProbeCell


class Probe:
    """Gradient-health probe of one recurrent layer on a fixed batch; call it with the step.

    Args:
        view: The probed layer in its model (:class:`suite.instruments.RecurrentView`;
            a suite :class:`~suite.models.RNNModel` is accepted and viewed at its top layer).
        x, y: The fixed probe batch.
    """

    def __init__(self, view, x, y):
        import keras
        import tensorflow as tf

        from suite.dynamics import TrajectoryProbe
        from suite.models import GATES

        if not hasattr(view, "pre"):
            view = suite_view(view)
        self.view = view
        self.cell = view.cell
        self.units = view.units
        self.blocks = GATES[view.kind]
        self.sizes = _state_sizes(self.cell)
        self.rnn = keras.layers.RNN(_probe_cell_class()(self.cell),
                                    return_sequences=view.layer.return_sequences)
        self.x = tf.constant(x)
        self.y = tf.constant(y)
        self.records: list[dict[str, Any]] = []

        def profile(x, y):
            z = view.pre(x)
            shape = tf.concat([tf.shape(z)[:2], [sum(self.sizes)]], 0)
            probe = tf.zeros(shape, z.dtype)
            with tf.GradientTape() as tape:
                tape.watch(probe)
                out = view.post(self.rnn(tf.concat([z, probe], -1), training=False))
                if view.per_step:
                    out, y = out[:, -1], y[:, -1]
                loss = tf.reduce_mean(view.loss(y, out))
            g = tf.cast(tape.gradient(loss, probe), tf.float64)
            u = self.units
            h = tf.reduce_mean(tf.norm(g[..., :u], axis=-1), 0)
            c = tf.reduce_mean(tf.norm(g[..., u:], axis=-1), 0) if len(self.sizes) > 1 else h[:0]
            return loss, h, c

        self._profile = tf.function(profile)
        self.trajectory = TrajectoryProbe(view, x)

    def __call__(self, step: int, trajectory: bool | None = None) -> None:
        """Records a probe at ``step``; the trajectory probe (Jacobians, saturation) runs
        on every :data:`TRAJECTORY_EVERY`-th call unless ``trajectory`` says otherwise."""
        if trajectory is None:
            trajectory = len(self.records) % TRAJECTORY_EVERY == 0
        loss, h, c = self._profile(self.x, self.y)
        by_distance = h.numpy()[::-1]
        rec: dict[str, Any] = {
            "step": int(step), "loss": float(loss),
            "profile": [float(v) for v in by_distance],
            "rho": fit_rate(by_distance), "reach": reach(by_distance),
        }
        if c.shape[0]:
            rec["profile_c"] = [float(v) for v in c.numpy()[::-1]]
        if trajectory:
            rec.update(self._spectra())
        self.records.append(rec)

    def _spectra(self) -> dict[str, Any]:
        return {"kernel": spectral_numbers(self.cell.recurrent_kernel.numpy(), self.blocks),
                **self.trajectory()}

    def finish(self, step: int) -> None:
        """Makes sure the last record is at ``step`` and has the trajectory numbers."""
        last = self.records[-1] if self.records else None
        if last is None or last["step"] != step:
            self(step, trajectory=True)
        elif "jacobian_sigma_mean" not in last:
            last.update(self._spectra())

    def results(self) -> list[dict[str, Any]]:
        return self.records


def suite_view(model):
    """The :class:`~suite.instruments.RecurrentView` of a suite model's top recurrent layer."""
    from suite.instruments import RecurrentView
    from suite.training import keras_loss

    def pre(x):
        z = model.embed(x, training=False)
        for rnn in model.rnns[:-1]:
            z = rnn(z, training=False)
        return z

    return RecurrentView(pre, model.rnns[-1], lambda h: model.readout(h, training=False),
                         keras_loss(model.head_spec.loss), model.head_spec.per_step)


def make_probe(model, x, y) -> Probe:
    """Factory used by :func:`suite.training.train`."""
    return Probe(suite_view(model), x, y)


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
