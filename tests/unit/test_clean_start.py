"""Services start clean (issue 18): importing every entry point selects oslo.service's
threading backend, prints no eventlet deprecation warning, and raises no warning of our own
code even with every warning shown (``-W always``)."""

from __future__ import annotations

import subprocess
import sys

ENTRY_POINTS = ("aio", "api", "conductor", "agent", "manage", "serve")
PROBE = (
    "import importlib\n"
    f"for name in {ENTRY_POINTS!r}:\n"
    "    importlib.import_module('cyborg_lite.cmd.' + name)\n"
    "from oslo_service import backend\n"
    "from oslo_service import service\n"  # what oslo.messaging's server imports
    "print(backend.get_backend_type().value)\n"
)


def test_entry_points_import_on_threads_without_warnings_of_ours_or_eventlets():
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "threading"
    assert "Eventlet is deprecated" not in done.stderr
    ours = [line for line in done.stderr.splitlines() if "cyborg_lite" in line]
    assert ours == []


def test_without_the_package_the_default_would_be_eventlet():
    # Guards the test above: it passes because of cyborg_lite's hook, not by luck.
    probe = "from oslo_service import backend; print(backend.get_backend().__class__.__name__)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "EventletBackend"
