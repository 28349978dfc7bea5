"""The fake vendor tools' usage queries, rendered from each device's ``usage`` in the state.

Formats follow the tools' documented output (the fixture README names them):

- ``nvidia-smi --query-gpu=F,... --format=csv,noheader,nounits``: one row per GPU in the asked
  field order; a field missing from ``usage`` prints ``[N/A]``. ``--query-compute-apps``: one row
  per ``usage["processes"]`` entry ``[pid, used MiB]``. ``usage["mig"]`` adds MIG instances (and
  their processes) to ``-q -x``.
- ``amd-smi metric --usage --power --temperature --mem-usage --json`` (ROCm 6/7 ``gpu_data``
  envelope, ``{value, unit}`` leaves, ``N/A`` where missing); ``amd-smi list --json``.
- ``fpgainfo power`` / ``fpgainfo temp``: the common header, then ``( n) Name : value unit``.
- ``xbutil examine --device BDF --report electrical thermal --format JSON --output FILE``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NVIDIA_CSV = "--format=csv,noheader,nounits"
AMD_METRIC = ["metric", "--usage", "--power", "--temperature", "--mem-usage", "--json"]


def _devices(state: dict[str, Any], vendor: str) -> list[tuple[str, dict[str, Any]]]:
    return [(a, d) for a, d in sorted(state["devices"].items()) if d["vendor"] == vendor]


def _smi_bus_id(addr: str) -> str:
    return addr.upper().replace("0000:", "00000000:", 1)


def mig_xml(dev: dict[str, Any]) -> str:
    """``<mig_devices>`` and ``<processes>`` of a GPU with ``usage["mig"]``; empty otherwise."""
    migs = dev.get("usage", {}).get("mig")
    if not migs:
        return ""
    rows, procs = [], []
    for m in migs:
        ids = (
            f"<gpu_instance_id>{m['gi']}</gpu_instance_id>"
            f"<compute_instance_id>{m['ci']}</compute_instance_id>"
        )
        rows.append(
            f"<mig_device>{ids}<fb_memory_usage><total>{m['total_mib']} MiB</total>"
            f"<used>{m['used_mib']} MiB</used></fb_memory_usage></mig_device>"
        )
        procs += [
            f"<process_info>{ids}<pid>{p}</pid><type>C</type></process_info>" for p in m["pids"]
        ]
    return f"<mig_devices>{''.join(rows)}</mig_devices><processes>{''.join(procs)}</processes>"


def _nvidia_smi(args: list[str], state: dict[str, Any]) -> int | None:
    if len(args) != 2 or args[1] != NVIDIA_CSV or not args[0].startswith("--query-"):
        return None
    kind, _, fields = args[0][len("--query-") :].partition("=")
    if state["fail"].get(f"nvidia-smi:{kind}"):
        print("Unable to determine the device handle for gpu: Unknown Error")
        return int(state["fail"][f"nvidia-smi:{kind}"].partition(":")[2])
    names = fields.split(",")
    for addr, dev in _devices(state, "nvidia"):
        usage, uuid = dev.get("usage", {}), dev["info"]["uuid"]
        if kind == "gpu":
            known = {"pci.bus_id": _smi_bus_id(addr), "uuid": uuid, **usage}
            print(", ".join(str(known.get(n, "[N/A]")) for n in names))
        elif kind == "compute-apps":
            for pid, mib in usage.get("processes", ()):
                row = {"gpu_uuid": uuid, "pid": pid, "used_memory": mib}
                print(", ".join(str(row.get(n, "[N/A]")) for n in names))
        else:
            print(f'Field "{kind}" is not a valid query.')
            return 2
    return 0


def _leaf(value: Any, unit: str) -> Any:
    return "N/A" if value is None else {"value": value, "unit": unit}


def _amd_smi(args: list[str], state: dict[str, Any]) -> int | None:
    gpus = _devices(state, "amd")
    if args == ["list", "--json"]:
        print(
            json.dumps(
                [
                    {"gpu": n, "bdf": a, "uuid": d["info"].get("uuid", "N/A")}
                    for n, (a, d) in enumerate(gpus)
                ]
            )
        )
        return 0
    if args != AMD_METRIC:
        return None
    entries = []
    for n, (_addr, dev) in enumerate(gpus):
        u = dev.get("usage", {})
        entries.append(
            {
                "gpu": n,
                "usage": {"gfx_activity": _leaf(u.get("gfx"), "%"), "umc_activity": "N/A"},
                "power": {"socket_power": _leaf(u.get("watts"), "W"), "gfx_voltage": "N/A"},
                "temperature": {
                    "edge": _leaf(u.get("edge"), "C"),
                    "hotspot": _leaf(u.get("hotspot"), "C"),
                    "mem": "N/A",
                },
                "mem_usage": {
                    "total_vram": _leaf(u.get("total_mb"), "MB"),
                    "used_vram": _leaf(u.get("used_mb"), "MB"),
                },
            }
        )
    print(json.dumps({"gpu_data": entries}))
    return 0


_FPGA_SENSORS = {
    "power": [("Board Power", "watts", "Watts"), ("12v Backplane Voltage", "volts", "Volts")],
    "temp": [
        ("Board Temperature", "board_c", "Celsius"),
        ("FPGA Die Temperature", "die_c", "Celsius"),
    ],
}


def _fpgainfo(args: list[str], state: dict[str, Any]) -> int | None:
    if args not in (["power"], ["temp"]):
        return None
    out = []
    for addr, dev in _devices(state, "intel"):
        out += [
            dev["info"]["platform"],
            f"//****** {'POWER' if args == ['power'] else 'TEMP'} ******//",
            f"PCIe s:b:d.f                     : {addr.upper()}",
        ]
        usage = dev.get("usage", {})
        for n, (name, key, unit) in enumerate(_FPGA_SENSORS[args[0]], 1):
            value = usage.get(key)
            shown = "N/A" if value is None else f"{value:.2f} {unit}"
            out.append(f"({n:2d}) {name:<27} : {shown}")
    print("\n".join(out))
    return 0


def _xbutil(args: list[str], state: dict[str, Any]) -> int | None:
    if args[:1] != ["examine"] or "electrical" not in args:
        return None
    user = args[args.index("--device") + 1]
    dev = next((d for d in state["devices"].values() if d["info"].get("user") == user), None)
    if dev is None:
        print(f"ERROR: Specified device BDF '{user}' not found")
        return 1
    u = dev.get("usage", {})
    watts = u.get("watts")
    report = {
        "schema_version": {"schema": "JSON", "creation_date": "synthetic"},
        "devices": [
            {
                "interface_type": "pcie",
                "device_id": user,
                "electrical": {
                    "power_rails": [],
                    "power_consumption_max_watts": "225",
                    "power_consumption_watts": "N/A" if watts is None else f"{watts:.6f}",
                    "power_consumption_warning": "false",
                },
                "thermals": [
                    {
                        "location_id": "pcb_top_front",
                        "description": "PCB Top Front",
                        "temp_C": str(u.get("pcb_c", 0)),
                        "is_present": str(u.get("pcb_c") is not None).lower(),
                    },
                    {
                        "location_id": "fpga0",
                        "description": "FPGA",
                        "temp_C": str(u.get("fpga_c", 0)),
                        "is_present": str(u.get("fpga_c") is not None).lower(),
                    },
                ],
            }
        ],
    }
    Path(args[args.index("--output") + 1]).write_text(json.dumps(report, indent=4))
    return 0


def run_usage(tool: str, args: list[str], state: dict[str, Any]) -> int | None:
    """A usage query of ``tool``, printed; its exit status, or None when ``args`` are not one."""
    handler = {
        "nvidia-smi": _nvidia_smi,
        "amd-smi": _amd_smi,
        "fpgainfo": _fpgainfo,
        "xbutil": _xbutil,
    }
    run = handler.get(tool)
    return run(args, state) if run else None
