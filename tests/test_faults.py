"""Fault injection (issue 19): hostile input, corrupted stores, symlinks, full disks and
misbehaving plugins each give one line ``error: ...`` (exit 2) or a documented warning; nothing
is lost, forged or written outside the output directory.

In-process (``suite.cli.main``) with tiny or no training: the committed example results
(``example_copy``) and ``--dry-run``; where a suite must run, the worker command is replaced by
a trivial process (``_fake_worker``), which the runner records as a worker that died.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from conftest import run_cli

from suite import cli
from suite.api import SuiteError

DATA = Path(__file__).resolve().parent / "data"
TINY = DATA / "tiny.toml"
EXAMPLE = DATA / "example.toml"
#: A record of the example results (simple_rnn on adding, seed 0).
RID = "26a5dc10702a"


def main(*args: object) -> int:
    return cli.main([str(a) for a in args])


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes); links by their target."""
    out = {}
    for p in sorted(Path(folder).rglob("*")):
        if p.is_symlink():
            out[str(p.relative_to(folder))] = b"-> " + os.readlink(p).encode()
        elif p.is_file():
            out[str(p.relative_to(folder))] = p.read_bytes()
    return out


def one_error_line(err: str, *words: str) -> None:
    """``err`` holds exactly one ``error:`` line, holding ``words``, and no traceback."""
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], (w, lines[0])


