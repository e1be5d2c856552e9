"""Shared fixtures and helpers: discovered tasks, tiny run configurations, the test plugin task,
the command line as a subprocess, and the test tiers (markers, see :func:`pytest_configure`)."""
from __future__ import annotations

import inspect
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


# --- test tiers ---------------------------------------------------------------------------------
#: The markers of the test tiers. ``python3 -m pytest -q -m "not slow"`` is the developer loop;
#: plain ``python3 -m pytest -q`` (README, .ci/run) runs everything.
TIERS = {
    "slow": "minutes in all: every e2e, ray and browser test, and heavy training (deselect with -m 'not slow')",
    "e2e": "runs the command line, pip or a suite in another process (set by conftest for any test "
           "or fixture that calls run_cli, subprocess or test_install's _run)",
    "ray": "needs Ray (local or a cluster)",
    "browser": "drives Chromium through Playwright",
}
#: Markers of whole test files, on top of the automatic ``e2e``.
FILE_TIERS = {
    "test_ray.py": ("ray",), "test_ray_cluster.py": ("ray",),
    "test_report_browser.py": ("browser",), "test_install.py": ("e2e",),
}
#: In-process tests measured slowest in the fast tier (``--durations``, 13 s or more on the 2-core
#: machine under load; most train and compare whole runs): ``file::test`` (all parameters).
MEASURED_SLOW = {
    "test_runner.py::test_two_suite_processes_on_one_directory",
    "test_batchnorm.py::test_probed_run_trains_bit_identically",
    "test_batchnorm.py::test_probe_leaves_every_moving_statistic_unchanged",
    "test_batchnorm.py::test_step_statistics_move_once_per_batch_and_step",
    "test_batchnorm.py::test_jacobian_holds_the_step_batch_statistics",
    "test_batchnorm.py::test_probe_profile_is_the_gradient_training_follows",
    "test_xla.py::test_compiled_step_matches_the_uncompiled_one",
    "test_xla.py::test_record_says_whether_compiled",
    "test_report.py::test_run_pages_and_figures_made_by_worker_processes_are_the_same",
    "test_report.py::test_manifest_names_gpu_runs_that_could_not_use_cudnn",
    "test_report.py::test_synthetic_results_at_scale_render_with_capped_figures",
    "test_report.py::test_user_strings_are_escaped",
    "test_report.py::test_an_edited_rerun_shows_as_separate_rows_and_figure_lines",
    "test_report.py::test_report_sections_and_numbers",
    "test_evaluation.py::test_a_model_without_batchnorm_has_one_validation_loss",
    "test_evaluation.py::test_batch_statistics_evaluation_leaves_the_moving_statistics_alone",
    "test_training.py::test_train_result_shape",
    "test_training.py::test_logged_norms_are_pre_clip_and_match_a_hand_computation",
    "test_position.py::test_a_language_model_run_stores_the_loss_at_every_position",
    "test_config_properties.py::test_structured_suite_files",
    "test_schema.py::test_worker_records_validate",
    "test_lyapunov.py::test_report_replaces_empty_figures_by_a_line",
    "test_literature_studies.py::test_lyapunov_init_is_lambda1_of_the_unrolled_network",
    "test_faults.py::test_a_symlink_at_a_pages_temporary_name_is_not_followed",
    "test_faults.py::test_the_same_suite_again_still_merges_its_runs",
    "test_faults.py::test_a_full_disk_while_the_report_page_is_written",
    "test_faults.py::test_huge_finite_values_in_report_and_compare",
    "test_faults.py::test_records_with_wrong_inner_types_are_skipped_by_report",
    "test_faults.py::test_a_malformed_corpus_entry_in_a_record",
    "test_faults.py::test_mutated_records_never_give_a_traceback",
}
_SPAWNS = re.compile(r"\brun_cli\(|\bsubprocess\.(run|Popen|check_output|call)\b|\b_run\(\[")


def pytest_configure(config):
    for name, text in TIERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def _source(fn) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return ""


def _spawns(item) -> bool:
    """Whether a test, or a fixture it uses that is defined in tests/, starts another process."""
    fns = [getattr(item, "function", None)]
    for defs in getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {}).values():
        fns += [d.func for d in defs if str(getattr(d, "baseid", "")).startswith("tests")]
    return any(_SPAWNS.search(_source(fn)) for fn in fns if fn is not None)


