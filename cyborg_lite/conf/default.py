"""Options of the [DEFAULT] group: where state lives and which host this process is."""

from __future__ import annotations

import os
import socket

from oslo_config import cfg

OPTS = [
    cfg.StrOpt(
        "state_path",
        default=os.path.join(os.getcwd(), "var"),
        sample_default="$PWD/var",
        help="Folder holding the local state: the SQLite database (when [database] connection "
        "is left at its default), the firmware image store, the agent's job file and the "
        "simulated driver's state. Created on first use. Example: /var/lib/cyborg-lite.",
    ),
    cfg.StrOpt(
        "host",
        default=socket.gethostname(),
        sample_default="<hostname>",
        help="The identity of this host, used everywhere a host is named: the agent's RPC "
        "server name, the device `hostname` in the API and the compute-node resource provider "
        "name in Placement. These must be the same string, so set it to the name Nova uses "
        "for the node (often the FQDN). Example: compute1.example.org.",
    ),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [DEFAULT] options on ``conf``."""
    conf.register_opts(OPTS)
