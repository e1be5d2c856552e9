"""``run_suite.py verify DIR``: rerun stored runs and check that they are bit-identical."""
from __future__ import annotations

import argparse
from pathlib import Path

from suite.api import SuiteError
from suite.commands.base import add_tasks_path

NAME = "verify"
DESCRIPTION = ("Rerun stored runs in fresh workers and check that their curves are "
               "bit-identical; exit 1 if one differs.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``verify``'s arguments."""
    p.add_argument("dir", metavar="DIR", help="a suite output directory")
    p.add_argument("--sample", type=int, default=3, metavar="N", help="runs to rerun (default 3; 0: all)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="reruns at once, each with the threads its record stores "
                        "(default: one per core)")
    add_tasks_path(p, "default: the folders the result set was made with, from DIR/suite.json")


def validate(ns: argparse.Namespace) -> None:
    """``--sample`` >= 0, ``--workers`` >= 1."""
    if ns.sample < 0:
        raise SuiteError(f"verify: --sample must be >= 0, got {ns.sample}")
    if ns.workers is not None and ns.workers < 1:
        raise SuiteError(f"verify: --workers must be >= 1, got {ns.workers}")


def run(ns: argparse.Namespace) -> int:
    """Prints one line per rerun run; 0 if every checked run is identical, else 1."""
    from suite.execution.runner import default_workers
    from suite.tools.verify import verify

    same, total, lines = verify(Path(ns.dir), ns.sample,
                                [str(Path(p).resolve()) for p in ns.tasks_path],
                                ns.workers or default_workers())
    print("\n".join(lines))
    return 0 if same == total else 1
