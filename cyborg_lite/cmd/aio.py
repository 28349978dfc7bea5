"""``cyborg-lite-aio``: the all-in-one service on the embedded defaults.

The API is served by gunicorn with one worker, in which the conductor and the agents also run:
oslo.messaging's ``fake://`` transport lives inside one process, so everything that talks over
it must share the worker's process (and its one transport object). The agents are
``[aio] simulated_hosts`` simulated hosts (``sim-host-01``...) plus one for the real local
drivers as ``[DEFAULT] host``. The schema is upgraded at start; the SQLite file and the
simulated firmware state under ``state_path`` survive restarts.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite import conf as cl_conf
from cyborg_lite import rpc
from cyborg_lite.agent import discovery
from cyborg_lite.agent import service as agent_service
from cyborg_lite.cmd import api as api_cmd
from cyborg_lite.cmd import serve
from cyborg_lite.conductor import rpcapi
from cyborg_lite.conductor.service import ConductorService
from cyborg_lite.conf import agent as agent_conf
from cyborg_lite.db import migration
from cyborg_lite.db.engine import Database

LOG = logging.getLogger(__name__)

SIMULATED = "simulated"

# What the all-in-one's simulated fleet does unless a config file says otherwise: its H100s
# busy, its MI300X idle, and a device left idle under an ARQ for five minutes (not the
# service's hour) counted as allocated but idle, so a first run shows all three at once.
DEMO_DEFAULTS: tuple[tuple[str, str, Any], ...] = (
    ("simulated", "usage", ["nvidia-h100:85", "amd-mi300x:0"]),
    ("usage", "allocated_idle_after", 300),
)


def apply_demo_defaults(conf: cfg.ConfigOpts) -> None:
    """Set ``DEMO_DEFAULTS`` as defaults: a value from a config file or the command line
    still wins."""
    for group, name, value in DEMO_DEFAULTS:
        conf.set_default(name, value, group=group)


def simulated_host_names(conf: cfg.ConfigOpts) -> list[str]:
    """``sim-host-01``, ``sim-host-02``, ... (``[aio] simulated_host_prefix``)."""
    prefix = conf.aio.simulated_host_prefix
    return [f"{prefix}{i:02d}" for i in range(1, conf.aio.simulated_hosts + 1)]


def loadable_drivers(names: Sequence[str]) -> list[str]:
    """The real drivers among ``names`` that import on this machine; the rest are skipped
    quietly (a laptop without GPUs or vendor libraries is the usual all-in-one host)."""
    eps = discovery.available()
    found = []
    for name in names:
        if name == SIMULATED or name not in eps:
            continue
        try:
            eps[name].load()
        except Exception as err:  # missing vendor library or driver module: not for this host
            LOG.info("All-in-one: driver %s is not available here (%s); skipped", name, err)
            continue
        found.append(name)
    return found


def own_api(conf: cfg.ConfigOpts) -> None:
    """Agents download firmware from this all-in-one's own API: ``[agent] api_endpoint``
    follows ``[api] host`` and ``port`` unless it was set to something else."""
    if conf.agent.api_endpoint == agent_conf.DEFAULT_API_ENDPOINT:
        host = "127.0.0.1" if conf.api.host in ("0.0.0.0", "::") else conf.api.host  # noqa: S104
        conf.set_override("api_endpoint", f"http://{host}:{conf.api.port}", group="agent")


class AllInOne:
    """Conductor and agents for the worker process, started when the worker loads the app."""

    def __init__(self, conf: cfg.ConfigOpts, argv: Sequence[str]) -> None:
        self._conf = conf
        self._argv = list(argv)
        self.services: list[serve.Service] = []

    def _agent_conf(self, host: str) -> cfg.ConfigOpts:
        # Each simulated host is its own identity: a ConfigOpts of its own, from the same
        # files and arguments, with the host and its driver set.
        conf = cl_conf.make_conf(self._argv)
        apply_demo_defaults(conf)
        conf.set_override("host", host)
        conf.set_override("enabled_drivers", [SIMULATED], group="agent")
        own_api(conf)
        return conf

    def start(self, db: Database) -> Any:
        """Start the conductor and every agent on one fake transport; return the transport."""
        transport = rpc.get_transport(self._conf)
        notifier = rpc.get_notifier(self._conf, None, f"cyborg-lite-conductor.{self._conf.host}")
        self.services.append(ConductorService(self._conf, db, transport, notifier))
        for host in simulated_host_names(self._conf):
            self.services.append(agent_service.create_service(self._agent_conf(host), transport))
        own_api(self._conf)
        if self._conf.aio.local_agent:
            names = loadable_drivers(self._conf.agent.enabled_drivers)
            self.services.append(agent_service.create_service(self._conf, transport, names))
        for service in self.services:
            service.start()
        return transport

    def stop(self) -> None:
        """Stop agents first, then the conductor."""
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception:  # stop the others regardless
                LOG.exception("All-in-one: a service failed to stop")
        self.services.clear()


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the API (and, in the same process, the rest) until stopped."""
    args = list(sys.argv[1:] if argv is None else argv)
    conf = cl_conf.make_conf(args)
    apply_demo_defaults(conf)
    logging.setup(conf, "cyborg-lite")
    # The first thing a new user runs: bring the schema up to date before serving.
    db = Database.from_conf(conf)
    migration.upgrade(db.engine)
    db.dispose()  # the worker opens its own connections after the fork
    aio = AllInOne(conf, args)

    def load() -> Any:
        from cyborg_lite.api import wsgi

        # The conductor's database (the API opens its own): writes one at a time on SQLite.
        worker_db = Database.from_conf(conf, serialize=True)
        transport = aio.start(worker_db)
        return wsgi.build(conf, conductor=rpcapi.ConductorAPI(transport))

    def worker_exit(_server: Any, _worker: Any) -> None:
        aio.stop()
        serve.exit_if_stuck(0)

    url = f"http://{conf.api.host}:{conf.api.port}"
    print(f"cyborg-lite all-in-one: API at {url}/v2 (try: curl {url}/v2/devices)", flush=True)
    options = api_cmd.gunicorn_options(conf, workers=1, worker_exit=worker_exit)
    api_cmd.GunicornServer(load, options).run()
