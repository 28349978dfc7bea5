"""Every driver on this machine's real /sys (a CI VM: no accelerator) and through the agent's
entry-point loader against a fixture host with the fake tools on PATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cyborg_lite.agent import discovery
from cyborg_lite.drivers import amd, fpga_intel, fpga_xilinx, nvidia, pci
from cyborg_lite.drivers.host import SysfsReader
from tests.conftest import make_test_conf
from tests.unit.drivers.fake_tools import STATE_ENV

NAMES = ["nvidia", "amd", "fpga_intel", "fpga_xilinx", "opencl"]


def _real_accelerators(conf):
    devices = pci.PciBus(SysfsReader("/")).devices()
    return [
        d.address
        for d in devices
        if nvidia.claims(d)
        or amd.claims(d)
        or fpga_intel.claims(d, conf.fpga_intel.device_ids)
        or fpga_xilinx.claims(d, conf.fpga_xilinx.device_ids)
    ]


def test_real_host_finds_no_accelerator_and_does_not_crash(tmp_path):
    conf = make_test_conf(str(tmp_path))  # sysfs_root "/", every default
    present = _real_accelerators(conf)
    if present:
        pytest.skip(f"this machine has accelerators: {present}")
    drivers, errors = discovery.load(conf, NAMES)
    assert errors == []
    assert sorted(d.name for d in drivers) == sorted(NAMES)
    found = discovery.run(drivers, timeout=60)
    assert found.errors == []
    # PoCL's CPU device is there, but CPUs are not reported by default.
    assert found.devices == []


_AGENT_SCRIPT = """
import json, sys
from cyborg_lite import conf as cl_conf
from cyborg_lite.agent import discovery
from cyborg_lite.drivers import base
conf = cl_conf.make_conf(["--config-file", sys.argv[1]], default_config_files=[])
drivers, errors = discovery.load(conf, conf.agent.enabled_drivers)
found = discovery.run(drivers, conf.agent.discovery_timeout)
json.dump({"devices": [base.to_dict(d) for d in found.devices],
           "errors": [e.error for e in found.errors + errors]}, sys.stdout)
"""


def test_entry_points_against_fixture_host_with_fake_tools_on_path(tmp_path, host, tools):
    host.pci("0000:3b:00.0", "10de", "2330", "0x030200", driver="nvidia")
    tools.add(
        "0000:3b:00.0",
        "nvidia",
        {"vbios": "96.00.5E.00.01"},
        name="NVIDIA H100 80GB HBM3",
        serial="1",
        uuid="GPU-1",
        pci_device_id="0x233010DE",
        memory_mib=81559,
    )
    host.pci("0000:0c:00.0", "1002", "74a1", "0x120000", driver="amdgpu")
    tools.add(
        "0000:0c:00.0",
        "amd",
        {"vbios": "022.040.003.043.000001"},
        name="AMD Instinct MI300X",
        device_id="0x74a1",
        part_number="113-M3000100-102",
        serial="SYN1",
        vram_mb=196592,
    )
    host.pci(
        "0000:5e:00.0",
        "8086",
        "0b30",
        "0x120000",
        driver="dfl-pci",
        files={"fpga_region/region0/dfl-fme.0/bitstream_id": "0x23000410010309"},
    )
    tools.add(
        "0000:5e:00.0",
        "intel",
        {"fpga_shell": "0x23000410010309", "fpga_bmc": "D.2.1.24", "bitstream": "none"},
        platform="Intel PAC N3000",
        pr_interface_id="a5d72a3c-c8b0-4939-912c-f715e5dc10ca",
    )
    host.pci("0000:65:00.0", "10ee", "5004", "0x120000", driver="xclmgmt")
    tools.add(
        "0000:65:00.0",
        "xilinx",
        {"fpga_shell": "xilinx_u250_gen3x16_base_4", "fpga_sc": "4.6.20", "bitstream": "none"},
        board="Alveo U250 XDMA",
        serial="SYN21320000A",
    )
    config = tmp_path / "agent.conf"
    config.write_text(f"[agent]\nsysfs_root = {host.root}\n[opencl]\nisolate = false\n")
    env = {**os.environ, "PATH": str(tools.bin), STATE_ENV: str(tools.state_path)}
    out = subprocess.run(
        [sys.executable, "-c", _AGENT_SCRIPT, str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    report = json.loads(out)  # nothing else leaked onto stdout
    assert report["errors"] == []
    found = {
        d["pci_address"]: (
            d["driver"],
            d["vendor"],
            d["model"],
            {f["component"]: f["version"] for f in d["firmware"]},
        )
        for d in report["devices"]
    }
    assert found == {
        "0000:3b:00.0": ("nvidia", "10de", "NVIDIA H100 80GB HBM3", {"vbios": "96.00.5E.00.01"}),
        "0000:0c:00.0": ("amd", "1002", "AMD Instinct MI300X", {"vbios": "022.040.003.043.000001"}),
        "0000:5e:00.0": (
            "fpga_intel",
            "8086",
            "Intel PAC N3000",
            {"fpga_shell": "0x23000410010309", "fpga_bmc": "D.2.1.24", "bitstream": "none"},
        ),
        "0000:65:00.0": (
            "fpga_xilinx",
            "10ee",
            "Alveo U250 XDMA",
            {"fpga_shell": "xilinx_u250_gen3x16_base_4", "fpga_sc": "4.6.20"},
        ),
    }
