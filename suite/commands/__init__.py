"""The commands of ``run_suite.py`` / ``rnn-suite``, one module each.

Every command module provides the same five names (:class:`suite.commands.base.Command`):
``NAME``, ``DESCRIPTION``, ``add_arguments(parser)`` (its arguments and help),
``validate(ns)`` (every check of the arguments alone: no file is read or
written) and ``run(ns)`` (the body; returns the exit status). :mod:`suite.cli`
parses and validates before it runs, so a bad argument never leaves a file
behind; :mod:`suite.usage` builds ``--help`` and the documented synopsis from
the same parsers. Command modules import their heavy dependencies (matplotlib,
TensorFlow, Ray) inside ``run``, so that ``--help`` and argument errors stay fast.
"""
