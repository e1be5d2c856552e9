"""The command line is described once: the argparse parsers of the modules of suite/commands."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from suite import usage
from tests.conftest import ROOT


def _readme_synopsis() -> str:  # the synopsis in docs/cli.md ("Command line")
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text.split("# Command line", 1)[1]
    return re.search(r"```\n(.*?)```", section, re.S).group(1).rstrip("\n")


def test_the_readme_synopsis_is_the_parsers_usage():
    assert _readme_synopsis() == usage.synopsis()


def test_the_synopsis_names_every_command_and_option():
    text = usage.synopsis()
    for command in usage.COMMANDS:
        if command != "run":
            assert f"{usage.PROG} {command} " in text + " "
    for option in ("--tasks-path", "--dry-run", "--strict", "--tolerance", "--report-records"):
        assert option in text


@pytest.mark.parametrize("command", [c for c in usage.COMMANDS if c != "run"])
def test_each_command_help_comes_from_its_parser(command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # the same help width in both processes
    proc = subprocess.run([sys.executable, str(ROOT / "run_suite.py"), command, "--help"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == usage.parser(command).format_help()


def test_the_main_help_lists_every_other_command():
    help_text = usage.parser("run", width=100).format_help()
    for command, module in usage.COMMANDS.items():
        if command != "run":
            assert f"run_suite.py {command} " in help_text
            assert " ".join(module.DESCRIPTION.split()[:4]) in " ".join(help_text.split())


def test_each_command_module_owns_its_parser_and_name():
    """One module per command under suite/commands, each named after its command."""
    for command, module in usage.COMMANDS.items():
        assert module.__name__ == f"suite.commands.{command}"
        p = usage.parser(command)
        assert p.description == module.DESCRIPTION


def test_compare_help_states_the_library_default_tolerance():
    from suite.commands import compare as command
    from suite.report.compare import TOLERANCE

    assert float(command.TOLERANCE_HELP) == TOLERANCE
    assert f"(default {TOLERANCE:g})" in usage.parser("compare").format_help()


def test_help_loads_neither_matplotlib_nor_tensorflow():
    """--help and argument errors stay fast: command modules defer their heavy imports."""
    code = ("import sys; from suite import cli, usage; usage.synopsis(); "
            "[usage.parser(c).format_help() for c in usage.COMMANDS]; "
            "print(sorted(m for m in ('matplotlib', 'tensorflow', 'pandas') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