def pytest_collection_modifyitems(config, items):
    """Marks the tiers: ``e2e`` where a process is started, ``slow`` for every e2e, ray and
    browser test and those of :data:`MEASURED_SLOW` (plus those marked slow by hand)."""
    for item in items:
        marks = set(FILE_TIERS.get(item.path.name, ()))
        if _spawns(item):
            marks.add("e2e")
        if f"{item.path.name}::{getattr(item, 'originalname', item.name)}" in MEASURED_SLOW:
            marks.add("slow")
        if marks & {"e2e", "ray", "browser"}:
            marks.add("slow")
        for name in sorted(marks - {m.name for m in item.iter_markers()}):
            item.add_marker(name)


@pytest.fixture
def example_copy(tmp_path):
    """A writable copy of the committed example results (schema-1 records)."""
    out = tmp_path / "res"
    shutil.copytree(DATA / "example_results", out)
    return out


@pytest.fixture(scope="session")
def tasks():
    from suite.registry import discover

    return discover()


#: The tiny run of ``make_config``: axes and task parameters on top of the defaults.
TINY_AXES = {"steps": 10, "eval_every": 5, "eval_size": 32, "batch_size": 8, "hidden": 8,
             "probe_every": 5}
TINY_PARAMS = {"seq_len": 10}


@pytest.fixture
def make_config(tasks):
    """Builds a resolved tiny run configuration: ``make_config(task, task_params=None, **axes)``.

    Through :func:`suite.axes.resolve` (validated like a suite file): the
    :data:`TINY_AXES` and :data:`TINY_PARAMS`, then ``task_params`` and
    ``axes`` (``seed`` included, default 0) on top. Default task: ``"adding"``.
    """
    from suite.axes import resolve

    def make(task: str = "adding", task_params: dict | None = None, **axes):
        return resolve(tasks[task], task_params={**TINY_PARAMS, **(task_params or {})},
                       **{**TINY_AXES, **axes})

    return make


_PARITY = '''
"""Parity (test plugin, Minsky & Papert 1969): chance ln 2."""
import math
import numpy as np
from suite.api import Head, InputSpec, seeded_rng
@PRELUDE@
class Parity:
    name = "@NAME@"
    version = "1"
    params = {"seq_len": @SEQ_LEN@}
    primary_metric = "acc"
    higher_is_better = True
    def validate(self, params): pass
    def input_spec(self, params): return InputSpec(features=1)
    def head(self, params): return Head(units=2, per_step=False, loss="ce")
    def make_data(self, split, size, seed, params):
@HOOK@
        rng = seeded_rng(seed, split)
        x = rng.integers(0, 2, (size, params["seq_len"], 1)).astype("float32")
        y = (x.sum((1, 2)) % 2).astype("int32")
        return x, y
    def chance_loss(self, params): return math.log(2)
    def metrics(self, y_true, y_pred, params):
        return {"acc": float((np.argmax(y_pred, -1) == y_true).mean())}
    def describe(self, params): return {}

TASK = Parity()
'''


def parity_plugin(name: str = "parity", *, seq_len: int = 6, prelude: str = "", hook: str = "") -> str:
    """The source of the test plugin task: parity of ``seq_len`` bits, last-step cross-entropy.

    The one plugin module the tests write (a folder plugin, an entry-point package, a
    faulty variant by ``.replace`` of one of its lines).

    Args:
        name: The task's name.
        seq_len: Its default sequence length.
        prelude: Module-level code after the imports.
        hook: Code run first in ``make_data`` (indented by 8 spaces).
    """
    return (_PARITY.replace("@NAME@", name).replace("@SEQ_LEN@", str(seq_len))
            .replace("@PRELUDE@\n", prelude + "\n" if prelude else "")
            .replace("@HOOK@\n", hook + "\n" if hook else ""))


def run_cli(*args: str, cwd: Path = ROOT, timeout: int = 600):
    """Runs ``python run_suite.py ARGS`` and returns the CompletedProcess."""
    import subprocess

    return subprocess.run([sys.executable, str(ROOT / "run_suite.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def run_main(capsys, *args: str):
    """Runs ``run_suite.py ARGS`` in this process (``suite.cli.main``) and returns a
    CompletedProcess like :func:`run_cli`: for error paths and commands whose process boundary
    is not the point (no interpreter and TensorFlow start-up per call)."""
    import subprocess

    from suite.cli import main

    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out.out, out.err)
