"""Options of the vendor driver groups: [nvidia], [amd], [fpga_intel], [fpga_xilinx], [opencl].

Commands are argument lists (comma separated), never shell strings. Flash commands may hold the
placeholders ``{image}`` (absolute image path), ``{address}`` (the canonical PCI address),
and ``{segment}``, ``{bus}``, ``{device}``, ``{function}`` (its parts, as 0x-prefixed hex); each
placeholder is replaced inside its own argument after the address was validated.
"""

from __future__ import annotations

from oslo_config import cfg

_TIMEOUT_HELP = (
    "Seconds a read-only vendor command (inventory, version query) may run before it is killed "
    "and the next source is tried. Example: 30."
)

NVIDIA = cfg.OptGroup("nvidia", title="NVIDIA GPU driver options")
NVIDIA_OPTS = [
    cfg.BoolOpt(
        "use_nvml",
        default=True,
        help="Read GPUs through NVML (nvidia-ml-py) first; when false, or when the NVML "
        "library or kernel module is missing, nvidia-smi and then sysfs are used. "
        "Example: false on hosts where NVML must not be loaded into the agent.",
    ),
    cfg.StrOpt(
        "nvidia_smi",
        default="nvidia-smi",
        help="The nvidia-smi executable, a name looked up on PATH or an absolute path. "
        "Example: /usr/bin/nvidia-smi.",
    ),
    cfg.ListOpt(
        "flash_command",
        default=[],
        help="Command that writes a VBIOS image to one GPU, as a comma-separated argument list "
        "with {image} and {address} placeholders; empty means VBIOS flashing is not offered. "
        "The new VBIOS becomes active after a GPU reset. "
        "Example: nvflash,--pcisegbus={address},-y,{image} (check your tool's flags).",
    ),
    cfg.FloatOpt("command_timeout", default=30.0, min=0.1, help=_TIMEOUT_HELP),
]

AMD = cfg.OptGroup("amd", title="AMD GPU driver options")
AMD_OPTS = [
    cfg.BoolOpt(
        "use_amdsmi",
        default=True,
        help="Read GPUs through the amdsmi Python library first; when false or when it cannot "
        "be imported (no ROCm), amd-smi, rocm-smi and then amdgpu sysfs are used. "
        "Example: false when the PyPI amdsmi does not match the installed ROCm.",
    ),
    cfg.StrOpt(
        "amd_smi",
        default="amd-smi",
        help="The amd-smi executable, a name on PATH or an absolute path. "
        "Example: /opt/rocm/bin/amd-smi.",
    ),
    cfg.StrOpt(
        "rocm_smi",
        default="rocm-smi",
        help="The legacy rocm-smi executable, a name on PATH or an absolute path. "
        "Example: /opt/rocm/bin/rocm-smi.",
    ),
    cfg.ListOpt(
        "flash_command",
        default=[],
        help="Command that writes a VBIOS/IFWI image to one GPU, as a comma-separated argument "
        "list with {image} and {address} placeholders; empty means flashing is not offered "
        "(amd-smi and rocm-smi cannot flash). Example: amdvbflash,-p,{address},{image}.",
    ),
    cfg.StrOpt(
        "flash_activation",
        default="reboot",
        choices=["reset", "reboot", "power_cycle"],
        help="What makes a VBIOS written by flash_command active; AMD IFWI updates boot from "
        "the other flash partition at the next reboot. Example: reboot.",
    ),
    cfg.FloatOpt("command_timeout", default=30.0, min=0.1, help=_TIMEOUT_HELP),
]

FPGA_INTEL = cfg.OptGroup("fpga_intel", title="Intel FPGA (DFL/OPAE) driver options")
FPGA_INTEL_OPTS = [
    cfg.ListOpt(
        "device_ids",
        default=["09c4", "0b30", "0b2b", "bcce"],
        help="PCI device ids (vendor 8086) of FPGA physical functions to manage; FPGAs are "
        "matched by id because a bitstream can present any class code. Defaults: PAC Arria10, "
        "PAC N3000, D5005, OFS N6000/N6001/F2000X. Example: 0b30,bcce.",
    ),
    cfg.StrOpt(
        "fpgainfo",
        default="fpgainfo",
        help="The OPAE fpgainfo executable (name on PATH or absolute path), used for the BMC "
        "version and what sysfs lacks. Example: /usr/bin/fpgainfo.",
    ),
    cfg.ListOpt(
        "fpgasupdate_command",
        default=["fpgasupdate", "{image}", "{address}"],
        help="Secure-update command for FIM (fpga_shell) and BMC (fpga_bmc) images, as an "
        "argument list; never add -y, which would accept irreversible key images without the "
        "prompt. A FIM becomes active after a reboot, a BMC image after a power cycle. "
        "Example: fpgasupdate,{image},{address}.",
    ),
    cfg.ListOpt(
        "fpgaconf_command",
        default=[
            "fpgaconf",
            "--segment",
            "{segment}",
            "--bus",
            "{bus}",
            "--device",
            "{device}",
            "--function",
            "{function}",
            "{image}",
        ],
        help="Partial-reconfiguration command loading an AFU bitstream (component bitstream, "
        "active at once), as an argument list; the segment is always passed so multi-domain "
        "hosts are unambiguous. Example: fpgaconf,-S,{segment},-B,{bus},{image}.",
    ),
    cfg.ListOpt(
        "physical_networks",
        default=[],
        help="Cards whose ports serve as Neutron accelerator-direct ports, as "
        "PCI_ADDRESS=PHYSNET items: the card's canonical physical function address and the "
        "physical network its ports reach. Their attach handles (the card's, or each VF's) "
        "carry physical_network, which Nova requires of such a port's ARQ. A malformed item "
        "is reported as this driver's error and the host's Intel FPGAs stay as last reported. "
        "Example: 0000:5e:00.0=physnet1,0000:b1:00.0=physnet2.",
    ),
    cfg.FloatOpt("command_timeout", default=30.0, min=0.1, help=_TIMEOUT_HELP),
]

