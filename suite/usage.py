"""Every command's arguments and help: the one place the command line is described.

:func:`parser` builds the ``argparse`` parser of a command; ``run_suite.py
--help`` lists every command from these parsers, and README's "Command line"
synopsis is :func:`synopsis` (a test keeps the two equal). Commands are run
by :mod:`suite.cli` (and the tools it hands them to) with the parsed arguments.
"""
from __future__ import annotations

import argparse
import functools
import shutil
import textwrap
from pathlib import Path
from typing import Callable

#: Program name in the synopsis (a command line to type in a checkout).
PROG = "python3 run_suite.py"
#: Line width of the synopsis (fixed, so that it does not depend on the terminal).
WIDTH = 96
#: ``compare``'s default relative change of a final loss that counts as changed.
TOLERANCE = 0.05

EXAMPLES = """\
examples:
  run_suite.py                                   # the quick suite -> reports/quick/
  run_suite.py --only task=adding,cell=gru       # a subset of its runs
  run_suite.py --set steps=200 --out /tmp/q      # shorter runs, elsewhere
  run_suite.py --suite full --dry-run            # list the runs and a time estimate

Keys for --only: study, task, seed, any run axis, TASK.PARAM (e.g. adding.seq_len).
Keys for --set: any run axis or TASK.PARAM; --set replaces [defaults] and each study's
'set', but not the values a study's grid varies. Rerunning skips finished runs.
"""


def _tasks_path(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--tasks-path", action="append", default=[], metavar="DIR",
                   help=f"folder of task plugin modules (repeatable); {what}")


def _run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--suite", default="quick", metavar="NAME|PATH", help="suite name in suites/ or a TOML path "
                   "(default: quick)")
    p.add_argument("--out", metavar="DIR", help="output directory (default: reports/<suite name>)")
    p.add_argument("--only", action="append", default=[], metavar="KEY=VALUE,...",
                   help="keep only runs matching every KEY=VALUE")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a default for every run (repeatable)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="parallel worker processes (default: one per CPU core)")
    _tasks_path(p, "added to tasks/ and installed plugins")
    p.add_argument("--dry-run", action="store_true", help="list the runs with estimated times")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local worker processes (default) or Ray tasks (pip install -r "
                        "requirements-ray.txt)")
    p.add_argument("--address", metavar="ADDR", help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray)")
    p.add_argument("--ray-cpus", type=float, default=1.0, metavar="N",
                   help="CPUs per run under Ray, also its TF threads (default 1)")
    p.add_argument("--ray-gpus", type=float, default=0.0, metavar="N",
                   help="GPUs per run under Ray (default 0)")
    p.add_argument("--ray-retries", type=int, default=None, metavar="N",
                   help="under Ray, retries of a run whose worker or node died (default 2)")
    p.add_argument("--no-ship-code", action="store_true",
                   help="under Ray, do not upload this checkout as the working_dir (use when the "
                        "suite is on every node; the default for an installed suite)")


def _report(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="a suite output directory")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write each run's scalars as TensorBoard event files to DIR/tensorboard")
    p.add_argument("--threshold", type=float, default=None, metavar="F",
                   help="steps-to-threshold level as a fraction of the chance loss (default 0.1)")


