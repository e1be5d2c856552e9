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
    add_tasks_path(p, "default: the folders the result set was made with, from DIR/suite.json")


def validate(ns: argparse.Namespace) -> None:
    """``--sample`` >= 0."""
    if ns.sample < 0:
        raise SuiteError(f"verify: --sample must be >= 0, got {ns.sample}")


def run(ns: argparse.Namespace) -> int:
    """Prints one line per rerun run; 0 if every checked run is identical, else 1."""
    from suite.tools.verify import verify

    same, total, lines = verify(Path(ns.dir), ns.sample,
                                [str(Path(p).resolve()) for p in ns.tasks_path])
    print("\n".join(lines))
    return 0 if same == total else 1