FPGA_XILINX = cfg.OptGroup("fpga_xilinx", title="Xilinx/AMD Alveo (XRT) driver options")
FPGA_XILINX_OPTS = [
    cfg.ListOpt(
        "device_ids",
        default=["5000", "5004", "500c", "5020"],
        help="PCI device ids (vendor 10ee) of Alveo management functions; the user function is "
        "the next function of the same slot. Defaults: U200, U250, U280, U50. Functions bound "
        "to xclmgmt are managed whatever their id. Example: 5000,500c.",
    ),
    cfg.StrOpt(
        "xbmgmt",
        default="xbmgmt",
        help="The XRT xbmgmt executable (name on PATH or absolute path). "
        "Example: /opt/xilinx/xrt/bin/xbmgmt.",
    ),
    cfg.StrOpt(
        "xbutil",
        default="xbutil",
        help="The XRT xbutil executable (name on PATH or absolute path), used to read a "
        "card's power and temperature when its hwmon does not give them. "
        "Example: /opt/xilinx/xrt/bin/xbutil.",
    ),
    cfg.ListOpt(
        "base_flash_command",
        default=["xbmgmt", "program", "--device", "{address}", "--base", "--image", "{image}"],
        help="Command that flashes the base shell and satellite controller of one card "
        "(component fpga_shell), as an argument list; active after a cold power cycle. "
        "Example: xbmgmt,program,--device,{address},--base,--image,{image}.",
    ),
    cfg.ListOpt(
        "xclbin_command",
        default=["xbutil", "program", "--device", "{address}", "--user", "{image}"],
        help="Command that loads an xclbin into the user function (component bitstream, active "
        "at once); {address} is the user function's address here. "
        "Example: xbutil,program,--device,{address},--user,{image}.",
    ),
    cfg.FloatOpt("command_timeout", default=30.0, min=0.1, help=_TIMEOUT_HELP),
]

OPENCL = cfg.OptGroup("opencl", title="Generic OpenCL driver options")
OPENCL_OPTS = [
    cfg.BoolOpt(
        "include_cpu_devices",
        default=False,
        help="Report OpenCL CPU devices (PoCL, Intel CPU runtime) as accelerators. Off by "
        "default: a host CPU is no schedulable accelerator, and every machine with PoCL would "
        "otherwise report one. Example: true on a demo machine without accelerators.",
    ),
    cfg.BoolOpt(
        "isolate",
        default=True,
        help="Enumerate OpenCL platforms in a child process killed after probe_timeout, because "
        "a GPU ICD can hang on a wedged device; false enumerates inside the agent. "
        "Example: false for debugging.",
    ),
    cfg.FloatOpt(
        "probe_timeout",
        default=30.0,
        min=0.1,
        help="Seconds the OpenCL enumeration may take. Example: 30.",
    ),
]

GROUPS = [
    (NVIDIA, NVIDIA_OPTS),
    (AMD, AMD_OPTS),
    (FPGA_INTEL, FPGA_INTEL_OPTS),
    (FPGA_XILINX, FPGA_XILINX_OPTS),
    (OPENCL, OPENCL_OPTS),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the vendor driver groups on ``conf``."""
    for group, opts in GROUPS:
        # A fresh OptGroup per ConfigOpts (oslo.config copies groups shallowly).
        conf.register_group(cfg.OptGroup(group.name, title=group.title))
        conf.register_opts(opts, group=group.name)


def list_opts() -> list[tuple[cfg.OptGroup, list[cfg.Opt]]]:
    """The groups and their options, for oslo-config-generator."""
    return list(GROUPS)
