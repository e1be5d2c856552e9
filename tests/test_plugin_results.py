"""A result set made with ``--tasks-path`` plugins (issue #13): stored errors are plain text, a
worker killed by a signal says which, and ``report`` and ``verify`` find the plugins without the
flag -- or say in one line where a task came from when it is gone."""
from __future__ import annotations

import csv
import json
import shutil

import pytest
from conftest import parity_plugin, run_cli

from suite.execution.runner import _failed_record
from suite.execution.spec import describe_error, plain_text

IN_WORKER = '''import os, signal, sys

def in_worker():  # the pre-flight calls make_data in the suite process, a run in a worker
    return getattr(sys.modules["__main__"].__spec__, "name", "") == "suite.execution.worker"
'''


def parity(name: str, fault: str) -> str:
    """The test plugin whose training data, in a worker, first runs ``fault``."""
    return parity_plugin(name, prelude=IN_WORKER,
                         hook=f'        if in_worker() and split == "train":\n            {fault}')
FAULTS = {
    "parity": "pass",
    "colourful": r'raise ValueError("layer \x1b[1m\'rnn_0\'\x1b[0m: \x1b[31mexpected ndim=3\x1b[0m")',
    "killed": "os.kill(os.getpid(), signal.SIGKILL)",
}
SUITE = '''
name = "plugins"
[defaults]
steps = 4
eval_every = 2
probe_every = 2
hidden = 4
batch_size = 8
eval_size = 16
[[study]]
name = "s"
question = "do plugin runs keep plain errors and their origins?"
tasks = ["parity", "colourful", "killed"]
grid = { cell = ["gru"] }
'''
ESC = "\x1b"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """(output dir, plugin folder) of one tiny suite of the three plugins (3 runs)."""
    tmp = tmp_path_factory.mktemp("plugin-results")
    plugins = tmp / "plugins"
    plugins.mkdir()
    for name, fault in FAULTS.items():
        (plugins / f"{name}.py").write_text(parity(name, fault))
    (tmp / "s.toml").write_text(SUITE)
    out = tmp / "out"
    proc = run_cli("--suite", str(tmp / "s.toml"), "--tasks-path", str(plugins), "--out", str(out),
                   "--workers", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, plugins


def _records(out):
    return {r["task"]: r for r in (json.loads(p.read_text()) for p in (out / "runs").glob("*.json"))}


def test_stored_errors_are_plain_text_and_a_signal_is_named(made):
    out, _ = made
    recs = _records(out)
    assert recs["parity"]["status"] == "ok"
    colourful, killed = recs["colourful"], recs["killed"]
    assert colourful["error"] == "ValueError: layer 'rnn_0': expected ndim=3"
    assert ESC not in colourful.get("traceback", "")
    assert killed["error"].startswith("worker killed by SIGKILL without writing a record")
    assert "oneDNN" not in killed["error"] and "absl" not in killed["error"]
    with open(out / "summary.csv", newline="") as fh:
        errors = [row.get("error", "") for row in csv.DictReader(fh)]
    assert "ValueError: layer 'rnn_0': expected ndim=3" in errors
    assert ESC not in (out / "summary.csv").read_text() and ESC not in (out / "index.html").read_text()


def test_the_manifest_remembers_where_each_task_came_from(made):
    out, plugins = made
    origins = json.loads((out / "suite.json").read_text())["task_origins"]
    assert origins["parity"] == {"kind": "folder", "file": str(plugins / "parity.py"),
                                 "folder": str(plugins)}
    assert set(origins) == set(FAULTS)


def test_report_and_verify_need_no_tasks_path(made, tmp_path):
    out, plugins = made
    report = run_cli("report", str(out), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    verify = run_cli("verify", str(out), "--sample", "1", cwd=tmp_path)
    # the plugin was found and the run trained again (bit-identity itself is test_runner's)
    assert verify.returncode in (0, 1) and not verify.stderr, verify.stdout + verify.stderr
    lines = verify.stdout.strip().splitlines()
    assert lines[-1] in ("0/1 identical", "1/1 identical") and "rerun None" not in verify.stdout
    moved = plugins.with_name("moved")
    shutil.move(plugins, moved)
    try:
        gone = run_cli("verify", str(out), "--sample", "1", cwd=tmp_path)
    finally:
        shutil.move(moved, plugins)
    lines = gone.stderr.strip().splitlines()
    assert gone.returncode == 2 and len(lines) == 1 and "Traceback" not in gone.stderr
    assert lines[0] == (f"error: verify: {out}: task 'parity' is not available here: it came from "
                        f"{plugins / 'parity.py'} in the --tasks-path folder {plugins}, which does not "
                        f"exist here; pass --tasks-path DIR with the folder that has it")


def test_colour_codes_are_stripped_from_errors():
    coloured = "Input 0 of layer \x1b[1m'rnn_0'\x1b[0m: \x1b[38;5;196mexpected\x1b[0m ndim=3 \x1b]8;;u\x07x\x1b]8;;\x07"
    assert plain_text(coloured) == "Input 0 of layer 'rnn_0': expected ndim=3 x"
    assert describe_error(ValueError(coloured)) == "ValueError: Input 0 of layer 'rnn_0': expected ndim=3 x"


def test_a_killed_workers_error_names_the_signal_without_tensorflows_start_up_lines(tmp_path):
    log = tmp_path / "run.log"
    log.write_text(
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1795522659.219093   27711 port.cc:153] oneDNN custom operations are on.\n"
        "I0000 00:00:1795522659.219453   27711 cudart_stub.cc:31] Could not find cuda drivers\n")
    cfg = {"task": "adding", "seed": 0, "task_params": {}}
    rec = _failed_record("abc", cfg, -9, log, "2026-01-01T00:00:00+00:00")
    assert rec["error"] == "worker killed by SIGKILL without writing a record (log: run.log)"
    log.write_text(log.read_text() + "\x1b[31mSegmentation fault\x1b[0m\n")
    rec = _failed_record("abc", cfg, -11, log, "2026-01-01T00:00:00+00:00")
    assert rec["error"] == "worker killed by SIGSEGV without writing a record: Segmentation fault"
    assert _failed_record("abc", cfg, 3, log, "x")["error"].startswith("worker exited with code 3 ")
