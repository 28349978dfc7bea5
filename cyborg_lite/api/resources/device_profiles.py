"""``/v2/device_profiles``: create, list, show and delete device profiles.

A profile is a named list of request groups (Placement resources, traits, ``accel:*``), the
thing a Nova flavor names with ``accel:device_profile``. Profiles are immutable: no update.
"""

from __future__ import annotations

import re
from typing import Any

import falcon
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.api import microversion, util, validation
from cyborg_lite.api.policies import device_profiles as rules
from cyborg_lite.api.schemas import device_profiles as schema
from cyborg_lite.api.services import Services
from cyborg_lite.api.views import device_profiles as views
from cyborg_lite.db import device_profiles as db_profiles
from cyborg_lite.db import models

LIST_PARAMS = ("name", "limit", "marker")

# Standard resource classes Cyborg accepts in `resources:` keys (`GPU` too, though Placement
# has no such class); anything else must be a custom class.
RESOURCE_CLASSES = frozenset(
    {"FPGA", "GPU", "VGPU", "PGPU", "CUSTOM_QAT", "CUSTOM_NIC", "CUSTOM_SSD"}
)
TRAIT_VALUES = ("required", "forbidden")
# Placement's rule for custom resource class and trait names.
_CUSTOM_RE = re.compile(r"CUSTOM_[A-Z0-9_]{1,248}")
_NAME_RE = re.compile(schema.NAME_PATTERN.strip("^$"))
_AMOUNT_RE = re.compile(r"[0-9]+")


def check_name(name: str) -> str:
    """``name`` if it is a valid profile name (letters, digits, ``-``, ``_``), else 400."""
    if not _NAME_RE.fullmatch(name):
        raise exception.Invalid(
            f'Device profile name "{name}" is invalid: use only letters, digits, "-" and "_".'
        )
    return name


def _squeeze(text: str) -> str:
    # Cyborg removes whitespace inside resource class and trait names.
    return "".join(text.split())


def _resource(index: int, name: str, amount: str) -> str:
    if name not in RESOURCE_CLASSES and not _CUSTOM_RE.fullmatch(name):
        raise exception.Invalid(
            f'Unsupported resource class "{name}" in group {index}: use one of '
            f"{', '.join(sorted(RESOURCE_CLASSES))} or a custom class (CUSTOM_[A-Z0-9_]+)."
        )
    if not _AMOUNT_RE.fullmatch(amount) or int(amount) < 1:
        raise exception.Invalid(
            f'Amount of "resources:{name}" in group {index} must be a positive integer '
            f'string, not "{amount}".'
        )
    return f"resources:{name}"


def _trait(index: int, name: str, value: str) -> str:
    if not _CUSTOM_RE.fullmatch(name):
        raise exception.Invalid(
            f'Trait "{name}" in group {index} is not allowed: only custom traits '
            "(CUSTOM_[A-Z0-9_]+) may be named."
        )
    if value not in TRAIT_VALUES:
        raise exception.Invalid(
            f'Trait "trait:{name}" in group {index} must be "required" or "forbidden", '
            f'not "{value}".'
        )
    return f"trait:{name}"


def normalize_group(index: int, group: dict[str, str]) -> dict[str, str]:
    """Group ``index`` checked key by key, whitespace removed from resource and trait names;
    key order is kept."""
    out: dict[str, str] = {}
    for key, value in group.items():
        prefix, _, rest = key.partition(":")
        if prefix == "resources":
            new_key = _resource(index, _squeeze(rest), value)
        elif prefix == "trait":
            new_key = _trait(index, _squeeze(rest), value)
        elif prefix == "accel":
            new_key = key  # accel:* values are read at bind time, not validated here
        else:
            raise exception.Invalid(
                f'Invalid key "{key}" in group {index}: keys start with "resources:", '
                '"trait:" or "accel:".'
            )
        if new_key in out:
            raise exception.Invalid(f'Key "{new_key}" appears twice in group {index}.')
        out[new_key] = value
    return out


