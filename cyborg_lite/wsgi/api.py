"""The REST API as a WSGI ``application`` for uWSGI, mod_wsgi or gunicorn started from its own
configuration (``gunicorn cyborg_lite.wsgi.api:application``), as OpenStack services ship one.

The cyborg-lite configuration files are named by the environment variable
``CYBORG_LITE_CONFIG`` (comma-separated; default oslo.config's search, as
``cyborg-lite-api``: ``/etc/cyborg-lite/cyborg-lite.conf`` and the like); the host server's own
command line is never parsed. The application is built on its first request in each worker
process, not at import, so a server that imports before forking (gunicorn ``--preload``,
uWSGI without ``lazy-apps``) does not share database connections or broker sockets across
processes. It is what ``cyborg-lite-api`` serves: the same ``api.wsgi.build`` with the same
conductor client.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from oslo_log import log as logging

from cyborg_lite import conf as cl_conf

CONFIG_ENV = "CYBORG_LITE_CONFIG"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def init_application(environ: Mapping[str, str] = os.environ) -> WSGIApp:
    """Parse the configuration named by ``CONFIG_ENV``, set up logging, build the app."""
    from cyborg_lite.api import wsgi
    from cyborg_lite.cmd.api import conductor_client

    files = [f.strip() for f in environ.get(CONFIG_ENV, "").split(",") if f.strip()]
    conf = cl_conf.make_conf([], default_config_files=files or None)
    logging.setup(conf, "cyborg-lite")
    app: WSGIApp = wsgi.build(conf, conductor=conductor_client(conf))
    return app


class _OnFirstRequest:
    """Builds the application on the first request of this process (see the module doc)."""

    def __init__(self) -> None:
        self._app: WSGIApp | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if self._app is None or self._pid != os.getpid():
            with self._lock:
                if self._app is None or self._pid != os.getpid():
                    self._app = init_application()
                    self._pid = os.getpid()
        return self._app(environ, start_response)


application = _OnFirstRequest()
