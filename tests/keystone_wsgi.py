"""Keystone's public WSGI app for gunicorn, as ``tests.keystone_wsgi:application``.

Keystone parses ``sys.argv`` with its oslo.config object when the app is built, and under
gunicorn that is gunicorn's command line, which Keystone refuses. Its configuration comes
from ``OS_KEYSTONE_CONFIG_FILES`` instead, so the arguments are hidden from it here.
"""

from __future__ import annotations

import sys

sys.argv = sys.argv[:1]

from keystone.server import wsgi  # noqa: E402 - must come after the argv reset above

application = wsgi.initialize_public_application()
