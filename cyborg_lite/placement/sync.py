"""Bringing Placement in line with SQL: one child provider per deployable, per host.

SQL is the truth; Placement is derived from it and repaired from it. Each sync reads the
host's deployables in one short transaction, then talks to Placement with no transaction
open, so a Placement error never touches (let alone rolls back) SQL state: it is logged, and
the next sync (after the next report, or the periodic one) tries again.

What a host sync does: find the compute-node provider named by the host (create it only with
``[placement] create_compute_providers``), list its tree, create missing child providers,
write the inventory and traits of those that differ (compare before write: a provider whose
generation and wanted state are what this process last wrote costs nothing), and delete
``OWNER_CYBORG`` providers no deployable wants any more; one that allocations still hold is
kept, with ``reserved = total`` so nothing new lands on it, and retried on every sync.

A device a lending pool offers (``pool_devices.offered``, issue 17) has its providers carry
``CUSTOM_CYBORG_LENDABLE`` and the pool's trait as well: computed from SQL on each sync (one
query more per host), never stored as attributes, so withdrawing the offer and syncing the
device takes them off.

``drain``/``restore`` implement the rollout engine's ``Scheduling``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable
from typing import Any

from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite.db import lending_devices
from cyborg_lite.db import providers as db_providers
from cyborg_lite.db.engine import Database
from cyborg_lite.placement import model
from cyborg_lite.placement.client import PlacementClient, PlacementError, Provider, is_custom

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class HostResult:
    """What one host sync did (for logs and tests)."""

    hostname: str
    root: str | None = None  # the compute-node provider, None when absent
    created: list[str] = dataclasses.field(default_factory=list)
    updated: list[str] = dataclasses.field(default_factory=list)
    deleted: list[str] = dataclasses.field(default_factory=list)
    kept: list[str] = dataclasses.field(default_factory=list)  # removed, held by allocations
    failed: list[str] = dataclasses.field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when Placement now matches SQL for this host."""
        return self.root is not None and not self.failed and not self.kept


def specs(
    states: Iterable[db_providers.DeployableState], lending: dict[str, tuple[str, ...]]
) -> list[model.ProviderSpec]:
    """The providers ``states`` should have, the lending traits of offered devices
    (``lending``: device uuid to traits, ``lending_devices.offered_traits``) added."""
    out = []
    for state in states:
        spec = model.spec(state)
        extra = lending.get(state.device_uuid, ())
        out.append(dataclasses.replace(spec, traits=spec.traits | set(extra)) if extra else spec)
    return out


def _reserve_all(inventories: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rc: {**inv, "reserved": inv["total"]} for rc, inv in inventories.items()}


