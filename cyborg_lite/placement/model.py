"""What a deployable looks like in Placement: pure functions, no I/O.

A deployable becomes one child provider of its host's compute-node provider: uuid = the
deployable's ``rp_uuid``, a globally unique name, one inventory record of its resource class,
and its traits: ``OWNER_CYBORG`` (marks the providers cyborg-lite owns, so it never deletes
another service's), its ``traitN`` attributes, and one ``CUSTOM_FW_<COMPONENT>_<VERSION>`` per
firmware component, so a device profile can require a firmware version.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import uuid as uuidlib
from typing import Any

from cyborg_lite.db.providers import DeployableState

OWNER_TRAIT = "OWNER_CYBORG"
# Put on a compute-node provider cyborg-lite creates itself, as Nova puts it on its own: a
# Nova-like scheduler asks for it with root_required.
COMPUTE_TRAIT = "COMPUTE_ACCELERATORS"
NAME_MAX = 200  # Placement's limit on provider names
TRAIT_MAX = 255
_NOT_TRAIT = re.compile(r"[^A-Z0-9_]+")
_VALID = re.compile(r"^[A-Z0-9_]+$")
_CUSTOM_PREFIX = re.compile(r"^custom_", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class ProviderSpec:
    """The provider a deployable should have."""

    uuid: str
    name: str
    resource_class: str
    total: int
    reserved: int
    traits: frozenset[str]

    def inventories(self) -> dict[str, dict[str, Any]]:
        """The inventory as Placement stores it (its defaults written out, so a read-back
        compares equal and drift in any field is seen)."""
        if self.total < 1:
            return {}  # Placement refuses a total of 0: no inventory at all
        return {
            self.resource_class: {
                "total": self.total,
                "reserved": self.reserved,
                "min_unit": 1,
                "max_unit": self.total,
                "step_size": 1,
                "allocation_ratio": 1.0,
            }
        }


def custom_name(*parts: str) -> str:
    """``CUSTOM_`` + ``parts`` upper-cased, every run of other characters as one ``_``; e.g.
    ``custom_name("FW", "vbios", "96.00.89.00.01")`` is ``CUSTOM_FW_VBIOS_96_00_89_00_01``."""
    body = "_".join(_NOT_TRAIT.sub("_", p.upper()).strip("_") for p in parts if p)
    name = "CUSTOM_" + (body or "UNNAMED")
    if len(name) > TRAIT_MAX:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8].upper()
        name = f"{name[: TRAIT_MAX - 9]}_{digest}"
    return name


def firmware_trait(component: str, version: str) -> str:
    """The trait naming a firmware version, e.g. ``CUSTOM_FW_VBIOS_96_00_89_00_01``."""
    return custom_name("FW", component, version)


def trait_name(value: str) -> str:
    """A ``traitN`` attribute as a Placement trait: a valid name (upper-case letters, digits
    and ``_``, like ``OWNER_CYBORG`` or ``CUSTOM_NVIDIA_2330``) as it is, anything else made
    a valid custom name (``nvidia-2330`` becomes ``CUSTOM_NVIDIA_2330``)."""
    if _VALID.match(value) and len(value) <= TRAIT_MAX:
        return value
    return custom_name(_CUSTOM_PREFIX.sub("", value))


def resource_class(value: str | None) -> str:
    """The ``rc`` attribute as a resource class; a missing one reads as ``CUSTOM_PCI``."""
    if not value:
        return "CUSTOM_PCI"
    return trait_name(value)


def provider_name(name: str) -> str:
    """``name`` within Placement's 200 characters; a longer one is cut and given a digest
    of the whole, so two long names that share a prefix stay distinct."""
    if len(name) <= NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{name[: NAME_MAX - 13]}_{digest}"


def provider_uuid(state: DeployableState) -> str:
    """The deployable's ``rp_uuid``, or uuid3 of its name as Cyborg computes it."""
    return state.rp_uuid or str(uuidlib.uuid3(uuidlib.NAMESPACE_DNS, state.name))


def spec(state: DeployableState) -> ProviderSpec:
    """The provider ``state`` should have; ``reserved`` is the total while the device is out
    of scheduling (maintenance, firmware drain, missing from its reports)."""
    attrs = dict(state.attributes)
    traits = {OWNER_TRAIT}
    traits.update(trait_name(v) for k, v in state.attributes if k.startswith("trait") and v)
    traits.update(firmware_trait(c, v) for c, v in state.firmware)
    total = int(state.num_accelerators)
    return ProviderSpec(
        uuid=provider_uuid(state),
        name=provider_name(state.name),
        resource_class=resource_class(attrs.get("rc")),
        total=total,
        reserved=total if state.unschedulable else 0,
        traits=frozenset(traits),
    )
