"""The test tiers of conftest: a test that starts a process is e2e and slow, others are not."""
from __future__ import annotations

import types

import conftest


def _item(fn, fixtures=()):
    defs = {name: [types.SimpleNamespace(func=f, baseid="tests/test_x.py")] for name, f in fixtures}
    return types.SimpleNamespace(function=fn, _fixtureinfo=types.SimpleNamespace(name2fixturedefs=defs))


# test bodies to classify (never run), outside the tests so that those stay in the fast tier
def spawns():
    conftest.run_cli("check", "x")


def in_process(capsys):
    conftest.run_main(capsys, "check", "x")


def made():
    return conftest.run_cli("--suite", "quick")


def test_a_test_or_fixture_that_starts_a_process_is_e2e():
    assert conftest._spawns(_item(spawns))
    assert not conftest._spawns(_item(in_process))
    assert conftest._spawns(_item(in_process, [("made", made)]))


def test_every_tier_marker_is_declared(pytestconfig):
    declared = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert {"slow", "e2e", "ray", "browser"} <= declared


def test_this_test_is_in_the_fast_tier(request):
    assert request.node.get_closest_marker("slow") is None
    assert request.node.get_closest_marker("e2e") is None


def test_every_measured_slow_test_exists():
    """A renamed slow test must be renamed in conftest.MEASURED_SLOW too (or it joins the fast tier)."""
    from pathlib import Path

    here = Path(__file__).parent
    for entry in sorted(conftest.MEASURED_SLOW):
        file, name = entry.split("::")
        assert f"def {name}(" in (here / file).read_text(), entry
