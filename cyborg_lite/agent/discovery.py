"""Loading drivers by entry point and running their discovery in isolation.

One driver that raises or hangs never hides the others' devices: each ``discover()`` runs in
its own thread with a timeout, and its failure is returned beside the devices that were found.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
from collections.abc import Sequence
from importlib import metadata

from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite.drivers import base

LOG = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "cyborg_lite.drivers"


@dataclasses.dataclass(frozen=True)
class DriverError:
    """A driver that could not be loaded or whose discovery failed."""

    driver: str
    error: str


@dataclasses.dataclass(frozen=True)
class Discovery:
    """The devices found, and the drivers that failed."""

    devices: list[base.Device]
    errors: list[DriverError]
    # The devices of each driver whose discovery succeeded (what it will be asked to sample).
    by_driver: dict[str, list[base.Device]] = dataclasses.field(default_factory=dict)


def available() -> dict[str, metadata.EntryPoint]:
    """Every installed driver entry point, by name."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def load(conf: cfg.ConfigOpts, names: Sequence[str]) -> tuple[list[base.Driver], list[DriverError]]:
    """Instantiate the named drivers; unknown or broken ones are reported, not raised."""
    eps = available()
    drivers: list[base.Driver] = []
    errors: list[DriverError] = []
    for name in names:
        ep = eps.get(name)
        if ep is None:
            errors.append(DriverError(name, f"no driver named {name!r}; known: {sorted(eps)}"))
            continue
        try:
            drivers.append(ep.load()(conf))
        except Exception as err:  # a driver's import or constructor must not stop the agent
            LOG.exception("Driver %s failed to load", name)
            errors.append(DriverError(name, f"failed to load: {err}"))
    return drivers, errors


def run(drivers: Sequence[base.Driver], timeout: float) -> Discovery:
    """Run every driver's ``discover()`` at once, each bounded by ``timeout`` seconds.

    A hung driver's thread is abandoned (Python cannot kill it); it is reported as timed out
    and the report goes out without it.
    """
    devices: list[base.Device] = []
    errors: list[DriverError] = []
    by_driver: dict[str, list[base.Device]] = {}
    if not drivers:
        return Discovery(devices, errors, by_driver)
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=len(drivers), thread_name_prefix="discover"
    )
    futures = {pool.submit(d.discover): d for d in drivers}
    try:
        _done, pending = concurrent.futures.wait(futures, timeout=timeout)
        for future, driver in futures.items():
            if future in pending:
                errors.append(DriverError(driver.name, f"discovery timed out after {timeout}s"))
                continue
            try:
                found = list(future.result())
            except Exception as err:  # isolation: one driver's failure is data, not a crash
                LOG.warning("Driver %s failed discovery: %s", driver.name, err)
                errors.append(DriverError(driver.name, f"{type(err).__name__}: {err}"))
                continue
            devices.extend(found)
            by_driver[driver.name] = found
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return Discovery(devices, errors, by_driver)