class ProviderSync:
    """Syncs hosts' providers; thread-safe (the worker, the engine and the API share one)."""

    def __init__(
        self, db: Database, client: PlacementClient, *, create_roots: bool = False
    ) -> None:
        self._db = db
        self.client = client
        self._create_roots = create_roots
        # rp uuid -> (generation, spec) as this process last wrote or verified them.
        self._seen: dict[str, tuple[int, model.ProviderSpec]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts, db: Database) -> ProviderSync | None:
        """The sync for ``[placement]``; None when Placement is not configured."""
        client = PlacementClient.from_conf(conf)
        if client is None:
            return None
        return cls(db, client, create_roots=conf.placement.create_compute_providers)

    # --- hosts ---------------------------------------------------------------------------

    def sync_all(
        self, *, request_id: str | None = None, owns: Callable[[str], bool] | None = None
    ) -> list[HostResult]:
        """Sync every known host (the periodic repair); only those ``owns`` accepts, when
        given (this conductor's share of the fleet)."""
        with self._db.transaction() as session:
            names = db_providers.hostnames(session)
        if owns is not None:
            names = [name for name in names if owns(name)]
        return [self.sync_host(name, request_id=request_id) for name in names]

    def sync_host(self, hostname: str, *, request_id: str | None = None) -> HostResult:
        """Bring ``hostname``'s providers in line with SQL; never raises for Placement."""
        result = HostResult(hostname)
        with self._db.transaction() as session:
            wanted = specs(
                db_providers.of_host(session, hostname),
                lending_devices.offered_traits(session, hostname=hostname),
            )
        try:
            root = self._root(hostname, request_id)
            if root is None:
                return result
            result.root = root.uuid
            tree = {p.uuid: p for p in self.client.tree(root.uuid, request_id=request_id)}
            owned = self.client.tree(root.uuid, required=model.OWNER_TRAIT, request_id=request_id)
        except PlacementError as err:
            LOG.warning("Placement sync of host %s failed: %s; retried later", hostname, err)
            result.failed.append(hostname)
            return result
        for spec in wanted:
            self._sync_one(spec, root.uuid, tree.get(spec.uuid), result, request_id)
        kept = {s.uuid for s in wanted}
        for provider in owned:
            if provider.uuid not in kept and provider.uuid != root.uuid:
                self._remove(provider, result, request_id)
        LOG.debug("Placement sync of %s: %s", hostname, result)
        return result

    def _root(self, hostname: str, request_id: str | None) -> Provider | None:
        root = self.client.find_provider(hostname, request_id=request_id)
        if root is not None:
            return root
        if not self._create_roots:
            LOG.warning(
                "Placement has no compute-node provider named %s: its accelerators are not "
                "reported until it exists (Nova creates it; or set [placement] "
                "create_compute_providers = true where no Nova runs). Retried each sync.",
                hostname,
            )
            return None
        root = self.client.create_provider(None, hostname, None, request_id=request_id)
        # Only at creation: cyborg-lite owns this root, so it may say what Nova would say.
        self.client.update_traits(
            root.uuid, lambda t: t | {model.COMPUTE_TRAIT}, request_id=request_id
        )
        LOG.info("Created compute-node provider %s (%s)", hostname, root.uuid)
        return self.client.get_provider(root.uuid, request_id=request_id)

    def _sync_one(
        self,
        spec: model.ProviderSpec,
        root_uuid: str,
        found: Provider | None,
        result: HostResult,
        request_id: str | None,
    ) -> None:
        try:
            if found is None:
                found = self.client.create_provider(
                    spec.uuid, spec.name, root_uuid, request_id=request_id
                )
                result.created.append(spec.uuid)
            with self._lock:
                if self._seen.get(spec.uuid) == (found.generation, spec):
                    return
            if self._write(spec, request_id) and spec.uuid not in result.created:
                result.updated.append(spec.uuid)
        except PlacementError as err:
            LOG.warning("Placement: provider %s (%s) not synced: %s", spec.name, spec.uuid, err)
            self._forget(spec.uuid)
            result.failed.append(spec.uuid)

    def _write(self, spec: model.ProviderSpec, request_id: str | None) -> bool:
        """Write inventory and traits where they differ; True when anything was written."""
        self.client.ensure_resource_class(spec.resource_class, request_id=request_id)
        self.client.ensure_traits((t for t in spec.traits if is_custom(t)), request_id=request_id)
        wrote_inv, _ = self.client.update_inventories(
            spec.uuid, lambda _current: spec.inventories(), request_id=request_id
        )
        wrote_traits, generation = self.client.update_traits(
            spec.uuid, lambda _current: set(spec.traits), request_id=request_id
        )
        with self._lock:
            self._seen[spec.uuid] = (generation, spec)
        return wrote_inv or wrote_traits

    def _remove(self, provider: Provider, result: HostResult, request_id: str | None) -> None:
        self._forget(provider.uuid)
        try:
            if self.client.delete_provider(provider.uuid, request_id=request_id):
                LOG.info(
                    "Deleted provider %s (%s): its deployable is gone", provider.name, provider.uuid
                )
                result.deleted.append(provider.uuid)
                return
            # Allocations hold it: nothing new may land on it; delete on a later sync.
            self.client.update_inventories(provider.uuid, _reserve_all, request_id=request_id)
            LOG.warning(
                "Provider %s (%s) of a removed deployable is still allocated: reserved, and "
                "deleted once its allocations are gone",
                provider.name,
                provider.uuid,
            )
            result.kept.append(provider.uuid)
        except PlacementError as err:
            LOG.warning("Placement: could not remove provider %s: %s", provider.uuid, err)
            result.failed.append(provider.uuid)

    def _forget(self, uuid: str) -> None:
        with self._lock:
            self._seen.pop(uuid, None)

    # --- devices (enable/disable, drain/restore) -------------------------------------------

    def sync_device(self, device_uuid: str, *, request_id: str | None = None) -> bool:
        """Write one device's providers from SQL (after enable/disable, or a restore); a
        provider not created yet is left to the host sync. False when Placement failed."""
        with self._db.transaction() as session:
            found = specs(
                db_providers.of_device(session, device_uuid),
                lending_devices.offered_traits(session, device_uuid=device_uuid),
            )
        ok = True
        for spec in found:
            try:
                self._write(spec, request_id)
            except PlacementError as err:
                if err.status != 404:
                    LOG.warning("Placement: device %s not synced: %s", device_uuid, err)
                    ok = False
                self._forget(spec.uuid)
        return ok

    def drain(self, device_uuid: str) -> None:
        """Reserve all of the device's capacity in Placement, so no scheduler picks it.

        Called by the rollout engine once the drain is committed in SQL, with no transaction
        open; it writes ``reserved = total`` outright, whatever else SQL says of the device. A
        failure is logged only: SQL's drain already refuses binds, and the periodic sync
        writes the reservation from SQL once it can.
        """
        with self._db.transaction() as session:
            uuids = [model.provider_uuid(s) for s in db_providers.of_device(session, device_uuid)]
        self._reserve(uuids, device_uuid)

    def restore(self, device_uuid: str) -> None:
        """Give the device's capacity back (unless SQL still holds it out, e.g. maintenance)."""
        self.sync_device(device_uuid)

    def _reserve(self, uuids: Iterable[str], device_uuid: str) -> None:
        for uuid in uuids:
            self._forget(uuid)
            try:
                self.client.update_inventories(uuid, _reserve_all)
            except PlacementError as err:
                LOG.warning("Placement: could not drain device %s (%s): %s", device_uuid, uuid, err)
