"""Cyborg's WSGI app for the benchmark peer, reading ``$CYBORG_BENCH_CONF``.

Runs inside the peer's own virtualenv under uWSGI. Cyborg's ``cyborg.wsgi.api`` parses
``sys.argv`` for its config files, and under uWSGI that is uWSGI's own command line, so the
config file is named here before the app is built.
"""

import os
import sys

sys.argv = ["cyborg-api", "--config-file", os.environ["CYBORG_BENCH_CONF"]]

from cyborg.wsgi.api import application  # noqa: E402

__all__ = ["application"]
