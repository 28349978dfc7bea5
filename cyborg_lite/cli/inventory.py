"""``openstack accelerator host|device|deployable ...``: the inventory as agents report it,
and ``deployable program``, which loads a bitstream image into an FPGA deployable."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

from osc_lib import exceptions

from cyborg_lite.cli import client, common, firmware_images, progress, rollouts, usage
from cyborg_lite.firmware import states


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
    """List accelerator devices; ``--idle-for`` only those idle at least that long (2.6)."""

    path = "/devices"
    key = "devices"
    columns = ("uuid", "type", "vendor", "model", "hostname", "status", "host_state")
    long_columns = ("std_board_info", "vendor_board_info", "created_at", "updated_at")
    filters = (
        ("--type", "type", "Only devices of this type (GPU, FPGA, ...)"),
        ("--vendor", "vendor", "Only devices of this PCI vendor id (e.g. 10de)"),
        ("--hostname", "hostname", "Only devices on this host"),
    )
    usage_columns = ("utilization_percent", "idle_since", "allocated_to")

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """The filters, and ``--idle-for``."""
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--idle-for",
            type=usage.parse_duration,
            metavar="<duration>",
            help="Only devices idle at least this long: seconds, or e.g. 90s, 30m, 1h, 2d "
            "(needs microversion 2.6)",
        )
        return parser

    def query(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        """The filters, with ``idle_for`` in seconds."""
        params = super().query(parsed_args)
        if parsed_args.idle_for is not None:
            params["idle_for"] = parsed_args.idle_for
        return params

    def shape(self, item: dict[str, Any]) -> dict[str, Any]:
        """The device with its usage's headline figures as columns of their own."""
        found = item.get("usage") or {}
        allocated = found.get("allocated_to") or {}
        return {
            **item,
            "utilization_percent": found.get("utilization_percent"),
            "idle_since": found.get("idle_since"),
            "allocated_to": allocated.get("instance_uuid"),
        }

    def needs(self, parsed_args: argparse.Namespace) -> tuple[int, int]:
        """2.6 with ``--idle-for``."""
        return usage.V26 if parsed_args.idle_for is not None else self.minimum

    def column_names(self, parsed_args: argparse.Namespace) -> tuple[str, ...]:
        """With ``--idle-for``, the usage columns too."""
        names = super().column_names(parsed_args)
        return names + self.usage_columns if parsed_args.idle_for is not None else names


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


def find_deployable(api: client.Client, ref: str) -> str:
    """The uuid of the deployable ``ref`` names: a uuid as is, else a unique deployable name.

    The API has no name filter for deployables, so names are matched here, over every page.
    """
    if common.is_uuid(ref):
        return ref
    found = [d for d in api.list_all("/deployables", "deployables") if d.get("name") == ref]
    if len(found) != 1:
        raise exceptions.CommandError(
            f"No deployable is named {ref!r}."
            if not found
            else f"{len(found)} deployables are named {ref!r}; give a uuid."
        )
    uuid: str = found[0]["uuid"]
    return uuid


def program_patch(image_uuid: str) -> list[dict[str, Any]]:
    """Cyborg's program patch for one image."""
    return [{"path": "/program", "op": "replace", "value": [{"image_uuid": image_uuid}]}]


def program_job(api: client.Client, accepted: dict[str, Any]) -> dict[str, Any]:
    """The job behind a 202 program answer, as its rollout's jobs list shows it now."""
    path = f"/firmware_rollouts/{accepted['rollout_uuid']}/jobs"
    jobs = api.get(path, minimum=common.V24)["jobs"]
    job = next((j for j in jobs if j.get("uuid") == accepted["job_uuid"]), None)
    if job is None:
        raise exceptions.CommandError(
            f"Rollout {accepted['rollout_uuid']} does not list job {accepted['job_uuid']}."
        )
    found: dict[str, Any] = job
    return found


class ProgramDeployable(common.ShowOne):
    """Program an FPGA deployable with a bitstream image; waits for the load unless --no-wait.

    The API answers at once when the load finished within its [api] program_timeout;
    otherwise the job goes on in the background and this command follows it.
    """

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """The deployable, the image, and whether to wait."""
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument(
            "deployable", metavar="<deployable>", help="The deployable's uuid or name"
        )
        parser.add_argument(
            "image", metavar="<image>", help="The bitstream firmware image's uuid or name"
        )
        rollouts.add_wait_options(
            parser,
            "--no-wait",
            "When the API is still loading, print the job and rollout uuids and return",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        """PATCH the program request; show the deployable once it runs the image."""
        if parsed_args.interval <= 0:
            raise exceptions.CommandError("--interval must be more than 0 seconds.")
        started = time.monotonic()  # the user waits from here, the API's own wait included
        api = common.api(self)
        dep_uuid = find_deployable(api, parsed_args.deployable)
        image_uuid = firmware_images.find_image(api, parsed_args.image)
        resp = api.request(
            "PATCH", f"/deployables/{dep_uuid}/program", body=program_patch(image_uuid)
        )
        body: dict[str, Any] = resp.json() if resp.content else {}
        if resp.status_code != 202:
            # Loaded within the API's wait (or a server that programs synchronously, as
            # Cyborg does): the answer is the deployable.
            return common.show(body or api.get(f"/deployables/{dep_uuid}"))
        if parsed_args.no_wait:
            return ("job_uuid", "rollout_uuid"), (body["job_uuid"], body["rollout_uuid"])
        job = progress.follow_job(
            lambda: program_job(api, body),
            sys.stderr,  # stdout carries only the deployable, so -f json stays parseable
            f"Programming {dep_uuid}",
            interval=parsed_args.interval,
            started=started,
            sleep=time.sleep,
        )
        if job["state"] != states.SUCCEEDED:
            raise exceptions.CommandError(
                f"Programming deployable {dep_uuid} with image {image_uuid} ended "
                f"{job['state']}: {job.get('error_code') or 'no error code'}: "
                f"{job.get('error') or 'no error given'} (job {job['uuid']}, rollout "
                f"{body['rollout_uuid']})"
            )
        return common.show(api.get(f"/deployables/{dep_uuid}"))
