"""``run_suite.py update DIR``: rewrite a result set's older-schema files in the current schema."""
from __future__ import annotations

import argparse
from pathlib import Path

from suite.commands.base import print_warnings

NAME = "update"
DESCRIPTION = ("Rewrite DIR's run records and suite.json of an older schema version in the "
               "current one (reading migrates them anyway; this makes the files current).")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``update``'s arguments."""
    p.add_argument("dir", metavar="DIR", help="a suite output directory")


def validate(ns: argparse.Namespace) -> None:
    """Nothing to check beyond argparse's."""


def run(ns: argparse.Namespace) -> int:
    """Rewrites the older files under the directory's lock; prints what it did."""
    from suite.execution.runner import DirectoryLock
    from suite.store.io import load_manifest
    from suite.store.update import update

    out = Path(ns.dir)
    load_manifest(out)  # a missing or unreadable manifest: one line, before the lock file is made
    with DirectoryLock(out):
        done = update(out)
    print_warnings(done.skipped)
    print(f"{out}: {len(done.rewritten)} file(s) rewritten in the current schema, "
          f"{len(done.current)} already current, {len(done.skipped)} left alone")
    return 0
