"""``--help`` and the documented synopsis, built from the command modules' parsers.

Each command's arguments live in its module of :mod:`suite.commands`;
:func:`parser` builds the ``argparse`` parser of one, ``run_suite.py --help``
lists every command from these parsers, and the "Command line" synopsis of the
documentation is :func:`synopsis` (a test keeps the two equal).
"""
from __future__ import annotations

import argparse
import functools
import shutil
import textwrap

from suite.commands import bench, check, compare, report, run, tasks, update, verify
from suite.commands.base import Command

#: Program name in the synopsis (a command line to type in a checkout).
PROG = "python3 run_suite.py"
#: Line width of the synopsis (fixed, so that it does not depend on the terminal).
WIDTH = 96

#: Command name -> its module, in the order of ``--help`` and the synopsis.
COMMANDS: dict[str, Command] = {
    m.NAME: m for m in (run, report, check, compare, verify, tasks, bench, update)}


def parser(command: str, prog: str = "run_suite.py", width: int | None = None,
           ) -> argparse.ArgumentParser:
    """The parser of one command.

    Args:
        command: A key of :data:`COMMANDS` (``run`` is the default command).
        prog: The program name shown in usage. Default ``run_suite.py``.
        width: Help width; default None: the terminal's.

    Returns:
        The parser; ``run``'s help lists every other command.
    """
    module = COMMANDS[command]
    name = prog if command == "run" else f"{prog} {command}"
    p = argparse.ArgumentParser(
        prog=name, description=module.DESCRIPTION,
        epilog=_command_list(prog, width) + "\n" + run.EXAMPLES if command == "run" else None,
        formatter_class=functools.partial(argparse.RawDescriptionHelpFormatter, width=width))
    module.add_arguments(p)
    return p


def _command_list(prog: str, width: int | None) -> str:
    """The other commands, with their usage and description (for ``--help``)."""
    lines = ["other commands (each has --help):"]
    for command, module in COMMANDS.items():
        if command != "run":
            lines.append("  " + _usage(command, prog, width).replace("\n", "\n  "))
            lines += textwrap.wrap(module.DESCRIPTION,
                                   (width or shutil.get_terminal_size().columns) - 2,
                                   initial_indent=" " * 6, subsequent_indent=" " * 6,
                                   break_on_hyphens=False)
    return "\n".join(lines) + "\n"


def _usage(command: str, prog: str, width: int | None) -> str:
    """One command's usage lines, without the ``usage: `` prefix."""
    p = argparse.ArgumentParser(
        prog=prog if command == "run" else f"{prog} {command}", add_help=False,
        formatter_class=functools.partial(argparse.HelpFormatter, width=width))
    COMMANDS[command].add_arguments(p)
    text = p.format_usage().removeprefix("usage: ").rstrip("\n")
    return "\n".join(line[len("usage: "):] if line.startswith(" " * 7) else line
                     for line in text.splitlines())


def synopsis(prog: str = PROG, width: int = WIDTH) -> str:
    """Every command's usage, one after another: the documentation's "Command line" block.

    Args:
        prog: Default :data:`PROG`.
        width: Default :data:`WIDTH`.
    """
    return "\n".join(_usage(command, prog, width) for command in COMMANDS)
