"""Helpers every vendor driver shares: value cleaning, trait names, VF deployables, flashing.

Flashing is one routine for every vendor: check the request, build the argument list from the
configured template (placeholders filled only with validated values), run it through the
runner, map the tool's failure to a ``FLASH_ERRORS`` code, then re-read the device and decide
whether the new version is active, pending an activation, or wrong.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence

from cyborg_lite.drivers import base, pci
from cyborg_lite.drivers.host import CommandRunner, ToolError, tail

# Strings vendor tools print for "no value" (nvidia-smi, amd-smi, rocm-smi, fpgainfo).
_SENTINELS = {
    "",
    "n/a",
    "[n/a]",
    "na",
    "none",
    "unknown",
    "not supported",
    "[not supported]",
    "not available",
    "requested functionality has been deprecated",
}

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B|bytes)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS.update({"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40})

OWNER_TRAIT = "OWNER_CYBORG"

# A Neutron physical network name as an attach handle's ``physical_network`` carries it (Nova
# builds an accelerator-direct port's PCI request from it). Neutron allows any 64 characters;
# this is the subset that stays unambiguous in a ``PCI_ADDRESS=PHYSNET`` list item.
PHYSNET_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def check_physnet(name: str, where: str) -> str:
    """``name`` if it is a valid physical network name, else ValueError naming ``where``."""
    if PHYSNET_RE.fullmatch(name) is None:
        raise ValueError(
            f"{where}: {name!r} is not a physical network name "
            "(1 to 64 of A-Z, a-z, 0-9, '_', '.', ':', '-')"
        )
    return name


def clean(value: object) -> str | None:
    """A stripped string, or None for None and the tools' "no value" sentinels."""
    if value is None:
        return None
    text = str(value).strip()
    return None if text.lower() in _SENTINELS else text


def parse_size(value: object, default_unit: str = "B") -> int | None:
    """Bytes from ``"81559 MiB"``, ``"16 GB"`` or a plain number in ``default_unit``."""
    text = clean(value)
    if text is None:
        return None
    m = _SIZE_RE.match(text)
    if m is None:
        return None
    unit = (m[2] or default_unit).lower()
    return int(float(m[1]) * _UNITS.get(unit, 1))


def trait(*parts: str) -> str:
    """A ``CUSTOM_`` trait from parts, upper-cased, anything else than A-Z0-9 turned into ``_``."""
    words = [re.sub(r"[^A-Z0-9]+", "_", p.upper()).strip("_") for p in parts if p]
    return ("CUSTOM_" + "_".join(w for w in words if w))[:255]


def vf_deployables(
    dev: pci.PciDevice,
    prefix: str,
    resource_class: str,
    traits: Sequence[str],
    attributes: Mapping[str, str] | None = None,
) -> tuple[base.Deployable, ...]:
    """One deployable per enabled VF of ``dev``, attached by the VF's PCI address."""
    return tuple(
        base.Deployable(
            name=f"{prefix}_vf{i}",
            resource_class=resource_class,
            traits=tuple(traits),
            attach_handles=(base.AttachHandle("PCI", vf),),
            attributes={"pf_address": dev.address, **(attributes or {})},
        )
        for i, vf in enumerate(dev.virtfns)
    )


def device_name(address: str) -> str:
    """A host-unique deployable name from a PCI address (``0000:3b:00.0`` -> ``0000_3b_00_0``)."""
    return re.sub(r"[^0-9a-f]", "_", address)


# How a flash tool's complaint maps to an error code; first match wins, default hw-error.
_FAILURE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(pattern, re.IGNORECASE))
    for code, pattern in (
        ("permission", r"permission denied|not permitted|must be (?:run as )?root|privilege"),
        ("driver-not-loaded", r"driver (?:is )?not loaded|communicate with the nvidia driver"),
        ("device-lost", r"fallen off the bus|no such device|device (?:not found|lost|is gone)"),
        ("busy", r"\bbusy\b|\bin use\b|another (?:update|flash)|temporarily unavailable"),
        (
            "incompatible-image",
            r"incompatib|mismatch|signature|invalid (?:image|file)|bad image|not compatible"
            r"|does not match|wrong (?:board|image)|unsupported image"
            # fpgasupdate asks before irreversible key images; stdin is closed, so it refuses.
            r"|irreversible",
        ),
    )
)


def classify_failure(text: str) -> str:
    """The ``FLASH_ERRORS`` code a failed flash tool's output points to."""
    for code, pattern in _FAILURE_PATTERNS:
        if pattern.search(text):
            return code
    return "hw-error"


_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")


