"""The simulated driver: identities, looks, persistence, flashing and its ledger."""

from __future__ import annotations

import hashlib
import json
import random
import uuid

import pytest

from cyborg_lite.drivers import base, common
from cyborg_lite.drivers.simulated import IMAGE_HEADER, SimulatedDriver
from cyborg_lite.drivers.simulated_models import CATALOG, parse_fleet
from tests.conftest import make_test_conf


@pytest.fixture
def conf(tmp_path):
    c = make_test_conf(str(tmp_path / "state"))
    c.set_override("host", "sim-a")
    c.set_override("flash_seconds", 0.5, group="simulated")
    return c


class Sleeps:
    """A sleep that records instead of waiting."""

    def __init__(self):
        self.calls = []

    def __call__(self, seconds):
        self.calls.append(seconds)


def driver(conf, **kw):
    kw.setdefault("sleep", Sleeps())
    return SimulatedDriver(conf, **kw)


def image(tmp_path, component="vbios", version="97.0", name="img.bin"):
    path = tmp_path / name
    path.write_bytes(f"{IMAGE_HEADER} component={component} version={version}\n".encode() + b"x")
    return str(path)


def by_model(devices):
    out = {}
    for d in devices:
        out.setdefault(d.model, []).append(d)
    return out


def test_default_fleet_is_a_vendor_mix(conf):
    devices = driver(conf).discover()
    assert sorted(d.vendor for d in devices) == ["1002", "10de", "10de", "10ee", "8086"]
    assert {d.type for d in devices} == {"GPU", "FPGA"}
    assert all(d.driver == "simulated" for d in devices)


def test_devices_look_like_the_real_drivers(conf):
    devices = by_model(driver(conf).discover())
    h100 = devices["NVIDIA H100 80GB HBM3"][0]
    (dep,) = h100.deployables
    assert dep.resource_class == "PGPU"
    assert dep.traits == ("OWNER_CYBORG", "CUSTOM_NVIDIA_2330")
    assert dep.attach_handles == (base.AttachHandle("PCI", h100.pci_address),)
    assert h100.std_board_info == {"product_id": "2330", "controller": "3D controller"}
    intel = devices["Intel FPGA SmartNIC N6001-PL"][0]
    assert intel.deployables[0].resource_class == "FPGA"
    assert intel.deployables[0].traits[0] == "CUSTOM_FPGA_INTEL"
    xilinx = devices["Xilinx Alveo U280"][0]
    assert xilinx.deployables[0].traits == ("CUSTOM_FPGA_XILINX", "CUSTOM_FPGA_PRODUCT_ID_500C")
    assert {f.component for f in h100.firmware} == {"vbios", "inforom"}
    # The wire form round-trips.
    assert base.from_dict(base.to_dict(h100)) == h100


def test_identities_are_deterministic_per_host(conf, tmp_path):
    first = [d.stable_id for d in driver(conf).discover()]
    again = [d.stable_id for d in driver(conf).discover()]
    assert first == again
    other = make_test_conf(str(tmp_path / "other"))
    other.set_override("host", "sim-b")
    assert set(first).isdisjoint(d.stable_id for d in driver(other).discover())
    assert len(set(first)) == len(first)


def test_growing_the_fleet_keeps_existing_identities(conf):
    before = {d.stable_id: d.pci_address for d in driver(conf).discover()}
    conf.set_override("devices", ["nvidia-h100:3", "amd-mi300x:1", "xilinx-u280:2"], "simulated")
    after = {d.stable_id: d.pci_address for d in driver(conf).discover()}
    kept = {k: v for k, v in before.items() if k in after}
    assert len(kept) == 4  # the H100s, the MI300X and the U280 stay; the N6001 went
    assert all(after[k] == v for k, v in kept.items())
    assert len(after) == 6
    assert len(set(after.values())) == 6  # no two devices on one address


def test_unknown_model_is_an_error_naming_it(conf):
    conf.set_override("devices", ["nvidia-h100:1", "nvidia-h999:2"], "simulated")
    with pytest.raises(ValueError, match="nvidia-h999"):
        driver(conf).discover()


def handles_by_model(devices):
    return {d.model: [h for dep in d.deployables for h in dep.attach_handles] for d in devices}


def extras(devices):
    return [h.extra for d in devices for dep in d.deployables for h in dep.attach_handles]


