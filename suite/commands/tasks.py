"""``run_suite.py tasks``: the discovered tasks, their parameters, chance levels and origins."""
from __future__ import annotations

import argparse
import sys

from suite.commands.base import add_tasks_path

NAME = "tasks"
DESCRIPTION = ("List the discovered tasks: parameters, chance levels, where each comes from, and "
               "the pre-flight check at their defaults.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``tasks``'s arguments."""
    add_tasks_path(p, "its tasks are listed too")


def validate(ns: argparse.Namespace) -> None:
    """Nothing to check beyond argparse's."""


def run(ns: argparse.Namespace) -> int:
    """A paragraph per task, with the pre-flight check of its data at its defaults."""
    from suite.api import SuiteError
    from suite.preflight import Fault, check_task_data
    from suite.registry import load_plugins

    for name, plugin in load_plugins(ns.tasks_path).items():
        task = plugin.task
        params = dict(task.params)
        try:
            task.validate(params)
            check_task_data(task, params)  # the pre-flight check of a suite, at the defaults
            chance, check = f"{task.chance_loss(params):.4g}", "ok"
        except (SuiteError, Fault) as err:
            chance, check = "unavailable", f"FAILED: {err}"
        doc = (sys.modules[type(task).__module__].__doc__ or type(task).__doc__ or "").strip()
        print(f"{name} (version {task.version}) from {plugin.origin.describe()}")
        print(f"  parameters: {', '.join(f'{k}={v!r}' for k, v in params.items())}")
        print(f"  chance loss at defaults: {chance}; headline metric: {task.primary_metric} "
              f"({'higher' if task.higher_is_better else 'lower'} is better)")
        print(f"  pre-flight check at defaults: {check}")
        if doc:
            print(f"  {doc.splitlines()[0]}")
    return 0
