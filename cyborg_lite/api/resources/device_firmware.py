"""``/v2/devices/{uuid}/firmware``: a device's firmware components and firmware history (2.4)."""

from __future__ import annotations

import falcon

from cyborg_lite.api import microversion, util, validation
from cyborg_lite.api.policies import rollouts as rules
from cyborg_lite.api.services import Services
from cyborg_lite.api.views import device_firmware as views
from cyborg_lite.db import device_firmware
from cyborg_lite.db import devices as db_devices
from cyborg_lite.db import rollouts as db_rollouts


class DeviceFirmware:
    """One device's firmware view."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def on_get(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """Components (version, updatable, activation, pending version) and every job that
        touched the device, oldest first."""
        ctx = req.context.ctx
        microversion.require(ctx.microversion, (2, 4))
        self._s.enforcer.authorize(rules.DEVICE_FIRMWARE, ctx)
        with self._s.db.transaction() as session:
            device = db_devices.get_device(session, validation.uuid(uuid))
            parts = device_firmware.components(session, device.id)
            history = db_rollouts.device_history(session, device.uuid)
        util.json_body(resp, views.serialize(device, parts, history))
