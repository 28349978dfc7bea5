"""The simulated driver: a configurable fleet of GPUs and FPGA cards that behaves like hardware.

Its devices carry the same fields, resource classes and traits as the real drivers' (contract
section 11.1), with identities derived from the host name and slot, so a host presents the same
devices on every start. Firmware versions live in a state file under ``state_path`` and survive
restarts, as flashed hardware would. ``flash()`` takes ``[simulated] flash_seconds``, fails at
``[simulated] flash_failure_rate`` and appends every attempt to the ledger
(``[simulated] ledger_path``).

A flashed component whose activation is ``live`` or ``reset`` runs the new version at once (the
agent resets the device as part of the flash); ``reboot`` and ``power_cycle`` leave it pending
until the driver next starts, which is when a real host would have rebooted.

FPGA cards also carry a ``bitstream`` component (the function loaded in the PR region:
``none`` until one is loaded, ``live`` activation), and their deployable shows what is loaded
as the real drivers read it back: ``CUSTOM_FPGA_FUNCTION_ID_INTEL_<F>`` (the AFU id, as
``fpga_intel`` reports it) or ``CUSTOM_FPGA_FUNCTION_ID_XILINX_<F>`` (the real ``fpga_xilinx``
has no function trait; this is the simulator's), where F is the image's ``function_id`` or else
its version. Intel cards also report their PR region, ``CUSTOM_FPGA_REGION_INTEL_<PR id>``, with
a fixed PR interface id per model, so bitstream images can be matched against it.

SmartNIC models (the N6001) name the Neutron physical network their ports serve,
``[simulated] physical_network``, as ``physical_network`` in their PCI attach handle: Nova reads
it from an ARQ bound to an ``accelerator-direct`` port.

Image files may start with a line ``CYBORG-LITE-SIMULATED-FIRMWARE component=C version=V``
(bitstreams may add ``function_id=F``) naming what they contain; any other file flashes as its
catalog version, else as ``sim-<first 12 hex of sha256>``.

``sample()`` reports usage from configuration (``[simulated] usage``, ``usage_schedule``,
``bound_usage``, ``usage_jitter``; see ``simulated_usage``), on the injected clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import orjson
from oslo_config import cfg

from cyborg_lite.drivers import base, common, simulated_usage
from cyborg_lite.drivers.simulated_models import (
    CATALOG,
    FUNCTION_TRAIT,
    NO_BITSTREAM,
    Model,
    parse_fleet,
)

# Device identities are uuid5 names in this namespace.
NAMESPACE = uuid.UUID("7d0d6a51-3f7e-5b4e-9a43-6c1f0e2a9b10")
IMAGE_HEADER = "CYBORG-LITE-SIMULATED-FIRMWARE"
# Devices of one model sit on buses from this base, 16 buses per model in catalog order.
_BUS_BASE = 0x10


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SimulatedDriver(base.Driver):
    """A driver whose devices exist only in configuration and a state file."""

    name: ClassVar[str] = "simulated"
    max_parallel_flashes: ClassVar[int] = 4

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        now: Callable[[], dt.datetime] = _utcnow,
        usage_rng: random.Random | None = None,
    ) -> None:
        super().__init__(conf)
        self.host = str(conf.host)
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - failure injection, not security
        self._now = now
        self._usage_rng = usage_rng or random.Random()  # noqa: S311 - load jitter
        self._lock = threading.Lock()
        self._state: dict[str, dict[str, dict[str, Any]]] | None = None
        self._saved = b""  # the state file's content as last written
        # (stable id, PCI address, serial) per (model key, n): hashes computed once, since a
        # simulated host is discovered again at every step of each of its jobs.
        self._static: dict[tuple[str, int], tuple[str, str, str]] = {}
        folder = os.path.join(conf.state_path, "simulated")
        self.state_file = os.path.join(folder, f"{self.host}.json")
        self.ledger_path = conf.simulated.ledger_path or os.path.join(folder, "flash-ledger.jsonl")

    # --- discovery ------------------------------------------------------------------------

    def discover(self) -> list[base.Device]:
        """The configured fleet, with firmware versions from the state file."""
        fleet = parse_fleet(list(self.conf.simulated.devices))
        nic_extra = self._nic_extra()
        with self._lock:
            state = self._load_state()
            devices = [
                self._device(key, n, state, nic_extra) for key, count in fleet for n in range(count)
            ]
            self._save_state(state)
        return devices

    def _nic_extra(self) -> dict[str, str]:
        """The extra attach_info of a SmartNIC's handle: its physical network, if any.

        A bad name is a ValueError, which the agent reports as this driver's error (the
        conductor then keeps the host's simulated devices as they were)."""
        physnet = self.conf.simulated.physical_network or ""
        if not physnet:
            return {}
        return {"physical_network": common.check_physnet(physnet, "[simulated] physical_network")}

    def identity(self, model: str, n: int) -> str:
        """The stable id of the ``n``-th ``model`` card on this host."""
        return str(uuid.uuid5(NAMESPACE, f"{self.host}/{model}/{n}"))

    @staticmethod
    def pci_address(model: str, n: int) -> str:
        """Where the ``n``-th ``model`` card sits: fixed per model, so fleets can grow."""
        index = list(CATALOG).index(model)
        bus = _BUS_BASE + index * 16 + n // 32
        return f"0000:{bus:02x}:{n % 32:02x}.0"

    def _device(
        self,
        key: str,
        n: int,
        state: dict[str, dict[str, dict[str, Any]]],
        nic_extra: dict[str, str],
    ) -> base.Device:
        model = CATALOG[key]
        static = self._static.get((key, n))
        if static is None:
            stable_id = self.identity(key, n)
            serial = hashlib.sha256(stable_id.encode()).hexdigest()[:12].upper()
            static = self._static[(key, n)] = (stable_id, self.pci_address(key, n), serial)
        stable_id, address, serial = static
        fw_state = state.setdefault(stable_id, {})
        firmware = []
        for component, version, updatable, activation in model.firmware:
            entry = fw_state.setdefault(component, {"version": version, "pending_version": None})
            firmware.append(
                base.FirmwareComponent(
                    component=component,
                    version=entry["version"],
                    updatable=updatable,
                    activation=activation,
                    pending_version=entry.get("pending_version"),
                )
            )
        vendor_info = {"serial": f"SIM{serial}", "simulated": "true"}
        if model.vendor == "10de":
            vendor_info["uuid"] = f"GPU-{stable_id}"
        traits, attributes = _region(model, fw_state.get("bitstream"))
        return base.Device(
            stable_id=stable_id,
            type=model.type,
            vendor=model.vendor,
            model=model.name,
            driver=self.name,
            pci_address=address,
            std_board_info={"product_id": model.product_id, "controller": model.controller},
            vendor_board_info=vendor_info,
            numa_node=n % 2,
            deployables=(
                base.Deployable(
                    name=f"{key}-{n}",
                    resource_class=model.resource_class,
                    traits=traits,
                    attach_handles=(
                        base.AttachHandle("PCI", address, dict(nic_extra) if model.nic else {}),
                    ),
                    attributes=attributes,
                ),
            ),
            firmware=tuple(firmware),
        )

    # --- usage ----------------------------------------------------------------------------

    def sample(
        self, devices: Sequence[base.Device], *, allocated: frozenset[str] = frozenset()
    ) -> list[base.Sample]:
        """Each device's figures from ``[simulated] usage`` (see ``simulated_usage``)."""
        model = simulated_usage.UsageModel(self.conf, self._usage_rng)
        active = model.scheduled(self._now())
        keys = {m.name: key for key, m in CATALOG.items()}
        samples = []
        for device in devices:
            key = keys.get(device.model)
            if key is None:  # not one of ours
                samples.append(base.Sample(stable_id=device.stable_id))
                continue
            load = model.load(key, device.stable_id in allocated, active)
            samples.append(simulated_usage.sample(device, key, load))
        return samples

    # --- state ----------------------------------------------------------------------------

    def _load_state(self) -> dict[str, dict[str, dict[str, Any]]]:
        if self._state is None:
            try:
                with open(self.state_file, encoding="utf-8") as f:
                    self._state = dict(json.load(f)["devices"])
            except FileNotFoundError:
                self._state = {}
            # Loading the state is this driver's "boot": what waited for a reboot is active.
            for components in self._state.values():
                for entry in components.values():
                    if entry.get("pending_version"):
                        entry["version"], entry["pending_version"] = entry["pending_version"], None
        return self._state

    def _save_state(self, state: dict[str, dict[str, dict[str, Any]]]) -> None:
        # orjson: discovery runs at every step of a job, and encoding the state with the
        # standard library just to compare it was most of a simulated host's discovery.
        text = orjson.dumps(
            {"host": self.host, "devices": state},
            option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS,
        )
        if text == self._saved:
            return  # discovery runs often; rewrite the file only when something changed
        os.makedirs(os.path.dirname(self.state_file), exist_ok=True)
        tmp = f"{self.state_file}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(text)
        os.replace(tmp, self.state_file)  # atomic: a crash leaves the old or the new file
        self._saved = text

    # --- flashing -------------------------------------------------------------------------

    def flash(
        self,
        device: base.Device,
        component: str,
        image_path: str,
        timeout: float,
        *,
        expected_version: str | None = None,
    ) -> base.FlashResult:
        """Simulate writing ``image_path`` to ``component``; every attempt goes to the ledger.

        The new version is the image's header line's, else the catalog's ``expected_version``
        (what a real image would carry inside), else one derived from the image's digest.
        """
        started = self._now()
        current = next((f for f in device.firmware if f.component == component), None)
        old = current.version if current else None
        sha256, image_version = "", None
        try:
            image = _read_image(image_path, expected_version)
        except OSError as err:
            result = base.FlashResult(False, error_code="unknown", message=f"image: {err}")
        else:
            sha256, image_version = image.sha256, image.version
            result = self._write(device, current, image, timeout)
        entry = {
            "host": self.host,
            "device": device.stable_id,
            "pci_address": device.pci_address,
            "component": component,
            "image_sha256": sha256,
            "old_version": old,
            "new_version": image_version,
            "version_after": result.version,
            "result": "ok" if result.ok else result.error_code,
            "started_at": started.isoformat(),
            "finished_at": self._now().isoformat(),
        }
        os.makedirs(os.path.dirname(os.path.abspath(self.ledger_path)), exist_ok=True)
        # One write of one line in append mode: lines from several agents do not interleave.
        with self._lock, open(self.ledger_path, "a", encoding="utf-8") as ledger:
            ledger.write(json.dumps(entry, sort_keys=True) + "\n")
        return result

    def _write(
        self,
        device: base.Device,
        current: base.FirmwareComponent | None,
        image: _Image,
        timeout: float,
    ) -> base.FlashResult:
        if current is None or (image.component and image.component != current.component):
            return base.FlashResult(
                False,
                error_code="incompatible-image",
                message=f"image is for {image.component!r}, not {current and current.component!r}",
            )
        if not current.updatable:
            return base.FlashResult(
                False, error_code="unsupported", message=f"{current.component} is read-only"
            )
        seconds = float(self.conf.simulated.flash_seconds)
        if seconds > timeout:
            self._sleep(timeout)
            return base.FlashResult(False, error_code="timeout", message=f"over {timeout}s")
        self._sleep(seconds)
        if self._rng.random() < float(self.conf.simulated.flash_failure_rate):
            # Nothing reaches the state: a failed bitstream load keeps the old function too.
            return base.FlashResult(
                False, version=current.version, error_code="hw-error", message="injected failure"
            )
        image_version = image.version
        immediate = current.activation in ("live", "reset")
        with self._lock:
            state = self._load_state()
            entry = state.setdefault(device.stable_id, {}).setdefault(
                current.component, {"version": current.version, "pending_version": None}
            )
            if immediate:
                entry["version"], entry["pending_version"] = image_version, None
            else:
                entry["pending_version"] = image_version
            if current.component == "bitstream":
                # Replaced, not merged: a bitstream without a function_id is known by its
                # version, never by the function of the one it replaced.
                entry["function_id"] = image.function_id
            self._save_state(state)
        return base.FlashResult(
            True,
            version=image_version if immediate else current.version,
            activation_pending=not immediate,
        )


