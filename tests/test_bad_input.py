"""One test per class of bad input (issue #6): exit 2, one line naming the file and key, no
traceback, no output directory. Corpus files and --only/--set keys are in test_cli.py."""
from __future__ import annotations

import pytest
from conftest import run_cli

STUDY = '[[study]]\nname = "s"\nquestion = "?"\ntasks = ["adding"]\n'

CASES = {
    "malformed TOML": ('name = "bad"\n[[study]\n', ["not valid TOML", "line 2"]),
    "unknown task": ('[[study]]\nname = "s"\nquestion = "?"\ntasks = ["no_such_task"]\n',
                     ["unknown task 'no_such_task'", "known tasks: adding, char_lm, copy_memory"]),
    "unknown axis": (STUDY + 'grid = { colour = ["red"] }\n', ["unknown key 'colour'", "allowed: steps"]),
    "unknown cell": (STUDY + 'grid = { cell = ["transformer"] }\n',
                     ["'cell' must be one of simple_rnn, lstm, gru", "'transformer'"]),
    "unknown initializer": (STUDY + 'grid = { recurrent_initializer = ["he_magic"] }\n',
                            ["'recurrent_initializer' must be a preset", "orthogonal[:GAIN]"]),
    "unknown BatchNorm mode": (STUDY + 'grid = { batchnorm = ["layer"] }\n',
                               ["'batchnorm' must be one of none, input, output, recurrent"]),
    "unknown optimizer": (STUDY + 'set = { optimizer = "lion" }\n',
                          ["'optimizer' must be one of adam, rmsprop, sgd", "'lion'"]),
    "wrong type": (STUDY + 'set = { steps = "ten" }\n', ["'steps' must be an integer", "'ten'"]),
    "wrong type of a float": (STUDY + 'set = { learning_rate = "fast" }\n', ["'learning_rate'", "'fast'"]),
    "steps <= 0": (STUDY + 'set = { steps = 0 }\n', ["'steps' must be an integer >= 1, got 0"]),
    "batch size <= 0": (STUDY + 'set = { batch_size = -4 }\n', ["'batch_size' must be an integer >= 1"]),
    "negative clip value": (STUDY + 'grid = { clipnorm = [1.0, -1.0] }\n',
                            ["'clipnorm' must be a finite number >= 0, got -1.0"]),
    "both clipnorm and global_clipnorm": (STUDY + 'set = { clipnorm = 1.0, global_clipnorm = 1.0 }\n',
                                          ["clipnorm", "global_clipnorm", "not both"]),
    "sequence too short": ('[tasks.adding]\nseq_len = 1\n' + STUDY, ["adding.seq_len must be", "got 1"]),
    "empty study grid": (STUDY + 'grid = { cell = [] }\n', ["'cell' must be a non-empty list"]),
    "empty seeds": ('seeds = []\n' + STUDY, ["seeds"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_suite_file(tmp_path, case):
    body, needles = CASES[case]
    suite = tmp_path / "bad.toml"
    suite.write_text('name = "bad"\n' + body if not body.startswith("name") else body)
    out = tmp_path / "out"
    proc = run_cli("--suite", str(suite), "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert str(suite) in lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr and not out.exists()


PLUGINS = {
    "fails to import": ("import no_such_module_xyz\n", ["broken_task", "no_such_module_xyz"]),
    "raises on import": ("raise RuntimeError('boom at import')\n", ["broken_task", "boom at import"]),
    "has no TASK": ("X = 1\n", ["broken_task", "TASK"]),
    "TASK misses the protocol": ("class T:\n    name = 'broken_task'\n    version = '1'\nTASK = T()\n",
                                 ["broken_task"]),
}


@pytest.mark.parametrize("case", list(PLUGINS))
def test_bad_plugin_via_tasks_path(tmp_path, case):
    body, needles = PLUGINS[case]
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "broken_task.py").write_text(body)
    out = tmp_path / "out"
    proc = run_cli("--tasks-path", str(plugins), "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr and not out.exists()