def edit_json(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


@pytest.fixture
def small_copy(example_copy):
    """``example_copy`` cut to its ``cells`` study (4 runs): a report in seconds, not a minute."""
    manifest = json.loads((example_copy / "suite.json").read_text())
    manifest["studies"] = [s for s in manifest["studies"] if s["name"] == "cells"]
    keep = set(manifest["studies"][0]["run_ids"])
    manifest["runs"] = {rid: cfg for rid, cfg in manifest["runs"].items() if rid in keep}
    (example_copy / "suite.json").write_text(json.dumps(manifest))
    for path in (example_copy / "runs").iterdir():
        if path.stem not in keep:
            path.unlink()
    return example_copy


@pytest.fixture
def fake_worker(monkeypatch):
    """Replaces the worker's command line by ``python -c CODE`` (default: exits 0, no record)."""
    from suite.execution import runner

    def use(code: str = "pass") -> None:
        monkeypatch.setattr(runner, "worker_argv", lambda spec: [sys.executable, "-c", code])

    use()
    return use


def suite_file(tmp_path: Path, header: str = 'name = "t"', study: str = "", defaults: str = "") -> Path:
    path = tmp_path / "t.toml"
    path.write_text(f'{header}\n[defaults]\nsteps = 5\n{defaults}\n[[study]]\nname = "s"\n'
                    f'tasks = ["adding"]\n{study}\n')
    return path


# --- data lost or forged ------------------------------------------------------------------------


def test_a_different_suite_into_an_existing_directory_is_refused_before_anything_is_written(
        example_copy, capsys, fake_worker):
    before = snapshot(example_copy)
    assert main("--suite", TINY, "--out", example_copy, "--only", "study=blowup") == 2
    one_error_line(capsys.readouterr().err, "suite 'example'", "'tiny'", "--out")
    assert snapshot(example_copy) == before


def test_the_same_suite_again_still_merges_its_runs(small_copy, capsys, fake_worker):
    """Rerunning the suite of the directory (here another study) keeps every study and run."""
    runs_before = json.loads((small_copy / "suite.json").read_text())["runs"]
    assert main("--suite", EXAMPLE, "--out", small_copy, "--only", "study=blowup") == 0
    manifest = json.loads((small_copy / "suite.json").read_text())
    assert set(manifest["runs"]) > set(runs_before)
    names = [s["name"] for s in manifest["studies"]]
    assert names[0] == "cells" and "blowup" in names
    cells, = [s for s in manifest["studies"] if s["name"] == "cells"]
    assert set(cells["run_ids"]) == set(runs_before)


def test_a_duplicate_run_id_is_reported_and_the_file_named_by_the_id_wins(example_copy, capsys):
    from suite.store.io import load_records

    forged = example_copy / "runs" / "zz-forged.json"
    shutil.copy(example_copy / "runs" / f"{RID}.json", forged)
    edit_json(forged, lambda r: r["final"].update(val_loss=1e-9))
    records, warnings = load_records(example_copy)
    assert records[RID]["final"]["val_loss"] != 1e-9
    dup = [w for w in warnings if "zz-forged.json" in w]
    assert len(dup) == 1 and f"{RID}.json" in dup[0] and "duplicate" in dup[0]
    assert main("check", example_copy) == 0
    assert "zz-forged.json" in capsys.readouterr().err


def test_seeds_beyond_32_bits_are_refused_when_the_suite_is_read(tmp_path, capsys, tasks):
    from suite.axes import resolve

    assert main("--suite", suite_file(tmp_path, 'name = "t"\nseeds = [4294967296]'), "--dry-run") == 2
    one_error_line(capsys.readouterr().err, "seeds", "4294967295")
    with pytest.raises(SuiteError, match="4294967295"):
        resolve(tasks["adding"], seed=2**32)
    assert resolve(tasks["adding"], seed=2**32 - 1)["seed"] == 2**32 - 1


# --- writes outside the output directory --------------------------------------------------------


def test_a_symlink_at_a_pages_temporary_name_is_not_followed(small_copy, tmp_path, capsys):
    example_copy = small_copy
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (example_copy / "detail").mkdir()
    (example_copy / "detail" / f".{RID}.html.tmp").symlink_to(victim)
    (example_copy / "detail" / f"{RID}.html").symlink_to(victim)
    (example_copy / "index.html").symlink_to(victim)
    assert main("report", example_copy) == 0
    assert victim.read_text() == "precious"
    assert "<html" in (example_copy / "index.html").read_text().lower()


def test_a_symlink_at_a_log_is_not_followed(tmp_path, capsys, fake_worker, tasks):
    from suite.suite_file import load_suite

    rid, = load_suite(str(TINY), tasks, only={"study": "blowup"}).runs
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    (out / "logs").mkdir(parents=True)
    (out / "logs" / f"{rid}.log").symlink_to(victim)
    fake_worker("print('worker output')")
    main("--suite", TINY, "--out", out, "--only", "study=blowup")
    assert "Traceback" not in capsys.readouterr().err
    assert victim.read_text() == "precious"


def test_a_symlinked_folder_does_not_take_writes_outside(small_copy, tmp_path, capsys, fake_worker):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(small_copy / "runs", elsewhere)
    (small_copy / "runs").symlink_to(elsewhere)
    before = snapshot(elsewhere)
    assert main("--suite", EXAMPLE, "--out", small_copy, "--only", "study=blowup") == 2
    one_error_line(capsys.readouterr().err, "outside")
    (small_copy / "runs").unlink()
    shutil.move(elsewhere, small_copy / "runs")
    elsewhere.mkdir()
    (small_copy / "detail").symlink_to(elsewhere)
    assert main("report", small_copy) == 2
    one_error_line(capsys.readouterr().err, "outside")
    assert snapshot(elsewhere) == {} and before


@pytest.mark.parametrize("name", ["..", ".", "x" * 5000])
def test_a_suite_name_that_is_not_a_safe_file_name_is_refused(tmp_path, capsys, name):
    assert main("--suite", suite_file(tmp_path, f'name = "{name}"'), "--dry-run") == 2
    one_error_line(capsys.readouterr().err, "'name'")


# --- bounded work -------------------------------------------------------------------------------

HUGE_GRID = ("grid = { hidden = [" + ", ".join(map(str, range(1, 101))) + "], depth = ["
             + ", ".join(map(str, range(1, 101))) + "], batch_size = ["
             + ", ".join(map(str, range(1, 101))) + "], eval_size = ["
             + ", ".join(map(str, range(1, 11))) + "] }")


def test_a_grid_of_ten_million_runs_is_counted_not_expanded(tmp_path):
    """In a process: a hang must fail the test (timeout), not stop the test session."""
    path = suite_file(tmp_path, study=HUGE_GRID)
    proc = run_cli("--suite", str(path), "--dry-run", timeout=120)
    assert proc.returncode == 0 and "10000000 runs" in proc.stdout and "100000" in proc.stdout
    proc = run_cli("--suite", str(path), "--out", str(tmp_path / "out"), timeout=120)
    assert proc.returncode == 2
    one_error_line(proc.stderr, "10000000 runs", "100000")
    assert not (tmp_path / "out").exists()


def test_dry_run_warns_of_an_absurd_estimate(tmp_path, capsys):
    path = suite_file(tmp_path, study="set = { steps = 100000000, hidden = 1024 }")
    assert main("--suite", path, "--dry-run") == 0
    cap = capsys.readouterr()
    assert "warning:" in cap.err and "day" in cap.err


# --- every failure a line -----------------------------------------------------------------------


def test_out_that_is_a_file_or_under_a_file(tmp_path, capsys, fake_worker):
    afile = tmp_path / "afile"
    afile.write_text("keep")
    for out in (afile, afile / "sub"):
        assert main("--suite", EXAMPLE, "--only", "study=blowup", "--out", out) == 2
        one_error_line(capsys.readouterr().err, str(afile))
    assert afile.read_text() == "keep"


@pytest.fixture
def read_only(monkeypatch):
    """Makes ``folder`` read-only (EROFS) for the file-system calls that write, also as root."""
    roots: list[str] = []

    def inside(path) -> bool:
        p = os.path.abspath(os.fsdecode(path)) if not isinstance(path, int) else ""
        return any(p == r or p.startswith(r + os.sep) for r in roots)

    def refuse(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))

    real_open, real_os_open, real_mkdir = open, os.open, os.mkdir

    def fake_open(file, mode="r", *a, **k):
        if inside(file) and any(c in mode for c in "wax+"):
            refuse(file)
        return real_open(file, mode, *a, **k)

    def fake_os_open(path, flags, *a, **k):
        if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            refuse(path)
        return real_os_open(path, flags, *a, **k)

    def fake_mkdir(path, *a, **k):
        if inside(path):
            refuse(path)
        return real_mkdir(path, *a, **k)

    monkeypatch.setattr("builtins.open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)
    return lambda folder: roots.append(os.path.abspath(folder))


def test_out_on_a_read_only_file_system(tmp_path, capsys, fake_worker, read_only):
    out = tmp_path / "ro"
    out.mkdir()
    read_only(out)
    assert main("--suite", EXAMPLE, "--only", "study=blowup", "--out", out) == 2
    one_error_line(capsys.readouterr().err, str(out), "Read-only")
    assert not list(out.iterdir())


def test_report_on_a_read_only_directory(example_copy, capsys, read_only):
    before = snapshot(example_copy)
    read_only(example_copy)
    assert main("report", example_copy) == 2
    one_error_line(capsys.readouterr().err, str(example_copy), "Read-only")
    assert snapshot(example_copy) == before


def test_a_full_disk_while_the_report_page_is_written(small_copy, capsys, monkeypatch):
    example_copy = small_copy
    real_fsync = os.fsync

    def fsync(fd):
        if "index.html" in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    assert main("report", example_copy) == 2
    one_error_line(capsys.readouterr().err, "index.html", "No space left")
    assert not (example_copy / "index.html").exists()
    assert not [p for p in example_copy.rglob("*") if p.name.endswith(".tmp")]


def test_runs_being_a_file(example_copy, capsys, fake_worker):
    shutil.rmtree(example_copy / "runs")
    (example_copy / "runs").write_text("not a folder")
    assert main("--suite", EXAMPLE, "--out", example_copy, "--only", "study=blowup") == 2
    one_error_line(capsys.readouterr().err, "runs", "not a directory")
    assert main("check", example_copy) == 2
    one_error_line(capsys.readouterr().err, "runs", "not a directory")


@pytest.mark.parametrize("command", ["report", "check", "compare"])
@pytest.mark.parametrize("field", ["runs", "run_ids"])
def test_a_manifest_missing_a_field(example_copy, tmp_path, capsys, command, field):
    def drop(m):
        del (m if field == "runs" else m["studies"][0])[field]

    edit_json(example_copy / "suite.json", drop)
    before = snapshot(example_copy)
    args = (command, example_copy) if command != "compare" else (
        command, shutil.copytree(example_copy, tmp_path / "a"), example_copy)
    assert main(*args) == 2
    one_error_line(capsys.readouterr().err, "suite.json", field)
    assert snapshot(example_copy) == before


#: A record, a change to it, and the field the warning names.
INNER = {
    "26a5dc10702a": (lambda r: r["final"].update(val_loss="low"), "final.val_loss"),
    "f52e6da8c113": (lambda r: r["curves"].update(loss=["x"] * len(r["curves"]["loss"])), "curves.loss"),
    "c1306c841ba5": (lambda r: r["evals"][1].update(step="10"), "evals[1].step"),
    "811a79024fd4": (lambda r: r["config"].pop("cell"), "config.cell"),
}


def _mutate_inner(out: Path) -> None:
    for rid, (change, _) in INNER.items():
        edit_json(out / "runs" / f"{rid}.json", change)


def _warned_of_each(err: str) -> None:
    for rid, (_, field) in INNER.items():
        assert [ln for ln in err.splitlines()
                if ln.startswith("warning:") and f"{rid}.json" in ln and field in ln], (rid, err)


def test_records_with_wrong_inner_types_are_skipped_by_check_and_compare(example_copy, tmp_path,
                                                                         capsys):
    pristine = shutil.copytree(example_copy, tmp_path / "pristine")
    _mutate_inner(example_copy)
    assert main("check", example_copy) in (0, 1)
    _warned_of_each(capsys.readouterr().err)
    assert main("compare", pristine, example_copy, "--out", tmp_path / "c.html") == 0
    cap = capsys.readouterr()
    assert f"{len(INNER)} only in A" in cap.out


def test_records_with_wrong_inner_types_are_skipped_by_report(small_copy, capsys):
    example_copy = small_copy
    _mutate_inner(example_copy)
    assert main("report", example_copy) == 0
    _warned_of_each(capsys.readouterr().err)
    summary = (example_copy / "summary.csv").read_text()
    assert not any(rid in summary for rid in INNER)


def test_huge_finite_values_in_report_and_compare(small_copy, tmp_path, capsys):
    example_copy = small_copy
    pristine = shutil.copytree(example_copy, tmp_path / "pristine")

    def huge(r):
        r["final"]["val_loss"] = 1e308
        r["curves"]["loss"] = [1e308] * len(r["curves"]["loss"])
        r["curves"]["grad_norm"] = [1e308] * len(r["curves"]["grad_norm"])
        for row in r["evals"]:
            row["val_loss"] = 1e308

    edit_json(example_copy / "runs" / f"{RID}.json", huge)
    edit_json(pristine / "runs" / "f52e6da8c113.json", lambda r: r["final"].update(val_loss=1e-308))
    assert main("report", example_copy) == 0
    assert main("compare", pristine, example_copy, "--out", tmp_path / "c.html") == 0
    assert main("compare", example_copy, pristine, "--out", tmp_path / "d.html") == 0
    assert "Traceback" not in capsys.readouterr().err


def test_a_malformed_corpus_entry_in_a_record(small_copy, capsys):
    example_copy = small_copy
    edit_json(example_copy / "runs" / f"{RID}.json", lambda r: r.update(task_info={"corpus": "x"}))
    assert main("report", example_copy) == 0
    err = capsys.readouterr().err
    assert [ln for ln in err.splitlines() if f"{RID}.json" in ln and "task_info.corpus" in ln]


def _plugin(tmp_path: Path, old: str, new: str) -> Path:
    from test_preflight import PLUGIN

    assert old in PLUGIN
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "faulty.py").write_text(PLUGIN.replace(old, new))
    return folder


