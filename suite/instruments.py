"""Gradient-health instruments for your own Keras models (the stable public import path).

``from suite.instruments import Instrumented, GradientHealth`` keeps working
whatever the package layout; the code lives in :mod:`suite.model.train_step`
(the instrumented ``train_step``), :mod:`suite.health.views` (how a layer is
cut out of a model) and :mod:`suite.health.callback` (the callback). See
docs/own-model.md.
"""
from suite.health.callback import GradientHealth
from suite.health.views import RecurrentView, cell_kind, check_probeable, view_of
from suite.model.train_step import GradientNormsMixin, Instrumented, append_step_logs, clip_settings

__all__ = ["GradientHealth", "GradientNormsMixin", "Instrumented", "RecurrentView",
           "append_step_logs", "cell_kind", "check_probeable", "clip_settings", "view_of"]
