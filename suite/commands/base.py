"""What every command module provides, and the helpers their parsers share."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Protocol


class Command(Protocol):
    """A command module (:mod:`suite.commands`): its name, help, parser, checks and body."""

    #: The command's name on the command line (``run`` is the default command).
    NAME: str
    #: One paragraph of ``--help``, also listed under the main ``--help``.
    DESCRIPTION: str

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        """Adds the command's arguments (with their help) to ``p``."""

    def validate(self, ns: argparse.Namespace) -> None:
        """Checks the parsed arguments without reading or writing a file.

        Raises:
            suite.api.SuiteError: naming the argument for any problem.
        """

    def run(self, ns: argparse.Namespace) -> int:
        """Runs the command with validated arguments; returns the exit status."""


def prog() -> str:
    """The program name in usage: ``rnn-suite`` when installed, else ``run_suite.py``."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name == "rnn-suite" else "run_suite.py"


def add_tasks_path(p: argparse.ArgumentParser, what: str) -> None:
    """``--tasks-path DIR`` (repeatable); ``what`` ends its help."""
    p.add_argument("--tasks-path", action="append", default=[], metavar="DIR",
                   help=f"folder of task plugin modules (repeatable); {what}")


def print_warnings(warnings: list[str]) -> None:
    """Prints the store's warnings (skipped files) to stderr, one ``warning:`` line each."""
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
