"""A real multi-node Ray cluster on this machine, for tests and ``bench_ray``.

:class:`LocalCluster` starts a head node and worker nodes as separate Ray
node processes with ``ray start`` (what a user runs on each machine of a
cluster), each with its own CPUs, ports and temporary directory, all on
127.0.0.1, with token authentication (``RAY_AUTH_MODE=token`` and a fresh
``RAY_AUTH_TOKEN``). A driver joins it by :attr:`LocalCluster.address` with
:meth:`LocalCluster.driver_env`.

Each node's ``ray start`` runs in a process session of its own, which every
process of that node inherits (GCS, raylet, agents and the workers, whose
command lines Ray rewrites to ``ray::...``); with the processes whose command
line mentions the node's temporary directory, that is how :meth:`kill_node`
and :meth:`stop` find them, to SIGKILL them: never with ``ray stop``, which
kills every Ray process on the host, other users' clusters included. The
head declares a killed node dead within about 2 seconds (health checks every
500 ms).
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: GCS health checks of the nodes: a killed node is declared dead after about 1.5 s.
HEALTH_CHECKS = {"RAY_health_check_period_ms": "500", "RAY_health_check_timeout_ms": "500",
                 "RAY_health_check_failure_threshold": "3", "RAY_health_check_initial_delay_ms": "0"}


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ray_cli() -> str:
    """The ``ray`` command of this Python (next to its interpreter, else on ``PATH``)."""
    beside = Path(sys.executable).parent / "ray"
    return str(beside) if beside.exists() else (shutil.which("ray") or "ray")


def _processes() -> list[tuple[int, int, str]]:
    """``(pid, session id, command line)`` of every live (non-zombie) process but this one."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(pid) != os.getpid():
            found.append((int(pid), int(fields[3]), cmd))
    return found


def processes_of(text: str, sessions: set[int] = frozenset()) -> list[int]:  # type: ignore[assignment]
    """PIDs of live processes whose command line contains ``text`` or in one of ``sessions``."""
    return [pid for pid, sid, cmd in _processes() if text in cmd or sid in sessions]


class LocalCluster:
    """A head and ``workers`` worker nodes, each a separate set of Ray processes.

    Args:
        workers: Worker nodes (``w1``, ``w2``, ...).
        cpus: CPUs each worker node offers.
        head_cpus: CPUs the head offers (default 0: runs go to the worker nodes only).
        root: Parent of the cluster's temporary directory (default ``/tmp``; keep it
            short: Ray's socket paths must fit in 107 bytes).
    """

    def __init__(self, workers: int = 2, cpus: int = 1, head_cpus: int = 0, root: str = "/tmp"):
        self.workers, self.cpus, self.head_cpus = workers, cpus, head_cpus
        self.dir = Path(tempfile.mkdtemp(prefix="rgs-ray-", dir=root))
        self.token = secrets.token_hex(32)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: dict[str, int] = {}  # node name -> session id of its processes

    def driver_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of a driver joining this cluster: token auth and this cluster's token."""
        env = dict(os.environ if base is None else base)
        env.pop("RAY_ADDRESS", None)
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=self.token)
        return env

    def node_dir(self, name: str) -> Path:
        """The temporary directory of node ``name`` (``head``, ``w1``, ...)."""
        return self.dir / name

    def _launch(self, name: str) -> subprocess.Popen:
        """Runs ``ray start`` for node ``name`` (``head``, ``w1``, ...) in a session of its own."""
        head = name == "head"
        args = [ray_cli(), "start", "--node-ip-address=127.0.0.1", f"--temp-dir={self.node_dir(name)}",
                f"--num-cpus={self.head_cpus if head else self.cpus}", "--num-gpus=0",
                "--disable-usage-stats", f"--object-store-memory={100 * 2**20}",
                f"--dashboard-agent-listen-port={free_port()}",
                f"--dashboard-agent-grpc-port={free_port()}",
                f"--runtime-env-agent-port={free_port()}", f"--metrics-export-port={free_port()}"]
        if head:
            args += ["--head", f"--port={self.port}", "--include-dashboard=false",
                     f"--dashboard-port={free_port()}", f"--ray-client-server-port={free_port()}"]
        else:
            args += [f"--address={self.address}"]
        env = {**self.driver_env(), **HEALTH_CHECKS}
        # its own session: the node's processes (workers and agents too, whose command lines
        # Ray rewrites) stay in it after ``ray start`` exits
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        self.nodes[name] = proc.pid
        return proc

    def _started(self, name: str, proc: subprocess.Popen) -> None:
        """Waits for ``ray start`` of node ``name`` to return; raises if it failed."""
        output, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"ray start ({name}) failed:\n{output[-3000:]}")

    def start(self) -> "LocalCluster":
        """Starts the head, then the worker nodes together (``ray start`` returns once a node is up)."""
        try:
            self._started("head", self._launch("head"))
            names = [f"w{i}" for i in range(1, self.workers + 1)]
            for name, proc in [(name, self._launch(name)) for name in names]:
                self._started(name, proc)
        except BaseException:
            self.stop()
            raise
        return self

    def add_node(self) -> str:
        """Starts one more worker node; returns its name."""
        name = f"w{sum(1 for n in self.nodes if n != 'head') + 1}"
        self._started(name, self._launch(name))
        return name

    def pids(self, name: str | None = None) -> list[int]:
        """PIDs of node ``name``'s processes (default: of every node of this cluster)."""
        if name is not None:
            return processes_of(str(self.node_dir(name)), {self.nodes[name]})
        return processes_of(str(self.dir), set(self.nodes.values()))

    def task_pids(self, name: str | None = None, function: str = "_train") -> list[int]:
        """PIDs of the worker processes of node ``name`` (default: any) running ``function``."""
        sessions = {self.nodes[name]} if name else set(self.nodes.values())
        return [pid for pid, sid, cmd in _processes()
                if sid in sessions and cmd.split(" ", 1)[0] == f"ray::{function}"]

    def alive_workers(self) -> list[str]:
        """Names of the worker nodes whose raylet is running."""
        return [name for name in self.nodes if name != "head" and self._raylet(name)]

    def _raylet(self, name: str) -> str | None:
        """The command line of node ``name``'s raylet, or None."""
        for _pid, sid, cmd in _processes():
            if sid == self.nodes[name] and cmd.split(" ", 1)[0].endswith("/raylet"):
                return cmd
        return None

    def node_id(self, name: str) -> str:
        """The Ray node id of node ``name`` (from its raylet's command line)."""
        cmd = self._raylet(name)
        if cmd is None or "--node_id=" not in cmd:
            raise LookupError(f"node {name} has no raylet")
        return cmd.split("--node_id=", 1)[1].split()[0]

    def kill_node(self, name: str) -> list[int]:
        """SIGKILLs every process of node ``name`` (raylet, agents, its workers); returns the PIDs."""
        pids = self.pids(name)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return pids

    def stop(self, timeout: float = 30) -> list[int]:
        """Kills every process of the cluster, waits until none is left, removes its directory.

        Returns:
            The PIDs still alive after ``timeout`` seconds (empty: all gone).
        """
        deadline = time.time() + timeout
        while True:
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if not pids or time.time() > deadline:
                break
            time.sleep(0.2)
        left = self.pids()
        if not left:
            shutil.rmtree(self.dir, ignore_errors=True)
        return left

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
