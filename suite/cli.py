"""Command line: the dispatcher of ``run_suite.py`` and the installed ``rnn-suite``.

The first argument names a command of :mod:`suite.commands` (default: ``run``).
Its arguments are parsed and validated (:func:`parse`) before its body runs,
so that a bad argument is refused before any file is read or written. User
mistakes (a bad suite file, an unknown key, a broken plugin) print one line
``error: ...`` and exit with status 2; so does an OSError (a full disk, a read-only
file system, a path under a file, a name too long), naming the file.
"""
from __future__ import annotations

import argparse
import os
import sys

from suite import usage
from suite.api import SuiteError
from suite.commands.base import prog


def parse(command: str, argv: list[str], prog_name: str | None = None) -> argparse.Namespace:
    """Parses and validates one command's arguments; reads and writes nothing.

    Args:
        command: A key of :data:`suite.usage.COMMANDS`.
        argv: The arguments after the command name.
        prog_name: The program name in usage; default: :func:`suite.commands.base.prog`.

    Raises:
        SuiteError: for an argument the command refuses (argparse's own errors exit 2).
    """
    ns = usage.parser(command, prog_name or prog()).parse_args(argv)
    usage.COMMANDS[command].validate(ns)
    return ns


def os_error(err: OSError) -> str:
    """``FILE: why`` of an OSError from the file system (ENOSPC, EROFS, ENOTDIR, ENAMETOOLONG)."""
    why = err.strerror or str(err)
    if err.filename is None:
        return why
    name = os.fsdecode(err.filename)
    return f"{name if len(name) <= 300 else name[:300] + '...'}: {why}"


def main(argv: list[str] | None = None) -> int:
    """Entry point (``run_suite.py`` and the installed ``rnn-suite``); returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # as run_suite.py: before TF is imported
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in usage.COMMANDS and argv[0] != "run" else "run"
    try:
        ns = parse(command, argv)  # argparse's --help and usage errors exit here, as they should
        try:
            return usage.COMMANDS[command].run(ns)
        except SystemExit as err:  # sys.exit() inside a plugin's method is its fault
            raise SuiteError(f"sys.exit({err.code!r}) was called while '{command}' ran; a task "
                             f"plugin must raise an exception instead (its traceback names it)") from None
    except SuiteError as err:
        print("error: " + " ".join(str(err).splitlines()), file=sys.stderr)
        return 2
    except OSError as err:  # a full disk, a read-only file system, a path under a file ...
        print("error: " + " ".join(os_error(err).splitlines()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