def test_only_the_smartnic_names_its_physical_network(conf):
    conf.set_override("devices", sorted(f"{m}:1" for m in CATALOG), "simulated")
    handles = handles_by_model(driver(conf).discover())
    n6001 = SimulatedDriver.pci_address("intel-n6001", 0)
    assert handles.pop("Intel FPGA SmartNIC N6001-PL") == [
        base.AttachHandle("PCI", n6001, {"physical_network": "physnet1"})
    ]
    # GPUs, the PAC A10 and the Alveo cards are no NICs: no port can use them.
    assert len(handles) == len(CATALOG) - 1
    assert all(h.extra == {} for hs in handles.values() for h in hs)


def test_physical_network_is_configurable_and_empty_reports_none(conf):
    conf.set_override("devices", ["intel-n6001:2"], "simulated")
    conf.set_override("physical_network", "sriov-net.2", "simulated")
    assert extras(driver(conf).discover()) == [{"physical_network": "sriov-net.2"}] * 2
    conf.set_override("physical_network", "", "simulated")
    assert extras(driver(conf).discover()) == [{}, {}]


def test_bad_physical_network_is_an_error_naming_the_option(conf):
    conf.set_override("physical_network", "phys net", "simulated")
    with pytest.raises(ValueError, match=r"\[simulated\] physical_network: 'phys net'"):
        driver(conf).discover()


def test_parse_fleet_counts():
    assert parse_fleet(["nvidia-t4:3", "amd-mi210"]) == [("nvidia-t4", 3), ("amd-mi210", 1)]


def test_flash_updates_the_version_and_persists(conf, tmp_path):
    sleeps = Sleeps()
    d = driver(conf, sleep=sleeps)
    gpu = by_model(d.discover())["NVIDIA H100 80GB HBM3"][0]
    result = d.flash(gpu, "vbios", image(tmp_path), timeout=60)
    assert result.ok
    assert result.version == "97.0"
    assert not result.activation_pending
    assert sleeps.calls == [0.5]
    # A new driver (an agent restart) reads the state back.
    again = {x.stable_id: x for x in driver(conf).discover()}[gpu.stable_id]
    assert {f.component: f.version for f in again.firmware}["vbios"] == "97.0"


def test_reboot_activation_stays_pending_until_the_next_start(conf, tmp_path):
    d = driver(conf)
    fpga = by_model(d.discover())["Intel FPGA SmartNIC N6001-PL"][0]
    result = d.flash(fpga, "fpga_bmc", image(tmp_path, "fpga_bmc", "3.16.0"), timeout=60)
    assert result.ok
    assert result.activation_pending
    now = {x.stable_id: x for x in d.discover()}[fpga.stable_id]
    bmc = next(f for f in now.firmware if f.component == "fpga_bmc")
    assert (bmc.version, bmc.pending_version) == ("3.15.2", "3.16.0")
    rebooted = {x.stable_id: x for x in driver(conf).discover()}[fpga.stable_id]
    bmc = next(f for f in rebooted.firmware if f.component == "fpga_bmc")
    assert (bmc.version, bmc.pending_version) == ("3.16.0", None)


