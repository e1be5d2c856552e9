"""The command line is described once: the argparse parsers of suite/usage.py."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from suite import usage
from tests.conftest import ROOT


def _readme_synopsis() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Command line", 1)[1]
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
    for command, (description, _) in usage.COMMANDS.items():
        if command != "run":
            assert f"run_suite.py {command} " in help_text
            assert " ".join(description.split()[:4]) in " ".join(help_text.split())