def _plugin_suite(tmp_path: Path) -> Path:
    path = tmp_path / "p.toml"
    path.write_text('name = "p"\n[defaults]\nsteps = 2\n[[study]]\nname = "s"\ntasks = ["faulty"]\n')
    return path


def test_a_plugin_describe_with_a_malformed_corpus_entry_fails_before_training(tmp_path, capsys):
    plugins = _plugin(tmp_path, "def describe(self, params): return {}",
                      "def describe(self, params): return {'corpus': 'x'}")
    out = tmp_path / "out"
    assert main("--suite", _plugin_suite(tmp_path), "--tasks-path", plugins, "--out", out) == 2
    one_error_line(capsys.readouterr().err, "faulty", "corpus")
    assert not out.exists()


def test_a_plugin_calling_sys_exit_at_import(tmp_path, capsys):
    plugins = _plugin(tmp_path, "import math", "import math, sys\nsys.exit(3)")
    assert main("tasks", "--tasks-path", plugins) == 2
    one_error_line(capsys.readouterr().err, "faulty", "SystemExit", "3")


def test_a_plugin_calling_sys_exit_in_make_data(tmp_path, capsys):
    plugins = _plugin(tmp_path, "rng = seeded_rng(seed, split)", "import sys; sys.exit(4)")
    out = tmp_path / "out"
    assert main("--suite", _plugin_suite(tmp_path), "--tasks-path", plugins, "--out", out) == 2
    one_error_line(capsys.readouterr().err, "faulty", "make_data", "SystemExit")
    assert not out.exists()
    assert main("tasks", "--tasks-path", plugins) == 0
    assert "FAILED" in capsys.readouterr().out


