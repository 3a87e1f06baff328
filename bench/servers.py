"""Start and stop the benchmark's servers as subprocesses, each in its own process group.

Every server started here is stopped on exit (normal, exception, SIGINT/SIGTERM):
SIGTERM to its process group, then SIGKILL after a grace period. Only groups this
module started are signalled.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
PYTHON = sys.executable

_running: list[Server] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server process on 127.0.0.1:`port`, ready once `ready_path` answers (any status < 500)."""

    def __init__(
        self, name: str, cmd: list[str], port: int, env: dict[str, str] | None = None, ready_path: str = "/"
    ) -> None:
        self.name = name
        self.cmd = cmd
        self.port = port
        self.env = {**os.environ, **(env or {})}
        self.ready_path = ready_path
        self.proc: subprocess.Popen | None = None
        self.log_path = VAR / "logs" / f"{name}.log"
        self.startup_seconds = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        log.write(f"\n=== {time.strftime('%F %T')} {' '.join(self.cmd)}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            self.cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        _running.append(self)
        began = time.monotonic()
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.base + self.ready_path, timeout=2) as resp:  # noqa: S310
                    resp.read()
                self.startup_seconds = time.monotonic() - began
                return self
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    self.startup_seconds = time.monotonic() - began
                    return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout}s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        """Direct children of the server process (uvicorn/litellm workers), else the process itself."""
        if self.proc is None:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            # multiprocessing's resource tracker is a child too, but not a worker
            if ppid == self.proc.pid and b"resource_tracker" not in cmdline:
                pids.append(int(entry.name))
        return sorted(pids) or [self.proc.pid]

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server process and its workers (a robust cost on a busy machine)."""
        if self.proc is None:
            return 0.0
        pids = {self.proc.pid, *self.worker_pids()}
        return sum(_cpu_ticks(pid) for pid in pids) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        # workers left behind in the group (the leader may exit first)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self in _running:
            _running.remove(self)
        self.proc = None


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime of the process


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def stop_all() -> None:
    for server in list(reversed(_running)):
        server.stop()


def _on_signal(signum: int, _frame: object) -> None:
    stop_all()
    raise SystemExit(128 + signum)


def install_cleanup() -> None:
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def fake_upstream(name: str, **options: float) -> Server:
    port = free_port()
    cmd = [PYTHON, "bench/fake_upstream.py", "--port", str(port)]
    for key, value in options.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    return Server(name, cmd, port, ready_path="/__stats")
