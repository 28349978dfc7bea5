"""The collaborators every resource is built with, passed in by the app factory."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite.api.policy import Enforcer
from cyborg_lite.db.engine import Database
from cyborg_lite.usecases.ports import Conductor

LOG = logging.getLogger(__name__)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass
class Services:
    """What a resource may use: configuration, database, policy, conductor client, clock.

    ``conductor`` is the conductor RPC client (None where no conductor is reachable, e.g. in
    unit tests). The API talks to no other service: it casts to the conductor, which owns
    the hardware (through agents), the Placement sync and the Nova client. ``Services`` is
    the use cases' ``usecases.ports.Conductor``.
    """

    conf: cfg.ConfigOpts
    db: Database
    enforcer: Enforcer
    conductor: Conductor | None = None
    clock: Callable[[], dt.datetime] = _utcnow

    @property
    def max_body(self) -> int:
        """The largest JSON body accepted."""
        return int(self.conf.api.max_request_body_bytes)

    # The use cases' conductor port (usecases.ports.Conductor): one cast each, after the commit.

    def rollout_changed(self, ctx: Any, rollout_uuid: str) -> None:
        """Tell the conductor a rollout has work. The engine is event-driven, but a lost cast
        is not fatal: the conductor also resumes unfinished rollouts at start and on a timer."""
        self.tell_conductor("rollout_changed", ctx, rollout_uuid)

    def device_changed(self, ctx: Any, device_uuid: str) -> None:
        """Tell the conductor a device was enabled or disabled (its periodic Placement sync
        repairs a lost cast; SQL already refuses binds to a device in maintenance)."""
        self.tell_conductor("device_changed", ctx, device_uuid)

    def arqs_bound(self, ctx: Any, bound: dict[str, tuple[str, str]]) -> None:
        """Tell the conductor binds finished, so it sends Nova their events."""
        self.tell_conductor("arqs_bound", ctx, bound)

    def pool_changed(self, ctx: Any, pool_uuid: str) -> None:
        """Tell the conductor a lending pool changed (its engine's own passes repair a lost
        cast; SQL already holds the offers withdrawn and the loans reclaiming)."""
        self.tell_conductor("pool_changed", ctx, pool_uuid)

    def wake_conductor(self, ctx: Any, rollout_uuid: str) -> None:
        """``rollout_changed``, for the responders that start a rollout themselves."""
        self.rollout_changed(ctx, rollout_uuid)

    def tell_conductor(self, method: str, ctx: Any, *args: Any) -> None:
        """Cast ``method`` of the conductor's RPC API, after the request's commit. The change
        is safely in SQL whatever the bus does: a lost cast is logged, and the conductor's
        periodic work (rollout sweep, Placement sync) repairs what it would have done."""
        if self.conductor is None:
            return
        try:
            getattr(self.conductor, method)(ctx, *args)
        except Exception:
            LOG.exception("Could not cast %s to the conductor", method)
