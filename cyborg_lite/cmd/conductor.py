"""``cyborg-lite-conductor``: reconciles agent reports into SQL and watches host liveness.

Several may run at once against one database and broker; they share the work of the topic.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from oslo_log import log as logging

from cyborg_lite import conf as cl_conf
from cyborg_lite import rpc
from cyborg_lite.cmd import serve
from cyborg_lite.conductor.service import ConductorService
from cyborg_lite.db.engine import Database

LOG = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the conductor's RPC API until stopped."""
    conf = cl_conf.make_conf(sys.argv[1:] if argv is None else argv)
    logging.setup(conf, "cyborg-lite")
    db = Database.from_conf(conf, serialize=True)
    transport = rpc.get_transport(conf)
    notifier = rpc.get_notifier(conf, None, f"cyborg-lite-conductor.{conf.host}")
    service = ConductorService(conf, db, transport, notifier)
    serve.run_until_signalled([service], "cyborg-lite-conductor")
    db.dispose()
