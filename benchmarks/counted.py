"""Run a console entry point with its RabbitMQ messages counted (for messages per job).

``python -m benchmarks.counted MODULE ARGS...`` calls ``MODULE.main(ARGS)`` after wrapping
oslo.messaging's rabbit driver so that every message published and every message delivered
to a consumer is counted; the counts are written to ``$BENCH_MSG_COUNT_FILE`` twice a
second. Replies and casts are messages like any other. Every rollout message has the
conductor at one end, so the conductor's counts are the rollout's traffic.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
from typing import Any

COUNTS = {"published": 0, "delivered": 0}
_LOCK = threading.Lock()


def _install() -> None:
    from oslo_messaging._drivers import impl_rabbit

    publish = impl_rabbit.Connection._publish
    callback = impl_rabbit.Consumer._callback

    def counted_publish(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            COUNTS["published"] += 1
        return publish(self, *args, **kwargs)

    def counted_callback(self: Any, message: Any) -> Any:
        with _LOCK:
            COUNTS["delivered"] += 1
        return callback(self, message)

    impl_rabbit.Connection._publish = counted_publish
    impl_rabbit.Consumer._callback = counted_callback


def _writer(path: str) -> None:
    while True:
        with _LOCK:
            text = json.dumps(COUNTS)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
        time.sleep(0.5)


def main() -> None:
    """Count, then run the named module's ``main``."""
    module, args = sys.argv[1], sys.argv[2:]
    _install()
    threading.Thread(
        target=_writer, args=(os.environ["BENCH_MSG_COUNT_FILE"],), daemon=True
    ).start()
    sys.argv = [module, *args]
    importlib.import_module(module).main(args)


def read(path: str) -> dict[str, int]:
    """The last counts written to ``path`` (zeros before the first write)."""
    try:
        with open(path) as f:
            return {k: int(v) for k, v in json.load(f).items()}
    except (OSError, ValueError):
        return {"published": 0, "delivered": 0}


if __name__ == "__main__":
    main()
