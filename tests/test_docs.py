"""Every Python example in docs/ runs as written; the record-schema page matches ``RunRecord``.

Each page's ```` ```python ```` blocks run in order in one namespace (a page reads as one
session), in a temporary working directory. A block whose info string carries a file name
(```` ```python title="my_tasks/parity.py" ````) is a file the reader writes, not code to run:
it is written there and checked by the page's own test. Pages whose examples train a model
are marked slow (``pytest -m "not slow"`` skips them).

Run as a script, ``python3 tests/test_docs.py``, it executes the tutorial in ``docs/img`` and
so redraws the tutorial's figures committed there (and prints how long it took).
"""
from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```", re.S | re.M)
#: Pages whose examples train or probe a model (seconds to a minute); the rest are instant.
SLOW_PAGES = {"tutorial.md", "own-model.md"}


def blocks(page: str) -> list[tuple[str | None, str]]:
    """``(file name or None, code)`` of every python block of ``docs/PAGE``, in order."""
    out = []
    for info, code in FENCE.findall((DOCS / page).read_text(encoding="utf-8")):
        title = re.search(r'title="([^"]+)"', info)
        out.append((title.group(1) if title else None, code))
    return out


def run_page(page: str, cwd: Path) -> dict:
    """Runs the page's code blocks in ``cwd`` (files written there); returns the namespace."""
    scope: dict = {"__name__": f"docs_{page}"}
    old = os.getcwd()
    sys.path.insert(0, str(ROOT))
    os.chdir(cwd)
    try:
        for i, (name, code) in enumerate(blocks(page)):
            if name:
                (cwd / name).parent.mkdir(parents=True, exist_ok=True)
                (cwd / name).write_text(code, encoding="utf-8")
            else:
                exec(compile(code, f"docs/{page}#block{i + 1}", "exec"), scope)
    finally:
        os.chdir(old)
        sys.path.remove(str(ROOT))
    return scope


PAGES = sorted(p.name for p in DOCS.glob("*.md") if blocks(p.name))


def test_the_pages_with_examples_are_known():
    """A new page with examples is run below; the tutorial and the guides are among them."""
    assert {"tutorial.md", "own-model.md", "writing-a-task.md"} <= set(PAGES)


@pytest.mark.parametrize("page", [p if p not in SLOW_PAGES else pytest.param(p, marks=pytest.mark.slow)
                                  for p in PAGES])
def test_every_example_runs(page, tmp_path, capsys):
    scope = run_page(page, tmp_path)
    check = PAGE_CHECKS.get(page)
    if check:
        check(scope, tmp_path, capsys.readouterr().out)


def _own_model(scope, cwd, out):
    health = scope["health"]
    assert len(health.curves["grad_norm"]) == 32  # 2 epochs x 16 batches
    assert [p["step"] for p in health.probes] == [0, 20, 32]
    summary = health.summary()
    assert summary["diagnosis"] in ("healthy", "borderline", "vanishing", "exploding", "spiking")
    assert summary["horizon"] == 49 and summary["timeline"][0]["step"] == 0
    assert "jacobian_sigma_mean" in health.probes[-1] and "forget" in health.probes[-1]["saturation"]
    assert "clip rate" in out


def _plugin(scope, cwd, out):
    from suite.registry import discover

    task = discover([cwd / "my_tasks"], entry_points=False)["parity"]
    p = dict(task.params)
    x, y = task.make_data("train", 64, 0, p)
    assert x.shape == (64, 20, 1) and set(np.unique(y)) <= {0, 1}
    assert task.chance_loss(p) == pytest.approx(np.log(2))


def _tutorial(scope, cwd, out):
    """The tutorial's claims in words hold for the numbers its code prints."""
    figures = sorted(p.name for p in cwd.glob("tutorial-*.png"))
    linked = sorted(set(re.findall(r"\(img/(tutorial-[\w-]+\.png)\)", (DOCS / "tutorial.md").read_text())))
    assert figures == linked
    one = scope["one_unit_profile"]
    assert scope["fit_rate"](one(0.9)) == pytest.approx(0.9) and scope["reach"](one(0.9)) == 65
    assert one(1.1)[-1] > 1e4 and one(3.0, "tanh")[-1] < 1e-3
    bound, norm, _, lam = scope["products"](scope["non_normal"])
    assert lam == pytest.approx(np.log(0.5), abs=0.02) and bound[-1] > 1e18 and norm[-1] < 1e-6
    lines = dict(re.findall(r"^(.*?) +(rho=\S+ reach=.*)$", out, re.M))
    reach_of = {k.strip(): int(re.search(r"reach= *(\d+)", v).group(1)) for k, v in lines.items()}
    assert reach_of["tanh, inputs x10"] < reach_of["tanh, inputs x1"]
    assert reach_of["LSTM, forget bias 5"] == scope["T"] - 1 > reach_of["LSTM, forget bias 1"]
    assert reach_of["normal:0.5"] < reach_of["normal:1.0"]
    assert reach_of["inputs x10, BatchNorm on the input"] > reach_of["inputs x10"]
    lam_of = {k.strip(): float(m.group(1)) for k, v in lines.items()
              if (m := re.search(r"lambda_1=([-+.\d]+)", v))}
    assert lam_of["normal:0.5"] < 0 < lam_of["normal:2.0"]
    assert re.search(r"no clipping +first non-finite loss at step \d+", out)
    assert re.search(r"clipnorm=1.0 +first non-finite loss at step None", out)


PAGE_CHECKS = {"own-model.md": _own_model, "writing-a-task.md": _plugin, "tutorial.md": _tutorial}


def toml_blocks(page: str) -> list[str]:
    return re.findall(r"^```toml\n(.*?)^```", (DOCS / page).read_text(encoding="utf-8"), re.S | re.M)


def test_the_suite_file_and_claim_examples_parse(tmp_path, tasks):
    """The suite-file example with the claims example after it is a valid suite: its studies
    expand as the page says, and both claims are parsed (attached to the last study)."""
    from suite.suite_file import load_suite

    suite_example, claims_example = toml_blocks("suite-files.md")
    path = tmp_path / "example.toml"
    path.write_text(suite_example + "\n" + claims_example, encoding="utf-8")
    suite = load_suite(str(path), tasks)
    assert [s.name for s in suite.studies] == ["cells", "clipping"]
    assert len(suite.runs) == 3 * 3 * 2 + 2 * 2  # cells: tasks x cells x seeds; clipping: grid, one seed
    first, second = suite.studies[1].claims
    assert first["where"] == {"cell": "simple_rnn", "adding.seq_len": 100} and first["value"] == 0.9
    assert second["than"] == {"cell": "simple_rnn"} and second["factor"] == 0.1


def test_the_plugin_package_example_declares_the_entry_point_group():
    import tomllib

    from suite.registry import ENTRY_POINT_GROUP

    (project,) = toml_blocks("writing-a-task.md")
    entry_points = tomllib.loads(project)["project"]["entry-points"]
    assert entry_points[ENTRY_POINT_GROUP] == {"parity": "my_package.tasks:TASK"}


def test_the_record_schema_table_is_generated_from_run_record():
    """Every ``RunRecord`` field, its requiredness and its docstring line is on the page."""
    sys.path.insert(0, str(DOCS))
    try:
        import hooks
    finally:
        sys.path.remove(str(DOCS))
    cls, _ = hooks._record_class()
    rows = hooks.schema_rows(cls)
    assert [r[0] for r in rows] == list(cls.__annotations__)
    assert all(text for _, _, _, text in rows), "a RunRecord field without a docstring line"
    required = {name for name, _, req, _ in rows if req}
    assert {"schema_version", "run_id", "status"} <= required and "probes" not in required
    page = hooks.on_page_markdown((DOCS / "results.md").read_text(), page=None)
    assert hooks.MARKER not in page and "| `probes` |" in page


def test_every_path_the_docs_name_exists():
    """A file or folder of the checkout named in backticks (``suite/store/io.py``) exists, so a
    module that moves without its docs fails here (and ``mkdocs build --strict`` fails on a
    ``::: module`` of the API reference that no longer imports)."""
    texts = [p.read_text(encoding="utf-8") for p in (*DOCS.glob("**/*.md"), ROOT / "README.md",
                                                     ROOT / "CONTRIBUTING.md")]
    named = {m for text in texts
             for m in re.findall(r"`((?:suite|tasks|templates|suites|tests)/[\w./-]*)`", text)}
    packaged = {"suite/_tasks", "suite/_suites", "suite/_templates"}  # installed names, not files
    assert len(named) > 20
    missing = sorted(p for p in named - packaged if not (ROOT / p.rstrip("/")).exists())
    assert not missing, missing


def test_every_run_axis_is_in_the_axes_table():
    """The run-axes table of docs/suite-files.md has a row for every axis of ``AXES``, with its
    default, and no row for an axis that is gone."""
    from suite.axes import AXES

    page = (DOCS / "suite-files.md").read_text(encoding="utf-8")
    table = page.split("## Run axes", 1)[1].split("\n\n", 2)[1]
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", table, re.M))
    assert list(rows) == list(AXES)
    for name, axis in AXES.items():
        shown = rows[name].strip().strip("`").strip('"')
        assert shown == str(axis.default) or float(shown) == axis.default, (name, shown, axis.default)


