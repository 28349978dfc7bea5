"""``cyborg-lite-api``: the REST API served by gunicorn.

gunicorn is driven from Python (its ``BaseApplication``) so the API takes the usual oslo
options (``--config-file``, ``--config-dir``) and nothing else to learn; ``[api] host``,
``port``, ``workers`` and ``threads`` set gunicorn's bind and worker counts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from gunicorn.app.base import BaseApplication
from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite import conf as cl_conf
from cyborg_lite.cmd import serve

LOG = logging.getLogger(__name__)


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn with settings from the cyborg-lite config and an app built in each worker."""

    def __init__(
        self,
        load_app: Callable[[], Any],
        options: dict[str, Any],
    ) -> None:
        self._load_app = load_app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply our settings to gunicorn's config."""
        for key, value in self._options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the WSGI app (in the worker: engines and pools are per process)."""
        app = self._load_app()
        serve.freeze_startup_objects()
        return app


def gunicorn_options(conf: cfg.ConfigOpts, **overrides: Any) -> dict[str, Any]:
    """gunicorn settings for ``conf``; ``overrides`` win."""
    options: dict[str, Any] = {
        "bind": f"{conf.api.host}:{conf.api.port}",
        "workers": conf.api.workers,
        "threads": conf.api.threads,
        "worker_class": "gthread",
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "timeout": 120,
        "graceful_timeout": 10,
        "keepalive": 5,
        "proc_name": "cyborg-lite-api",
        # gunicorn 27 opens a control socket in ~/.gunicorn by default; several APIs on one
        # machine (tests, benchmarks) would fight over it, and nothing here uses it.
        "control_socket_disable": True,
    }
    options.update(overrides)
    return options


def conductor_client(conf: cfg.ConfigOpts) -> Any:
    """A conductor RPC client for the API's casts (new rollouts, actions), built in the worker.

    With the in-process ``fake://`` transport no conductor can hear a separate API process, so
    there is none; conductors also pick up work on their periodic sweep, so nothing is lost.
    """
    if str(conf.transport_url).startswith("fake:"):
        return None
    from cyborg_lite import rpc
    from cyborg_lite.conductor import rpcapi

    return rpcapi.ConductorAPI(rpc.get_transport(conf))


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the configuration and serve the API until stopped."""
    conf = cl_conf.make_conf(sys.argv[1:] if argv is None else argv)
    logging.setup(conf, "cyborg-lite")

    def load() -> Any:
        from cyborg_lite.api import wsgi

        return wsgi.build(conf, conductor=conductor_client(conf))

    LOG.info(
        "Serving the API on http://%s:%s/ with %s workers",
        conf.api.host,
        conf.api.port,
        conf.api.workers,
    )
    GunicornServer(load, gunicorn_options(conf)).run()
