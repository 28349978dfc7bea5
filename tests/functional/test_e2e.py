"""End to end, processes started as a user would: a RabbitMQ-backed conductor, three agents
(simulated, one host each), the API; and the all-in-one service on its own."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import oslo_messaging
import pytest

from tests import services
from tests.conftest import make_test_conf
from tests.functional.test_bus import Notifications
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

BIN = os.path.dirname(sys.executable)
V24 = {"OpenStack-API-Version": "accelerator 2.4"}


def free_port() -> int:
    """A port nothing listens on now (bound to 0, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port, path, headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback only
        return json.loads(resp.read())


def try_get(port, path, headers=None):
    with contextlib.suppress(OSError, ValueError):
        return get(port, path, headers)
    return None


class Processes:
    """Started processes, each in its own session so its whole group can be killed."""

    def __init__(self, folder):
        self.folder = folder
        self.running = {}

    def start(self, name, *argv):
        log = open(os.path.join(self.folder, f"{name}.log"), "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [os.path.join(BIN, argv[0]), *argv[1:]],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.running[name] = proc
        return proc

    def kill(self, name, sig=signal.SIGTERM):
        proc = self.running.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(15)

    def stop_all(self):
        # Signal every group first, so they wind down in parallel.
        for proc in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for name in list(self.running):
            self.kill(name)

    def log(self, name):
        """What process ``name`` has written so far."""
        with open(os.path.join(self.folder, f"{name}.log"), errors="replace") as f:
            return f.read()

    def logs(self):
        out = []
        for name in sorted(os.listdir(self.folder)):
            if name.endswith(".log"):
                with open(os.path.join(self.folder, name), errors="replace") as f:
                    out.append(f"--- {name}\n{f.read()[-3000:]}")
        return "\n".join(out)


@pytest.fixture
def procs(tmp_path) -> Iterator[Processes]:
    p = Processes(str(tmp_path))
    try:
        yield p
    finally:
        p.stop_all()


def write(path, text):
    path.write_text(text)
    return str(path)


def test_conductor_agents_and_api_over_rabbitmq(tmp_path, procs):
    port = free_port()
    with services.rabbit_vhost() as url:
        common = write(
            tmp_path / "common.conf",
            f"""
[DEFAULT]
transport_url = {url}
state_path = {tmp_path / "state"}
[database]
connection = sqlite:///{tmp_path / "e2e.sqlite"}
[api]
host = 127.0.0.1
port = {port}
workers = 1
[agent]
enabled_drivers = simulated
heartbeat_interval = 0.3
report_interval = 1
rpc_timeout = 5
discovery_timeout = 5
[conductor]
host_down_after = 3
liveness_interval = 0.3
""",
        )
        fleet_b = tmp_path / "b.conf"
        write(fleet_b, "[simulated]\ndevices = nvidia-t4:1\n")
        subprocess.run(
            [os.path.join(BIN, "cyborg-lite-manage"), "--config-file", common, "db", "upgrade"],
            check=True,
            capture_output=True,
            timeout=60,
        )

        def agent(host, *extra):
            return procs.start(
                f"agent-{host}", "cyborg-lite-agent", "--config-file", common, *extra,
                "--host", host,
            )  # fmt: skip

        # Listen to the conductor's notifications on the same vhost.
        listener_conf = make_test_conf(str(tmp_path / "listener"))
        listener_conf.set_override("transport_url", url)
        ntransport = oslo_messaging.get_notification_transport(listener_conf)
        heard = Notifications()
        listener = oslo_messaging.get_notification_listener(
            ntransport, [oslo_messaging.Target(topic="notifications")], [heard]
        )
        listener.start()
        procs.start("conductor", "cyborg-lite-conductor", "--config-file", common)
        # Agents' first calls would wait out rpc_timeout if no conductor queue existed yet.
        wait_for("the conductor to listen", lambda: "Conductor serving" in procs.log("conductor"))
        agent("e2e-a")
        agent("e2e-b", "--config-file", str(fleet_b))
        agent("e2e-c")
        procs.start("api", "cyborg-lite-api", "--config-file", common)

        def hosts_of_devices():
            body = try_get(port, "/v2/devices")
            if body is None:
                return None
            counts = {}
            for d in body["devices"]:
                counts[d["hostname"]] = counts.get(d["hostname"], 0) + 1
            return counts

        try:
            wait_for(
                "every agent's devices",
                lambda: hosts_of_devices() == {"e2e-a": 5, "e2e-b": 1, "e2e-c": 5},
            )

            # Change e2e-b's fleet (its configuration) and restart its agent.
            procs.kill("agent-e2e-b")
            write(fleet_b, "[simulated]\ndevices = nvidia-t4:1,xilinx-u250:2\n")
            agent("e2e-b", "--config-file", str(fleet_b))

            def models_on_b():
                body = try_get(port, "/v2/devices?hostname=e2e-b")
                return body and sorted(d["model"] for d in body["devices"])

            wait_for(
                "e2e-b's new fleet",
                lambda: models_on_b() == ["Tesla T4", "Xilinx Alveo U250", "Xilinx Alveo U250"],
            )

            # Kill e2e-c's agent outright: its host goes down, its devices stay listed.
            procs.kill("agent-e2e-c", signal.SIGKILL)
            wait_for(
                "e2e-c down",
                lambda: (try_get(port, "/v2/hosts/e2e-c", V24) or {}).get("state") == "down",
            )
            listed = get(port, "/v2/devices?hostname=e2e-c", V24)["devices"]
            assert len(listed) == 5
            assert {d["host_state"] for d in listed} == {"down"}
            assert get(port, "/v2/hosts/e2e-a", V24)["state"] == "up"

            # Restarted, it comes back up with the same devices.
            uuids = sorted(d["uuid"] for d in listed)
            agent("e2e-c")
            wait_for(
                "e2e-c up again",
                lambda: (try_get(port, "/v2/hosts/e2e-c", V24) or {}).get("state") == "up",
            )
            again = get(port, "/v2/devices?hostname=e2e-c", V24)["devices"]
            assert sorted(d["uuid"] for d in again) == uuids

            # What went over the bus as notifications.
            # e2e-c went down and came back up. Under load (short intervals, a slow machine) a
            # host may flap once more, so count e2e-c's own events, not totals.
            def ups(host: str) -> int:
                return sum(p["hostname"] == host for p in heard.of("accelerator.host.up"))

            wait_for("host.up after the restart", lambda: ups("e2e-c") >= 2)
            assert "e2e-c" in [p["hostname"] for p in heard.of("accelerator.host.down")]
            assert all(ups(h) >= 1 for h in ("e2e-a", "e2e-b"))
            # 11 at first, then e2e-b's two new cards.
            wait_for("13 device.added", lambda: len(heard.of("accelerator.device.added")) == 13)
        except AssertionError:
            print(procs.logs())
            raise
        finally:
            listener.stop()
            listener.wait()
            ntransport.cleanup()


def test_all_in_one_lists_simulated_devices_and_keeps_them(tmp_path, procs):
    port = free_port()
    conf = write(
        tmp_path / "aio.conf",
        f"""
[DEFAULT]
state_path = {tmp_path / "state"}
[api]
host = 127.0.0.1
port = {port}
[aio]
simulated_hosts = 2
""",
    )

    def simulated():
        body = try_get(port, "/v2/devices")
        if body is None:
            return None
        return sorted(
            (d["hostname"], d["uuid"]) for d in body["devices"] if d["hostname"].startswith("sim-")
        )

    try:
        procs.start("aio", "cyborg-lite-aio", "--config-file", conf)
        first = wait_for(
            "ten simulated devices", lambda: len(simulated() or ()) == 10 and simulated()
        )
        assert {h for h, _ in first} == {"sim-host-01", "sim-host-02"}
        beat = get(port, "/v2/hosts/sim-host-01", V24)["last_heartbeat"]
        procs.kill("aio")
        procs.start("aio", "cyborg-lite-aio", "--config-file", conf)
        # Wait until the restarted agent has reported, then compare.
        wait_for(
            "a report after the restart",
            lambda: (
                (try_get(port, "/v2/hosts/sim-host-01", V24) or {}).get("last_heartbeat", "") > beat
            ),
        )
        assert simulated() == first
        assert (tmp_path / "state" / "simulated" / "sim-host-01.json").exists()
    except AssertionError:
        print(procs.logs())
        raise
