"""rnn-gradient-suite: vanishing and exploding gradients of recurrent networks, measured.

Modules: :mod:`suite.api` (task protocol), :mod:`suite.registry` (discovery),
:mod:`suite.config` (suite files), :mod:`suite.models` (model builder),
:mod:`suite.training` (instrumented training), :mod:`suite.worker` (one run in
a fresh process), :mod:`suite.runner` (parallel local runs), :mod:`suite.results`
(record store), :mod:`suite.report` (HTML report), :mod:`suite.cli` (commands).
"""

__version__ = "0.1.0"

#: Version of the run-record and manifest format written to results directories.
SCHEMA_VERSION = 1
