"""Accelerator usage (microversion 2.6): ``/v2/usage``, the fleet summary an operator asks for
first, and ``/v2/devices/{uuid}/usage``, one device's series from the rollups.

An admin sees every device; anyone else only the devices bound to their project's ARQs
(``viewer``), as ARQs are scoped. Every figure is read from SQL aggregates
(``db.usage_queries``): a handful of queries whatever the fleet's size.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import falcon
from oslo_config import cfg

from cyborg_lite import exception
from cyborg_lite.api import microversion, util, validation
from cyborg_lite.api.policies import usage as rules
from cyborg_lite.api.services import Services
from cyborg_lite.api.views import usage as views
from cyborg_lite.conf import usage as usage_conf
from cyborg_lite.context import RequestContext
from cyborg_lite.db import devices as db_devices
from cyborg_lite.db import usage as db_usage
from cyborg_lite.db import usage_queries

VERSION = (2, 6)
SERIES_PARAMS = ("since", "until", "resolution")
DEFAULT_SPAN = dt.timedelta(hours=1)


def viewer(ctx: RequestContext) -> str | None:
    """The project whose devices' usage ``ctx`` may see; None (every device) for an admin."""
    if ctx.is_admin:
        return None
    if not ctx.project_id:
        raise exception.Forbidden("Usage needs a project-scoped token.")
    return str(ctx.project_id)


def now(services: Services) -> dt.datetime:
    """The services' clock as naive UTC, as stored."""
    return services.clock().astimezone(dt.UTC).replace(tzinfo=None)


def busy_after(conf: cfg.ConfigOpts, at: dt.datetime) -> dt.datetime:
    """Seen busy since this time counts as busy: two report intervals ago, so that a device
    whose agent stopped reporting stops counting as busy."""
    return at - dt.timedelta(seconds=2 * int(conf.agent.usage_report_interval))


@dataclasses.dataclass(frozen=True)
class Window:
    """A series request: [since, until) and the resolution asked for (None: the default)."""

    since: dt.datetime
    until: dt.datetime
    resolution: int | None


def window(params: dict[str, str], at: dt.datetime) -> Window:
    """``since``, ``until`` and ``resolution`` from the query; until defaults to ``at``, since
    to an hour before until. A bad value is a 400 naming it."""
    until = validation.timestamp(params["until"], "until") if "until" in params else at
    since = (
        validation.timestamp(params["since"], "since")
        if "since" in params
        else until - DEFAULT_SPAN
    )
    if since >= until:
        raise exception.Invalid(
            "Invalid input for field/attribute since: must be before until "
            f"({util.timestamp(until)})."
        )
    resolution = None
    if "resolution" in params:
        resolution = validation.integer(params["resolution"], "resolution", minimum=1)
    return Window(since, until, resolution)


def resolution_of(asked: Window, stored: list[int], retained_from: dt.datetime) -> int:
    """The resolution to read: the one asked for, which must be stored (400 naming it if
    not); by default the finest stored step when the range is still held at full resolution
    (it starts after ``retained_from``), else hourly."""
    if asked.resolution is not None:
        if asked.resolution not in stored:
            raise exception.Invalid(
                f"Invalid input for field/attribute resolution. Value: '{asked.resolution}'. "
                f"Must be one of: {', '.join(str(r) for r in stored)}."
            )
        return asked.resolution
    if asked.since >= retained_from and stored[0] < db_usage.HOURLY:
        return stored[0]
    return db_usage.HOURLY


class Usage:
    """``GET /v2/usage``."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """The fleet summary: by model, host and project, and the allocated-but-idle."""
        ctx = req.context.ctx
        microversion.require(ctx.microversion, VERSION)
        self._s.enforcer.authorize(rules.GET_SUMMARY, ctx)
        validation.query(req, ())
        project = viewer(ctx)
        at = now(self._s)
        after = int(usage_conf.of(self._s.conf).allocated_idle_after)
        with self._s.db.transaction() as session:
            found = usage_queries.fleet(
                session,
                project_id=project,
                busy_after=busy_after(self._s.conf, at),
                allocated_idle_before=at - dt.timedelta(seconds=after),
            )
        util.json_body(resp, views.fleet(found))


class DeviceUsage:
    """``GET /v2/devices/{uuid}/usage``."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def on_get(self, req: falcon.Request, resp: falcon.Response, uuid: str) -> None:
        """One device's series of rollups in [since, until) at one resolution."""
        ctx = req.context.ctx
        microversion.require(ctx.microversion, VERSION)
        self._s.enforcer.authorize(rules.GET_DEVICE, ctx)
        params = validation.query(req, SERIES_PARAMS)
        device_uuid = validation.uuid(uuid)
        project = viewer(ctx)
        at = now(self._s)
        asked = window(params, at)
        hours = int(usage_conf.of(self._s.conf).retention_hours)
        with self._s.db.transaction() as session:
            device = db_devices.get_device(session, device_uuid)
            if not usage_queries.device_visible(session, device.id, project):
                raise exception.NotFound(f"Device not found with uuid={device_uuid}")
            resolution = resolution_of(
                asked, usage_queries.resolutions(session), at - dt.timedelta(hours=hours)
            )
            points = usage_queries.series(session, device.id, resolution, asked.since, asked.until)
        util.json_body(resp, views.series(device.uuid, resolution, points))
