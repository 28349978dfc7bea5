"""Planning a rollout: which selected devices are flashed, in which wave, and why any is left out.

Pure: it takes plain candidate records (read from SQL by the caller) and returns the plan, so a
dry run and the real run produce the same waves from the same inventory. The order is
deterministic: canaries first (one device of each distinct model before a second of any), then
hosts in an order fixed by a hash of their names, a host's devices kept together so a host that
must reset or reboot does so within one wave. Within a wave the devices are then dealt out
round-robin across its hosts, so the engine's next startable job (per-host limits) is near the
front of the wave rather than behind every device of a busy host.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from cyborg_lite import exception
from cyborg_lite.firmware import strategy as strategy_mod
from cyborg_lite.firmware import versions

SELECTOR_KEYS = ("hosts", "device_uuids", "models", "current_versions")

# Reasons a selected device is left out, in the order they are checked.
INCOMPATIBLE = "incompatible"
NOT_UPDATABLE = "not_updatable"
BELOW_MIN_VERSION = "below_min_version"
ALREADY_AT_VERSION = "already_at_version"
HOST_DOWN = "host_down"
MAINTENANCE = "maintenance"
IN_USE = "in_use"
BUSY = "busy"


@dataclasses.dataclass(frozen=True)
class Image:
    """What the planner needs of a catalog image."""

    vendor: str
    component: str
    version: str
    device_ids: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    min_version: str | None = None


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A device as the planner sees it."""

    uuid: str
    hostname: str
    vendor: str
    model: str
    product_id: str | None  # PCI device id, e.g. "2330"
    host_state: str  # up | down | maintenance
    status: str  # enabled | maintaining
    in_use: bool  # an ARQ holds one of its attach handles
    # The image's component on this device: None when the device has no such component.
    current_version: str | None = None
    updatable: bool = False
    # A job of another running rollout touches this device.
    busy: bool = False


@dataclasses.dataclass(frozen=True)
class Excluded:
    """A selected device that is not flashed, and why."""

    uuid: str
    hostname: str
    reason: str
    detail: str


@dataclasses.dataclass(frozen=True)
class Plan:
    """Waves of device uuids (wave 0 is the canary when there is one) and the exclusions."""

    waves: tuple[tuple[Candidate, ...], ...]
    excluded: tuple[Excluded, ...]
    canary: bool

    @property
    def total(self) -> int:
        """Devices that will be flashed."""
        return sum(len(w) for w in self.waves)


