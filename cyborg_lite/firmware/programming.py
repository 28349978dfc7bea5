"""FPGA programming rules: what a program request may load where, and how it is rolled out.

Programming a deployable (Cyborg's ``PATCH /v2/deployables/{uuid}/program``, and program at
bind) loads a catalog image of component ``bitstream`` onto the deployable's device. It runs
as a one-device rollout of that image (kind ``program``), so it is drained, dispatched,
checked, journaled and recovered exactly as any firmware job is. Pure functions only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from cyborg_lite import exception
from cyborg_lite.firmware import plan, states
from cyborg_lite.firmware import strategy as strategy_mod

BITSTREAM = "bitstream"
# Device profile group keys (Cyborg's): load this image, or an image providing this function.
BITSTREAM_KEY = "accel:bitstream_id"
FUNCTION_KEY = "accel:function_id"
# The region trait the FPGA drivers report: CUSTOM_FPGA_REGION_INTEL_<PR interface id>.
REGION_TRAIT_PREFIX = "CUSTOM_FPGA_REGION_INTEL_"

# Exclusions that mean the request itself is wrong (400); the others are the device's state
# now (409).
_BAD_REQUEST = frozenset({plan.INCOMPATIBLE, plan.BELOW_MIN_VERSION})


def strategy(*, at_bind: bool, running: bool = False) -> strategy_mod.Strategy:
    """One device, no canary, no bake. At bind the instance being bound holds the device,
    which is the point (``force``). A direct program is planned with ``skip``, so a device an
    instance holds is refused at once, and runs with ``wait``, so one bound in the moment
    between the request and the drain is never loaded under its instance."""
    in_use = "force" if at_bind else ("wait" if running else "skip")
    return strategy_mod.parse(
        {
            "canary": 0,
            "waves": ["100%"],
            "max_in_flight": 1,
            "max_in_flight_per_host": 1,
            "bake_seconds": 0,
            "in_use": in_use,
            "allow_reboot": False,
        }
    )


def trait_word(value: str) -> str:
    """``value`` as the drivers write it into a trait (upper case, other characters ``_``)."""
    return re.sub(r"[^A-Z0-9]+", "_", value.upper()).strip("_")


def region_ids(traits: Iterable[str]) -> set[str]:
    """The PR interface ids a deployable's region traits name, in trait form."""
    return {t[len(REGION_TRAIT_PREFIX) :] for t in traits if t.startswith(REGION_TRAIT_PREFIX)}


def fits_region(pr_interface_ids: Iterable[str], regions: set[str]) -> bool:
    """True when an image naming ``pr_interface_ids`` (none: any) fits one of ``regions``."""
    wanted = {trait_word(i) for i in pr_interface_ids}
    return not wanted or bool(wanted & regions)


def refusal(
    excluded: plan.Excluded, deployable_uuid: str, image_uuid: str
) -> exception.CyborgLiteError:
    """The error for a device the planner left out of a program (400 or 409)."""
    text = (
        f"Cannot program deployable {deployable_uuid} with image {image_uuid}: "
        f"{excluded.detail} ({excluded.reason})."
    )
    if excluded.reason in _BAD_REQUEST:
        return exception.Invalid(text)
    return exception.Conflict(text)


def wanted(group: Mapping[str, str]) -> tuple[str, str] | None:
    """What a device profile group asks to have loaded at bind: ``("bitstream_id", image
    uuid)``, ``("function_id", id)``, or None. An image uuid wins over a function id."""
    if group.get(BITSTREAM_KEY):
        return "bitstream_id", group[BITSTREAM_KEY]
    if group.get(FUNCTION_KEY):
        return "function_id", group[FUNCTION_KEY]
    return None


def outcome_of(job_state: str) -> bool | None:
    """True when a finished program job loaded the image, False when it did not, None while
    it runs (``pending_activation`` cannot happen for a live bitstream, and is not a load)."""
    if job_state not in states.TERMINAL:
        return None
    return job_state == states.SUCCEEDED
