"""``--executor ray`` against an in-process local Ray: same records as the local executor,
resume works, and no Ray process outlives ``ray.shutdown()``. No network, no ``ray stop``."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import DATA, ROOT, run_cli

from suite.execution.runner import run_local
from suite.registry import discover
from suite.suite_file import load_suite, parse_assignments

ray = pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")
TINY = str(DATA / "tiny.toml")
ONLY = ["cell=gru"]  # two runs: adding and copy memory


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmd and state != "Z":
            found.append(f"{pid}: {cmd[:120]}")
    return found


def _curves(out: Path) -> dict[str, tuple]:
    recs = [json.loads(p.read_text()) for p in (out / "runs").glob("*.json")]
    return {r["run_id"]: (r["status"], r["curves"], r["evals"], r.get("probes")) for r in recs}


def test_ray_executor_matches_local_and_resumes(tmp_path):
    local = tmp_path / "local"
    proc = run_cli("--suite", TINY, "--only", *ONLY, "--out", str(local), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    suite = load_suite(TINY, discover([]), only=parse_assignments(ONLY, "--only"))
    out = tmp_path / "ray"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}})
    session = ray._private.worker._global_node.get_session_dir_path()
    try:
        first = run_local(suite, out, 2, [], ray_options={"cpus": 1, "gpus": 0})
        assert (first.ran, first.skipped) == (2, 0) and first.statuses == {"ok": 2}
        assert _curves(out) == _curves(local)  # bit-identical to the local executor
        victim = next((out / "runs").glob("*.json"))
        victim.unlink()
        again = run_local(suite, out, 2, [], ray_options={"cpus": 1, "gpus": 0})
        assert (again.ran, again.skipped) == (1, 1)
        assert _curves(out) == _curves(local)
        env = json.loads(victim.read_text())["env"]
        assert env["intra_op_threads"] == 1
        assert _processes_mentioning(session)  # the check below can see Ray's processes
    finally:
        ray.shutdown()
    deadline = time.time() + 20
    while _processes_mentioning(session) and time.time() < deadline:
        time.sleep(0.5)
    assert _processes_mentioning(session) == []


def test_missing_ray_address_is_one_line(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("--suite", TINY, "--out", str(out), "--executor", "ray", "--ray-cpus", "0")
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: --ray-cpus must be > 0")
    assert not out.exists()


def test_an_installed_suite_does_not_upload_site_packages(tmp_path):
    """The runtime_env decision, without starting Ray: a checkout ships itself as the working_dir
    unless told not to; an installed suite (root = site-packages) ships nothing and refuses to."""
    from suite.api import SuiteError
    from suite.env import CHECKOUT
    from suite.execution.ray_executor import EXCLUDES, runtime_env

    site, checkout = tmp_path / "site-packages", tmp_path / "checkout"
    installed = runtime_env(checkout=False, root=site)
    assert installed == {"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}}  # no working_dir, no PYTHONPATH
    assert runtime_env(False, checkout=False, root=site) == installed
    with pytest.raises(SuiteError, match="installed suite"):
        runtime_env(True, checkout=False, root=site)
    shipped = runtime_env(checkout=True, root=checkout)
    assert shipped["working_dir"] == str(checkout) and shipped["excludes"] == EXCLUDES
    assert runtime_env(True, checkout=True, root=checkout) == shipped
    kept = runtime_env(False, checkout=True, root=checkout)
    assert "working_dir" not in kept and kept["env_vars"]["PYTHONPATH"] == str(checkout)
    assert CHECKOUT and runtime_env()["working_dir"] == str(ROOT)  # this checkout, by default
