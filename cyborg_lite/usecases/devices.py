"""Device use cases: enable and disable (maintenance).

Each commits the device's new ``status``, then tells the conductor, which brings Placement in
line (reserved = total while maintaining, 0 once enabled, from the status just committed). A
lost cast is repaired by its periodic sync; SQL already refuses binds to a device in
maintenance.
"""

from __future__ import annotations

from cyborg_lite.context import RequestContext
from cyborg_lite.db import devices as db_devices
from cyborg_lite.db.engine import Database
from cyborg_lite.usecases import ports

ENABLED = "enabled"
MAINTAINING = "maintaining"


class Devices:
    """Enable and disable devices, each in a transaction of its own."""

    def __init__(self, db: Database, conductor: ports.Conductor) -> None:
        self._db = db
        self._conductor = conductor

    def disable(self, ctx: RequestContext, uuid: str) -> None:
        """Put a device in maintenance: it is no longer offered for binding (404 if unknown)."""
        self._set_status(ctx, uuid, MAINTAINING)

    def enable(self, ctx: RequestContext, uuid: str) -> None:
        """Take a device out of maintenance (404 if unknown)."""
        self._set_status(ctx, uuid, ENABLED)

    def _set_status(self, ctx: RequestContext, uuid: str, status: str) -> None:
        with self._db.transaction() as session:
            db_devices.set_status(session, uuid, status)
        self._conductor.device_changed(ctx, uuid)
