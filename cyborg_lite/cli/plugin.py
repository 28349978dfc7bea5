"""The python-openstackclient plugin module (entry point group ``openstack.cli.extension``).

OSC reads ``API_NAME``, ``API_VERSION_OPTION``, ``API_VERSIONS``, ``DEFAULT_API_VERSION``,
``check_api_version``, ``build_option_parser`` and ``make_client`` from here, and loads our
commands from the entry point group ``openstack.<API_NAME>.v2``.

Why ``API_NAME`` is ``cyborg_lite`` and not ``accelerator``: python-openstackclient 10.x ships
an in-tree ``accelerator`` module (``openstack.cli.base``) and silently drops any extension
with the same ``API_NAME``, and python-cyborgclient uses ``accelerator`` too. A name of our
own keeps this module loaded next to either; the commands are still typed
``openstack accelerator ...`` because a command's words come from its entry point name, not
from its group. Extension groups load after OSC's base groups, so where a command exists in
both (``accelerator device list``), ours is the one that runs.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from typing import Any

from osc_lib import utils

from cyborg_lite.cli import client, common

API_NAME = common.API_NAME
# Shared with OSC's in-tree accelerator module and python-cyborgclient: one option for all.
API_VERSION_OPTION = "os_accelerator_api_version"
API_VERSIONS = ("2", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7")
DEFAULT_API_VERSION = "2.7"
_OPTION = "--os-accelerator-api-version"


class _SupersededCommands(logging.Filter):
    """Drop cliff's "duplicate implementations" warning where one of the two is ours.

    Superseding OSC's in-tree ``accelerator`` commands is deliberate (see the module
    docstring); without this, every invocation would print a dozen warnings about it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        ours = isinstance(args, dict) and "cyborg_lite.cli." in str(args.get("modules", ""))
        return not (ours and str(record.msg).startswith("found duplicate implementations"))


def check_api_version(check_version: str) -> bool:
    """Validate ``--os-accelerator-api-version``; True tells OSC not to check it again."""
    client.parse_version(check_version)
    return True


def build_option_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--os-accelerator-api-version`` unless another accelerator plugin already did."""
    logging.getLogger("cliff.commandmanager").addFilter(_SupersededCommands())
    # OSC's in-tree accelerator module (or python-cyborgclient) may have defined it first.
    with contextlib.suppress(argparse.ArgumentError):
        parser.add_argument(
            _OPTION,
            metavar="<accelerator-api-version>",
            default=utils.env("OS_ACCELERATOR_API_VERSION"),
            help=f"Accelerator API microversion, default={DEFAULT_API_VERSION} "
            "(Env: OS_ACCELERATOR_API_VERSION)",
        )
    return parser


def make_client(instance: Any) -> client.Client:
    """The API client for the OSC client manager ``instance`` (called once, lazily)."""
    asked = (getattr(instance, "_api_version", None) or {}).get(API_NAME)
    version = client.parse_version(str(asked)) if asked else None
    endpoint = instance.get_endpoint_for_service_type(
        client.SERVICE_TYPE, region_name=instance.region_name, interface=instance.interface
    )
    return client.Client(
        instance.session,
        endpoint=endpoint,
        version=version,
        region_name=instance.region_name,
        interface=instance.interface,
    )
