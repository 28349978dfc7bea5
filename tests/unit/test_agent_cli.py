"""``cyborg-lite-agent discover``: what the drivers see, printed, contacting nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cyborg_lite.cmd import agent as agent_cmd
from tests.functional.servers import executable


def run(tmp_path, capsys, *args, drivers="simulated"):
    conf = tmp_path / "agent.conf"
    # transport_url points nowhere: discover must not need it.
    conf.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\ntransport_url = rabbit://nobody@127.0.0.1:9/\n"
        f"[agent]\nenabled_drivers = {drivers}\ndiscovery_timeout = 5\n"
    )
    with pytest.raises(SystemExit) as exit_info:
        agent_cmd.main(["--config-file", str(conf), *args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_discover_json_lists_the_devices(tmp_path, capsys):
    code, out, _err = run(tmp_path, capsys, "--host", "lab-1", "discover", "--format", "json")
    assert code == 0
    devices = json.loads(out)
    assert len(devices) == 5
    for d in devices:
        assert {"type", "vendor", "model", "pci_address", "driver", "firmware"} <= set(d)
        assert d["driver"] == "simulated"
        assert all({"component", "version"} <= set(f) for f in d["firmware"])
    # The identity follows --host (simulated identities derive from it).
    _code, again, _err = run(tmp_path, capsys, "discover", "--host", "lab-2", "--format", "json")
    assert {d["stable_id"] for d in json.loads(again)}.isdisjoint(d["stable_id"] for d in devices)


def test_discover_table_and_a_failed_driver(tmp_path, capsys):
    code, out, err = run(tmp_path, capsys, "discover", drivers="simulated,no_such_driver")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split() == ["DRIVER", "TYPE", "VENDOR", "MODEL", "PCI_ADDRESS", "FIRMWARE"]
    assert len(lines) == 6
    assert "vbios=" in out
    assert "driver no_such_driver failed" in err


def test_discover_json_is_alone_on_stdout_logs_go_to_stderr(tmp_path):
    # The real command, as `... | jq` runs it: the nvidia driver finds no NVML here and logs
    # at INFO why it skipped that source; the log must not land in the JSON document.
    conf = tmp_path / "agent.conf"
    conf.write_text(
        f"[DEFAULT]\nstate_path = {tmp_path}\n"
        "[agent]\nenabled_drivers = simulated,nvidia\ndiscovery_timeout = 20\n"
    )
    done = subprocess.run(
        [
            executable("cyborg-lite-agent"),
            "--config-file",
            str(conf),
            "discover",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 5
    assert "source skipped" in done.stderr


def test_output_of_vendor_libraries_during_discovery_goes_to_stderr():
    # A library writing to descriptor 1 directly (as C code does), and Python's print.
    code = (
        "import os; from cyborg_lite.cmd import agent\n"
        "with agent.stdout_to_stderr():\n"
        "    os.write(1, b'from C\\n'); print('from Python')\n"
        "print('document')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "document\n"
    assert "from C" in done.stderr
    assert "from Python" in done.stderr