def expand_command(template: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """Fill ``{name}`` placeholders in a configured argv template.

    Plain string replacement of known names only (never ``str.format``, which would let a
    template reach attributes); each value goes into the one argument that names it, so no value
    can become a separate option. An unknown placeholder is a configuration error.
    """
    argv = []
    for arg in template:

        def fill(m: re.Match[str]) -> str:
            if m[1] not in values:
                raise ValueError(f"unknown placeholder {m[0]} in command {list(template)!r}")
            return values[m[1]]

        argv.append(_PLACEHOLDER_RE.sub(fill, arg))
    return argv


def address_values(address: str) -> dict[str, str]:
    """Placeholder values derived from a canonical address (fpgaconf wants the parts)."""
    a = pci.parse_address(address)
    return {
        "address": address,
        "segment": f"0x{a.domain or 0:04x}",
        "bus": f"0x{a.bus:02x}",
        "device": f"0x{a.device:02x}",
        "function": f"0x{a.function:x}",
    }


def find_component(device: base.Device | None, component: str) -> base.FirmwareComponent | None:
    """The named firmware component of ``device``, if any."""
    if device is None:
        return None
    return next((c for c in device.firmware if c.component == component), None)


def _fail(code: str, message: str, log: str = "") -> base.FlashResult:
    return base.FlashResult(ok=False, error_code=code, message=message, log_tail=tail(log))


def flash_with_command(
    *,
    runner: CommandRunner,
    template: Sequence[str],
    option: str,
    device: base.Device,
    component: str,
    image_path: str,
    timeout: float,
    activation: str,
    reread: Callable[[], base.Device | None],
    expected_version: str | None = None,
    values: Mapping[str, str] | None = None,
    target_address: str | None = None,
    noop_pattern: re.Pattern[str] | None = None,
    failure_pattern: re.Pattern[str] | None = None,
) -> base.FlashResult:
    """Run a configured flash command for one component and settle what it came to.

    ``option`` names the config option holding ``template`` (for the "unsupported" message);
    ``reread`` re-discovers the device after the tool ran; ``target_address`` is the function
    the tool is pointed at when it is not the device's own (Xilinx user PF).
    ``failure_pattern`` marks output that is a failure despite exit status 0, and
    ``noop_pattern`` output saying the image was already there (nothing becomes pending).
    """
    before = find_component(device, component)
    if before is None:
        have = ", ".join(c.component for c in device.firmware) or "none"
        return _fail("unsupported", f"{device.model} has no component {component!r} ({have})")
    if not template:
        return _fail("unsupported", f"no flash command configured; set {option}")
    if not before.updatable:
        return _fail("unsupported", f"{component} of {device.model} is not updatable here")
    address = target_address or device.pci_address
    if address is None or not pci.is_canonical(address):
        return _fail("unknown", f"refusing to flash: {address!r} is not a canonical PCI address")
    image = os.path.abspath(image_path)
    if not os.path.isfile(image):
        return _fail("unknown", f"image {image} does not exist or is not a file")
    try:
        fills = {**address_values(address), "image": image, **(values or {})}
        argv = expand_command(template, fills)
    except ValueError as err:
        return _fail("unsupported", f"{option}: {err}")
    try:
        result = runner.run(argv, timeout=timeout, check=False)
    except ToolError as err:
        return _fail(err.code, str(err), err.output)
    log = result.stdout + result.stderr
    if result.returncode != 0 or (failure_pattern is not None and failure_pattern.search(log)):
        code = classify_failure(log)
        return _fail(code, f"{result.tool} failed ({result.returncode}): {tail(log, 300)}", log)
    if noop_pattern is not None and noop_pattern.search(log):
        activation = "live"  # nothing was written, so nothing waits for an activation
    return settle(device, before, reread, activation, expected_version, log)


def settle(
    device: base.Device,
    before: base.FirmwareComponent,
    reread: Callable[[], base.Device | None],
    activation: str,
    expected_version: str | None,
    log: str,
) -> base.FlashResult:
    """After a tool succeeded: re-read the device and decide active, pending or mismatch."""
    try:
        after_device = reread()
    except Exception as err:  # any failure to read back is reported, never raised into the agent
        return _fail("device-lost", f"could not re-read {device.pci_address}: {err}", log)
    after = find_component(after_device, before.component)
    if after_device is None or after is None:
        return _fail("device-lost", f"{device.pci_address} is gone after the flash", log)
    if activation == "live":
        if expected_version is not None and after.version != expected_version:
            return _fail(
                "verify-mismatch",
                f"{before.component} reads {after.version!r} after the load, "
                f"expected {expected_version!r}",
                log,
            )
        return base.FlashResult(
            ok=True, version=after.version, message=f"{before.component} loaded", log_tail=tail(log)
        )
    if expected_version is not None and after.version == expected_version:
        # Already running that version (the tool found nothing to do, or it is active at once).
        return base.FlashResult(
            ok=True, version=after.version, message="already active", log_tail=tail(log)
        )
    pending = after.pending_version or expected_version
    return base.FlashResult(
        ok=True,
        version=after.version,
        activation_pending=True,
        message=f"{before.component} written"
        + (f" ({pending})" if pending else "")
        + f"; active after a {activation.replace('_', ' ')}",
        log_tail=tail(log),
    )
