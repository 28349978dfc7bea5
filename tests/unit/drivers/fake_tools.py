"""Fake vendor executables (nvidia-smi, nvflash, amd-smi, rocm-smi, amdvbflash, fpgainfo,
fpgasupdate, fpgaconf, xbmgmt, xbutil) and the test-side helper that installs them.

``FakeTools(tmp_path)`` writes one small script per tool into ``tmp_path/bin`` (shebang = this
interpreter) that calls ``main()`` here; the drivers' real ``CommandRunner`` runs them through
``FakeTools.runner()``, whose search path is that directory only. The tools share one JSON host
state file (path in ``FAKE_ACCEL_STATE``, guarded by ``fcntl.flock``): devices by address,
active and pending firmware per component, sysfs files to rewrite on a live load, an in-use
flag, and a failure plan per tool (``busy``, ``bad-image``, ``mid-flash``, ``hang``,
``unchanged``, ``garbage``, ``rc:N``, ``failed-rc0``). Usage queries (``nvidia-smi --query-*``,
``amd-smi metric``, ``fpgainfo power``/``temp``, ``xbutil examine``) render each device's
``usage`` (``fake_usage``).

Like the real tools, flashes of a VBIOS, FIM, BMC or base shell go to *pending* and print a
reset/reboot banner while queries keep showing the old version; ``FakeTools.activate()`` plays
the reset or power cycle. AFU and xclbin loads switch at once. Images are small JSON files
(``{"version": ..., "component": ..., "board": ...}``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.unit.drivers.fake_usage import mig_xml, run_usage

STATE_ENV = "FAKE_ACCEL_STATE"
REPO = Path(__file__).resolve().parents[3]
TOOLS = (
    "nvidia-smi",
    "nvflash",
    "amd-smi",
    "rocm-smi",
    "amdvbflash",
    "fpgainfo",
    "fpgasupdate",
    "fpgaconf",
    "xbmgmt",
    "xbutil",
)


# ---------------------------------------------------------------------------- state


@contextlib.contextmanager
def locked_state(path: str) -> Iterator[dict[str, Any]]:
    """The state, read and written back under an exclusive lock."""
    with open(path, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        state = json.load(f)
        yield state
        f.seek(0)
        f.truncate()
        json.dump(state, f, indent=1)


def _write_files(dev: dict[str, Any], component: str) -> None:
    spec = dev.get("files", {}).get(component)
    if spec:
        path, form = spec
        value = dev["fw"][component]
        Path(path).write_text((value.replace("-", "") if form == "nodash" else value) + "\n")


# ---------------------------------------------------------------------------- renderers


def _nvidia_xml(state: dict[str, Any]) -> str:
    gpus = []
    for addr, dev in sorted(state["devices"].items()):
        if dev["vendor"] != "nvidia":
            continue
        i = dev["info"]
        gpus.append(
            f'<gpu id="{addr.upper().replace("0000:", "00000000:", 1)}">'
            f"<product_name>{i['name']}</product_name><serial>{i['serial']}</serial>"
            f"<uuid>{i['uuid']}</uuid><vbios_version>{dev['fw']['vbios']}</vbios_version>"
            f"<inforom_version><img_version>{dev['fw'].get('inforom', 'N/A')}</img_version>"
            f"</inforom_version><mig_mode><current_mig>Disabled</current_mig>"
            f"<pending_mig>Disabled</pending_mig></mig_mode>"
            f"<pci><pci_device_id>{i['pci_device_id']}</pci_device_id></pci>"
            f"<fb_memory_usage><total>{i['memory_mib']} MiB</total></fb_memory_usage>"
            f"{mig_xml(dev)}</gpu>"
        )
    return (
        '<?xml version="1.0" ?>\n<nvidia_smi_log><driver_version>550.54.15</driver_version>'
        + "".join(gpus)
        + "</nvidia_smi_log>\n"
    )


def _amd_static(state: dict[str, Any]) -> str:
    entries = []
    for n, (addr, dev) in enumerate(sorted(state["devices"].items())):
        if dev["vendor"] != "amd":
            continue
        i = dev["info"]
        entries.append(
            {
                "gpu": n,
                "asic": {"market_name": i["name"], "device_id": i["device_id"]},
                "bus": {"bdf": addr},
                "vbios": {"version": dev["fw"]["vbios"], "part_number": i["part_number"]},
                "board": {"product_serial": i["serial"]},
                "vram": {"size": {"value": i["vram_mb"], "unit": "MB"}},
            }
        )
    return json.dumps({"gpu_data": entries})


def _fpgainfo(state: dict[str, Any]) -> str:
    out = []
    for addr, dev in sorted(state["devices"].items()):
        if dev["vendor"] != "intel":
            continue
        i, fw = dev["info"], dev["fw"]
        out += [
            i["platform"],
            f"Board Management Controller NIOS FW version: {fw['fpga_bmc']}",
            f"Board Management Controller Build version: {fw['fpga_bmc']}",
            "//****** FME ******//",
            "Interface                        : DFL",
            f"PCIe s:b:d.f                     : {addr.upper()}",
            f"Bitstream Id                     : {fw['fpga_shell']}",
            f"Pr Interface Id                  : {i['pr_interface_id']}",
            "Boot Page                        : user1",
        ]
    return "\n".join(out) + "\n"


def _xbmgmt_report(dev: dict[str, Any], addr: str) -> dict[str, Any]:
    fw = dev["fw"]
    return {
        "schema_version": {"schema": "JSON", "creation_date": "synthetic"},
        "devices": [
            {
                "interface_type": "pcie",
                "device_id": addr,
                "platform": {
                    "bdf": addr,
                    "hardware": {"serial_num": dev["info"]["serial"]},
                    "device_properties": {"board_name": dev["info"]["board"]},
                    "current_shell": {"vbnv": fw["fpga_shell"], "sc_version": fw["fpga_sc"]},
                },
            }
        ],
    }


# ---------------------------------------------------------------------------- behaviour


def _hang(path: str) -> None:
    # Ignore SIGTERM, so the runner has to escalate to SIGKILL; a child keeps the pipes open
    # and must die with the process group.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with locked_state(path) as state:
        state["hung"] = [os.getpid(), child.pid]
    print("Programming ... 10%", flush=True)
    time.sleep(60)


def _image(path: str) -> dict[str, Any] | None:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "version" in data else None


def _flash(
    state: dict[str, Any],
    mode: str | None,
    addr: str,
    component: str,
    image_path: str,
    *,
    live: bool,
    msgs: dict[str, str],
) -> int:
    dev = state["devices"].get(addr)
    if dev is None:
        print(msgs.get("missing", f"ERROR: no such device {addr}"))
        return 1
    if dev.get("in_use") or mode == "busy":
        print(msgs["busy"])
        return 1
    image = _image(image_path)
    board = image.get("board") if image else None
    if (
        image is None
        or mode == "bad-image"
        or image.get("component", component) != component
        or (board is not None and board != dev["info"].get("board"))
    ):
        print(msgs["bad"])
        return 1
    print("Erasing flash ... 100%")
    if mode == "mid-flash":
        print("Programming ... 40%")
        print(msgs["mid"], file=sys.stderr)
        dev["recovery"] = True
        return 1
    if mode == "failed-rc0":
        print(msgs["mid"])
        return 0
    if image["version"] == dev["fw"].get(component):
        print(msgs.get("noop", msgs["ok"]))
        return 0
    print("Programming ... 100%")
    state.setdefault("flashes", 0)
    state["flashes"] += 1
    if mode != "unchanged":
        if live:
            dev["fw"][component] = image["version"]
            _write_files(dev, component)
        else:
            dev.setdefault("pending", {})[component] = image["version"]
    print(msgs["ok"])
    return 0


def _arg_after(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None


def run_tool(tool: str, args: list[str], state: dict[str, Any], mode: str | None) -> int:
    """One invocation of ``tool``; returns its exit status (output goes to stdout/stderr)."""
    if mode == "garbage":
        sys.stdout.buffer.write(b"\xff\xfe garbage {<nvidia_smi_log\n")
        return 0
    if mode and mode.startswith("rc:"):
        print(f"{tool}: failed because it couldn't communicate with the NVIDIA driver")
        return int(mode[3:])
    usage = run_usage(tool, args, state)
    if usage is not None:
        return usage
    if tool == "nvidia-smi":
        if args != ["-q", "-x"]:
            print("Invalid combination of input arguments.")
            return 2
        sys.stdout.write(_nvidia_xml(state))
        return 0
    if tool == "nvflash":
        if "-y" not in args:
            print("Update display adapter firmware? Press 'y' to confirm: ", end="")
            return 0 if sys.stdin.read(1) == "y" else 1
        addr = next((a.split("=", 1)[1] for a in args if a.startswith("--pcisegbus=")), "")
        msgs = {
            "busy": "ERROR: GPU is in use by running processes; stop them first.",
            "bad": "ERROR: Board ID mismatch (image does not match this adapter).",
            "mid": "ERROR: Flash write failed at 0x00040000.",
            "ok": "Update successful. A GPU reset or reboot is required to load it.",
        }
        return _flash(state, mode, addr, "vbios", args[-1], live=False, msgs=msgs)
    if tool == "amd-smi":
        if args == ["static", "--json"]:
            print(_amd_static(state))
            return 0
        if args == ["firmware", "--json"]:
            print(json.dumps({"gpu_data": []}))
            return 0
        print(f"amd-smi: unknown arguments {args}", file=sys.stderr)
        return 2
    if tool == "rocm-smi":
        print("{}")
        return 0
    if tool == "amdvbflash":
        msgs = {
            "busy": "ERROR: adapter busy",
            "bad": "ERROR: image part number mismatch",
            "mid": "ERROR: flash programming failed",
            "ok": "Flash completed. Reboot to activate.",
        }
        return _flash(
            state, mode, _arg_after(args, "-p") or "", "vbios", args[-1], live=False, msgs=msgs
        )
    if tool == "fpgainfo":
        sys.stdout.write(_fpgainfo(state))
        return 0
    if tool == "fpgasupdate":
        image = _image(args[0]) or {}
        if image.get("irreversible") and "-y" not in args:
            print("WARNING: root entry hash programming is irreversible. Continue? [y/N] ", end="")
            return 0 if sys.stdin.read(1) == "y" else 1
        msgs = {
            "busy": "Secure update failed: device-busy",
            "bad": "Secure update failed: invalid signature / incompatible image",
            "mid": "Secure update failed: programming:hw-error",
            "ok": "Secure update OK",
        }
        component = image.get("component", "fpga_shell")
        return _flash(state, mode, args[1], component, args[0], live=False, msgs=msgs)
    if tool == "fpgaconf":
        seg, bus = _arg_after(args, "--segment"), _arg_after(args, "--bus")
        dev_, fn = _arg_after(args, "--device"), _arg_after(args, "--function")
        addr = f"{int(seg or '0', 16):04x}:{int(bus or '0', 16):02x}:{int(dev_ or '0', 16):02x}."
        addr += f"{int(fn or '0', 16):x}"
        msgs = {
            "busy": "Error: resource busy: port is in use",
            "bad": "Error: interface id mismatch between bitstream and FPGA region",
            "mid": "Error: PR failed: write error",
            "ok": "Partial reconfiguration done",
        }
        return _flash(state, mode, addr, "bitstream", args[-1], live=True, msgs=msgs)
    if tool == "xbmgmt":
        addr = _arg_after(args, "--device") or ""
        dev = state["devices"].get(addr)
        if args[:1] == ["examine"]:
            if dev is None:
                print(f"ERROR: device {addr} not found", file=sys.stderr)
                return 1
            out = _arg_after(args, "--output")
            text = json.dumps(_xbmgmt_report(dev, addr))
            if out:
                Path(out).write_text(text)
            else:
                print(text)
            return 0
        msgs = {
            "busy": "ERROR: device is busy",
            "bad": "ERROR: shell image does not match this platform (incompatible)",
            "mid": "[FAILED] : Failed to update base",
            "noop": "Base flash image is up-to-date. [PASSED]",
            "ok": "[PASSED] : Flash erased/programmed/verified\n"
            "Cold reboot machine to load the new image on device.",
        }
        return _flash(
            state,
            mode,
            addr,
            "fpga_shell",
            _arg_after(args, "--image") or "",
            live=False,
            msgs=msgs,
        )
    if tool == "xbutil":
        user = _arg_after(args, "--device") or ""
        addr = next((a for a, d in state["devices"].items() if d["info"].get("user") == user), user)
        msgs = {
            "busy": "ERROR: device busy: another xclbin load in progress",
            "bad": "ERROR: xclbin interface uuid mismatch with shell",
            "mid": "ERROR: load xclbin failed",
            "ok": "INFO: xclbin loaded",
        }
        return _flash(
            state, mode, addr, "bitstream", _arg_after(args, "--user") or "", live=True, msgs=msgs
        )
    print(f"{tool}: not faked", file=sys.stderr)
    return 127


def main() -> None:
    """Entry point of every fake tool script."""
    tool = os.path.basename(sys.argv[0])
    path = os.environ[STATE_ENV]
    with locked_state(path) as state:
        state.setdefault("calls", []).append([tool, *sys.argv[1:], os.environ.get("LANG", "")])
        mode = state.get("fail", {}).get(tool)
    if mode == "hang":
        _hang(path)
    # Run the tool under the lock: concurrent invocations see each other's writes in order.
    with locked_state(path) as state:
        rc = run_tool(tool, sys.argv[1:], state, mode)
    sys.stdout.flush()
    sys.exit(rc)


# ---------------------------------------------------------------------------- test side


class FakeTools:
    """Installs the fake tools under ``tmp/bin`` and edits their shared state."""

    def __init__(self, tmp: Path) -> None:
        self.bin = Path(tmp) / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.state_path = Path(tmp) / "fake-accel-state.json"
        self.state_path.write_text(json.dumps({"devices": {}, "fail": {}, "calls": []}))
        for tool in TOOLS:
            self.install(tool)

    def install(self, tool: str) -> None:
        """Put ``tool`` on the fake PATH."""
        script = self.bin / tool
        script.write_text(
            f"#!{sys.executable}\n"
            f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
            "from tests.unit.drivers.fake_tools import main\nmain()\n"
        )
        script.chmod(0o755)

    def remove(self, tool: str) -> None:
        """Take ``tool`` off the fake PATH (not installed)."""
        (self.bin / tool).unlink()

    def runner(self, **kw: Any) -> Any:
        """A real CommandRunner whose PATH is the fake tools only."""
        from cyborg_lite.drivers.host import CommandRunner

        kw.setdefault("kill_grace", 0.2)
        return CommandRunner(path=str(self.bin), env={STATE_ENV: str(self.state_path)}, **kw)

    @contextlib.contextmanager
    def state(self) -> Iterator[dict[str, Any]]:
        """The shared state, for a test to read or change."""
        with locked_state(str(self.state_path)) as state:
            yield state

    def read(self) -> dict[str, Any]:
        """A snapshot of the state."""
        return json.loads(self.state_path.read_text())

    def add(self, addr: str, vendor: str, fw: dict[str, str], **info: Any) -> None:
        """Add a device the tools know about (``files`` and ``in_use`` go beside ``info``)."""
        files = info.pop("files", {})
        with self.state() as s:
            s["devices"][addr] = {"vendor": vendor, "fw": dict(fw), "info": info, "files": files}

    def fail(self, tool: str, mode: str | None) -> None:
        """Make every later call of ``tool`` fail that way (None: behave)."""
        with self.state() as s:
            if mode is None:
                s["fail"].pop(tool, None)
            else:
                s["fail"][tool] = mode

    def set(self, addr: str, **fields: Any) -> None:
        """Set device fields, e.g. ``in_use=True``."""
        with self.state() as s:
            s["devices"][addr].update(fields)

    def activate(self, addr: str) -> None:
        """A GPU reset / reboot / power cycle: pending firmware becomes active."""
        with self.state() as s:
            dev = s["devices"][addr]
            for component, version in dev.pop("pending", {}).items():
                dev["fw"][component] = version
                _write_files(dev, component)

    def calls(self, tool: str) -> list[list[str]]:
        """The argument lists ``tool`` was called with (LANG appended last)."""
        return [c[1:] for c in self.read()["calls"] if c[0] == tool]

    @staticmethod
    def image(path: Path, version: str, **extra: Any) -> str:
        """Write a fake firmware image; returns its path."""
        path.write_text(json.dumps({"version": version, **extra}))
        return str(path)
