"""``openstack accelerator attribute|device profile|arq ...``: what a scheduler uses."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from osc_lib import exceptions

from cyborg_lite.cli import common

ARQ_COLUMNS = (
    "uuid",
    "state",
    "device_profile_name",
    "device_profile_group_id",
    "hostname",
    "instance_uuid",
    "attach_handle_type",
)
BIND_FIELDS = ("hostname", "device_rp_uuid", "instance_uuid")


class ListAttribute(common.ResourceList):
    """List deployables' attributes."""

    path = "/attributes"
    key = "attributes"
    columns = ("uuid", "deployable_id", "key", "value")
    filters = (
        ("--deployable-id", "deployable_id", "Only attributes of this deployable (internal id)"),
        ("--key", "key", "Only attributes with this key"),
    )


class ShowAttribute(common.ResourceShow):
    """Show one attribute."""

    path = "/attributes/{}"
    argument = "attribute"
    argument_help = "The attribute's uuid"


class CreateAttribute(common.ShowOne):
    """Add a key/value attribute to a deployable."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """Deployable, key, value."""
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("deployable", metavar="<deployable>", help="uuid or internal id")
        parser.add_argument("key", metavar="<key>", help="Attribute key")
        parser.add_argument("value", metavar="<value>", help="Attribute value")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        """POST the attribute and show it."""
        ref: int | str = parsed_args.deployable
        if parsed_args.deployable.isdigit():
            ref = int(parsed_args.deployable)
        body = {"deployable_id": ref, "key": parsed_args.key, "value": parsed_args.value}
        return common.show(common.api(self).post("/attributes", body))


class DeleteAttribute(common.ResourceDelete):
    """Delete attributes."""

    path = "/attributes/{}"
    noun = "attribute"
    argument = "attribute"


def parse_group(text: str) -> dict[str, str]:
    """``resources:FPGA=1,trait:CUSTOM_X=required`` as a request group dict."""
    group: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise exceptions.CommandError(
                f"Invalid group item {pair!r}: use KEY=VALUE, e.g. resources:FPGA=1."
            )
        group[key.strip()] = value.strip()
    if not group:
        raise exceptions.CommandError("An empty --group; give KEY=VALUE items.")
    return group


class CreateDeviceProfile(common.ShowOne):
    """Create a device profile: named request groups a flavor can ask for."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """Name, groups, description."""
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="<name>", help="Profile name")
        parser.add_argument(
            "--group",
            action="append",
            required=True,
            metavar="<key=value,...>",
            help="One request group, e.g. resources:FPGA=1,trait:CUSTOM_FPGA_INTEL=required "
            "(repeat for more groups, in order)",
        )
        parser.add_argument("--description", metavar="<text>", help="Free text")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        """POST a list of one profile, as Cyborg's API wants it."""
        profile = {
            "name": parsed_args.name,
            "description": parsed_args.description,
            "groups": [parse_group(g) for g in parsed_args.group],
        }
        return common.show(common.api(self).post("/device_profiles", [profile]))


class ListDeviceProfile(common.ResourceList):
    """List device profiles."""

    path = "/device_profiles"
    key = "device_profiles"
    columns = ("uuid", "name", "description", "groups")
    filters = (("--name", "name", "Only these names (comma-separated)"),)


class ShowDeviceProfile(common.ResourceShow):
    """Show one device profile by name or uuid."""

    path = "/device_profiles/{}"
    argument = "device_profile"
    argument_help = "The profile's name or uuid"
    minimum = (2, 2)  # a name in the path needs 2.2

    def fetch(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        """Unwrap Cyborg's ``{"device_profile": {...}}``."""
        found: dict[str, Any] = super().fetch(parsed_args)["device_profile"]
        return found


class DeleteDeviceProfile(common.ResourceDelete):
    """Delete device profiles by name or uuid."""

    path = "/device_profiles/{}"
    noun = "device profile"
    argument = "device_profile"


class CreateArq(common.Lister):
    """Create accelerator requests from a device profile: one per accelerator it asks for."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """The profile."""
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("device_profile", metavar="<device-profile>", help="Profile name")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        """POST and list what was created."""
        body = {"device_profile_name": parsed_args.device_profile}
        created = common.api(self).post("/accelerator_requests", body)["arqs"]
        return ARQ_COLUMNS, [common.row(a, ARQ_COLUMNS) for a in created]


class ListArq(common.ResourceList):
    """List accelerator requests."""

    path = "/accelerator_requests"
    key = "arqs"
    columns = ARQ_COLUMNS
    long_columns = ("device_rp_uuid", "project_id", "attach_handle_info", "created_at")
    filters = (
        ("--instance", "instance", "Only requests of this instance (uuid)"),
        ("--bind-state", "bind_state", "'resolved': only bound or failed requests"),
    )


class ShowArq(common.ResourceShow):
    """Show one accelerator request."""

    path = "/accelerator_requests/{}"
    argument = "arq"
    argument_help = "The request's uuid"


class BindArq(common.ShowOne):
    """Bind an accelerator request to an instance on a host (needs the service role)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """The request and where it is bound."""
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("arq", metavar="<arq>", help="The request's uuid")
        parser.add_argument("--hostname", required=True, metavar="<host>", help="Compute host")
        parser.add_argument(
            "--device-rp-uuid", required=True, metavar="<uuid>", help="Device resource provider"
        )
        parser.add_argument("--instance-uuid", required=True, metavar="<uuid>", help="Instance")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        """PATCH ``add`` ops, then show the request as it ended (Bound or BindFailed)."""
        ops = [
            {"op": "add", "path": f"/{f}", "value": getattr(parsed_args, f)} for f in BIND_FIELDS
        ]
        client = common.api(self)
        client.patch(f"/accelerator_requests/{parsed_args.arq}", {parsed_args.arq: ops})
        return common.show(client.get(f"/accelerator_requests/{parsed_args.arq}"))


class UnbindArq(common.ShowOne):
    """Unbind an accelerator request (needs the service role)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """The request."""
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("arq", metavar="<arq>", help="The request's uuid")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        """PATCH ``remove`` ops, then show the request."""
        ops = [{"op": "remove", "path": f"/{f}"} for f in BIND_FIELDS]
        client = common.api(self)
        client.patch(f"/accelerator_requests/{parsed_args.arq}", {parsed_args.arq: ops})
        return common.show(client.get(f"/accelerator_requests/{parsed_args.arq}"))


class DeleteArq(common.ResourceDelete):
    """Delete accelerator requests."""

    path = "/accelerator_requests/{}"
    noun = "accelerator request"
    argument = "arq"
