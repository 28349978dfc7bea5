"""An agent as a service: its RPC server, its loop thread (or a place in a fleet's), its
firmware job workers and its usage sampler, started and stopped together; ``create_service``
builds one for a host with its drivers loaded."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import oslo_messaging
from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite import rpc
from cyborg_lite.agent import discovery, images, job_ports, jobs, jobstate, usage
from cyborg_lite.agent.heartbeats import heartbeats_for
from cyborg_lite.agent.manager import AgentConductor, AgentEndpoint, AgentManager
from cyborg_lite.agent.results import results_for
from cyborg_lite.drivers import base

if TYPE_CHECKING:
    from cyborg_lite.agent.fleet import Fleet

LOG = logging.getLogger(__name__)
# Threads an agent's RPC server serves with (see AgentService.start).
RPC_THREADS = 2


class AgentService:
    """An agent's RPC server, loop thread and firmware job workers, started and stopped
    together."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        transport: oslo_messaging.Transport,
        conductor: AgentConductor,
        drivers: Sequence[base.Driver],
        load_errors: Sequence[discovery.DriverError] = (),
        *,
        image_source: job_ports.Images | None = None,
        fleet: Fleet | None = None,
    ) -> None:
        # In a fleet, the fleet's loop thread steps this agent and its jobs run on the
        # fleet's pool; alone, the agent has a loop thread and a small pool of its own.
        loop = fleet.place() if fleet else None
        self._in_fleet = loop is not None
        # One batcher per process: a fleet's agents share the fleet's (issue 18).
        self._own_results = None if fleet is not None else results_for(conf, conductor)
        self._own_beats = None if fleet is not None else heartbeats_for(conf, conductor)
        batcher = fleet.results(conf, conductor) if fleet is not None else self._own_results
        beats = fleet.heartbeats(conf, conductor) if fleet is not None else self._own_beats
        self.manager = AgentManager(
            conf,
            conductor,
            drivers,
            load_errors,
            wake=loop.wake if loop else None,
            heartbeats=beats,
        )
        self.jobs = jobs.JobRunner(
            self.manager,
            conductor,
            jobstate.JobStore(
                jobstate.journal_path(conf.state_path, self.manager.host),
                keep_seconds=float(conf.agent.job_history_days) * 86400.0,
                keep_max=int(conf.agent.job_history_max),
            ),
            image_source or images.ImageSource.from_conf(conf),
            discovery_timeout=float(conf.agent.discovery_timeout),
            retry_interval=float(conf.agent.heartbeat_interval),
            report_delay=float(conf.agent.job_report_delay),
            executor=fleet.executor if fleet else None,
            results=batcher,
        )
        # Undelivered job results are retried at the loop's pace.
        self.manager.add_periodic(self.jobs.retry_unacked)
        self.usage = _sampler(conf, conductor, self.manager)
        if self.usage is not None:
            self.manager.add_periodic(self.usage.step, self.usage.next_due)
        self._server = rpc.get_server(
            transport,
            rpc.AGENT_TOPIC,
            self.manager.host,
            [AgentEndpoint(self.manager, self.jobs)],
        )
        self._thread = threading.Thread(
            target=self.manager.run, name=f"agent-{self.manager.host}", daemon=True
        )
        if loop is not None:
            loop.agents.append(self)

    def start(self) -> None:
        """Resume journaled jobs, listen for requests and start reporting (a full report goes
        out at once)."""
        for own in (self._own_results, self._own_beats):
            if own is not None:
                own.start()
        self.jobs.start()
        # The endpoints only queue or read (a job is journaled and queued, a refresh flagged),
        # so two threads serve them; oslo.messaging's default pool would keep up to 64
        # threads per agent, one per message received, for the life of the process.
        self._server.start(override_pool_size=RPC_THREADS)
        if not self._in_fleet:
            self._thread.start()
        LOG.info("Agent %s started with drivers %s", self.manager.host, self._driver_names())

    def _driver_names(self) -> list[str]:
        return [d.name for d in self.manager.drivers]

    def stop(self) -> None:
        """Stop the RPC server, the loop and the job workers (a flash in progress finishes
        or, if the process ends first, is settled at the next start)."""
        self.begin_stop()
        self.finish_stop()

    def begin_stop(self) -> None:
        """Ask the loop and the RPC server to stop, without waiting."""
        self.manager.stop()
        self._server.stop()

    def finish_stop(self) -> None:
        """Wait for what ``begin_stop`` asked, then stop the job workers."""
        self._server.wait()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.jobs.stop()
        for own in (self._own_results, self._own_beats):
            if own is not None:
                own.stop()


def _sampler(
    conf: cfg.ConfigOpts, conductor: object, manager: AgentManager
) -> usage.Sampler | None:
    """The host's usage sampler; None when usage is off (``[agent] usage_interval`` 0) or
    the conductor client cannot take it (pinned below 1.4, or a test's fake without it)."""
    if float(conf.agent.usage_interval) <= 0:
        return None
    if not isinstance(conductor, usage.UsageConductor) or not conductor.usage_supported():
        LOG.info("Usage is not sent from %s: the conductor API is older than 1.4", manager.host)
        return None
    return usage.Sampler.from_conf(
        conf, conductor, manager.drivers, lambda: manager.devices_by_driver
    )


def create_service(
    conf: cfg.ConfigOpts,
    transport: oslo_messaging.Transport,
    driver_names: Sequence[str] | None = None,
    *,
    fleet: Fleet | None = None,
) -> AgentService:
    """An agent for ``conf``'s host with its drivers loaded (``[agent] enabled_drivers`` unless
    ``driver_names`` is given); drivers that fail to load are reported, not raised."""
    from cyborg_lite.conductor import rpcapi

    names = list(conf.agent.enabled_drivers if driver_names is None else driver_names)
    drivers, errors = discovery.load(conf, names)
    conductor = rpcapi.ConductorAPI(transport, timeout=float(conf.agent.rpc_timeout))
    return AgentService(conf, transport, conductor, drivers, errors, fleet=fleet)
