"""``cyborg-lite-agent discover``: what the drivers see, printed, contacting nothing."""

from __future__ import annotations

import json

import pytest

from cyborg_lite.cmd import agent as agent_cmd


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
