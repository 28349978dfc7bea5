"""cyborg-lite as the benchmark runs it: API (gunicorn), conductor and simulated agents as
separate processes, as a user starts them, over RabbitMQ and one SQLite file."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import procs

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
# Eight devices per host, the mix workloads 1-3 use (1,000 devices = 125 hosts).
DEVICE_MIX = "nvidia-h100:4,amd-mi300x:2,xilinx-u280:2"


def simulated_inventory(hosts: list[str], mix: str, state: Path) -> dict[str, list[dict[str, Any]]]:
    """Each host's devices in the wire form, exactly as cyborg-lite's simulated driver
    discovers them for that host (the peer is seeded from the same data)."""
    from cyborg_lite import conf as cl_conf
    from cyborg_lite.agent import manager
    from cyborg_lite.drivers.simulated import SimulatedDriver

    out = {}
    for host in hosts:
        conf = cl_conf.make_conf([], default_config_files=[])
        conf.set_override("state_path", str(state))
        conf.set_override("host", host)
        conf.set_override("devices", mix.split(","), group="simulated")
        report = manager.build_report(host, SimulatedDriver(conf).discover(), [])
        out[host] = report["devices"]
    return out


class Lite:
    """One cyborg-lite deployment under ``work``."""

    name = "cyborg-lite"

    def __init__(self, work: Path, transport_url: str, *, workers: int, threads: int) -> None:
        self.work = work
        self.state = work / "state"
        self.state.mkdir(parents=True, exist_ok=True)
        self.transport_url = transport_url
        self.port = procs.free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.db_path = self.state / "cyborg-lite.sqlite"
        self.msg_count_file = work / "conductor-messages.json"
        self.conf = work / "cyborg-lite.conf"
        self.workers, self.threads = workers, threads
        self.procs: dict[str, procs.Proc] = {}
        self.agent_procs: list[procs.Proc] = []
        self.extra_confs: list[Path] = []
        self._write_conf(DEVICE_MIX)

    def _write_conf(self, mix: str) -> None:
        self.conf.write_text(
            f"""[DEFAULT]
state_path = {self.state}
transport_url = {self.transport_url}
host = bench
debug = false
[database]
connection = sqlite:///{self.db_path}
[api]
host = 127.0.0.1
port = {self.port}
workers = {self.workers}
threads = {self.threads}
[agent]
enabled_drivers = simulated
api_endpoint = http://127.0.0.1:{self.port}
report_interval = 120
heartbeat_interval = 120
[conductor]
host_down_after = 600
rollout_sweep_seconds = 2
[simulated]
devices = {mix}
flash_seconds = 0
[oslo_messaging_notifications]
driver = noop
"""
        )

    def add_config(self, name: str, text: str) -> Path:
        """Write ``text`` to ``work/name`` and read it after the main file in every process
        started from now on (a later file wins); writing the same name again replaces it."""
        path = self.work / name
        path.write_text(text)
        if path not in self.extra_confs:
            self.extra_confs.append(path)
        return path

    def _args(self) -> list[str]:
        args = ["--config-file", str(self.conf)]
        for path in self.extra_confs:
            args += ["--config-file", str(path)]
        return args

    def start(self) -> None:
        """Upgrade the schema, then start the conductor and the API."""
        procs.run([str(BIN / "cyborg-lite-manage"), *self._args(), "db", "upgrade"], timeout=120)
        # The conductor runs with its RabbitMQ messages counted (benchmarks/counted.py).
        self.procs["conductor"] = procs.Proc(
            "cyborg-lite-conductor",
            [
                sys.executable,
                "-m",
                "benchmarks.counted",
                "cyborg_lite.cmd.conductor",
                *self._args(),
            ],
            self.work / "conductor.log",
            env={"BENCH_MSG_COUNT_FILE": str(self.msg_count_file)},
            cwd=REPO,
        )
        self.procs["api"] = procs.Proc(
            "cyborg-lite-api", [str(BIN / "cyborg-lite-api"), *self._args()], self.work / "api.log"
        )
        procs.wait_port(self.procs["api"], self.port)

    def start_agents(
        self, hosts: int, per_process: int, prefix: str, mix: str | None = None
    ) -> None:
        """Simulated hosts ``<prefix>NN-0001`` ..., ``per_process`` to an agent process."""
        extra: list[str] = []
        if mix is not None:
            fleet_conf = self.work / f"fleet-{prefix}.conf"
            fleet_conf.write_text(f"[simulated]\ndevices = {mix}\n")
            extra = ["--config-file", str(fleet_conf)]
        start = 0
        index = 0
        while start < hosts:
            n = min(per_process, hosts - start)
            name = f"{prefix}{index:02d}"
            self.agent_procs.append(
                procs.Proc(
                    f"agent {name}",
                    [
                        str(BIN / "cyborg-lite-agent"),
                        *self._args(),
                        *extra,
                        "--host",
                        name,
                        "--simulated-hosts",
                        str(n),
                    ],
                    self.work / f"agent-{name}.log",
                )
            )
            start += n
            index += 1

    def start_one_agent(self, host: str) -> procs.Proc:
        """One ordinary agent process (one host), for its memory figure."""
        proc = procs.Proc(
            f"agent {host}",
            [str(BIN / "cyborg-lite-agent"), *self._args(), "--host", host],
            self.work / f"agent-{host}.log",
        )
        self.agent_procs.append(proc)
        return proc

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A read (or seeding write) straight on the SQLite file."""
        import sqlite3

        with sqlite3.connect(self.db_path, timeout=60) as conn:
            return list(conn.execute(statement, params))

    def device_count(self) -> int:
        """Devices in the database."""
        return int(self.sql("SELECT count(*) FROM devices")[0][0])

    def wait_devices(self, count: int, timeout: float) -> float:
        """Wait until ``count`` devices are stored; the seconds it took."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            for proc in [self.procs["conductor"], *self.agent_procs]:
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
            if self.device_count() >= count:
                return time.monotonic() - t0
            time.sleep(0.5)
        raise RuntimeError(f"only {self.device_count()} of {count} devices after {timeout}s")

    def api_worker_pids(self) -> list[int]:
        """gunicorn's worker processes."""
        return procs.children(self.procs["api"].pid)

    def stop_agents(self) -> None:
        """Stop every agent process."""
        for proc in self.agent_procs:
            proc.stop()
        self.agent_procs = []

    def stop(self) -> None:
        """Stop everything this deployment started."""
        self.stop_agents()
        for proc in reversed(list(self.procs.values())):
            proc.stop()

    def versions(self) -> dict[str, str]:
        """Versions of what runs."""
        from importlib import metadata

        out = {"cyborg-lite": metadata.version("cyborg-lite")}
        for dist in ("falcon", "gunicorn", "SQLAlchemy", "oslo.messaging"):
            out[dist] = metadata.version(dist)
        return out


def inventory_json(inventory: dict[str, list[dict[str, Any]]], path: Path) -> Path:
    """Write an inventory for the peer's reporter."""
    path.write_text(json.dumps(inventory))
    return path
