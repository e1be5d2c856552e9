"""CLUSTER TESTS (about 90 s together): ``--executor ray`` on a real multi-node Ray cluster.

Each test starts its own cluster on this machine with ``ray start``
(:class:`suite.tools.ray_cluster.LocalCluster`): a head (0 CPUs) and two worker
nodes (1 CPU each), separate node processes with their own ports and
temporary directories, token authentication. The suite's driver joins it as a
user would, ``run_suite.py --executor ray --address HOST:PORT`` in a subprocess
with ``RAY_AUTH_MODE=token`` and ``RAY_AUTH_TOKEN``, and ships this checkout as
``working_dir``. Nodes and drivers are killed with SIGKILL mid-suite. Each test
ends by killing its cluster's processes and asserting that none survives; no
test calls ``ray stop`` (it kills every Ray process on the host).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DATA, ROOT, run_cli

from suite.tools.ray_cluster import LocalCluster

pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")

TINY = str(DATA / "tiny.toml")  # 4 runs: adding gru and simple_rnn, a diverging SGD run, copy gru
N_RUNS = 4
ONLY = ["--only", "cell=gru"]  # 2 of them: adding and copy memory


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """``(cluster, local)``: a head and two worker nodes, and the tiny suite run by the local
    executor (the reference the Ray records must equal), started together.

    The cluster is shared by this module's tests (a test that kills nodes adds replacements);
    afterwards, asserts that none of its processes is left.
    """
    local = tmp_path_factory.mktemp("local") / "out"
    reference = subprocess.Popen([sys.executable, str(ROOT / "run_suite.py"), "--suite", TINY,
                                  "--out", str(local), "--workers", "2"], cwd=ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cluster = None
    try:
        cluster = LocalCluster(workers=2, cpus=1).start()
        output, _ = reference.communicate(timeout=300)
        assert reference.returncode == 0, output[-3000:]
        yield cluster, local
    finally:
        reference.kill()
        reference.wait()
        if cluster is not None:
            left = cluster.stop()
            assert left == [], f"processes of the test's Ray cluster survived: {left}"
            assert not cluster.dir.exists()


def _driver(cluster: LocalCluster, out: Path, *extra: str) -> subprocess.Popen:
    """``run_suite.py --executor ray --address ... EXTRA`` on the tiny suite, as a user runs it."""
    argv = [sys.executable, str(ROOT / "run_suite.py"), "--suite", TINY, "--out", str(out),
            "--executor", "ray", "--address", cluster.address, *extra]
    return subprocess.Popen(argv, cwd=ROOT, env=cluster.driver_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _finish(driver: subprocess.Popen) -> str:
    output, _ = driver.communicate(timeout=240)
    assert driver.returncode == 0, output[-3000:]
    return output


def _wait_for(condition, timeout: float = 120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {condition}")


def _records(out: Path, n_runs: int = N_RUNS) -> dict[str, dict]:
    """The records, after checking there is exactly one file per run and no temporary file."""
    files = sorted(p.name for p in (out / "runs").iterdir())
    assert len(files) == n_runs and all(f.endswith(".json") and not f.startswith(".") for f in files), files
    return {p.stem: json.loads(p.read_text()) for p in (out / "runs").glob("*.json")}


def _assert_same_as_local(local: Path, out: Path, n_runs: int = N_RUNS) -> None:
    proc = run_cli("compare", str(local), str(out), "--out", str(out / "compare.html"))
    assert proc.returncode == 0, proc.stderr
    assert f"{n_runs} runs in both: {n_runs} bit-identical" in proc.stdout, proc.stdout


def test_cluster_runs_spread_over_nodes_match_local_and_resume_after_driver_kill(setup, tmp_path):
    cluster, local = setup
    workers = cluster.alive_workers()
    assert len(workers) >= 2
    out = tmp_path / "ray"
    driver = _driver(cluster, out)
    first = _wait_for(lambda: list((out / "runs").glob("*.json")) if (out / "runs").exists() else [])
    driver.kill()  # SIGKILL mid-suite: the other worker node is still training
    driver.wait()
    kept = {p.name: p.read_bytes() for p in (out / "runs").glob("*.json")}
    assert first and len(kept) < N_RUNS
    assert all(json.loads(data)["status"] != "failed" for data in kept.values())
    assert not [p for p in (out / "runs").iterdir() if p.suffix != ".json"]  # no partial file
    _wait_for(lambda: not cluster.task_pids(), 60)  # a dead driver's tasks die with it

    output = _finish(_driver(cluster, out))  # the same command again resumes
    assert f"ran {N_RUNS - len(kept)} run(s)" in output and f"{len(kept)} already finished" in output
    assert {p.name: p.read_bytes() for p in (out / "runs").glob("*.json") if p.name in kept} == kept
    records = _records(out)
    assert all(r["status"] in ("ok", "diverged") for r in records.values())
    _assert_same_as_local(local, out)
    ran_on = {r["env"]["ray"]["node_id"] for r in records.values()}
    assert len(ran_on) >= 2 and ran_on <= {cluster.node_id(n) for n in workers}  # never the head
    assert all(r["env"]["intra_op_threads"] == 1 for r in records.values())


def test_cluster_node_killed_mid_suite(setup, tmp_path):
    cluster, local = setup
    first, second = cluster.alive_workers()[:2]
    out = tmp_path / "ray"
    # two runs, one per worker node; without retries the killed node's run is recorded
    # failed, the other goes on
    driver = _driver(cluster, out, *ONLY, "--ray-retries", "0")
    _wait_for(lambda: cluster.task_pids(first))
    assert cluster.kill_node(first)
    third = cluster.add_node()  # replaces it
    assert first not in cluster.alive_workers() and not cluster.pids(first)
    _finish(driver)
    records = _records(out, 2)
    failed = [r for r in records.values() if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["error"].startswith("node died (after 1 attempt): NodeDiedError")
    assert cluster.node_id(second) in {r["env"]["ray"]["node_id"] for r in records.values() if "env" in r}
    kept = {p.name: p.read_bytes() for p in (out / "runs").glob("*.json")
            if json.loads(p.read_bytes())["status"] != "failed"}

    # the command again (with retries, the default), a node killed under the one run left:
    # Ray retries it on the other node, which completes the suite
    driver = _driver(cluster, out, *ONLY)
    victim = _wait_for(lambda: [n for n in (second, third) if cluster.task_pids(n)])[0]
    survivor = cluster.node_id(third if victim == second else second)
    assert cluster.kill_node(victim)
    output = _finish(driver)
    assert "ran 1 run(s)" in output and "1 already finished" in output
    records = _records(out, 2)
    assert {p.name: p.read_bytes() for p in (out / "runs").glob("*.json") if p.name in kept} == kept
    assert all(r["status"] in ("ok", "diverged") for r in records.values())
    retried = records[failed[0]["run_id"]]
    assert retried["env"]["ray"]["node_id"] == survivor
    _assert_same_as_local(local, out, 2)
