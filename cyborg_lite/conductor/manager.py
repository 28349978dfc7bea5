"""The conductor's RPC endpoints: thin methods that delegate to ``conductor.inventory``,
``conductor.usage`` and the rollout engine (``conductor.rollout``).

Every public method here is callable over the bus (oslo.messaging exposes an endpoint's public
methods), so the service machinery lives in ``conductor.service``. The version below is the
newest of ``conductor.rpcapi``'s history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import oslo_messaging
from oslo_log import log as logging

from cyborg_lite import exception, nova, rpc
from cyborg_lite.conductor import inventory, usage
from cyborg_lite.conductor.ports import DeviceSync, NovaEvents
from cyborg_lite.conductor.rollout import Engine
from cyborg_lite.conductor.rollout_runner import RolloutRunner
from cyborg_lite.conductor.rollout_watch import Watchdog
from cyborg_lite.db.engine import Database
from cyborg_lite.inventory.changes import Event

LOG = logging.getLogger(__name__)


class Rollouts(Protocol):
    """The rollout machinery a conductor runs (built by ``conductor.service``)."""

    engine: Engine
    watchdog: Watchdog
    runner: RolloutRunner


# Notifications are published as accelerator.<noun>.<what>, e.g. accelerator.device.added.
EVENT_PREFIX = "accelerator."


def notify(notifier: oslo_messaging.Notifier | None, events: Iterable[Event]) -> None:
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


def _request_id(context: Any) -> str | None:
    """The request id to pass on: the caller's global one, else its own."""
    found = getattr(context, "global_request_id", None) or getattr(context, "request_id", None)
    return str(found) if found else None


