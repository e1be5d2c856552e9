"""README is the front door: its commands work as written and its links lead into the docs.

The code examples that README used to hold live in docs/ now and run in tests/test_docs.py.
"""
from __future__ import annotations

import re
import shlex
import shutil

import pytest
from conftest import DATA, ROOT, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, re.S)


def section(heading: str) -> str:
    return README.split(heading, 1)[1].split("\n## ", 1)[0]


def anchors(markdown: str) -> set[str]:
    """The ids MkDocs (toc extension) and GitHub give the headings of a page."""
    out = set()
    for title in re.findall(r"^#+ (.+)$", markdown, re.M):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def test_the_two_quick_start_commands_are_the_documented_ones():
    """Exactly the two commands of the issue, and the files they name exist."""
    quick = bash_blocks(section("## Quick start"))
    assert [b.strip() for b in quick] == [
        "python3 -m pip install -r requirements.txt && python3 run_suite.py",
        "python3 -m pip install -r requirements-test.txt && python3 -m pytest -q",
    ]
    for name in ("requirements.txt", "requirements-test.txt", "run_suite.py"):
        assert (ROOT / name).is_file()
    # the test requirements build the docs too (mkdocs build --strict in CI)
    test_reqs = (ROOT / "requirements-test.txt").read_text()
    for pkg in ("mkdocs==", "mkdocs-material==", "mkdocstrings"):
        assert pkg in test_reqs


def test_the_readme_is_a_front_door():
    """About 150 lines; the reference material is in docs/, one click away."""
    assert len(README.splitlines()) <= 170
    for moved in ("### Run axes", "## Running on a Ray cluster", "RAY_AUTH_TOKEN", "schema version 2"):
        assert moved not in README


def test_every_readme_link_resolves():
    """Relative links point at files that exist, and their #anchors at headings there."""
    links = re.findall(r"\]\(([^)\s]+)\)", README)
    assert links
    for link in links:
        if link.startswith("http"):
            continue
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.exists(), link
        if anchor:
            assert anchor in anchors(target.read_text(encoding="utf-8")), link


@pytest.mark.parametrize("what, page", [
    ("tutorial", "docs/tutorial.md"),                 # a student
    ("claims", "docs/suite-files.md#claims"),         # a researcher: the claims format ...
    ("literature table", "docs/literature.md"),       # ... and the literature table
    ("writing a task plugin", "docs/writing-a-task.md"),  # a plugin author
])
def test_one_click_from_the_readme(what, page):
    """Each audience's page is linked from README under words that name it."""
    found = re.findall(r"\[([^\]]+)\]\(" + re.escape(page) + r"\)", README)
    assert any(what in text.lower() for text in found), (what, page, found)


def _next_commands() -> list[list[str]]:
    block = bash_blocks(section("## The next three commands"))[0]
    return [shlex.split(line.split("#", 1)[0]) for line in block.strip().splitlines()]


def test_the_next_three_commands_are_dry_run_report_and_check():
    commands = _next_commands()
    assert [c[:2] for c in commands] == [["python3", "run_suite.py"]] * 3
    assert [c[2] for c in commands] == ["--dry-run", "report", "check"]


@pytest.mark.slow
def test_the_next_three_commands_work(tmp_path):
    """Run as written, on a copy of the committed example results instead of reports/quick."""
    out, elsewhere = tmp_path / "results", tmp_path / "cwd"
    shutil.copytree(DATA / "example_results", out)
    elsewhere.mkdir()
    dry, report, check = (c[2:] for c in _next_commands())
    proc = run_cli(*dry, cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^\d+ runs; about [\d.]+ CPU-hours", proc.stdout, re.M)
    assert not any(elsewhere.iterdir())  # a dry run writes nothing
    proc = run_cli(*[str(out) if a == "reports/quick" else a for a in report])
    assert proc.returncode == 0, proc.stderr
    assert (out / "index.html").is_file() and (out / "claims.json").is_file()
    proc = run_cli(*[str(out) if a == "reports/quick" else a for a in check])
    assert proc.returncode in (0, 1), proc.stderr  # 0: no claim fails, 1: one does
