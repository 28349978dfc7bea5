"""``cyborg-lite-aio``: the all-in-one service on the embedded defaults.

The API is served by gunicorn with one worker, in which the conductor and the agents also run
(they share oslo.messaging's in-process ``fake://`` transport with the API).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from oslo_log import log as logging

from cyborg_lite import conf as cl_conf
from cyborg_lite.cmd import api as api_cmd

LOG = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the API (and, in the same process, the rest) until stopped."""
    conf = cl_conf.make_conf(sys.argv[1:] if argv is None else argv)
    logging.setup(conf, "cyborg-lite")

    def load() -> Any:
        from cyborg_lite.api import wsgi

        return wsgi.build(conf)

    url = f"http://{conf.api.host}:{conf.api.port}"
    print(f"cyborg-lite all-in-one: API at {url}/v2 (try: curl {url}/v2/devices)", flush=True)
    api_cmd.GunicornServer(load, api_cmd.gunicorn_options(conf, workers=1)).run()