def test_the_layer_map_names_every_module():
    """docs/architecture.md names every module of the package (a new or moved module without
    its place in the layer map fails here)."""
    page = (DOCS / "architecture.md").read_text(encoding="utf-8")
    suite = ROOT / "suite"
    missing = [str(p.relative_to(ROOT)) for p in sorted(suite.rglob("*.py"))
               if p.stem != "__init__" and f"`{p.stem}`" not in page
               and f"`{p.relative_to(ROOT).as_posix()}`" not in page]
    assert not missing, missing


def test_the_changelog_names_the_current_version_and_schema():
    """The newest release heading is ``suite.__version__`` (the versioning rule), and the
    schema section of that release names the current ``SCHEMA_VERSION``."""
    import suite

    sys.path.insert(0, str(DOCS))
    try:
        import hooks
    finally:
        sys.path.remove(str(DOCS))
    _, schema = hooks._record_class()
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## (\d+\.\d+\.\d+)", text, re.M)
    assert releases[0] == suite.__version__
    newest = text.split(f"## {releases[0]}", 1)[1].split("\n## ", 1)[0]
    assert "### Record schema" in newest and "### Plugin API" in newest
    assert re.search(rf"[Ss]chema \**{schema}\**", text)
    from suite.env import environment

    assert environment()["suite_version"] == suite.__version__  # what every record's env stores


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    start = time.perf_counter()
    run_page("tutorial.md", DOCS / "img")
    print(f"tutorial: {time.perf_counter() - start:.1f} s")
