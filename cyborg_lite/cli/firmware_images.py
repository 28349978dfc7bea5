"""``openstack accelerator firmware image ...``: the firmware catalog (2.4).

``create`` registers the metadata with the file's sha256 (computed first, so the API checks
the bytes it receives), then streams the file; ``download`` streams it back and checks it.
"""

from __future__ import annotations

import argparse
import base64
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from osc_lib import exceptions

from cyborg_lite.cli import client, common, transfer

LOG = logging.getLogger(__name__)
COLUMNS = ("uuid", "name", "vendor", "component", "version", "status", "size")


def find_image(api: client.Client, ref: str) -> str:
    """The uuid of the image ``ref`` names: a uuid as is, else a unique image name."""
    if common.is_uuid(ref):
        return ref
    found = api.list_all("/firmware_images", "firmware_images", {"name": ref}, minimum=common.V24)
    if len(found) != 1:
        raise exceptions.CommandError(
            f"No firmware image is named {ref!r}."
            if not found
            else f"{len(found)} firmware images are named {ref!r}; give a uuid."
        )
    uuid: str = found[0]["uuid"]
    return uuid


class CreateFirmwareImage(common.ShowOne):
    """Register a firmware image and upload its file."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """The file and the image's metadata."""
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("--file", required=True, metavar="<path>", help="The image file")
        parser.add_argument("--name", required=True, metavar="<name>", help="Image name")
        parser.add_argument("--vendor", required=True, metavar="<id>", help="PCI vendor id")
        parser.add_argument(
            "--component", required=True, metavar="<component>", help="e.g. vbios, fpga_shell"
        )
        # Not --version: OSC's own --version would take it.
        parser.add_argument(
            "--firmware-version", required=True, metavar="<version>", help="Version it installs"
        )
        parser.add_argument(
            "--device-id",
            action="append",
            default=[],
            metavar="<id>",
            help="Compatible PCI device id (repeat for more)",
        )
        parser.add_argument(
            "--model",
            action="append",
            default=[],
            metavar="<model>",
            help="Compatible board model (repeat for more)",
        )
        parser.add_argument(
            "--min-version", metavar="<version>", help="Lowest current version it upgrades"
        )
        parser.add_argument(
            "--signature-file",
            metavar="<path>",
            help="Detached signature as `openssl dgst -sha256 -sign` writes it (binary)",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        """Hash, register, stream; a refused upload removes the registration."""
        path = Path(parsed_args.file)
        if not path.is_file():
            raise exceptions.CommandError(f"{path} is not a readable file.")
        size = path.stat().st_size
        hashing = transfer.TransferBar("sha256 ", size, sys.stderr)
        digest = transfer.sha256_file(path, hashing.update)
        hashing.close()
        body: dict[str, Any] = {
            "name": parsed_args.name,
            "vendor": parsed_args.vendor,
            "component": parsed_args.component,
            "version": parsed_args.firmware_version,
            "device_ids": parsed_args.device_id,
            "models": parsed_args.model,
            "sha256": digest,
        }
        if parsed_args.min_version:
            body["min_version"] = parsed_args.min_version
        if parsed_args.signature_file:
            raw = Path(parsed_args.signature_file).read_bytes()
            body["signature"] = base64.b64encode(raw).decode()  # the API takes base64
        api = common.api(self)
        image = api.post("/firmware_images", body, minimum=common.V24)
        sending = transfer.TransferBar("upload ", size, sys.stderr)
        try:
            image = api.upload(
                f"/firmware_images/{image['uuid']}/file",
                transfer.FileBody(path, size, sending.update),
                minimum=common.V24,
            )
        except Exception:
            # Leave no half-registered (queued) image behind for a retry to trip over.
            try:
                api.delete(f"/firmware_images/{image['uuid']}", minimum=common.V24)
            except exceptions.CommandError as err:
                LOG.warning(
                    "Image %s stays queued; it could not be removed: %s", image["uuid"], err
                )
            raise
        finally:
            sending.close()
        return common.show(image)


class ListFirmwareImage(common.ResourceList):
    """List firmware images."""

    path = "/firmware_images"
    key = "firmware_images"
    columns = COLUMNS
    long_columns = ("compatibility", "sha256", "signed", "created_at")
    filters = (
        ("--name", "name", "Only images with this name"),
        ("--vendor", "vendor", "Only images for this PCI vendor id"),
        ("--component", "component", "Only images of this component"),
        ("--firmware-version", "version", "Only images of this version"),
        ("--status", "status", "Only images in this status (queued, active)"),
    )
    minimum = common.V24


class ShowFirmwareImage(common.ResourceShow):
    """Show one firmware image (by uuid or unique name)."""

    path = "/firmware_images/{}"
    argument = "image"
    argument_help = "The image's uuid or name"
    minimum = common.V24

    def fetch(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        """Resolve a name first."""
        api = common.api(self)
        found: dict[str, Any] = api.get(
            self.path.format(find_image(api, parsed_args.image)), minimum=self.minimum
        )
        return found


class DeleteFirmwareImage(common.ResourceDelete):
    """Delete firmware images (by uuid or unique name)."""

    path = "/firmware_images/{}"
    noun = "firmware image"
    argument = "image"
    minimum = common.V24

    def resolve(self, ident: str) -> str:
        """Resolve a name."""
        return find_image(common.api(self), ident)


class DownloadFirmwareImage(common.Command):
    """Download a firmware image's file (checked against its sha256)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """The image and where to write it."""
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("image", metavar="<image>", help="The image's uuid or name")
        parser.add_argument(
            "--file", metavar="<path>", help="Write here (default: stdout, when redirected)"
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        """Stream to the file (or stdout), hashing on the way."""
        if not parsed_args.file and sys.stdout.isatty():
            raise exceptions.CommandError("Give --file, or redirect stdout to a file.")
        api = common.api(self)
        uuid = find_image(api, parsed_args.image)
        resp = api.request("GET", f"/firmware_images/{uuid}/file", minimum=common.V24, stream=True)
        with resp:
            expected = resp.headers.get("X-Image-Sha256")
            size = int(resp.headers.get("Content-Length") or 0)
            progress = transfer.TransferBar("download ", size, sys.stderr)
            chunks = resp.iter_content(transfer.CHUNK)
            try:
                if parsed_args.file:
                    transfer.save(chunks, Path(parsed_args.file), expected, progress.update)
                else:
                    transfer.copy(chunks, sys.stdout.buffer, expected)
            except ValueError as err:
                raise exceptions.CommandError(str(err)) from err
            finally:
                progress.close()
