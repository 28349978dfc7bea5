"""The simulator's catalog: the cards ``[simulated] devices`` may name, with their PCI ids,
resource classes, traits and firmware components (initial versions and activations), and the
parsing of ``MODEL:COUNT`` items.

The names, ids and versions follow what the vendors' tools report for each card (contract
section 11.1), so simulated devices look like the real drivers' to everything above them.
"""

from __future__ import annotations

import dataclasses

# What an FPGA with an empty PR region reports as its bitstream (the real drivers' "none").
NO_BITSTREAM = "none"
# The function trait's prefix per FPGA vendor. Intel's is fpga_intel's; the real fpga_xilinx
# reports the xclbin only as an attribute, so the Xilinx name is this simulator's own.
FUNCTION_TRAIT = {"8086": "FPGA_FUNCTION_ID_INTEL", "10ee": "FPGA_FUNCTION_ID_XILINX"}
# Each FPGA's bitstream: (component, initial version, updatable, activation).
_BITSTREAM = ("bitstream", NO_BITSTREAM, True, "live")


@dataclasses.dataclass(frozen=True)
class Profile:
    """How a card's figures scale with its load (0 to 100 %): linearly from idle to max."""

    memory_total_bytes: int | None  # None: no device memory reported (FPGAs)
    idle_watts: float
    max_watts: float
    idle_celsius: float
    max_celsius: float


GIB = 2**30


@dataclasses.dataclass(frozen=True)
class Model:
    """A card the simulator can present."""

    type: str
    vendor: str
    product_id: str
    name: str
    controller: str
    resource_class: str
    traits: tuple[str, ...]
    # (component, initial version, updatable, activation)
    firmware: tuple[tuple[str, str, bool, str], ...]
    # The PR region's interface id (Intel FPGAs): a bitstream must be built against it.
    pr_interface_id: str | None = None
    # A SmartNIC: its ports can back Neutron accelerator-direct ports, for which Nova needs
    # the physical network in the attach handle ([simulated] physical_network).
    nic: bool = False
    # Usage figures (memory, power, temperature) at idle and at full load.
    profile: Profile = Profile(None, 20.0, 75.0, 30.0, 70.0)


def _nvidia(pid: str, name: str, vbios: str, profile: Profile) -> Model:
    return Model(
        "GPU",
        "10de",
        pid,
        name,
        "3D controller",
        "PGPU",
        ("OWNER_CYBORG", f"CUSTOM_NVIDIA_{pid.upper()}"),
        (("vbios", vbios, True, "reset"), ("inforom", "G520.0200.00.05", False, "reset")),
        profile=profile,
    )


def _amd(pid: str, name: str, vbios: str, profile: Profile) -> Model:
    return Model(
        "GPU",
        "1002",
        pid,
        name,
        "Processing accelerators",
        "PGPU",
        ("OWNER_CYBORG", f"CUSTOM_AMD_{pid.upper()}"),
        (("vbios", vbios, True, "reset"), ("psp_sos", "00.36.00.76", False, "reboot")),
        profile=profile,
    )


CATALOG: dict[str, Model] = {
    # Power limits as the vendors rate the boards (H100 SXM5 700 W, A100 PCIe 300 W, T4 70 W,
    # MI300X OAM 750 W, MI210 PCIe 300 W); idle draw and temperatures are typical figures.
    "nvidia-h100": _nvidia(
        "2330", "NVIDIA H100 80GB HBM3", "96.00.99.00.01", Profile(80 * GIB, 70, 700, 32, 78)
    ),
    "nvidia-a100": _nvidia(
        "20b5", "NVIDIA A100 80GB PCIe", "92.00.90.00.01", Profile(80 * GIB, 45, 300, 31, 75)
    ),
    "nvidia-t4": _nvidia("1eb8", "Tesla T4", "90.04.96.00.02", Profile(16 * GIB, 10, 70, 30, 72)),
    "amd-mi300x": _amd(
        "74a1", "AMD Instinct MI300X", "113-M3000100-104", Profile(192 * GIB, 140, 750, 35, 85)
    ),
    "amd-mi210": _amd(
        "740f", "AMD Instinct MI210", "113-D67301-063", Profile(64 * GIB, 40, 300, 33, 80)
    ),
    "intel-n6001": Model(
        "FPGA",
        "8086",
        "bcce",
        "Intel FPGA SmartNIC N6001-PL",
        "Processing accelerators",
        "FPGA",
        ("CUSTOM_FPGA_INTEL", "CUSTOM_FPGA_INTEL_N6001"),
        (
            ("fpga_shell", "ofs-2024.2-1", True, "reset"),
            ("fpga_bmc", "3.15.2", True, "reboot"),
            _BITSTREAM,
        ),
        pr_interface_id="eea1ca1a-5ae6-5f74-9bf0-75918177817c",
        nic=True,
        profile=Profile(None, 45, 75, 40, 75),
    ),
    "intel-pac-a10": Model(
        "FPGA",
        "8086",
        "09c4",
        "Intel PAC Arria 10 GX",
        "Processing accelerators",
        "FPGA",
        ("CUSTOM_FPGA_INTEL", "CUSTOM_FPGA_INTEL_PAC_ARRIA10"),
        (
            ("fpga_shell", "1.2.1", True, "reset"),
            ("fpga_bmc", "26.0.0", True, "reboot"),
            _BITSTREAM,
        ),
        pr_interface_id="6af436ce-9527-5ccc-9ee1-f81a2ad9e122",
        profile=Profile(None, 30, 66, 38, 72),
    ),
    "xilinx-u280": Model(
        "FPGA",
        "10ee",
        "500c",
        "Xilinx Alveo U280",
        "Processing accelerators",
        "FPGA",
        ("CUSTOM_FPGA_XILINX", "CUSTOM_FPGA_PRODUCT_ID_500C"),
        (
            ("fpga_shell", "1.0.202210", True, "reset"),
            ("fpga_bmc", "4.3.27", True, "reboot"),
            _BITSTREAM,
        ),
        profile=Profile(None, 25, 225, 35, 80),
    ),
    "xilinx-u250": Model(
        "FPGA",
        "10ee",
        "5004",
        "Xilinx Alveo U250",
        "Processing accelerators",
        "FPGA",
        ("CUSTOM_FPGA_XILINX", "CUSTOM_FPGA_PRODUCT_ID_5004"),
        (
            ("fpga_shell", "1.0.202210", True, "reset"),
            ("fpga_bmc", "4.3.27", True, "reboot"),
            _BITSTREAM,
        ),
        profile=Profile(None, 30, 225, 35, 80),
    ),
}
# 16 buses of 32 slots per model.
MAX_PER_MODEL = 16 * 32


def parse_fleet(items: list[str]) -> list[tuple[str, int]]:
    """``["nvidia-h100:2", ...]`` as ``[(model, count)]``; ValueError names a bad item."""
    fleet = []
    for item in items:
        key, _, count = item.strip().partition(":")
        if key not in CATALOG:
            raise ValueError(f"unknown simulated model {key!r}; known: {sorted(CATALOG)}")
        n = int(count) if count else 1
        if not 0 <= n <= MAX_PER_MODEL:
            raise ValueError(f"{item!r}: count must be 0 to {MAX_PER_MODEL}")
        fleet.append((key, n))
    return fleet
