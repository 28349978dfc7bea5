"""The conductor service: its RPC server, the periodic liveness check, the usage housekeeping,
the rollout runner and the lending runner, started and stopped together.
``cmd/conductor.py`` runs one per process; the all-in-one runs one in its worker."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

import oslo_messaging
from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite import nova, rpc
from cyborg_lite.agent import rpcapi as agent_rpcapi
from cyborg_lite.conductor import inventory, manager, usage
from cyborg_lite.conductor.agents import BusAgents
from cyborg_lite.conductor.lending import LendingEngine
from cyborg_lite.conductor.lending_runner import LendingRunner
from cyborg_lite.conductor.membership import Membership
from cyborg_lite.conductor.ports import DeviceSync, NovaEvents, NovaServers
from cyborg_lite.conductor.rollout import Engine
from cyborg_lite.conductor.rollout_io import NoScheduling, Scheduling, Settings
from cyborg_lite.conductor.rollout_runner import RolloutRunner
from cyborg_lite.conductor.rollout_watch import Watchdog
from cyborg_lite.conf import lending as lending_conf
from cyborg_lite.conf import usage as usage_conf
from cyborg_lite.db.engine import Database
from cyborg_lite.inventory.changes import Event
from cyborg_lite.placement.sync import ProviderSync
from cyborg_lite.placement.worker import SyncWorker

LOG = logging.getLogger(__name__)


def conductor_name(conf: cfg.ConfigOpts) -> str:
    """A unique name per conductor process (its rollout leases and its conductors row): a
    restarted conductor takes its old rollouts over like any other conductor would, once
    their lease has expired, and registers anew."""
    return f"{conf.host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclasses.dataclass
class RolloutMachinery:
    """The engine, its watchdog and the runner thread of one conductor."""

    engine: Engine
    watchdog: Watchdog
    runner: RolloutRunner


def build_rollouts(
    conf: cfg.ConfigOpts,
    db: Database,
    transport: oslo_messaging.Transport,
    notifier: oslo_messaging.Notifier | None,
    *,
    scheduling: Scheduling | None = None,
    nova_client: NovaEvents | None = None,
    owner: str | None = None,
    owns: Callable[[str], bool] | None = None,
) -> RolloutMachinery:
    """The rollout engine for this conductor; agents are reached over ``transport``, and
    ``scheduling`` (Placement's drain, if configured) takes devices out of scheduling."""
    c = conf.conductor
    settings = Settings(
        lease_seconds=float(c.rollout_lease_seconds),
        job_timeout_seconds=float(c.firmware_job_timeout),
        max_attempts=int(c.firmware_job_max_attempts),
    )
    agents = BusAgents(agent_rpcapi.AgentAPI(transport, timeout=float(c.agent_call_timeout)))
    owner = owner or conductor_name(conf)

    def emit(event: str, payload: dict[str, Any]) -> None:
        manager.notify(notifier, [(event, payload)])

    # Program at bind ends in the engine, which tells Nova as a plain bind's cast does.
    def bound(arqs: dict[str, tuple[str, str]]) -> None:
        if nova_client is not None:
            nova_client.send_events(nova.bound_events(arqs), request_id=None)

    engine = Engine(
        db,
        agents,
        owner=owner,
        settings=settings,
        scheduling=scheduling,
        on_transition=emit,
        on_bound=bound,
    )
    watchdog = Watchdog(engine, db, agents, settings, owns=owns)
    runner = RolloutRunner(engine, watchdog, db, sweep_seconds=float(c.rollout_sweep_seconds))
    engine.advance_later = runner.notify
    return RolloutMachinery(engine, watchdog, runner)


def build_lending(
    conf: cfg.ConfigOpts,
    db: Database,
    notifier: oslo_messaging.Notifier | None,
    *,
    device_sync: DeviceSync | None = None,
    nova_client: NovaServers | None = None,
) -> LendingRunner:
    """The lending engine and its runner thread for this conductor: reclaim notices through
    ``notifier``, offers synced to Placement, reclaim actions through Nova."""
    group = conf[lending_conf.GROUP.name]
    sweep = float(group.sweep_seconds)
    engine = LendingEngine(
        db,
        emit=lambda events: manager.notify(notifier, events),
        device_sync=device_sync,
        nova=nova_client,
        retry_seconds=sweep,
        confirm_seconds=float(group.confirm_seconds),
    )
    return LendingRunner(engine, sweep_seconds=sweep)


class ConductorService:
    """RPC server on ``cyborg-lite-conductor`` plus a thread marking silent hosts down and
    one rolling up and pruning usage."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        db: Database,
        transport: oslo_messaging.Transport,
        notifier: oslo_messaging.Notifier | None,
        *,
        clock: Callable[[], dt.datetime] = inventory.utcnow,
    ) -> None:
        self._conf = conf
        self._db = db
        self._notifier = notifier
        self._clock = clock
        self.name = conductor_name(conf)
        # Which hosts' periodic work is this conductor's (issue 18): liveness and the
        # Placement repair; reports and results go to whoever the broker hands them to.
        self.membership = Membership.from_conf(conf, db, self.name)
        # --- Placement (issue 6): the sync thread, its hook on reports, and the engine's
        # Scheduling (reserved = total while drained); NoScheduling without [placement].
        sync = ProviderSync.from_conf(conf, db)
        self.placement = (
            SyncWorker(sync, conf.placement.sync_interval, owns=self.membership.owns)
            if sync is not None
            else None
        )
        self.scheduling: Scheduling = sync if sync is not None else NoScheduling()
        # The conductor owns the Nova client: binds (the API's casts, and program at bind)
        # are told to Nova from here.
        nova_client = nova.NovaClient.from_conf(conf)
        self.rollouts = build_rollouts(
            conf,
            db,
            transport,
            notifier,
            scheduling=self.scheduling,
            nova_client=nova_client,
            owner=self.name,
            owns=self.membership.owns,
        )
        self.lending = build_lending(conf, db, notifier, device_sync=sync, nova_client=nova_client)
        self.manager = manager.ConductorManager(
            db,
            notifier,
            clock=clock,
            rollouts=self.rollouts,
            after_report=self.placement.request if self.placement is not None else None,
            device_sync=sync,
            nova_client=nova_client,
            lending=self.lending.notify,
            ask_report=self._ask_report,
        )
        self._agents = agent_rpcapi.AgentAPI(transport)
        self._server = rpc.get_server(transport, rpc.CONDUCTOR_TOPIC, conf.host, [self.manager])
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at: dt.datetime | None = None
        self.usage = usage.Housekeeping.from_conf(conf, db, clock=clock, stop=self._stop)
        self._usage_thread: threading.Thread | None = None

    def _ask_report(self, host: str) -> None:
        self._agents.refresh(rpc.admin_context(), host)

    def start(self) -> None:
        """Start serving RPC and checking liveness."""
        self._started_at = self._clock()
        self.membership.start()
        self._server.start()
        if self.placement is not None:
            self.placement.start()
        self._thread = threading.Thread(target=self._loop, name="conductor-liveness", daemon=True)
        self._thread.start()
        self._usage_thread = threading.Thread(
            target=self._usage_loop, name="conductor-usage", daemon=True
        )
        self._usage_thread.start()
        self.rollouts.runner.start()
        self.lending.start()
        LOG.info("Conductor serving topic %s as %s", rpc.CONDUCTOR_TOPIC, self._conf.host)

    def check_liveness(self) -> list[Event]:
        """One liveness pass: silent hosts down, released missing devices deleted; notifies."""
        now = self._clock()
        down_after = float(self._conf.conductor.host_down_after)
        events: list[Event] = []
        # A conductor that was itself stopped has heard nobody: give agents one full period
        # to reach it before judging them, instead of marking the whole fleet down at start.
        if self._started_at is None or (now - self._started_at).total_seconds() >= down_after:
            events += inventory.mark_silent_hosts_down(
                self._db, now, down_after, owns=self.membership.owns
            )
        events += inventory.purge_released(self._db)
        manager.notify(self._notifier, events)
        return events

    def _loop(self) -> None:
        interval = float(self._conf.conductor.liveness_interval)
        while not self._stop.wait(interval):
            try:
                self.check_liveness()
            except Exception:  # a database hiccup must not end the loop
                LOG.exception("Liveness check failed; trying again in %ss", interval)

    def _usage_loop(self) -> None:
        interval = float(usage_conf.of(self._conf).prune_interval)
        while not self._stop.wait(interval):
            try:
                self.usage.run_once()
            except Exception:  # a database hiccup must not end the loop
                LOG.exception("Usage housekeeping failed; trying again in %ss", interval)

    def stop(self) -> None:
        """Stop the loops and the RPC server, waiting for in-flight calls to finish."""
        self._stop.set()
        self.rollouts.runner.stop()
        self.lending.stop()
        self._server.stop()
        self._server.wait()
        if self.placement is not None:
            self.placement.stop()
        for thread in (self._thread, self._usage_thread):
            if thread is not None:
                thread.join(timeout=5)
        self.membership.stop()
