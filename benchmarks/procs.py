"""Processes, ports, a RabbitMQ virtual host and /proc readings for the benchmark suite.

Every process started here is started in its own session and stopped by its own pid (SIGTERM
to its process group, SIGKILL after a grace period); nothing is ever stopped by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

RABBIT_HOST = "127.0.0.1"
RABBIT_PORT = 5672
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


class Proc:
    """A started process, its log file and how to stop it."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.log = log
        full_env = {**os.environ, **(env or {})}
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                cwd=cwd,
                start_new_session=True,
            )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        """Whether it still runs."""
        return self.popen.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM its process group, SIGKILL what is left after ``grace`` seconds."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def tail(self, lines: int = 20) -> str:
        """The end of its log, for error messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_port(proc: Proc, port: int, timeout: float = 60.0) -> None:
    """Wait until ``port`` accepts connections; fail with the log if ``proc`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        if port_open(port):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} did not listen on {port} in {timeout}s:\n{proc.tail()}")


def run(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> str:
    """Run a command to completion; its stdout, or an error with its output."""
    done = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from every thread: servers often fork from a thread)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # after the command: state, then ppid
            found.append(int(entry.name))
    return sorted(found)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) in MiB; NaN when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    # Fields after the command: state is 0, utime is 11, stime is 12.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@contextlib.contextmanager
def rabbit_vhost(prefix: str) -> Iterator[str]:
    """A fresh RabbitMQ virtual host on loopback (rabbitmqctl); deleted afterwards."""
    if not port_open(RABBIT_PORT, RABBIT_HOST):
        raise RuntimeError(f"RabbitMQ does not listen on {RABBIT_HOST}:{RABBIT_PORT}")
    vhost = f"{prefix}_{uuid.uuid4().hex[:10]}"
    run(["rabbitmqctl", "-q", "add_vhost", vhost], timeout=60)
    try:
        run(
            ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            timeout=60,
        )
        yield f"rabbit://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/{vhost}"
    finally:
        with contextlib.suppress(Exception):
            run(["rabbitmqctl", "-q", "delete_vhost", vhost], timeout=60)


def pids_named(name: str) -> list[int]:
    """Processes whose command name (``/proc/<pid>/comm``) is ``name``: read, never signalled."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
    return found


def cpu_total(pids: Sequence[int]) -> float:
    """CPU seconds used so far by ``pids`` together (those gone count as 0)."""
    return sum(c for c in (cpu_seconds(p) for p in pids) if c == c)


def open_files_limit(pid: int) -> int | None:
    """The soft ``Max open files`` limit of process ``pid`` (from /proc), None if unknown."""
    try:
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        return None
    return None


def rabbit_version() -> str:
    """The broker's version, as rabbitmqctl prints it."""
    try:
        return run(["rabbitmqctl", "-q", "version"], timeout=30).strip()
    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
        return f"unknown ({err})"