def _function(bitstream: dict[str, Any] | None) -> str | None:
    """The function a bitstream state entry has loaded: its ``function_id``, else its
    version; None while the PR region is empty."""
    if not bitstream or bitstream.get("version", NO_BITSTREAM) == NO_BITSTREAM:
        return None
    function: str = bitstream.get("function_id") or bitstream["version"]
    return function


def _region(
    model: Model, bitstream: dict[str, Any] | None
) -> tuple[tuple[str, ...], dict[str, str]]:
    """A deployable's traits and attributes: the model's, then, as fpga_intel reports them,
    the PR region and the loaded function (the attributes named as the real drivers name
    them: ``pr_interface_id`` and ``afu_id`` for Intel, ``xclbin_uuid`` for Xilinx)."""
    traits = list(model.traits)
    attributes: dict[str, str] = {}
    if model.pr_interface_id:
        traits.append(common.trait("FPGA_REGION_INTEL", model.pr_interface_id))
        attributes["pr_interface_id"] = model.pr_interface_id
    function = _function(bitstream)
    prefix = FUNCTION_TRAIT.get(model.vendor)
    if function is not None and prefix and bitstream is not None:
        traits.append(common.trait(prefix, function))
        if model.vendor == "8086":
            attributes["afu_id"] = function  # the AFU id is what names an Intel function
        else:
            attributes["xclbin_uuid"] = bitstream["version"]
    return tuple(traits), attributes


@dataclasses.dataclass(frozen=True)
class _Image:
    """What an image file says it is."""

    sha256: str
    version: str
    component: str | None = None  # from the header line; None: fits any component
    function_id: str | None = None  # a bitstream's function, from the header line


def _read_image(path: str, expected_version: str | None = None) -> _Image:
    """What the image file at ``path`` contains (its header line, else its catalog version)."""
    digest = hashlib.sha256()
    first = b""
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            if not first:
                first = chunk[:512]
            digest.update(chunk)
    sha = digest.hexdigest()
    line = first.split(b"\n", 1)[0].decode("utf-8", "replace")
    if line.startswith(IMAGE_HEADER):
        fields = dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)
        if "version" in fields:
            return _Image(
                sha, fields["version"], fields.get("component"), fields.get("function_id") or None
            )
    return _Image(sha, expected_version or f"sim-{sha[:12]}")