class ConductorManager:
    """RPC endpoints of topic ``cyborg-lite-conductor``."""

    target = oslo_messaging.Target(version="1.7")

    def __init__(
        self,
        db: Database,
        notifier: oslo_messaging.Notifier | None,
        *,
        clock: Callable[[], dt.datetime] = inventory.utcnow,
        rollouts: Rollouts | None = None,
        after_report: Callable[[str], None] | None = None,
        device_sync: DeviceSync | None = None,
        nova_client: NovaEvents | None = None,
        lending: Callable[[str], None] | None = None,
        ask_report: Callable[[str], None] | None = None,
    ) -> None:
        self._db = db
        # Asks a host's agent for a full report (agent RPC refresh, a cast): how a batch of
        # heartbeats, itself a cast, is answered (1.7).
        self._ask_report = ask_report
        self._notifier = notifier
        self._clock = clock
        self._rollouts = rollouts
        # Placement hook: called with the host of each applied report, after its commit.
        self._after_report = after_report
        # Placement's one-device sync and the Nova client, when configured: the conductor
        # talks to both for the API, which talks to neither.
        self._device_sync = device_sync
        self._nova = nova_client
        # The lending engine's hook: called with a pool's uuid when the API changed it.
        self._lending = lending

    @oslo_messaging.expected_exceptions(exception.Invalid)  # type: ignore[untyped-decorator]
    def report_inventory(self, context: Any, report: dict[str, Any]) -> dict[str, Any]:
        """Reconcile a host's full report (1.0); one older than a report already seen (by its
        ``seq``, 1.2) changes nothing and is answered ``stale`` with the newer seq."""
        outcome = inventory.receive_report(self._db, report, self._clock())
        if outcome.stale:
            LOG.info(
                "Ignored a stale report from %s: seq %s, a report with seq %s was seen already",
                report.get("host"),
                report.get("seq"),
                outcome.newer_seq,
            )
            return {"applied": False, "events": 0, "stale": True, "seq": outcome.newer_seq}
        notify(self._notifier, outcome.events)
        if outcome.applied and self._after_report is not None:
            self._after_report(str(report.get("host")))
        if outcome.applied:
            LOG.info(
                "Applied report from %s: %d change(s)",
                report.get("host"),
                sum(1 for e in outcome.events if e[0].startswith("device.")),
            )
        if outcome.applied and self._rollouts is not None:
            # A report after a reset or reboot is what settles jobs pending activation.
            self._rollouts.watchdog.settle(str(report.get("host")))
        return {"applied": outcome.applied, "events": len(outcome.events), "stale": False}

    def heartbeat(self, context: Any, host: str, agent_version: str, digest: str) -> dict[str, Any]:
        """Record that ``host`` is alive; ask for a report when its digest is unknown (1.0)."""
        wanted, events = inventory.receive_heartbeat(
            self._db, host, agent_version, digest, self._clock()
        )
        notify(self._notifier, events)
        return {"report_wanted": wanted}

    def heartbeats(self, context: Any, beats: list[dict[str, Any]]) -> dict[str, Any]:
        """Many hosts' heartbeats in one message (1.7; usually a cast from an agent process,
        a call for its first batch): recorded in a few statements, and each host whose full
        report is wanted is asked for it with a cast back (``refresh``). Returns
        ``{"report_wanted": [hosts]}`` for a caller that waits."""
        wanted, events = inventory.receive_heartbeats(self._db, beats, self._clock())
        notify(self._notifier, events)
        if self._ask_report is not None:
            for host in wanted:
                LOG.info("Asking %s for a full report", host)
                try:
                    self._ask_report(host)
                except Exception:  # its next heartbeat asks again
                    LOG.exception("Could not ask %s for a full report", host)
        return {"report_wanted": wanted}

    @oslo_messaging.expected_exceptions(exception.Invalid)  # type: ignore[untyped-decorator]
    def usage_report(
        self, context: Any, host: str, reports: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Store a host's usage intervals (1.4); the answer names its devices bound to ARQs,
        which the simulated driver loads."""
        received = usage.receive(self._db, host, reports)
        if received.unknown:
            LOG.debug("Usage from %s named %d unknown device(s)", host, received.unknown)
        return received.answer()

    def rollout_changed(self, context: Any, rollout_uuid: str) -> None:
        """A rollout was created or acted on: advance it now (1.1)."""
        if self._rollouts is not None:
            self._rollouts.runner.notify(rollout_uuid)

    def device_changed(self, context: Any, device_uuid: str) -> None:
        """A device was enabled or disabled: its providers follow SQL (1.3). A Placement
        error is logged by the sync, and the periodic sync repairs it."""
        if self._device_sync is not None:
            self._device_sync.sync_device(device_uuid, request_id=_request_id(context))

    def arqs_bound(self, context: Any, bound: dict[str, list[str]]) -> None:
        """A bind finished: one ``accelerator-request-bound`` event per ARQ to Nova (1.3)."""
        if self._nova is not None:
            events = nova.bound_events({arq: (v[0], v[1]) for arq, v in bound.items()})
            self._nova.send_events(events, request_id=_request_id(context))

    def pool_changed(self, context: Any, pool_uuid: str) -> None:
        """A lending pool changed (1.5): the lending engine, when this conductor runs one,
        passes over it now; its own passes repair a lost cast."""
        LOG.debug("Lending pool %s changed", pool_uuid)
        if self._lending is not None:
            self._lending(pool_uuid)

    def job_update(
        self,
        context: Any,
        job_uuid: str,
        state: str,
        version: str | None = None,
        error_code: str | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        """An agent's progress or result for a firmware job (1.1); stale or repeated updates
        are acknowledged but change nothing."""
        if self._rollouts is None:
            raise oslo_messaging.MessagingException("This conductor runs no rollout engine")
        accepted = self._rollouts.engine.job_update(
            job_uuid, state, version=version, error_code=error_code, message=message
        )
        return {"accepted": accepted}

    def job_updates(self, context: Any, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """Many results of firmware jobs (1.6), each applied as ``job_update`` would; the
        answer lists whether each was applied, in order (a malformed one is False, logged)."""
        return {"accepted": [self._one_update(u) for u in updates]}

    def job_progress_many(self, context: Any, updates: list[dict[str, Any]]) -> None:
        """Many progress updates of firmware jobs (1.6, a cast nobody answers)."""
        for update in updates:
            self._one_update(update)

    def _one_update(self, update: Any) -> bool:
        if self._rollouts is None:
            raise oslo_messaging.MessagingException("This conductor runs no rollout engine")
        if (
            not isinstance(update, dict)
            or not isinstance(update.get("job_uuid"), str)
            or not isinstance(update.get("state"), str)
        ):
            LOG.warning("Malformed job update ignored: %.200r", update)
            return False
        return bool(
            self._rollouts.engine.job_update(
                update["job_uuid"],
                update["state"],
                version=update.get("version"),
                error_code=update.get("error_code"),
                message=update.get("message"),
            )
        )