def _compare(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir_a", type=Path, metavar="DIR_A", help="the reference result directory")
    p.add_argument("dir_b", type=Path, metavar="DIR_B", help="the result directory to compare with it")
    p.add_argument("--out", type=Path, metavar="FILE", help="output page (default: DIR_B/compare.html)")
    p.add_argument("--tolerance", type=float, default=TOLERANCE, metavar="F",
                   help="relative change of the final loss that counts as changed (default 0.05)")


def _check(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="a suite output directory")
    p.add_argument("--strict", action="store_true", help="an inconclusive claim fails too")


def _tasks(p: argparse.ArgumentParser) -> None:
    _tasks_path(p, "its tasks are listed too")


def _verify(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR", help="a suite output directory")
    p.add_argument("--sample", type=int, default=3, metavar="N", help="runs to rerun (default 3; 0: all)")
    _tasks_path(p, "default: the folders the result set was made with, from DIR/suite.json")


def _bench(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--cell", default="lstm", choices=["simple_rnn", "lstm", "gru", "all"],
                   help="the cell to time (default lstm)")
    p.add_argument("--hidden", type=int, default=128, metavar="N", help="units (default 128)")
    p.add_argument("--batch", type=int, default=64, metavar="N", help="batch size (default 64)")
    p.add_argument("--seq-len", type=int, default=100, metavar="T", help="sequence length (default 100)")
    p.add_argument("--steps", type=int, default=500, metavar="N", help="timed steps (default 500)")
    p.add_argument("--probe-every", type=int, default=100, metavar="N", help="probe cadence (default 100)")
    p.add_argument("--threads", type=int, default=0, metavar="N", help="TF threads (default: TF's choice)")
    p.add_argument("--report-records", type=int, nargs="+", metavar="N",
                   help="instead: time `report` on N synthetic run records (e.g. 1000 10000)")
    p.add_argument("--suite", metavar="NAME|PATH", help="instead: runs per hour of this suite's first --runs runs with "
                   "each of --workers-list")
    p.add_argument("--runs", type=int, default=4, metavar="N", help="runs for --suite (default 4)")
    p.add_argument("--workers-list", type=int, nargs="+", default=None, metavar="N",
                   help="worker counts for --suite (default: 1 and one per core)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override for --suite runs, e.g. steps=300")


#: Command -> (description, arguments), in the order of ``--help`` and the synopsis.
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "run": ("Train SimpleRNN/LSTM/GRU grids on long-range tasks, measure gradient health, and "
            "write an HTML report.", _run),
    "report": ("Rebuild DIR/index.html, the run pages, summary.csv and claims.json from stored "
               "results (no training, no TensorFlow).", _report),
    "check": ("Check the suite file's claims against stored results: one line per claim; exit 1 "
              "if one fails (--strict: or is inconclusive).", _check),
    "compare": ("A page of what changed between two result sets of the same runs (different code "
                "or library versions).", _compare),
    "verify": ("Rerun stored runs in fresh workers and check that their curves are "
               "bit-identical; exit 1 if one differs.", _verify),
    "tasks": ("List the discovered tasks: parameters, chance levels, where each comes from, and "
              "the pre-flight check at their defaults.", _tasks),
    "bench": ("ms/step of plain Keras, the instrumented step and the probes; or runs per hour of "
              "a suite (--suite), or the report's time on synthetic records (--report-records).",
              _bench),
}


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
    description, add_arguments = COMMANDS[command]
    name = prog if command == "run" else f"{prog} {command}"
    p = argparse.ArgumentParser(
        prog=name, description=description,
        epilog=_command_list(prog, width) + "\n" + EXAMPLES if command == "run" else None,
        formatter_class=functools.partial(argparse.RawDescriptionHelpFormatter, width=width))
    add_arguments(p)
    return p


def _command_list(prog: str, width: int | None) -> str:
    """The other commands, with their usage and description (for ``--help``)."""
    lines = ["other commands (each has --help):"]
    for command, (description, _) in COMMANDS.items():
        if command != "run":
            lines.append("  " + _usage(command, prog, width).replace("\n", "\n  "))
            lines += textwrap.wrap(description, (width or shutil.get_terminal_size().columns) - 2,
                                   initial_indent=" " * 6, subsequent_indent=" " * 6,
                                   break_on_hyphens=False)
    return "\n".join(lines) + "\n"


def _usage(command: str, prog: str, width: int | None) -> str:
    """One command's usage lines, without the ``usage: `` prefix."""
    description, add_arguments = COMMANDS[command]
    p = argparse.ArgumentParser(
        prog=prog if command == "run" else f"{prog} {command}", add_help=False,
        formatter_class=functools.partial(argparse.HelpFormatter, width=width))
    add_arguments(p)
    text = p.format_usage().removeprefix("usage: ").rstrip("\n")
    return "\n".join(line[len("usage: "):] if line.startswith(" " * 7) else line
                     for line in text.splitlines())


def synopsis(prog: str = PROG, width: int = WIDTH) -> str:
    """Every command's usage, one after another: README's "Command line" block.

    Args:
        prog: Default :data:`PROG`.
        width: Default :data:`WIDTH`.
    """
    return "\n".join(_usage(command, prog, width) for command in COMMANDS)
