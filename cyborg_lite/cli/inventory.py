"""``openstack accelerator host|device|deployable ...``: the inventory as agents report it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from cyborg_lite.cli import common


class ListHost(common.ResourceList):
    """List the hosts that run agents, with their liveness and device counts (2.4)."""

    path = "/hosts"
    key = "hosts"
    columns = ("hostname", "state", "device_count", "agent_version", "last_heartbeat")
    long_columns = ("device_counts", "missing_device_count", "driver_errors")
    filters = (("--state", "state", "Only hosts in this state: up, down or maintenance"),)
    minimum = common.V24
    marker_help = "Start after this host (its hostname)"


class ShowHost(common.ResourceShow):
    """Show one host (2.4)."""

    path = "/hosts/{}"
    argument = "hostname"
    argument_help = "The host's name"
    minimum = common.V24


class ListDevice(common.ResourceList):
    """List accelerator devices."""

    path = "/devices"
    key = "devices"
    columns = ("uuid", "type", "vendor", "model", "hostname", "status", "host_state")
    long_columns = ("std_board_info", "vendor_board_info", "created_at", "updated_at")
    filters = (
        ("--type", "type", "Only devices of this type (GPU, FPGA, ...)"),
        ("--vendor", "vendor", "Only devices of this PCI vendor id (e.g. 10de)"),
        ("--hostname", "hostname", "Only devices on this host"),
    )


class ShowDevice(common.ResourceShow):
    """Show one accelerator device."""

    path = "/devices/{}"
    argument = "device"
    argument_help = "The device's uuid"


class _DeviceStatus(common.Command):
    action = ""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("device", metavar="<device>", help="The device's uuid")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        common.api(self).post(f"/devices/{parsed_args.device}/{self.action}", None)


class EnableDevice(_DeviceStatus):
    """Take a device out of maintenance: it is offered for binding again."""

    action = "enable"


class DisableDevice(_DeviceStatus):
    """Put a device in maintenance: it is no longer offered for binding."""

    action = "disable"


def _component(item: dict[str, Any]) -> str:
    text = f"{item['component']}: {item['version']}"
    notes = ["updatable" if item.get("updatable") else "read-only"]
    if item.get("activation"):
        notes.append(f"activation {item['activation']}")
    if item.get("pending_version"):
        notes.append(f"pending {item['pending_version']}")
    return f"{text} ({', '.join(notes)})"


def _history(item: dict[str, Any]) -> str:
    when = item.get("finished_at") or item.get("started_at") or item.get("created_at") or ""
    after = item.get("version_after") or item.get("target_version") or "?"
    change = f"{item.get('version_before') or '?'} -> {after}"
    text = f"{when} {item['component']} {change} {item['state']} (rollout {item['rollout_uuid']})"
    if item.get("error"):
        text += f": {item['error']}"
    return text


class _Lines(common.Struct):
    """A list shown one formatted line per item in a table, raw in JSON/YAML."""

    def __init__(self, value: list[dict[str, Any]], line: Any) -> None:
        super().__init__(value)
        self._line = line

    def human_readable(self) -> str:
        """One line per item."""
        return "\n".join(self._line(v) for v in self._value) or "-"


class ShowDeviceFirmware(common.ShowOne):
    """Show a device's firmware components and every firmware job that touched it (2.4)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """The device."""
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("device", metavar="<device>", help="The device's uuid")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        """Components and history, one line each in a table."""
        body = common.api(self).get(f"/devices/{parsed_args.device}/firmware", minimum=common.V24)
        return (
            ("device_uuid", "hostname", "components", "history"),
            (
                body["device_uuid"],
                body["hostname"],
                _Lines(body["components"], _component),
                _Lines(body["history"], _history),
            ),
        )


class ListDeployable(common.ResourceList):
    """List deployables: what is scheduled (a whole GPU, a vGPU type, an FPGA region...)."""

    path = "/deployables"
    key = "deployables"
    columns = ("uuid", "name", "device_id", "num_accelerators")
    long_columns = ("rp_uuid", "driver_name", "attributes_list", "created_at", "updated_at")


class ShowDeployable(common.ResourceShow):
    """Show one deployable."""

    path = "/deployables/{}"
    argument = "deployable"
    argument_help = "The deployable's uuid"
