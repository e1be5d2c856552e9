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
from suite.model.train_step import Instrumented

#: Element-wise Keras activations whose saturation the probes measure (by their derivative).
ELEMENTWISE_ACTIVATIONS = (
    "tanh", "sigmoid", "relu", "linear", "hard_sigmoid", "hard_tanh", "hard_silu", "hard_swish",
    "elu", "selu", "celu", "gelu", "silu", "swish", "mish", "softplus", "softsign", "relu6",
    "leaky_relu", "log_sigmoid", "exponential", "tanh_shrink", "soft_shrink", "hard_shrink",
    "squareplus", "sparse_plus",
)


def activation_name(fn) -> str:
    """The name of a Keras activation function (``tanh``), or of any callable."""
    return getattr(fn, "__name__", type(fn).__name__)


def cell_activations(cell) -> dict[str, str]:
    """``{"activation": name, "recurrent_activation": name}`` of a cell (the latter for gated
    cells only)."""
    out = {"activation": activation_name(getattr(cell, "activation", None) or keras.activations.tanh)}
    if cell_kind(cell) != "simple_rnn":
        rec = getattr(cell, "recurrent_activation", None) or keras.activations.sigmoid
        out["recurrent_activation"] = activation_name(rec)
    return out


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
    """One recurrent layer of a model, runnable in isolation.

    Attributes:
        pre: ``(x, training=False) -> inputs of the layer`` (everything before it).
        layer: The Keras RNN layer (``SimpleRNN``, ``LSTM``, ``GRU`` or ``RNN(cell)``).
        post: ``(layer outputs, training=False) -> model predictions`` (everything after it).
        loss: ``(y_true, y_pred) -> losses`` (reduced by mean).
        per_step: Whether predictions are per time step (the profile then uses
            the last step's loss).
        model: The whole model (default None): the probes look in it for
            BatchNorm layers, whose moving statistics they save and restore.
        time_reversed: Whether ``pre`` ends by reversing the time axis (default
            False). :func:`view_of` sets it for a ``go_backwards`` layer, which
            is then run forwards on the reversed sequence (what Keras does):
            step k of the profile is the k-th step the layer *processes*
            (input position T - 1 - k) and the distance d = T - 1 - k counts
            processed steps back from the last one (which reads input position 0).
    """

    pre: Callable
    layer: Any
    post: Callable
    loss: Callable
    per_step: bool
    model: Any = None
    time_reversed: bool = False

    @property
    def cell(self):
        return self.layer.cell

    @property
    def kind(self) -> str:
        return cell_kind(self.layer.cell)

    @property
    def activation(self) -> str:
        """The name of the cell's (candidate/output) activation, e.g. ``tanh``."""
        return cell_activations(self.layer.cell)["activation"]

    @property
    def units(self) -> int:
        return int(self.layer.cell.units)


def check_probeable(layer) -> None:
    """Raises ValueError for a recurrent layer the probes cannot rebuild faithfully.

    Refused: a layer that is not a ``keras.layers.RNN`` (e.g. ``Bidirectional``),
    a cell other than SimpleRNN/LSTM/GRU, a cell whose ``activation`` or
    ``recurrent_activation`` is not one of :data:`ELEMENTWISE_ACTIVATIONS` (its
    saturation would be undefined, e.g. softmax, or unknown, e.g. a lambda),
    ``return_state=True`` and ``stateful=True`` layers, and a layer
    that receives a mask (from ``Masking``, ``Embedding(mask_zero=True)`` or an
    explicit ``mask=``): the probes would measure a different network.
    ``go_backwards`` is supported (see :class:`RecurrentView`).
    """
    name = getattr(layer, "name", type(layer).__name__)
    if not isinstance(layer, keras.layers.RNN):
        raise ValueError(f"gradient-health probes need a Keras RNN layer (SimpleRNN, LSTM, GRU "
                         f"or RNN(cell)), not {type(layer).__name__} (layer {name!r})")
    for role, act in cell_activations(layer.cell).items():
        if act not in ELEMENTWISE_ACTIVATIONS:
            raise ValueError(f"gradient-health probes measure saturation for Keras' element-wise "
                             f"activations ({', '.join(ELEMENTWISE_ACTIVATIONS)}), not {role}="
                             f"{act!r} (layer {name!r})")
    for option in ("return_state", "stateful"):
        if getattr(layer, option, False):
            raise ValueError(f"gradient-health probes do not support {option}=True "
                             f"(layer {name!r})")
    for node in getattr(layer, "_inbound_nodes", []):
        kwargs = getattr(getattr(node, "arguments", None), "kwargs", {}) or {}
        if kwargs.get("mask") is not None:
            raise ValueError(f"gradient-health probes do not support masking: layer {name!r} "
                             f"receives a mask (Masking, Embedding(mask_zero=True) or mask=); "
                             f"probe a copy of the model without the mask")


def _time_order(view: RecurrentView) -> RecurrentView:
    """The view of a ``go_backwards`` layer: its input reversed in time, run forwards."""
    if not getattr(view.layer, "go_backwards", False):
        return view
    pre = view.pre

    def reversed_pre(x, training=False):
        return keras.ops.flip(pre(x, training=training), axis=1)

    return dataclasses.replace(view, pre=reversed_pre, time_reversed=True)


def view_of(model: keras.Model, layer, loss: str | Callable,
            per_step: bool | None = None) -> RecurrentView:
    """Builds a :class:`RecurrentView` of ``layer`` inside a Sequential or functional model.

    Args:
        model: The (built) model containing ``layer``; an :class:`Instrumented`
            wrapper is unwrapped.
        layer: The recurrent layer to probe (called once in the model).
        loss: A Keras loss name or callable ``(y_true, y_pred)``.
        per_step: Whether the model predicts per step; default: ``layer.return_sequences``.

    Raises:
        ValueError: for a layer :func:`check_probeable` refuses (``return_state``,
            ``stateful``, masking).
    """
    if isinstance(model, Instrumented):
        model = model.inner
    check_probeable(layer)
    loss_fn = keras.losses.get(loss) if isinstance(loss, str) else loss
    if per_step is None:
        per_step = bool(layer.return_sequences)
    if isinstance(model, keras.Sequential):
        layers = list(model.layers)
        idx = layers.index(layer)

        def pre(x, training=False):
            for lay in layers[:idx]:
                x = lay(x, training=training)
            return x

        def post(h, training=False):
            for lay in layers[idx + 1:]:
                h = lay(h, training=training)
            return h

        return _time_order(RecurrentView(pre, layer, post, loss_fn, per_step, model))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = keras.Model(model.inputs, layer.input)
        after = keras.Model(layer.output, model.outputs[0] if len(model.outputs) == 1 else model.outputs)
    return _time_order(RecurrentView(
        lambda x, training=False: before(x, training=training), layer,
        lambda h, training=False: after(h, training=training), loss_fn, per_step, model))


def suite_view(model):
    """The :class:`~suite.instruments.RecurrentView` of a suite model's top recurrent layer."""
    def pre(x, training=False):
        z = model.embed(x, training=training)
        for rnn in model.rnns[:-1]:
            z = rnn(z, training=training)
        return z

    return RecurrentView(pre, model.rnns[-1],
                         lambda h, training=False: model.readout(h, training=training),
                         keras_loss(model.head_spec.loss), model.head_spec.per_step, model)