def test_every_attempt_goes_to_the_ledger(conf, tmp_path):
    d = driver(conf)
    gpu = by_model(d.discover())["NVIDIA H100 80GB HBM3"][0]
    path = image(tmp_path)
    d.flash(gpu, "vbios", path, timeout=60)
    d.flash(gpu, "vbios", image(tmp_path, "fpga_shell", "1", name="wrong.bin"), timeout=60)
    with open(d.ledger_path, encoding="utf-8") as f:
        lines = [json.loads(x) for x in f.read().splitlines()]
    assert len(lines) == 2
    ok, bad = lines
    with open(path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    assert ok["host"] == "sim-a"
    assert ok["device"] == gpu.stable_id
    assert ok["component"] == "vbios"
    assert ok["image_sha256"] == sha
    assert (ok["old_version"], ok["new_version"], ok["result"]) == ("96.00.99.00.01", "97.0", "ok")
    assert ok["started_at"] <= ok["finished_at"]
    assert bad["result"] == "incompatible-image"


def test_failure_rate_one_always_fails_and_keeps_the_version(conf, tmp_path):
    conf.set_override("flash_failure_rate", 1.0, group="simulated")
    d = driver(conf)
    gpu = by_model(d.discover())["NVIDIA H100 80GB HBM3"][0]
    result = d.flash(gpu, "vbios", image(tmp_path), timeout=60)
    assert not result.ok
    assert result.error_code == "hw-error"
    after = {x.stable_id: x for x in d.discover()}[gpu.stable_id]
    assert {f.component: f.version for f in after.firmware}["vbios"] == "96.00.99.00.01"


def test_failure_rate_is_a_probability(conf, tmp_path):
    conf.set_override("flash_failure_rate", 0.5, group="simulated")
    d = driver(conf, rng=random.Random(7))
    gpu = by_model(d.discover())["NVIDIA H100 80GB HBM3"][0]
    results = [d.flash(gpu, "vbios", image(tmp_path), timeout=60).ok for _ in range(40)]
    assert 5 < results.count(False) < 35


def test_read_only_component_is_unsupported(conf, tmp_path):
    d = driver(conf)
    gpu = by_model(d.discover())["NVIDIA H100 80GB HBM3"][0]
    result = d.flash(gpu, "inforom", image(tmp_path, "inforom", "G9"), timeout=60)
    assert (result.ok, result.error_code) == (False, "unsupported")


def test_flash_longer_than_the_timeout_times_out(conf, tmp_path):
    conf.set_override("flash_seconds", 30, group="simulated")
    sleeps = Sleeps()
    d = driver(conf, sleep=sleeps)
    gpu = by_model(d.discover())["NVIDIA H100 80GB HBM3"][0]
    result = d.flash(gpu, "vbios", image(tmp_path), timeout=5)
    assert (result.ok, result.error_code) == (False, "timeout")
    assert sleeps.calls == [5]


def test_image_without_header_flashes_as_its_digest(conf, tmp_path):
    d = driver(conf)
    gpu = by_model(d.discover())["NVIDIA H100 80GB HBM3"][0]
    path = tmp_path / "raw.rom"
    path.write_bytes(b"\x55\xaa" * 100)
    result = d.flash(gpu, "vbios", str(path), timeout=60)
    assert result.ok
    assert result.version == "sim-" + hashlib.sha256(b"\x55\xaa" * 100).hexdigest()[:12]


def bitstream(tmp_path, version, function_id=None, name="afu.gbs"):
    extra = f" function_id={function_id}" if function_id else ""
    path = tmp_path / name
    path.write_bytes(f"{IMAGE_HEADER} component=bitstream version={version}{extra}\n".encode())
    return str(path)


def one(d, model):
    return by_model(d.discover())[model][0]


def rediscovered(d, device):
    return {x.stable_id: x for x in d.discover()}[device.stable_id]


def function_traits(device):
    return [t for t in device.deployables[0].traits if "_FUNCTION_ID_" in t]


def test_every_fpga_has_an_empty_live_bitstream_and_intel_ones_a_pr_region():
    for key, model in CATALOG.items():
        components = {c[0]: c[1:] for c in model.firmware}
        if model.type != "FPGA":
            assert "bitstream" not in components, key
            assert model.pr_interface_id is None, key
            continue
        assert components["bitstream"] == ("none", True, "live"), key
        if model.vendor == "8086":
            assert str(uuid.UUID(model.pr_interface_id)) == model.pr_interface_id, key
        else:
            assert model.pr_interface_id is None, key
    ids = [m.pr_interface_id for m in CATALOG.values() if m.pr_interface_id]
    assert len(ids) == len(set(ids)) == 2  # one per Intel model, none shared


def test_an_empty_fpga_reports_its_region_but_no_function(conf):
    d = driver(conf)
    intel = one(d, "Intel FPGA SmartNIC N6001-PL")
    pr_id = CATALOG["intel-n6001"].pr_interface_id
    assert {f.component: f.version for f in intel.firmware}["bitstream"] == "none"
    (dep,) = intel.deployables
    # Named as fpga_intel names it, from the same parts.
    region = common.trait("FPGA_REGION_INTEL", pr_id)
    assert region == "CUSTOM_FPGA_REGION_INTEL_" + pr_id.upper().replace("-", "_")
    assert dep.traits == ("CUSTOM_FPGA_INTEL", "CUSTOM_FPGA_INTEL_N6001", region)
    assert dep.attributes == {"pr_interface_id": pr_id}
    xilinx = one(d, "Xilinx Alveo U280")
    assert {f.component: f.version for f in xilinx.firmware}["bitstream"] == "none"
    assert xilinx.deployables[0].attributes == {}
    assert base.from_dict(base.to_dict(intel)) == intel


def test_intel_load_reports_the_header_function_and_survives_a_restart(conf, tmp_path):
    d = driver(conf)
    intel = one(d, "Intel FPGA SmartNIC N6001-PL")
    afu = "d8424dc4-a4a3-c413-f89e-433683f9040b"
    result = d.flash(intel, "bitstream", bitstream(tmp_path, "nlb-1.2", afu), timeout=60)
    assert (result.ok, result.version, result.activation_pending) == (True, "nlb-1.2", False)
    trait = "CUSTOM_FPGA_FUNCTION_ID_INTEL_D8424DC4_A4A3_C413_F89E_433683F9040B"
    assert common.trait("FPGA_FUNCTION_ID_INTEL", afu) == trait
    for seen in (rediscovered(d, intel), rediscovered(driver(conf), intel)):  # restart too
        assert {f.component: f.version for f in seen.firmware}["bitstream"] == "nlb-1.2"
        (dep,) = seen.deployables
        assert dep.traits[-1] == trait
        assert dep.traits[:-1] == intel.deployables[0].traits  # the region stays
        assert dep.attributes["afu_id"] == afu
    with open(d.state_file, encoding="utf-8") as f:
        saved = json.load(f)["devices"][intel.stable_id]["bitstream"]
    assert (saved["version"], saved["function_id"]) == ("nlb-1.2", afu)


def test_xilinx_load_without_a_function_id_is_known_by_its_version(conf, tmp_path):
    d = driver(conf)
    xilinx = one(d, "Xilinx Alveo U280")
    xclbin = "4f3a1e0c-1111-4a2b-9c3d-0123456789ab"
    assert d.flash(xilinx, "bitstream", bitstream(tmp_path, xclbin), timeout=60).ok
    (dep,) = rediscovered(d, xilinx).deployables
    assert dep.traits == (
        "CUSTOM_FPGA_XILINX",
        "CUSTOM_FPGA_PRODUCT_ID_500C",
        "CUSTOM_FPGA_FUNCTION_ID_XILINX_4F3A1E0C_1111_4A2B_9C3D_0123456789AB",
    )
    assert dep.attributes == {"xclbin_uuid": xclbin}


def test_a_later_load_replaces_the_function_rather_than_inheriting_it(conf, tmp_path):
    conf.set_override("devices", ["intel-pac-a10:1"], "simulated")
    d = driver(conf)
    intel = one(d, "Intel PAC Arria 10 GX")
    assert d.flash(intel, "bitstream", bitstream(tmp_path, "v1", "dma-afu"), timeout=60).ok
    assert function_traits(rediscovered(d, intel)) == ["CUSTOM_FPGA_FUNCTION_ID_INTEL_DMA_AFU"]
    assert d.flash(intel, "bitstream", bitstream(tmp_path, "v2", name="b.gbs"), timeout=60).ok
    assert function_traits(rediscovered(d, intel)) == ["CUSTOM_FPGA_FUNCTION_ID_INTEL_V2"]
    # Back to an empty region: no function at all.
    assert d.flash(intel, "bitstream", bitstream(tmp_path, "none", name="c.gbs"), timeout=60).ok
    assert function_traits(rediscovered(d, intel)) == []


def test_a_failed_load_keeps_the_old_function(conf, tmp_path):
    d = driver(conf)
    intel = one(d, "Intel FPGA SmartNIC N6001-PL")
    assert d.flash(intel, "bitstream", bitstream(tmp_path, "v1", "fn-a"), timeout=60).ok
    before = rediscovered(d, intel)
    conf.set_override("flash_failure_rate", 1.0, group="simulated")
    result = d.flash(before, "bitstream", bitstream(tmp_path, "v2", "fn-b", "b.gbs"), timeout=60)
    assert (result.ok, result.error_code, result.version) == (False, "hw-error", "v1")
    after = rediscovered(driver(conf), intel)
    assert {f.component: f.version for f in after.firmware}["bitstream"] == "v1"
    assert function_traits(after) == ["CUSTOM_FPGA_FUNCTION_ID_INTEL_FN_A"]
    assert after.deployables == before.deployables


def test_a_shell_image_is_not_a_bitstream(conf, tmp_path):
    d = driver(conf)
    intel = one(d, "Intel FPGA SmartNIC N6001-PL")
    result = d.flash(intel, "bitstream", image(tmp_path, "fpga_shell", "ofs-2"), timeout=60)
    assert (result.ok, result.error_code) == (False, "incompatible-image")
    assert function_traits(rediscovered(d, intel)) == []
