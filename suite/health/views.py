"""How to run one recurrent layer of a model in isolation, for the probes.

:class:`RecurrentView` holds the part of a model before the layer, the layer,
the part after it and the loss; :func:`view_of` builds it for a Sequential or
functional Keras model, :func:`suite_view` for the suite's own model.
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Callable

import keras

from suite.model.cells import BNCell
from suite.model.losses import keras_loss
from suite.model.trainer import Instrumented


def cell_kind(cell) -> str:
    """``simple_rnn``, ``lstm`` or ``gru`` for a Keras cell (or the suite's BNCell)."""
    if isinstance(cell, BNCell):
        return cell.kind
    for kind, cls in (("lstm", keras.layers.LSTMCell), ("gru", keras.layers.GRUCell),
                      ("simple_rnn", keras.layers.SimpleRNNCell)):
        if isinstance(cell, cls):
            return kind
    raise ValueError(f"gradient-health probes support SimpleRNN, LSTM and GRU cells, "
                     f"not {type(cell).__name__}")


@dataclasses.dataclass
class RecurrentView:
    """One recurrent layer of a model, runnable in isolation (inference mode).

    Attributes:
        pre: ``x -> inputs of the layer`` (everything before it).
        layer: The Keras RNN layer (``SimpleRNN``, ``LSTM``, ``GRU`` or ``RNN(cell)``).
        post: ``layer outputs -> model predictions`` (everything after it).
        loss: ``(y_true, y_pred) -> losses`` (reduced by mean).
        per_step: Whether predictions are per time step (the profile then uses
            the last step's loss).
    """

    pre: Callable
    layer: Any
    post: Callable
    loss: Callable
    per_step: bool

    @property
    def cell(self):
        return self.layer.cell

    @property
    def kind(self) -> str:
        return cell_kind(self.layer.cell)

    @property
    def activation(self) -> str:
        act = getattr(self.layer.cell, "activation", None)
        return getattr(act, "__name__", "tanh") if self.kind == "simple_rnn" else "tanh"

    @property
    def units(self) -> int:
        return int(self.layer.cell.units)


def view_of(model: keras.Model, layer, loss: str | Callable,
            per_step: bool | None = None) -> RecurrentView:
    """Builds a :class:`RecurrentView` of ``layer`` inside a Sequential or functional model.

    Args:
        model: The (built) model containing ``layer``; an :class:`Instrumented`
            wrapper is unwrapped.
        layer: The recurrent layer to probe (called once in the model).
        loss: A Keras loss name or callable ``(y_true, y_pred)``.
        per_step: Whether the model predicts per step; default: ``layer.return_sequences``.
    """
    if isinstance(model, Instrumented):
        model = model.inner
    loss_fn = keras.losses.get(loss) if isinstance(loss, str) else loss
    if per_step is None:
        per_step = bool(layer.return_sequences)
    if isinstance(model, keras.Sequential):
        layers = list(model.layers)
        idx = layers.index(layer)

        def pre(x):
            for lay in layers[:idx]:
                x = lay(x, training=False)
            return x

        def post(h):
            for lay in layers[idx + 1:]:
                h = lay(h, training=False)
            return h

        return RecurrentView(pre, layer, post, loss_fn, per_step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = keras.Model(model.inputs, layer.input)
        after = keras.Model(layer.output, model.outputs[0] if len(model.outputs) == 1 else model.outputs)
    return RecurrentView(lambda x: before(x, training=False), layer,
                         lambda h: after(h, training=False), loss_fn, per_step)


def suite_view(model):
    """The :class:`~suite.instruments.RecurrentView` of a suite model's top recurrent layer."""
    def pre(x):
        z = model.embed(x, training=False)
        for rnn in model.rnns[:-1]:
            z = rnn(z, training=False)
        return z

    return RecurrentView(pre, model.rnns[-1], lambda h: model.readout(h, training=False),
                         keras_loss(model.head_spec.loss), model.head_spec.per_step)
