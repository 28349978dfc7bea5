"""``cyborg-lite-agent``: the agent service (filled in by the agents/conductor work)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from oslo_log import log as logging

from cyborg_lite import conf as cl_conf

LOG = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the configuration; the RPC server is not built yet."""
    conf = cl_conf.make_conf(sys.argv[1:] if argv is None else argv)
    logging.setup(conf, "cyborg-lite")
    LOG.error("cyborg-lite-agent has no RPC server yet")
    sys.exit(1)
