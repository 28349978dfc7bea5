"""Running long-lived services until SIGTERM or SIGINT, shared by the console entry points."""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from oslo_log import log as logging

LOG = logging.getLogger(__name__)


class Service(Protocol):
    """Something with ``start`` and ``stop``."""

    def start(self) -> None:
        """Start serving."""

    def stop(self) -> None:
        """Stop serving."""


def freeze_startup_objects() -> None:
    """Keep what start-up built out of every later garbage collection.

    A full (generation 2) collection walks every tracked object, and most of a service's are
    built once at start: modules, configuration, schemas, policies, pools. In an API worker a
    full collection took about 110 ms and came every fifty-odd ``GET /v2/devices`` of 1,000
    devices: that pause was the request's p99 (benchmarks/RESULTS.md). ``gc.freeze()`` moves
    those objects to a generation no collection visits; what requests allocate is still
    collected as before.
    """
    gc.collect()
    gc.freeze()


def run_until_signalled(services: Sequence[Service], name: str) -> None:
    """Start ``services``, wait for SIGTERM or SIGINT, stop them in reverse order."""
    stop = threading.Event()

    def _handler(signum: int, _frame: Any) -> None:
        LOG.info("%s received signal %s; stopping", name, signum)
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    for service in services:
        service.start()
    freeze_startup_objects()
    while not stop.wait(1.0):
        pass
    for service in reversed(services):
        try:
            service.stop()
        except Exception:  # stop the others regardless
            LOG.exception("%s: a service failed to stop", name)
    exit_if_stuck(0)


def exit_if_stuck(code: int) -> None:
    """Exit at once when a hung driver's discovery thread would keep the process alive.

    Python cannot kill a thread, and concurrent.futures joins its workers at exit, so a driver
    hung in ``discover()`` would block a clean exit forever.
    """
    workers = [t for t in threading.enumerate() if t.name.startswith("discover")]
    for thread in workers:
        # Idle pool workers end at once after the pool's shutdown; a hung one does not.
        thread.join(timeout=1.0)
    if any(t.is_alive() for t in workers):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
