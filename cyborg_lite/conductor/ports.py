"""What the conductor needs of the other services it talks to for the API, as Protocols.

The conductor owns these clients; the API talks to neither (it casts to the conductor). Typed
as Protocols rather than as the concrete clients so that a test may hand in a recording one,
and so that what the conductor relies on is written down: one device's providers brought in
line with SQL, Nova told that binds finished, and a borrower's server stopped, shelved or
deleted when a loan's notice ends, and its status read until that took effect (the
lending engine).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class DeviceSync(Protocol):
    """Placement's one-device sync (``placement.sync.ProviderSync`` in production)."""

    def sync_device(self, device_uuid: str, *, request_id: str | None = None) -> bool:
        """Bring the device's providers in line with SQL (reserved follows its status);
        False when Placement could not be reached or refused (the periodic sync repairs)."""


class NovaEvents(Protocol):
    """Nova's external events (``nova.NovaClient`` in production)."""

    def send_events(
        self, events: Sequence[dict[str, str]], *, request_id: str | None = None
    ) -> bool:
        """POST ``accelerator-request-bound`` events; True when Nova took them. Never raises:
        the binds are committed, and Nova times out and reschedules if an event is lost."""


class NovaServers(Protocol):
    """Nova's server actions, for the lending engine's reclaim (``nova.NovaClient``)."""

    def server_action(self, instance_uuid: str, action: str) -> bool:
        """``stop``, ``shelve`` or ``delete`` the server; True when Nova accepted it. Never
        raises: the engine records a failure on the loan and retries on a later pass."""

    def server_status(self, instance_uuid: str) -> str | None:
        """The server's Nova ``status`` (``SHUTOFF``, ``SHELVED_OFFLOADED``...), ``DELETED``
        for a server Nova does not know, None when Nova could not be asked. Never raises."""
