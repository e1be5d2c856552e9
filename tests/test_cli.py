"""User mistakes: one line, exit status 2, no traceback, nothing written."""
from __future__ import annotations

import json

import pytest
from conftest import DATA, run_cli

TINY = str(DATA / "tiny.toml")


@pytest.mark.parametrize("args, needle", [
    (["--suite", "no_such_suite"], "suite 'no_such_suite' not found"),
    (["--suite", TINY, "--set", "colour=red"], "--set: unknown key 'colour'"),
    (["--suite", TINY, "--set", "steps=0"], "'steps' must be an integer >= 1, got 0"),
    (["--suite", TINY, "--only", "cell=lstm"], "no run of suite 'tiny' matches"),
    (["--suite", TINY, "--only", "colour=red"], "--only: unknown key 'colour'"),
    (["--suite", TINY, "--workers", "0"], "--workers must be >= 1"),
    (["--suite", TINY, "--set", "clipnorm=1.0", "--set", "global_clipnorm=1.0"], "not both"),
    (["--suite", TINY, "--tasks-path", "/no/such/dir"], "is not a directory"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, needle):
    out = tmp_path / "out"
    proc = run_cli(*args, "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("content, needle", [
    (b"", "is empty"),
    (b"abc\x00def" * 10, "looks binary"),
    (b"caf\xe9 latin-1 text" * 10, "is not UTF-8"),
])
def test_bad_corpus_files(tmp_path, content, needle):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(content)
    suite = tmp_path / "s.toml"
    suite.write_text(f'name = "c"\n[tasks.char_lm]\ncorpus = "{corpus}"\n'
                     '[[study]]\nname = "s"\nquestion = "?"\ntasks = ["char_lm"]\n')
    out = tmp_path / "out"
    proc = run_cli("--suite", str(suite), "--out", str(out))
    assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr
    assert str(corpus) in proc.stderr
    assert not out.exists()


def test_missing_corpus_file(tmp_path):
    out = tmp_path / "out"
    suite = tmp_path / "s.toml"
    suite.write_text('name = "c"\n[tasks.char_lm]\ncorpus = "/no/such/corpus.txt"\n'
                     '[[study]]\nname = "s"\nquestion = "?"\ntasks = ["char_lm"]\n')
    proc = run_cli("--suite", str(suite), "--out", str(out))
    assert proc.returncode == 2 and "cannot read '/no/such/corpus.txt'" in proc.stderr
    assert not out.exists()


def test_tasks_command_lists_chance_levels():
    proc = run_cli("tasks")
    assert proc.returncode == 0
    assert "adding (version 1)" in proc.stdout and "0.1667" in proc.stdout
    assert "copy_memory" in proc.stdout and "char_lm" in proc.stdout


def test_dry_run_lists_runs_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("--dry-run", "--out", str(out))
    assert proc.returncode == 0
    assert "runs; about" in proc.stdout and "adding T=100 simple_rnn seed=0" in proc.stdout
    # T is the task's sequence_length: quick's copy memory (delay 30) unrolls 30 + 20 steps
    assert "copy_memory T=50 lstm" in proc.stdout
    assert not out.exists()


def test_help_explains_commands():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for word in ("run_suite.py report [", "run_suite.py tasks", "--only", "--set", "--workers",
                 "--tasks-path", "--dry-run", "check [--strict] DIR", "compare", "verify", "bench"):
        assert word in proc.stdout


def test_full_suite_dry_run_gives_count_and_cpu_hours(tmp_path):
    proc = run_cli("--suite", "full", "--dry-run", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("3045 runs; about ") and "CPU-hours" in last and "bench figures" in last
    assert not (tmp_path / "out").exists()


def test_estimates_follow_the_stored_bench_figures(tmp_path):
    from suite.execution.estimate import BUILTIN_BENCH, estimate_seconds, reference_ms, save_bench

    cfg = {"cell": "lstm", "task": "adding", "task_params": {"seq_len": 100}, "batch_size": 64,
           "hidden": 128, "depth": 1, "batchnorm": "none", "steps": 1000, "eval_every": 100,
           "probe_every": 100, "xla": False}
    path = tmp_path / "bench.json"
    assert reference_ms(path)[0] == BUILTIN_BENCH  # no file: the built-in figures
    plain, compiled = BUILTIN_BENCH["lstm"][128]
    save_bench([{"cell": "lstm", "hidden": 128, "probed_ms": 2 * plain, "probed_xla_ms": 3 * compiled}],
               path)
    ref, source = reference_ms(path)
    assert ref["lstm"][128] == (2 * plain, 3 * compiled) and str(path) in source
    assert ref["gru"] == BUILTIN_BENCH["gru"]  # a cell the file lacks keeps the built-in figures
    assert estimate_seconds(cfg, 100, ref) > 1.8 * estimate_seconds(cfg, 100) - 20
    on = dict(cfg, xla=True)  # a compiled run takes the compiled figure
    assert estimate_seconds(on, 100, ref) > 2.7 * estimate_seconds(on, 100) - 30
    assert estimate_seconds(cfg, 400, ref) > 3 * estimate_seconds(cfg, 100, ref) - 30
    # a file of an earlier version (uncompiled figures at hidden 128 only) still serves
    path.write_text(json.dumps({"lstm": {"cell": "lstm", "probed_ms": 2 * plain}}))
    ref, _ = reference_ms(path)
    assert ref["lstm"][128] == pytest.approx((2 * plain, 2 * compiled))
    assert ref["lstm"][32] == BUILTIN_BENCH["lstm"][32]


def test_estimates_take_the_length_and_widths_not_the_task():
    from suite.api import Widths
    from suite.execution.estimate import REFERENCE_LENGTH, REFERENCE_WIDTHS, estimate_seconds

    cfg = {"cell": "gru", "task": "copy_memory", "task_params": {"seq_len": 100}, "batch_size": 64,
           "hidden": 128, "depth": 1, "batchnorm": "none", "steps": 1000, "eval_every": 100,
           "probe_every": 100}
    other = dict(cfg, task="adding", task_params={})
    assert estimate_seconds(cfg, 120) == estimate_seconds(other, 120) > estimate_seconds(cfg, 100)
    assert estimate_seconds(cfg, None) == estimate_seconds(other, REFERENCE_LENGTH)
    assert estimate_seconds(cfg, 100, widths=REFERENCE_WIDTHS) == estimate_seconds(cfg, 100)
    # wider inputs and a head at every step cost more (char-LM: 161 one-hot inputs and classes)
    copy, char = Widths(10, 10, True), Widths(161, 161, True)
    assert (estimate_seconds(cfg, 100) < estimate_seconds(cfg, 100, widths=copy)
            < estimate_seconds(cfg, 100, widths=char))


def test_the_suite_carries_each_runs_widths(tasks):
    from suite.api import Widths
    from suite.suite_file import load_suite

    suite = load_suite("quick", tasks)
    widths = {suite.runs[rid]["task"]: w for rid, w in suite.widths.items()}
    assert set(suite.widths) == set(suite.runs)
    assert widths["adding"] == Widths(2, 1, False) and widths["copy_memory"] == Widths(10, 10, True)
    assert widths["char_lm"].per_step and widths["char_lm"].inputs == widths["char_lm"].outputs > 26


def test_labels_show_the_length_given():
    from suite.runs import title

    cfg = {"task": "copy_memory", "task_params": {"seq_len": 10}, "cell": "lstm",
           "activation": "tanh", "recurrent_initializer": "default", "batchnorm": "none",
           "clipnorm": 0.0, "global_clipnorm": 1.0, "seed": 2}
    assert title(cfg, 30) == "copy_memory T=30 lstm global_clipnorm=1 seed=2"
    assert title(cfg) == "copy_memory lstm global_clipnorm=1 seed=2"  # unknown length: no T
    # a varied task parameter is named, the length it sets is not named twice
    assert title(cfg, 30, ["copy_memory.seq_len", "cell"]) == "copy_memory T=30 lstm global_clipnorm=1 seed=2"
    assert title(cfg, None, ["copy_memory.seq_len", "adding.seq_len"]) == (
        "copy_memory lstm global_clipnorm=1 copy_memory.seq_len=10 seed=2")


@pytest.mark.parametrize("name", ["quick", "literature", "full"])
def test_dry_run_titles_tell_every_run_of_a_suite_apart(tasks, name):
    """E.g. the chaos study's runs with and without input (impulse.drive), the quick suite's
    LSTM of the cells study and of the BatchNorm study (batchnorm=none)."""
    from suite.suite_file import load_suite

    suite = load_suite(name, tasks)
    titles = [suite.title(rid) for rid in suite.runs]
    assert len(set(titles)) == len(titles)


def test_runs_that_differ_only_in_a_fixed_setting_are_told_apart(tasks, tmp_path):
    from suite.suite_file import load_suite

    path = tmp_path / "two.toml"
    path.write_text('name = "two"\n[[study]]\nname = "a"\ntasks = ["adding"]\nset = { steps = 5 }\n'
                    '[[study]]\nname = "b"\ntasks = ["adding"]\nset = { steps = 7 }\n')
    suite = load_suite(str(path), tasks)
    assert sorted(suite.titles.values()) == ["adding T=100 lstm seed=0 (steps=5)",
                                             "adding T=100 lstm seed=0 (steps=7)"]


# Arguments are validated before any file is read or written (suite/cli.py: parse, then run).
@pytest.mark.parametrize("argv, needle", [
    (["report", "{out}", "--threshold", "2"], "--threshold must be in (0, 1]"),
    (["report", "{out}", "--threshold", "0"], "--threshold must be in (0, 1]"),
    (["compare", "{out}", "{out}", "--tolerance", "-1"], "--tolerance must be >= 0"),
    (["compare", "{out}", "{out}", "--tolerance", "nan"], "--tolerance must be >= 0"),
    (["verify", "{out}", "--sample", "-1"], "--sample must be >= 0"),
    (["verify", "{out}", "--workers", "0"], "--workers must be >= 1"),
    (["--only", "study=a,study=b", "--dry-run"], "'study' given twice"),
    (["--set", "steps=5", "--set", "steps=6", "--dry-run"], "'steps' given twice"),
    (["--workers", "0", "--out", "{out}"], "--workers must be >= 1"),
    (["--executor", "ray", "--ray-cpus", "0", "--out", "{out}"], "--ray-cpus must be > 0"),
    (["--set", "steps", "--out", "{out}"], "--set: expected KEY=VALUE"),
])
def test_bad_arguments_leave_the_directory_untouched(tmp_path, capsys, argv, needle):
    import shutil

    from suite import cli

    out = tmp_path / "results"
    shutil.copytree(DATA / "example_results", out)
    before = sorted((p.relative_to(out), p.stat().st_mtime_ns) for p in out.rglob("*"))
    assert cli.main([a.format(out=out) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0]
    assert sorted((p.relative_to(out), p.stat().st_mtime_ns) for p in out.rglob("*")) == before


@pytest.mark.parametrize("command, argv", [
    ("run", ["--set", "steps=5", "--only", "cell=gru", "--workers", "2"]), ("report", ["D"]),
    ("check", ["D", "--strict"]), ("compare", ["A", "B", "--tolerance", "0.1"]),
    ("verify", ["D", "--sample", "0"]), ("tasks", []), ("bench", ["--json"]), ("update", ["D"]),
])
def test_every_command_validates_without_touching_the_file_system(command, argv, monkeypatch):
    """cli.parse (parser, then the command's validate) opens and lists nothing."""
    import builtins
    import os

    from suite import cli, usage

    assert set(usage.COMMANDS) == {"run", "report", "check", "compare", "verify", "tasks", "bench",
                                   "update"}
    for module, name in [(builtins, "open"), (os, "open"), (os, "scandir"), (os, "listdir")]:
        monkeypatch.setattr(module, name, lambda *a, _n=name, **k: pytest.fail(f"{_n}{a[:1]}"))
    cli.parse(command, argv)


def test_parse_refuses_before_the_body_runs(tmp_path, monkeypatch):
    """A refused argument never reaches the command's body."""
    from suite import cli
    from suite.api import SuiteError
    from suite.commands import report

    monkeypatch.setattr(report, "run", lambda ns: pytest.fail("the body ran"))
    with pytest.raises(SuiteError, match="--threshold"):
        cli.parse("report", [str(tmp_path), "--threshold", "1.5"])
    assert cli.main(["report", str(tmp_path), "--threshold", "1.5"]) == 2
    ns = cli.parse("report", [str(tmp_path), "--threshold", "0.5"])
    assert ns.threshold == 0.5 and not (tmp_path / "summary.csv").exists()


def test_the_first_argument_picks_the_command_module(capsys):
    from suite import cli, usage

    assert set(usage.COMMANDS) >= {"run", "report", "check", "compare", "verify", "tasks", "bench"}
    assert cli.main(["check", str(DATA / "example_results")]) == 0
    assert "claims hold" in capsys.readouterr().out
