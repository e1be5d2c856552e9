"""rnn-gradient-suite: vanishing and exploding gradients of recurrent networks, measured.

Layers, top to bottom (each imports only from the layers below it; enforced by
import-linter, see ``pyproject.toml`` and ``docs/architecture.md``):

* :mod:`suite.cli`, :mod:`suite.usage`, :mod:`suite.commands`: the command line.
* :mod:`suite.tools`: ``bench``, ``verify`` and synthetic result sets.
* :mod:`suite.execution` (runs: local runner, worker process, Ray executor,
  estimates), :mod:`suite.report` (aggregate tables, figures, HTML, compare,
  TensorBoard export) and :mod:`suite.instruments` (the stable public path of
  the instruments for your own models).
* :mod:`suite.health`: probes of the gradient through time, Jacobian products
  and Lyapunov exponents, and the pure-NumPy diagnosis.
* :mod:`suite.model`: cells, model builder, trainer (``train_step``), losses,
  and the training loop of one run.
* TF-free core: :mod:`suite.claims`, :mod:`suite.registry` (task discovery),
  :mod:`suite.preflight` (a suite's tasks checked on a small sample before any
  run), :mod:`suite.suite_file`, :mod:`suite.claim_spec` and :mod:`suite.axes`
  (suite files, their claims, the run axes), :mod:`suite.store` (the run-record
  schema and store), :mod:`suite.runs` (run selection, labels, the summary row),
  and at the bottom :mod:`suite.api` (the task protocol), :mod:`suite.env` and
  :mod:`suite.ids`.
"""

__version__ = "0.3.0"
# Bumped by the rule in CHANGELOG.md: minor for any change of the record schema or the task
# protocol (suite.api), patch otherwise; stored in every record as env.suite_version.
