"""The one model builder: ``[one-hot] -> [BN] -> RNN x depth -> [BN] -> Dense head``.

Built from a resolved run configuration (:func:`suite.axes.resolve`) and a task's
:class:`~suite.api.InputSpec` and :class:`~suite.api.Head`, with the cells and
initializer presets of :mod:`suite.model.cells`. As in Keras, where
``keras.Model`` inherits its trainer, :class:`RNNModel` inherits the
gradient-instrumented ``train_step`` of :class:`suite.model.train_step.GradientNormsMixin`;
the training loop (:mod:`suite.model.run_loop`) sits above and is never imported here.
"""
from __future__ import annotations

from typing import Any, Mapping

import keras
from keras import layers, ops

from suite.api import Head, InputSpec
from suite.model.cells import GATES, LAYERS, BlockInitializer, BNCell, StepRNN, derive_seed
from suite.model.train_step import GradientNormsMixin


class RNNModel(GradientNormsMixin, keras.Model):
    """The suite's model. Layers: ``input_bn``, ``rnn_0..``, ``output_bn``, ``head``.

    The training step is :class:`~suite.model.train_step.GradientNormsMixin`'s
    (pre-clip gradient norms per layer group of :meth:`gradient_groups`).

    Args:
        config: Resolved run configuration (``cell``, ``hidden``, ``depth``,
            ``activation``, initializers, ``batchnorm``, ``bn_gamma``, ``seed``).
        inputs: The task's input description.
        head: The task's output head.
        max_steps: The longest training length T_max (the task's
            ``sequence_length``): rows of per-step statistics of recurrent
            BatchNorm, which needs it; default None.
    """

    def __init__(self, config: Mapping[str, Any], inputs: InputSpec, head: Head,
                 max_steps: int | None = None, **kw):
        super().__init__(**kw)
        self.config_ = dict(config)
        self.input_spec_, self.head_spec = inputs, head
        seed, cell, bn = config["seed"], config["cell"], config["batchnorm"]
        if bn in ("recurrent", "recurrent_sum") and not max_steps:
            raise ValueError("recurrent BatchNorm keeps statistics per time step and needs the "
                             "training length: pass max_steps (the task's sequence_length)")
        self.input_bn = layers.BatchNormalization(name="input_bn") if bn == "input" else None
        self.rnns = []
        for i in range(config["depth"]):
            k_init = BlockInitializer(config["kernel_initializer"], derive_seed(seed, f"rnn_{i}", "kernel"),
                                      GATES[cell], recurrent=False)
            r_init = BlockInitializer(config["recurrent_initializer"],
                                      derive_seed(seed, f"rnn_{i}", "recurrent"), GATES[cell])
            seq = i < config["depth"] - 1 or head.per_step
            if bn in ("recurrent", "recurrent_sum"):
                rnn = StepRNN(BNCell(cell, config["hidden"], config["activation"], k_init, r_init,
                                     gamma=config["bn_gamma"], steps=max_steps,
                                     placement="sum" if bn == "recurrent_sum" else "separate"),
                              return_sequences=seq, name=f"rnn_{i}")
            else:
                extra = {"activation": config["activation"]} if cell == "simple_rnn" else {}
                rnn = LAYERS[cell](config["hidden"], kernel_initializer=k_init,
                                   recurrent_initializer=r_init, return_sequences=seq,
                                   name=f"rnn_{i}", **extra)
            self.rnns.append(rnn)
        self.output_bn = layers.BatchNormalization(name="output_bn") if bn == "output" else None
        self.head = layers.Dense(head.units, name="head", kernel_initializer=keras.initializers.GlorotUniform(
            seed=derive_seed(seed, "head")))

    def embed(self, x, training=False):
        """Input encoding (one-hot for token tasks) and the optional input BN."""
        if self.input_spec_.vocab is not None:
            x = ops.one_hot(ops.cast(x, "int32"), self.input_spec_.vocab)
        if self.input_bn is not None:
            x = self.input_bn(x, training=training)
        return x

    def readout(self, h, training=False):
        """The optional output BN and the head."""
        if self.output_bn is not None:
            h = self.output_bn(h, training=training)
        return self.head(h)

    def call(self, x, training=False):
        z = self.embed(x, training=training)
        for rnn in self.rnns:
            z = rnn(z, training=training)
        return self.readout(z, training=training)

    def gradient_groups(self) -> dict[str, Any]:
        """Named layers whose gradient norms are logged, in order."""
        groups = {}
        if self.input_bn is not None:
            groups["input_bn"] = self.input_bn
        for rnn in self.rnns:
            groups[rnn.name] = rnn
        if self.output_bn is not None:
            groups["output_bn"] = self.output_bn
        groups["head"] = self.head
        return groups


def build_model(config: Mapping[str, Any], inputs: InputSpec, head: Head,
                max_steps: int | None = None) -> RNNModel:
    """Builds (and calls once, so all variables exist) the model for a run.

    Args:
        config: Resolved run configuration (see :func:`suite.axes.resolve`).
        inputs: Task input description.
        head: Task output head.
        max_steps: The longest training length (the task's ``sequence_length``);
            required for ``batchnorm = "recurrent"``, else unused. Default None.
    """
    model = RNNModel(config, inputs, head, max_steps)
    shape = (1, 2) if inputs.vocab is not None else (1, 2, inputs.features)
    model(ops.zeros(shape, dtype="int32" if inputs.vocab is not None else "float32"))
    return model
