"""The conductor's RPC endpoints: thin methods that delegate to ``conductor.inventory``.

Every public method here is callable over the bus (oslo.messaging exposes an endpoint's public
methods), so the service machinery lives in ``conductor.service``. The version below is the
newest of ``conductor.rpcapi``'s history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import oslo_messaging
from oslo_log import log as logging

from cyborg_lite import exception, rpc
from cyborg_lite.conductor import inventory
from cyborg_lite.db.engine import Database

LOG = logging.getLogger(__name__)

# Notifications are published as accelerator.<noun>.<what>, e.g. accelerator.device.added.
EVENT_PREFIX = "accelerator."


def notify(notifier: oslo_messaging.Notifier | None, events: Iterable[inventory.Event]) -> None:
    """Publish ``events`` (after their transaction committed); a broker error is logged only,
    since the change itself is already stored."""
    if notifier is None:
        return
    ctxt = rpc.admin_context()
    for event_type, payload in events:
        try:
            notifier.info(ctxt, EVENT_PREFIX + event_type, payload)
        except Exception:  # the SQL change stands; a lost notification must not undo it
            LOG.exception("Could not publish %s%s", EVENT_PREFIX, event_type)


class ConductorManager:
    """RPC endpoints of topic ``cyborg-lite-conductor``."""

    target = oslo_messaging.Target(version="1.0")

    def __init__(
        self,
        db: Database,
        notifier: oslo_messaging.Notifier | None,
        *,
        clock: Callable[[], dt.datetime] = inventory.utcnow,
        after_report: Callable[[str], None] | None = None,
    ) -> None:
        self._db = db
        self._notifier = notifier
        self._clock = clock
        # Placement hook: called with the host of each applied report, after its commit.
        self._after_report = after_report

    @oslo_messaging.expected_exceptions(exception.Invalid)  # type: ignore[untyped-decorator]
    def report_inventory(self, context: Any, report: dict[str, Any]) -> dict[str, Any]:
        """Reconcile a host's full report (1.0)."""
        outcome = inventory.receive_report(self._db, report, self._clock())
        notify(self._notifier, outcome.events)
        if outcome.applied and self._after_report is not None:
            self._after_report(str(report.get("host")))
        if outcome.applied:
            LOG.info(
                "Applied report from %s: %d change(s)",
                report.get("host"),
                sum(1 for e in outcome.events if e[0].startswith("device.")),
            )
        return {"applied": outcome.applied, "events": len(outcome.events)}

    def heartbeat(self, context: Any, host: str, agent_version: str, digest: str) -> dict[str, Any]:
        """Record that ``host`` is alive; ask for a report when its digest is unknown (1.0)."""
        wanted, events = inventory.receive_heartbeat(
            self._db, host, agent_version, digest, self._clock()
        )
        notify(self._notifier, events)
        return {"report_wanted": wanted}