def parse_create(data: Any) -> dict[str, Any]:
    """The profile to create from a POST body (a list of exactly one profile), or 400."""
    if not isinstance(data, list):
        raise exception.Invalid("The request body must be a JSON list holding one device profile.")
    if len(data) != 1:
        raise exception.Invalid("Only one device profile allowed per POST request for now.")
    profile = validation.check(schema.CREATE, data)[0]
    fields: dict[str, Any] = {
        "name": check_name(profile["name"]),
        "description": profile.get("description"),
        "groups": [normalize_group(i, g) for i, g in enumerate(profile["groups"])],
    }
    if profile.get("uuid") is not None:
        fields["uuid"] = validation.uuid(profile["uuid"])
    return fields


def lookup(session: orm.Session, value: str, version: tuple[int, int]) -> models.DeviceProfile:
    """The profile named by a path segment: a uuid, or a name from microversion 2.2."""
    if validation.is_uuid(value):
        return db_profiles.get_by_uuid(session, validation.uuid(value))
    microversion.require(version, (2, 2))
    return db_profiles.get_by_name(session, value)


def resolve_for_delete(session: orm.Session, value: str) -> list[models.DeviceProfile]:
    """The profiles a delete names: one uuid, or comma-separated names (404 if any is
    missing, before anything is deleted)."""
    if not value:
        raise exception.Invalid(
            "Name the device profiles to delete: a uuid or comma-separated names in the path, "
            "or ?value=name1,name2."
        )
    parts = value.split(",")
    if len(parts) == 1 and validation.is_uuid(parts[0]):
        return [db_profiles.get_by_uuid(session, validation.uuid(parts[0]))]
    return [db_profiles.get_by_name(session, name) for name in dict.fromkeys(parts)]


class DeviceProfiles:
    """The device profile collection and its items."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """List profiles, only those named in ``?name=a,b`` when given; paged on request."""
        self._s.enforcer.authorize(rules.GET_ALL, req.context.ctx)
        params = validation.query(req, LIST_PARAMS)
        page = util.paging(params, self._s.conf.api.max_limit)
        names = params["name"].split(",") if "name" in params else None
        with self._s.db.transaction() as session:
            found = db_profiles.list_profiles(session, names, limit=page.limit, marker=page.marker)
        base = util.base_url(req, self._s.conf)
        items = [views.serialize(p, base) for p in found]
        last = found[-1].uuid if found else None
        util.paged_body(req, resp, self._s.conf, "device_profiles", items, page, last)

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, value: str) -> None:
        """Show one profile, wrapped in ``device_profile``, by uuid (or name from 2.2)."""
        ctx = req.context.ctx
        self._s.enforcer.authorize(rules.GET_ONE, ctx)
        with self._s.db.transaction() as session:
            profile = lookup(session, value, ctx.microversion)
        body = {"device_profile": views.serialize(profile, util.base_url(req, self._s.conf))}
        util.json_body(resp, body)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Create a profile from a one-element list; answers the bare profile, 201."""
        self._s.enforcer.authorize(rules.CREATE, req.context.ctx)
        fields = parse_create(validation.read_json(req, self._s.max_body))
        with self._s.db.transaction() as session:
            profile = db_profiles.create_profile(session, **fields)
        body = views.serialize(profile, util.base_url(req, self._s.conf))
        util.json_body(resp, body, falcon.HTTP_201)

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Delete the profiles named in ``?value=n1,n2`` (400 without it)."""
        self._s.enforcer.authorize(rules.DELETE, req.context.ctx)
        params = validation.query(req, ("value",))
        self._delete(resp, params.get("value", ""))

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, value: str) -> None:
        """Delete one profile by uuid, or several by comma-separated names."""
        self._s.enforcer.authorize(rules.DELETE, req.context.ctx)
        self._delete(resp, value)

    def _delete(self, resp: falcon.Response, value: str) -> None:
        with self._s.db.transaction() as session:
            db_profiles.delete_profiles(session, resolve_for_delete(session, value))
        util.no_content(resp)