def parse_selector(body: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """The selector of a body that passed the request schema (``api/schemas/rollouts.py``
    SELECTOR: known criteria only, each null or a non-empty list of non-empty strings), as
    tuples. What the schema leaves to this rule spans the criteria: at least one is given, as
    an empty selector never means "every device"."""
    selector = {name: tuple(body[name]) for name in SELECTOR_KEYS if body.get(name) is not None}
    if not selector:
        raise exception.Invalid(
            "The selector is empty. Name hosts, device_uuids, models or current_versions: "
            "an empty selector never means every device."
        )
    return selector


def selected(candidate: Candidate, selector: Mapping[str, Sequence[str]]) -> bool:
    """True when ``candidate`` matches every criterion of ``selector`` (any value of each)."""
    if "hosts" in selector and candidate.hostname not in selector["hosts"]:
        return False
    if "device_uuids" in selector and candidate.uuid not in selector["device_uuids"]:
        return False
    if "models" in selector and candidate.model not in selector["models"]:
        return False
    if "current_versions" in selector:
        current = candidate.current_version
        if current is None or not any(
            versions.same(current, v) for v in selector["current_versions"]
        ):
            return False
    return True


def exclusion(candidate: Candidate, image: Image, in_use_policy: str) -> tuple[str, str] | None:
    """Why ``candidate`` cannot take ``image`` now, or None when it can."""
    fits_id = candidate.product_id is not None and candidate.product_id.lower() in {
        d.lower() for d in image.device_ids
    }
    fits_model = candidate.model in image.models
    if candidate.vendor.lower().removeprefix("0x") != image.vendor or not (fits_id or fits_model):
        return INCOMPATIBLE, (
            f"image is for vendor {image.vendor}, device ids {list(image.device_ids)}, models "
            f"{list(image.models)}; device is {candidate.vendor}:{candidate.product_id} "
            f"{candidate.model!r}"
        )
    if candidate.current_version is None:
        return INCOMPATIBLE, f"device has no {image.component} component"
    if not candidate.updatable:
        return NOT_UPDATABLE, f"the device's {image.component} cannot be updated"
    if image.min_version and versions.compare(candidate.current_version, image.min_version) < 0:
        return BELOW_MIN_VERSION, (
            f"current version {candidate.current_version} is below the image's minimum "
            f"{image.min_version}"
        )
    if versions.same(candidate.current_version, image.version):
        return ALREADY_AT_VERSION, f"already at {image.version}"
    if candidate.host_state != "up":
        return HOST_DOWN, f"host {candidate.hostname} is {candidate.host_state}"
    if candidate.status != "enabled":
        return MAINTENANCE, "device is in maintenance"
    if candidate.busy:
        return BUSY, "another running rollout has a job on this device"
    if candidate.in_use and in_use_policy == "skip":
        return IN_USE, "an instance holds the device and strategy.in_use is 'skip'"
    return None


def _host_order(hostname: str) -> str:
    return hashlib.sha256(hostname.encode()).hexdigest()


def order(candidates: Iterable[Candidate], canary: int) -> tuple[list[Candidate], int]:
    """The flashing order and how many of its first devices are canaries."""
    ordered = sorted(candidates, key=lambda c: (_host_order(c.hostname), c.hostname, c.uuid))
    if canary <= 0 or not ordered:
        return ordered, 0
    # Canaries: cover every model once before taking a second device of any model, and
    # spread over as many hosts as possible (one bad host must not be the whole sample).
    picked: list[Candidate] = []
    taken: set[str] = set()
    models_seen: set[str] = set()
    hosts_seen: set[str] = set()
    passes: tuple[Callable[[Candidate], bool], ...] = (
        lambda c: c.model not in models_seen and c.hostname not in hosts_seen,
        lambda c: c.model not in models_seen,
        lambda c: c.hostname not in hosts_seen,
        lambda c: True,
    )
    for wanted in passes:
        for c in ordered:
            if len(picked) == canary:
                break
            if c.uuid not in taken and wanted(c):
                picked.append(c)
                taken.add(c.uuid)
                models_seen.add(c.model)
                hosts_seen.add(c.hostname)
    chosen = {c.uuid for c in picked}
    return picked + [c for c in ordered if c.uuid not in chosen], len(picked)


def interleave(wave: Sequence[Candidate]) -> tuple[Candidate, ...]:
    """The wave's devices dealt round-robin across hosts, keeping each host's own order."""
    by_host: dict[str, list[Candidate]] = {}
    for c in wave:
        by_host.setdefault(c.hostname, []).append(c)
    columns = list(by_host.values())
    out: list[Candidate] = []
    for i in range(max((len(c) for c in columns), default=0)):
        out.extend(col[i] for col in columns if i < len(col))
    return tuple(out)


def build(
    candidates: Iterable[Candidate],
    image: Image,
    selector: Mapping[str, Sequence[str]],
    strategy: strategy_mod.Strategy,
) -> Plan:
    """The plan for ``image`` over the ``candidates`` the ``selector`` picks."""
    eligible: list[Candidate] = []
    excluded: list[Excluded] = []
    for c in candidates:
        if not selected(c, selector):
            continue
        why = exclusion(c, image, strategy.in_use)
        if why is None:
            eligible.append(c)
        else:
            excluded.append(Excluded(c.uuid, c.hostname, why[0], why[1]))
    ordered, canaries = order(eligible, strategy.canary)
    sizes = strategy_mod.wave_sizes(len(ordered), canaries, strategy.waves)
    waves: list[tuple[Candidate, ...]] = []
    start = 0
    for size in sizes:
        waves.append(interleave(ordered[start : start + size]))
        start += size
    excluded.sort(key=lambda e: (e.hostname, e.uuid))
    return Plan(waves=tuple(waves), excluded=tuple(excluded), canary=canaries > 0)
