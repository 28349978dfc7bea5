"""A small Placement client on keystoneauth1: providers, inventories, traits, custom classes.

One microversion is pinned on every call (``MICROVERSION``), so a newer Placement never changes
what we read. Writes to inventories and traits are generation-guarded: a 409
``placement.concurrent_update`` means someone else (Nova, another conductor, an operator)
wrote the provider between our read and our write, so we re-read, recompute and try again, a
bounded number of times. Construction does no I/O; the first request opens the session.
"""

from __future__ import annotations

import dataclasses
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

# 1.36: nested providers (1.14), POST returning the body (1.20), reserved = total (1.26),
# in_tree / required filters on listings (1.18). Placement 16 serves up to 1.39; Nova
# schedules at 1.36, so any Placement that serves Nova serves this.
MICROVERSION = "1.36"
GROUP = "placement"
# Attempts at a generation-guarded write before giving up until the next sync.
CONFLICT_ATTEMPTS = 5
CONCURRENT_UPDATE = "placement.concurrent_update"

Inventories = dict[str, dict[str, Any]]


class PlacementError(Exception):
    """Placement answered with an unexpected status (or could not be reached: status 0)."""

    def __init__(self, what: str, status: int, code: str | None = None, detail: str = "") -> None:
        super().__init__(f"{what}: HTTP {status} {code or ''} {detail}".strip())
        self.status = status
        self.code = code


@dataclasses.dataclass(frozen=True)
class Provider:
    """A resource provider as a listing shows it."""

    uuid: str
    name: str
    generation: int
    parent_uuid: str | None
    root_uuid: str


def _provider(body: dict[str, Any]) -> Provider:
    return Provider(
        uuid=body["uuid"],
        name=body["name"],
        generation=int(body["generation"]),
        parent_uuid=body.get("parent_provider_uuid"),
        root_uuid=body.get("root_provider_uuid") or body["uuid"],
    )


def _error(what: str, resp: Any) -> PlacementError:
    code, detail = None, ""
    try:
        first = resp.json()["errors"][0]
        code, detail = first.get("code"), str(first.get("detail", ""))
    except (ValueError, KeyError, IndexError, TypeError):
        detail = resp.text[:200]
    return PlacementError(what, int(resp.status_code), code, detail)


def is_custom(name: str) -> bool:
    """True for a custom resource class or trait (``CUSTOM_*``), which must be created."""
    return name.startswith("CUSTOM_")


