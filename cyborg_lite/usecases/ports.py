"""What the use cases need of the services they talk to, as Protocols.

A use case commits, then tells the conductor what changed; it never talks to the conductor
inside its transaction. Typed as a Protocol rather than the RPC client so that what a use case
relies on is written down once, and so the API hands in its ``Services`` (which casts and logs
a lost cast) and a test a recording fake.
"""

from __future__ import annotations

from typing import Any, Protocol


class Conductor(Protocol):
    """The casts of ``conductor.rpcapi.ConductorAPI`` a use case sends after its commit
    (``api.services.Services`` in the API). A cast never raises: the change is safely in SQL,
    and the conductor's periodic work repairs what a lost cast would have done."""

    def rollout_changed(self, ctx: Any, rollout_uuid: str) -> None:
        """A rollout has work: the engine advances it now."""

    def device_changed(self, ctx: Any, device_uuid: str) -> None:
        """A device was enabled or disabled: the conductor syncs its Placement providers."""

    def arqs_bound(self, ctx: Any, bound: dict[str, tuple[str, str]]) -> None:
        """Binds finished, ``{arq uuid: (instance uuid, final state)}``: the conductor tells
        Nova."""

    def pool_changed(self, ctx: Any, pool_uuid: str) -> None:
        """A lending pool was created, changed, deleted or reclaimed: the lending engine
        passes over it now (offers, traits, reclaims)."""
