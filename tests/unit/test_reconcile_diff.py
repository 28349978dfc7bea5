"""The pure diff: report records against SQL records, no database."""

from __future__ import annotations

import dataclasses
import uuid

from cyborg_lite.conductor.reconcile import diff
from cyborg_lite.inventory import records
from cyborg_lite.inventory.records import Known


def device_dict(stable_id="gpu-1", *, pci="0000:3b:00.0", vbios="1.0", driver="nvidia", **kw):
    data = {
        "stable_id": stable_id,
        "type": "GPU",
        "vendor": "10de",
        "model": "NVIDIA H100 80GB HBM3",
        "driver": driver,
        "pci_address": pci,
        "std_board_info": {"product_id": "2330", "controller": "3D controller"},
        "vendor_board_info": {"serial": "S1"},
        "numa_node": 0,
        "deployables": [
            {
                "name": f"dep-{stable_id}",
                "resource_class": "PGPU",
                "traits": ["OWNER_CYBORG", "CUSTOM_NVIDIA_2330"],
                "num_accelerators": 1,
                "attach_handles": [{"attach_type": "PCI", "pci_address": pci, "extra": {}}],
                "attributes": {},
            }
        ],
        "firmware": [
            {"component": "vbios", "version": vbios, "updatable": True, "activation": "reset"},
            {"component": "inforom", "version": "G1", "updatable": False, "activation": "reset"},
        ],
    }
    data.update(kw)
    return data


def rec(host="h1", **kw):
    return records.from_report(host, device_dict(**kw))


def known(*recs, held=(), missing=()):
    return {r.stable_id: Known(r, r.stable_id in held, r.stable_id in missing) for r in recs}


def test_same_inventory_is_empty():
    a = rec()
    changes = diff(known(a), {a.stable_id: rec()})
    assert changes.empty


def test_new_device_is_added():
    a = rec()
    changes = diff({}, {a.stable_id: a})
    assert changes.added == (a,)
    assert changes.removed == ()
    assert changes.updated == ()
    assert changes.flagged_missing == ()


def test_record_shape_follows_the_contract():
    a = rec(host="compute1")
    (dep,) = a.deployables
    assert dep.name == "compute1_dep-gpu-1"  # prefixed: globally unique
    assert dep.rp_uuid == str(uuid.uuid3(uuid.NAMESPACE_DNS, "compute1_dep-gpu-1"))
    assert dict(dep.attributes) == {
        "rc": "PGPU",
        "trait0": "OWNER_CYBORG",
        "trait1": "CUSTOM_NVIDIA_2330",
    }
    (handle,) = dep.handles
    assert handle.attach_type == "PCI"
    assert handle.info == '{"bus":"3b","device":"00","domain":"0000","function":"0"}'
    assert a.cpid == ("PCI", handle.info)


def test_gone_device_is_removed():
    a, b = rec(stable_id="a"), rec(stable_id="b", pci="0000:5e:00.0")
    changes = diff(known(a, b), {"a": a})
    assert changes.removed == ("b",)
    assert not changes.added


def test_gone_device_held_by_an_arq_is_flagged_not_removed():
    a, b = rec(stable_id="a"), rec(stable_id="b", pci="0000:5e:00.0")
    changes = diff(known(a, b, held={"b"}), {"a": a})
    assert changes.removed == ()
    assert changes.flagged_missing == ("b",)


def test_already_missing_held_device_is_not_flagged_again():
    b = rec(stable_id="b")
    changes = diff(known(b, held={"b"}, missing={"b"}), {})
    assert changes.empty


def test_missing_device_that_returns_is_unflagged():
    b = rec(stable_id="b")
    changes = diff(known(b, held={"b"}, missing={"b"}), {"b": b})
    (update,) = changes.updated
    assert update.fields == {"missing": False}
    assert update.aspects() == ["returned"]


def test_devices_of_a_failed_driver_are_left_alone():
    gpu = rec(stable_id="gpu")
    fpga = rec(stable_id="fpga", driver="fpga_intel", pci="0000:5e:00.0")
    changes = diff(known(gpu, fpga), {"gpu": gpu}, failed_drivers={"fpga_intel"})
    assert changes.empty


def test_firmware_version_change_is_one_component_update():
    old, new = rec(vbios="1.0"), rec(vbios="2.0")
    (update,) = diff(known(old), {new.stable_id: new}).updated
    assert [f.component for f in update.firmware_set] == ["vbios"]
    assert update.firmware_set[0].version == "2.0"
    assert update.firmware_removed == ()
    assert update.aspects() == ["firmware"]
    assert update.fields == {}


def test_removed_firmware_component():
    old = rec()
    data = device_dict()
    data["firmware"] = data["firmware"][:1]
    new = records.from_report("h1", data)
    (update,) = diff(known(old), {new.stable_id: new}).updated
    assert update.firmware_removed == ("inforom",)


def test_field_change():
    old, new = rec(), rec(model="NVIDIA H100 PCIe")
    (update,) = diff(known(old), {new.stable_id: new}).updated
    assert update.fields == {"model": "NVIDIA H100 PCIe"}


def test_trait_change_is_an_attribute_update():
    old = rec()
    data = device_dict()
    data["deployables"][0]["traits"] = ["OWNER_CYBORG"]
    new = records.from_report("h1", data)
    (update,) = diff(known(old), {new.stable_id: new}).updated
    (dep,) = update.deployables_changed
    assert dep.attributes_set == {}
    assert dep.attributes_removed == ("trait1",)


def test_moved_device_changes_controlpath_and_handles():
    old, new = rec(pci="0000:3b:00.0"), rec(pci="0000:af:00.0")
    (update,) = diff(known(old), {new.stable_id: new}).updated
    assert update.cpid_changed
    (dep,) = update.deployables_changed
    assert len(dep.handles_added) == 1
    assert len(dep.handles_removed) == 1


def test_held_device_keeps_its_handles_and_deployables():
    old = rec()
    data = device_dict()
    data["deployables"] = [dict(data["deployables"][0], name="other", attach_handles=[])]
    new = records.from_report("h1", data)
    (update,) = diff(known(old, held={old.stable_id}), {new.stable_id: new}).updated
    assert update.deployables_removed == ()
    assert [d.name for d in update.deployables_added] == ["h1_other"]


def test_unheld_device_loses_a_vanished_deployable():
    old = rec()
    data = device_dict()
    data["deployables"] = []
    new = records.from_report("h1", data)
    (update,) = diff(known(old), {new.stable_id: new}).updated
    assert update.deployables_removed == ("h1_dep-gpu-1",)


def test_extra_attributes_do_not_override_rc_and_traits():
    data = device_dict()
    data["deployables"][0]["attributes"] = {"rc": "WRONG", "bitstream_id": "b1"}
    r = records.from_report("h1", data)
    assert dict(r.deployables[0].attributes)["rc"] == "PGPU"
    assert dict(r.deployables[0].attributes)["bitstream_id"] == "b1"


def test_unknown_report_keys_are_ignored():
    r = records.from_report("h1", device_dict(future_field={"x": 1}))
    assert r == rec()


def test_diff_does_not_mutate_its_inputs():
    a, b = rec(stable_id="a"), rec(stable_id="b", vbios="9")
    old = known(a)
    new = {"b": b}
    before = (dataclasses.replace(a), dict(new))
    diff(old, new)
    assert old["a"].record == before[0]
    assert new == before[1]