def test_a_plugin_calling_sys_exit_inside_the_worker_is_a_named_failure(tmp_path):
    """sys.exit past the pre-flight (here: in make_data, which the worker calls again) ends
    the run as a failure naming the task, with a record for the worker to write."""
    from suite.execution.spec import worker_spec
    from suite.execution.worker import run_spec
    from suite.registry import discover
    from suite.suite_file import load_suite

    plugins = _plugin(tmp_path, "rng = seeded_rng(seed, split)", "import sys; sys.exit(4)")
    suite = load_suite(str(_plugin_suite(tmp_path)), discover([str(plugins)]))
    (rid, cfg), = suite.runs.items()
    # threads 0: keep TensorFlow's (an earlier test of this process may have started it)
    record = run_spec(worker_spec(rid, cfg, [str(plugins)], 0, tmp_path / "r.json"))
    assert record["status"] == "failed"
    assert "sys.exit(4) was called during the run of task 'faulty'" in record["error"]


def test_a_plugin_calling_sys_exit_while_the_suite_is_read(tmp_path, capsys):
    plugins = _plugin(tmp_path, "def validate(self, params): pass",
                      "def validate(self, params): import sys; sys.exit(5)")
    assert main("--suite", _plugin_suite(tmp_path), "--tasks-path", plugins, "--dry-run") == 2
    one_error_line(capsys.readouterr().err, "sys.exit(5)", "plugin")