class PlacementClient:
    """Calls to Placement through one keystoneauth1 adapter (thread-safe, as requests is)."""

    def __init__(self, adapter: Any) -> None:
        self._adapter = adapter
        # Custom classes and traits known to exist: created once per process, not per sync.
        self._known: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> PlacementClient | None:
        """The client for ``[placement]``; None when no ``auth_type`` is configured."""
        auth = ks_loading.load_auth_from_conf_options(conf, GROUP)
        if auth is None:
            return None
        session = ks_loading.load_session_from_conf_options(conf, GROUP, auth=auth)
        adapter = ks_loading.load_adapter_from_conf_options(conf, GROUP, session=session, auth=auth)
        return cls(adapter)

    # --- transport ----------------------------------------------------------------------

    def _call(
        self, method: str, url: str, *, body: Any = None, request_id: str | None = None
    ) -> Any:
        try:
            return self._adapter.request(
                url,
                method,
                json=body,
                raise_exc=False,
                microversion=MICROVERSION,
                global_request_id=request_id,
                headers={"Accept": "application/json"},
            )
        except ks_exc.ClientException as err:  # connection refused, timeout, no endpoint
            raise PlacementError(f"{method} {url}", 0, None, str(err)) from err

    # --- providers ----------------------------------------------------------------------

    def _list(self, query: dict[str, str], request_id: str | None) -> list[Provider]:
        url = "/resource_providers?" + urllib.parse.urlencode(query)
        resp = self._call("GET", url, request_id=request_id)
        if resp.status_code != 200:
            raise _error("List resource providers", resp)
        return [_provider(p) for p in resp.json()["resource_providers"]]

    def find_provider(self, name: str, *, request_id: str | None = None) -> Provider | None:
        """The provider named ``name`` (names are unique in Placement), or None."""
        found = self._list({"name": name}, request_id)
        return found[0] if found else None

    def get_provider(self, uuid: str, *, request_id: str | None = None) -> Provider | None:
        """The provider ``uuid``, or None."""
        resp = self._call("GET", f"/resource_providers/{uuid}", request_id=request_id)
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise _error(f"Get resource provider {uuid}", resp)
        return _provider(resp.json())

    def tree(
        self, root_uuid: str, *, required: str | None = None, request_id: str | None = None
    ) -> list[Provider]:
        """Every provider in ``root_uuid``'s tree (with trait ``required`` only, if given)."""
        query = {"in_tree": root_uuid}
        if required:
            query["required"] = required
        return self._list(query, request_id)

    def create_provider(
        self,
        uuid: str | None,
        name: str,
        parent_uuid: str | None,
        *,
        request_id: str | None = None,
    ) -> Provider:
        """Create a provider; when another writer created the same uuid first, return it."""
        body: dict[str, Any] = {"name": name}
        if uuid:
            body["uuid"] = uuid
        if parent_uuid:
            body["parent_provider_uuid"] = parent_uuid
        resp = self._call("POST", "/resource_providers", body=body, request_id=request_id)
        if resp.status_code == 200:
            return _provider(resp.json())
        if resp.status_code == 409 and uuid:
            existing = self.get_provider(uuid, request_id=request_id)
            if existing is not None and existing.parent_uuid == parent_uuid:
                return existing
        raise _error(f"Create resource provider {name}", resp)

    def delete_provider(self, uuid: str, *, request_id: str | None = None) -> bool:
        """Delete a provider; False when allocations (or children) still hold it."""
        resp = self._call("DELETE", f"/resource_providers/{uuid}", request_id=request_id)
        if resp.status_code in (204, 404):
            return True
        if resp.status_code == 409:
            return False
        raise _error(f"Delete resource provider {uuid}", resp)

    # --- inventories and traits -----------------------------------------------------------

    def inventories(self, uuid: str, *, request_id: str | None = None) -> tuple[int, Inventories]:
        """``(provider generation, inventories by resource class)``."""
        resp = self._call("GET", f"/resource_providers/{uuid}/inventories", request_id=request_id)
        if resp.status_code != 200:
            raise _error(f"Get inventories of {uuid}", resp)
        body = resp.json()
        return int(body["resource_provider_generation"]), dict(body["inventories"])

    def traits(self, uuid: str, *, request_id: str | None = None) -> tuple[int, set[str]]:
        """``(provider generation, trait names)``."""
        resp = self._call("GET", f"/resource_providers/{uuid}/traits", request_id=request_id)
        if resp.status_code != 200:
            raise _error(f"Get traits of {uuid}", resp)
        body = resp.json()
        return int(body["resource_provider_generation"]), set(body["traits"])

    def update_inventories(
        self,
        uuid: str,
        change: Callable[[Inventories], Inventories],
        *,
        request_id: str | None = None,
    ) -> tuple[bool, int]:
        """Read, apply ``change`` and write back if it differs; ``(written, generation)``."""

        def write(generation: int, wanted: Inventories) -> Any:
            body = {"resource_provider_generation": generation, "inventories": wanted}
            return self._call(
                "PUT", f"/resource_providers/{uuid}/inventories", body=body, request_id=request_id
            )

        return self._guarded(
            f"inventories of {uuid}",
            lambda: self.inventories(uuid, request_id=request_id),
            change,
            write,
        )

    def update_traits(
        self,
        uuid: str,
        change: Callable[[set[str]], set[str]],
        *,
        request_id: str | None = None,
    ) -> tuple[bool, int]:
        """Read, apply ``change`` and write back if it differs; ``(written, generation)``."""

        def write(generation: int, wanted: set[str]) -> Any:
            body = {"resource_provider_generation": generation, "traits": sorted(wanted)}
            return self._call(
                "PUT", f"/resource_providers/{uuid}/traits", body=body, request_id=request_id
            )

        return self._guarded(
            f"traits of {uuid}", lambda: self.traits(uuid, request_id=request_id), change, write
        )

    def _guarded(
        self,
        what: str,
        read: Callable[[], tuple[int, Any]],
        change: Callable[[Any], Any],
        write: Callable[[int, Any], Any],
    ) -> tuple[bool, int]:
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            generation, current = read()
            wanted = change(current)
            if wanted == current:
                return False, generation
            resp = write(generation, wanted)
            if resp.status_code == 200:
                return True, int(resp.json()["resource_provider_generation"])
            err = _error(f"Update {what}", resp)
            if err.code != CONCURRENT_UPDATE or attempt == CONFLICT_ATTEMPTS:
                raise err
            LOG.info("Placement: %s changed under us; re-reading (attempt %d)", what, attempt + 1)
        raise AssertionError("unreachable")

    # --- custom resource classes and traits --------------------------------------------

    def ensure_resource_class(self, name: str, *, request_id: str | None = None) -> None:
        """Create custom resource class ``name`` unless known (standard ones always exist)."""
        self._ensure("resource_classes", name, request_id)

    def ensure_traits(self, names: Iterable[str], *, request_id: str | None = None) -> None:
        """Create each custom trait of ``names`` unless known (standard ones always exist)."""
        for name in names:
            self._ensure("traits", name, request_id)

    def _ensure(self, kind: str, name: str, request_id: str | None) -> None:
        key = f"{kind}/{name}"
        with self._lock:
            if not is_custom(name) or key in self._known:
                return
        # PUT is idempotent (201 created, 204 already there), so racing writers both succeed.
        resp = self._call("PUT", f"/{kind}/{name}", request_id=request_id)
        if resp.status_code not in (201, 204):
            raise _error(f"Create {kind} {name}", resp)
        with self._lock:
            self._known.add(key)
