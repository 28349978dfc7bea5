"""The decisions of one firmware job, as plain functions: where the device is, whether there is
anything to do, and what a flash (or an interrupted one) came to.

``jobs.JobRunner`` calls these around the driver; they hold no state, so each rule (already at
target, pending activation, verify mismatch, restart mid-flash) is tested on its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from cyborg_lite.agent import discovery
from cyborg_lite.drivers import base
from cyborg_lite.firmware import states


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A job's result as the conductor's ``job_update`` takes it."""

    state: str
    version: str | None = None
    error_code: str | None = None
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The JSON-able form kept in the job file and answered by ``job_status``."""
        return dataclasses.asdict(self)


def failed(error_code: str, message: str, version: str | None = None) -> Outcome:
    """A failed job."""
    return Outcome(states.JOB_FAILED, version=version, error_code=error_code, message=message)


def component_of(device: base.Device, component: str) -> base.FirmwareComponent | None:
    """``device``'s firmware component named ``component``, or None."""
    return next((c for c in device.firmware if c.component == component), None)


def locate(
    drivers: Sequence[base.Driver], stable_id: str, hint: str | None, timeout: float
) -> tuple[base.Driver, base.Device] | None:
    """Re-discover the device with ``stable_id``: the driver that last reported it (``hint``)
    first, then the others. A fresh look rather than the last report, whose versions may be
    stale by now; None when no driver finds it."""
    for driver in sorted(drivers, key=lambda d: d.name != hint):
        found = discovery.run([driver], timeout)
        for device in found.devices:
            if device.stable_id == stable_id:
                return driver, device
    return None


def already_done(device: base.Device, component: str, target: str) -> Outcome | None:
    """The job's result without a flash, when the component already runs ``target`` or has it
    written and waiting for activation (a redelivered job, or one whose journal was lost);
    None when a flash is needed."""
    found = component_of(device, component)
    if found is None:
        return None
    if found.version == target:
        return Outcome(
            states.SUCCEEDED, version=target, message=f"{component} already runs {target}."
        )
    if found.pending_version == target:
        return Outcome(
            states.PENDING_ACTIVATION,
            version=target,
            message=f"{component} {target} is written and waits for a {found.activation}.",
        )
    return None


def after_flash(
    result: base.FlashResult,
    device: base.Device | None,
    component: str,
    target: str,
    allow_reboot: bool,
) -> Outcome:
    """What a flash came to, from the driver's result and the device as re-discovered after.

    The version read back decides: the target means success. A component that has the target
    written but needs a reset, reboot or power cycle to run it ends ``pending_activation``: the
    agent never restarts a host itself, and the conductor settles the job on the first report
    after the activation. Anything else is ``verify-mismatch`` ("flash succeeded" is not proof).
    """
    if not result.ok:
        code = result.error_code if result.error_code in base.FLASH_ERRORS else "unknown"
        message = result.message or f"The driver's flash failed ({result.error_code})."
        return failed(code, message, version=result.version)
    check = base.verify_activation(device, component, target)
    if check.ok:
        return Outcome(states.SUCCEEDED, version=target, message=f"{component} runs {target}.")
    found = component_of(device, component) if device is not None else None
    waiting = found is not None and (result.activation_pending or found.pending_version == target)
    if check.error_code == "verify-mismatch" and found is not None and waiting:
        why = (
            "which this rollout does not allow"
            if not allow_reboot
            else "which the agent does not trigger itself"
        )
        return Outcome(
            states.PENDING_ACTIVATION,
            version=target,
            message=f"{component} {target} is written; it runs after a {found.activation}, "
            f"{why}. The job settles on the first report after the activation.",
        )
    return failed(
        check.error_code or "unknown",
        f"After the flash: {check.message}.",
        version=check.version,
    )


def after_restart(device: base.Device | None, component: str, target: str) -> Outcome:
    """The result of a job whose flash had started when the agent stopped: read from the
    device, never by flashing again (the write may have completed, or a second write of a
    half-written part could do harm)."""
    restarted = "The agent restarted during the flash"
    if device is None:
        return failed("interrupted", f"{restarted}; the device is no longer found.")
    done = already_done(device, component, target)
    if done is not None:
        return dataclasses.replace(done, message=f"{restarted}; re-discovery: {done.message}")
    found = component_of(device, component)
    version = found.version if found is not None else None
    return failed(
        "interrupted",
        f"{restarted}; {component} reads {version!r}, not {target!r}. "
        "It was not flashed again: check the device before retrying.",
        version=version,
    )