def test_compare_on_a_truncated_manifest(example_copy, tmp_path, capsys):
    other = shutil.copytree(example_copy, tmp_path / "b")
    text = (other / "suite.json").read_bytes()
    (other / "suite.json").write_bytes(text[: len(text) // 2])
    assert main("compare", example_copy, other, "--out", tmp_path / "c.html") == 2
    one_error_line(capsys.readouterr().err, "suite.json")
    assert not (tmp_path / "c.html").exists()


def test_compare_with_a_newer_schema_manifest(example_copy, tmp_path, capsys):
    other = shutil.copytree(example_copy, tmp_path / "b")
    edit_json(other / "suite.json", lambda m: m.update(schema_version=99))
    assert main("compare", example_copy, other, "--out", tmp_path / "c.html") == 2
    one_error_line(capsys.readouterr().err, "suite.json", "upgrade")
    assert not (tmp_path / "c.html").exists()


# --- silent mistakes ----------------------------------------------------------------------------


@pytest.mark.parametrize("only", ["", " , "])
def test_an_empty_only_is_refused(tmp_path, capsys, only):
    assert main("--suite", TINY, "--only", only, "--dry-run") == 2
    one_error_line(capsys.readouterr().err, "--only")


@pytest.mark.parametrize("threshold", ["5", "2", "0", "nan"])
def test_report_with_a_bad_threshold_writes_nothing(example_copy, capsys, threshold):
    before = snapshot(example_copy)
    assert main("report", example_copy, "--threshold", threshold) == 2
    one_error_line(capsys.readouterr().err, "--threshold")
    assert snapshot(example_copy) == before


def test_nan_is_an_empty_cell_in_the_summary(example_copy, capsys):
    path = example_copy / "runs" / f"{RID}.json"
    path.write_text(path.read_text().replace('"val_loss": 0.1943475253810823', '"val_loss": NaN'))
    assert "NaN" in path.read_text()
    from suite.store.io import load_manifest, load_records, write_summary

    records, _ = load_records(example_copy)
    write_summary(example_copy, load_manifest(example_copy), records)
    import csv

    rows = list(csv.DictReader((example_copy / "summary.csv").open()))
    row, = [r for r in rows if r["run_id"] == RID]
    assert row["final_val_loss"] == ""
    assert not any(v.lower() in ("nan", "inf", "-inf") for r in rows for v in r.values())


@pytest.mark.parametrize("header,words", [
    ('name = "t"\ndescription = 3', ["'description'", "string"]),
])
def test_a_description_that_is_not_text_is_refused(tmp_path, capsys, header, words):
    assert main("--suite", suite_file(tmp_path, header), "--dry-run") == 2
    one_error_line(capsys.readouterr().err, *words)


def test_a_normal_initializer_needs_its_gain(tmp_path, capsys):
    path = suite_file(tmp_path, defaults='cell = "simple_rnn"\nrecurrent_initializer = "normal"')
    assert main("--suite", path, "--dry-run") == 2
    one_error_line(capsys.readouterr().err, "recurrent_initializer", "normal:GAIN")
    path = suite_file(tmp_path, defaults='cell = "simple_rnn"\nrecurrent_initializer = "normal:1.5"')
    assert main("--suite", path, "--dry-run") == 0


# --- issue 22: the retried run's stale record ---------------------------------------------------


def test_a_retried_run_whose_worker_dies_records_the_new_death(tmp_path, capsys, fake_worker):
    out = tmp_path / "out"
    fake_worker("import sys; sys.exit(3)")
    assert main("--suite", TINY, "--out", out, "--only", "study=blowup") == 0
    rec_path, = (out / "runs").glob("*.json")
    first = json.loads(rec_path.read_text())
    assert "exited with code 3" in first["error"]
    edit_json(rec_path, lambda r: r.update(started_at="2000-01-01T00:00:00+00:00"))
    fake_worker("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert main("--suite", TINY, "--out", out, "--only", "study=blowup") == 0
    second = json.loads(rec_path.read_text())
    assert "killed by SIGKILL" in second["error"]
    assert second["started_at"] != "2000-01-01T00:00:00+00:00"


# --- property: randomly mutated records ---------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

JUNK = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                 st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e308, -1e308]),
                 st.text(max_size=5), st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _paths(doc, prefix=()):
    """Every path into ``doc`` (dict keys and list indexes), the first 3 items of each list."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            yield from _paths(v, prefix + (i,))


def _mutate(doc, path, value, delete: bool):
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@pytest.fixture(scope="module")
def property_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("prop")
    pristine = shutil.copytree(DATA / "example_results", base / "pristine")
    return base, pristine


@hypothesis.settings(max_examples=8, deadline=None, derandomize=True,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(data=st.data())
def test_mutated_records_never_give_a_traceback(property_dirs, data):
    base, pristine = property_dirs
    work = base / "work"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(pristine, work)
    names = sorted(p.name for p in (work / "runs").iterdir())
    for _ in range(data.draw(st.integers(1, 3))):
        path = work / "runs" / data.draw(st.sampled_from(names))
        doc = json.loads(path.read_text())
        where = data.draw(st.sampled_from(sorted(_paths(doc), key=repr)))
        doc = _mutate(doc, where, data.draw(JUNK), data.draw(st.booleans()))
        path.write_text(json.dumps(doc))
    outside = snapshot(base)
    outside = {k: v for k, v in outside.items() if not k.startswith("work")}
    with contextlib.redirect_stdout(open(os.devnull, "w")), contextlib.redirect_stderr(
            open(os.devnull, "w")):
        assert main("check", work) in (0, 1, 2)
        assert main("compare", pristine, work, "--out", work / "c.html") in (0, 1, 2)
        assert main("compare", work, pristine, "--out", work / "d.html") in (0, 1, 2)
    assert {k: v for k, v in snapshot(base).items() if not k.startswith("work")} == outside


@pytest.mark.slow
@hypothesis.settings(max_examples=2, deadline=None, derandomize=True,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(data=st.data())
def test_mutated_records_never_break_the_report(property_dirs, data):
    base, pristine = property_dirs
    work = base / "rwork"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(pristine, work)
    names = sorted(p.name for p in (work / "runs").iterdir())
    for name in data.draw(st.lists(st.sampled_from(names), min_size=3, max_size=6, unique=True)):
        path = work / "runs" / name
        doc = json.loads(path.read_text())
        where = data.draw(st.sampled_from(sorted(_paths(doc), key=repr)))
        doc = _mutate(doc, where, data.draw(JUNK), data.draw(st.booleans()))
        path.write_text(json.dumps(doc))
    outside = {k: v for k, v in snapshot(base).items() if not k.startswith("rwork")}
    with contextlib.redirect_stdout(open(os.devnull, "w")), contextlib.redirect_stderr(
            open(os.devnull, "w")):
        assert main("report", work) in (0, 1, 2)
    assert {k: v for k, v in snapshot(base).items() if not k.startswith("rwork")} == outside
