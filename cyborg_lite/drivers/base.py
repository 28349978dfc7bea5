"""The driver contract: what a vendor driver reports, and how the agent asks it to flash.

A driver's ``discover()`` returns plain frozen dataclasses; the agent turns them into JSON-able
dicts (``to_dict``) for the conductor. Drivers never touch SQL, RPC or Placement, and reach the
host only through injected readers and runners, so tests feed them fixtures.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar

from oslo_config import cfg

# How a new firmware image becomes active.
ACTIVATIONS = ("live", "reset", "reboot", "power_cycle")

# Error codes a flash can end with (drivers-discovery.md, section 6.4).
FLASH_ERRORS = (
    "unsupported",
    "tool-missing",
    "permission",
    "driver-not-loaded",
    "busy",
    "incompatible-image",
    "hw-error",
    "timeout",
    "verify-mismatch",
    "device-lost",
    "unknown",
    # Set by the agent around a flash, never by a driver: the image could not be fetched, its
    # bytes did not match the job's sha256 (nothing was written), or the agent restarted
    # during the flash and re-discovery did not show the target version.
    "download-failed",
    "checksum-mismatch",
    "interrupted",
)


@dataclasses.dataclass(frozen=True)
class FirmwareComponent:
    """One firmware component of a device (vbios, inforom, fpga_shell, fpga_bmc, bitstream...)."""

    component: str
    version: str
    updatable: bool = False
    activation: str = "reset"
    # Flashed but not yet active (waits for a reset or reboot).
    pending_version: str | None = None


@dataclasses.dataclass(frozen=True)
class AttachHandle:
    """How a deployable is handed to an instance: ``PCI`` (an address) or ``MDEV``."""

    attach_type: str
    # Canonical lower-case PCI address dddd:bb:dd.f
    pci_address: str
    # Extra attach_info keys (e.g. asked_type, vgpu_mark for MDEV; physical_network for NICs).
    extra: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Deployable:
    """What is scheduled: a whole GPU, a MIG/vGPU slice, an FPGA region, a VF.

    ``name`` is unique on the host; the conductor prefixes the hostname to make it globally
    unique (it is hashed into the Placement provider uuid).
    """

    name: str
    resource_class: str
    traits: tuple[str, ...] = ()
    num_accelerators: int = 1
    attach_handles: tuple[AttachHandle, ...] = ()
    # Further attributes beside rc/traitN, e.g. {"bitstream_id": ...}.
    attributes: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Device:
    """An accelerator as a driver sees it.

    ``stable_id`` identifies the device on its host across reports (the GPU UUID or board
    serial where the driver has one, else the PCI address).
    """

    stable_id: str
    type: str  # GPU | FPGA | AICHIP | QAT | NIC | SSD
    vendor: str  # PCI vendor id, lower-case hex without 0x, e.g. "10de"
    model: str
    driver: str  # the driver's name, e.g. "nvidia"
    pci_address: str | None = None
    # Cyborg's std_board_info: e.g. {"product_id": "2330", "controller": "3D controller"}
    std_board_info: dict[str, str] = dataclasses.field(default_factory=dict)
    # Free-form vendor details: serial, uuid, memory, driver version...
    vendor_board_info: dict[str, str] = dataclasses.field(default_factory=dict)
    numa_node: int | None = None
    deployables: tuple[Deployable, ...] = ()
    firmware: tuple[FirmwareComponent, ...] = ()


@dataclasses.dataclass(frozen=True)
class FlashResult:
    """What a flash came to. ``error_code`` is one of ``FLASH_ERRORS`` when ``ok`` is False."""

    ok: bool
    version: str | None = None  # the version read back after the flash
    activation_pending: bool = False  # written, waiting for reset/reboot to become active
    error_code: str | None = None
    message: str = ""
    log_tail: str = ""


@dataclasses.dataclass(frozen=True)
class Sample:
    """One reading of a device's usage, as cheap as its vendor makes it (issue 16).

    Every figure is optional: None means the source cannot give it (a MIG slice's utilization,
    a tool that is missing), never 0. Units are SQL-friendly: percent 0-100, bytes, watts,
    degrees Celsius. ``deployable`` names one deployable of the device (a MIG instance) when
    the reading is of that slice alone; None is the whole device.
    """

    stable_id: str
    deployable: str | None = None
    utilization_percent: float | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None
    power_watts: float | None = None
    temperature_celsius: float | None = None
    # Compute processes running on it (GPUs); None when the source does not list them.
    processes: int | None = None
    # FPGAs: whether a function (a user bitstream or xclbin) is loaded, and whether the tools
    # say it is in use; None where they do not tell.
    function_loaded: bool | None = None
    in_use: bool | None = None


class Driver(abc.ABC):
    """A vendor driver, found through the ``cyborg_lite.drivers`` entry point group."""

    #: The entry point name, e.g. "nvidia".
    name: ClassVar[str]
    #: Flashes this driver can run at once on one host.
    max_parallel_flashes: ClassVar[int] = 1

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    @abc.abstractmethod
    def discover(self) -> list[Device]:
        """Every device this driver finds on the host. May raise; the agent isolates it."""

    def sample(
        self, devices: Sequence[Device], *, allocated: frozenset[str] = frozenset()
    ) -> list[Sample]:
        """A usage reading of each of ``devices`` (this driver's, from its last ``discover``).

        ``allocated`` holds the stable ids of those the conductor says are bound to an ARQ;
        only the simulator uses it (``[simulated] bound_usage``): real hardware shows its own
        load. Default: every figure unknown. Drivers that can read usage override this; like
        ``discover`` it may raise, and the agent isolates it. A device may have several samples
        (the whole device and each MIG slice); one it cannot read is left out or all None.
        """
        return [Sample(stable_id=d.stable_id) for d in devices]

    def flash(
        self,
        device: Device,
        component: str,
        image_path: str,
        timeout: float,
        *,
        expected_version: str | None = None,
    ) -> FlashResult:
        """Write ``image_path`` to ``component`` of ``device``. Default: unsupported.

        ``expected_version`` (the catalog's version of the image), when given, lets the driver
        verify a live load and recognise an image that is already active.
        """
        return FlashResult(
            ok=False,
            error_code="unsupported",
            message=f"The {self.name} driver cannot flash firmware.",
        )


def verify_activation(device: Device | None, component: str, expected_version: str) -> FlashResult:
    """Whether a flash became active: ``device`` as re-discovered after the reset or reboot.

    The agent calls this on the first report after an activation; a version that did not change
    is ``verify-mismatch``, a device that is gone is ``device-lost``.
    """
    if device is None:
        return FlashResult(ok=False, error_code="device-lost", message="device not found")
    found = next((c for c in device.firmware if c.component == component), None)
    if found is None:
        return FlashResult(
            ok=False, error_code="device-lost", message=f"{component} no longer reported"
        )
    if found.version != expected_version:
        return FlashResult(
            ok=False,
            version=found.version,
            error_code="verify-mismatch",
            message=f"{component} reads {found.version!r}, expected {expected_version!r}",
        )
    return FlashResult(ok=True, version=found.version, message=f"{component} is {found.version}")


def to_dict(device: Device) -> dict[str, Any]:
    """A device as a JSON-able dict (the wire form in agent reports)."""
    return dataclasses.asdict(device)


def from_dict(data: dict[str, Any]) -> Device:
    """The inverse of ``to_dict``."""
    deployables = tuple(
        Deployable(
            name=d["name"],
            resource_class=d["resource_class"],
            traits=tuple(d.get("traits", ())),
            num_accelerators=d.get("num_accelerators", 1),
            attach_handles=tuple(AttachHandle(**h) for h in d.get("attach_handles", ())),
            attributes=dict(d.get("attributes", {})),
        )
        for d in data.get("deployables", ())
    )
    firmware = tuple(FirmwareComponent(**f) for f in data.get("firmware", ()))
    fields = {k: v for k, v in data.items() if k not in ("deployables", "firmware")}
    return Device(**fields, deployables=deployables, firmware=firmware)
