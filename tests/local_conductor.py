"""The API's conductor client delivered in-process, for tests of the API alone.

Each cast calls the real conductor endpoint (``conductor.manager.ConductorManager``) at once,
with its arguments as the bus would carry them (through JSON), so an API test sees what the
conductor does for it (Placement's device sync, Nova's events) without a broker. It also
checks the API's side of the rule that no remote call is made inside a transaction: a cast
sent while the request's transaction is open fails the test.
"""

from __future__ import annotations

import json
from typing import Any

from oslo_config import cfg

from cyborg_lite.conductor.manager import ConductorManager
from cyborg_lite.db.engine import Database, in_transaction
from cyborg_lite.nova import NovaClient


class LocalConductor:
    """``conductor.rpcapi.ConductorAPI``'s casts, delivered to ``manager`` at once."""

    def __init__(self, manager: ConductorManager) -> None:
        self.manager = manager
        self.casts: list[tuple[str, Any]] = []

    @classmethod
    def for_conf(cls, conf: cfg.ConfigOpts, db: Database, *, sync: Any = None) -> LocalConductor:
        """A conductor endpoint with ``[nova]`` from ``conf`` and ``sync`` (a ProviderSync)."""
        return cls(
            ConductorManager(
                db,
                None,
                device_sync=sync,
                nova_client=NovaClient.from_conf(conf),
            )
        )

    def _cast(self, method: str, ctx: Any, **kwargs: Any) -> None:
        assert not in_transaction(), f"{method} was cast with a database transaction open"
        wire = json.loads(json.dumps(kwargs))
        self.casts.append((method, wire))
        getattr(self.manager, method)(ctx, **wire)

    def rollout_changed(self, ctx: Any, rollout_uuid: str) -> None:
        self._cast("rollout_changed", ctx, rollout_uuid=rollout_uuid)

    def device_changed(self, ctx: Any, device_uuid: str) -> None:
        self._cast("device_changed", ctx, device_uuid=device_uuid)

    def arqs_bound(self, ctx: Any, bound: dict[str, tuple[str, str]]) -> None:
        self._cast("arqs_bound", ctx, bound=bound)

    def pool_changed(self, ctx: Any, pool_uuid: str) -> None:
        self._cast("pool_changed", ctx, pool_uuid=pool_uuid)
