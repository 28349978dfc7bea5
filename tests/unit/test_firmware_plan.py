"""Rollout planning: selection, exclusions with reasons, canaries, waves, determinism."""

from __future__ import annotations

import collections
import dataclasses

import pytest

from cyborg_lite import exception
from cyborg_lite.api import validation
from cyborg_lite.api.schemas import rollouts as schemas
from cyborg_lite.firmware import plan, strategy

IMAGE = plan.Image(
    vendor="10de",
    component="vbios",
    version="96.00.99.00.01",
    device_ids=("2330",),
    models=(),
    min_version="96.00.10.00.00",
)


def gpu(host: str, i: int, **kw) -> plan.Candidate:
    fields = {
        "uuid": f"{host}-gpu{i}",
        "hostname": host,
        "vendor": "10de",
        "model": "H100 SXM5",
        "product_id": "2330",
        "host_state": "up",
        "status": "enabled",
        "in_use": False,
        "current_version": "96.00.5A.00.01",
        "updatable": True,
    }
    fields.update(kw)
    return plan.Candidate(**fields)


def fleet(hosts=50, per_host=4):
    return [gpu(f"host{h:02d}", i) for h in range(hosts) for i in range(per_host)]


def test_issue_fleet_waves():
    s = strategy.parse({"canary": 2, "waves": ["10%", "50%", "100%"]})
    p = plan.build(fleet(), IMAGE, {"models": ("H100 SXM5",)}, s)
    assert [len(w) for w in p.waves] == [2, 18, 80, 100]
    assert p.canary is True
    assert p.excluded == ()
    flat = [c.uuid for w in p.waves for c in w]
    assert len(flat) == len(set(flat)) == 200


def test_deterministic_and_hosts_kept_together():
    s = strategy.parse({"canary": 0, "waves": ["50%", "100%"]})
    devices = fleet(hosts=10)
    first = plan.build(devices, IMAGE, {"hosts": tuple(f"host{h:02d}" for h in range(10))}, s)
    again = plan.build(
        list(reversed(devices)), IMAGE, {"hosts": tuple(f"host{h:02d}" for h in range(10))}, s
    )
    assert first == again
    waves_of_host = collections.defaultdict(set)
    for n, wave in enumerate(first.waves):
        for c in wave:
            waves_of_host[c.hostname].add(n)
    assert all(len(w) == 1 for w in waves_of_host.values())
    # Within a wave, dispatch order deals hosts round-robin: no host twice in a row.
    for wave in first.waves:
        hosts = [c.hostname for c in wave]
        first_round = hosts[: len(set(hosts))]
        assert len(set(first_round)) == len(first_round)


def test_canaries_cover_every_model_first():
    devices = [
        gpu("a", 0),
        gpu("a", 1),
        gpu("b", 0, model="H100 PCIe"),
        gpu("c", 0, model="H100 NVL"),
    ]
    image = dataclasses.replace(IMAGE, models=("H100 PCIe", "H100 NVL"))
    s = strategy.parse({"canary": 3, "waves": ["100%"]})
    p = plan.build(devices, image, {"hosts": ("a", "b", "c")}, s)
    assert {c.model for c in p.waves[0]} == {"H100 SXM5", "H100 PCIe", "H100 NVL"}


def test_exclusions_with_reasons():
    devices = [
        gpu("a", 0),
        gpu("a", 1, current_version="96.00.99.00.01"),
        gpu("a", 2, product_id="20b5"),
        gpu("a", 3, vendor="1002"),
        gpu("b", 0, host_state="down"),
        gpu("c", 0, status="maintaining"),
        gpu("d", 0, in_use=True),
        gpu("d", 1, current_version="95.02.00.00.00"),
        gpu("d", 2, updatable=False),
        gpu("d", 3, current_version=None),
        gpu("e", 0, busy=True),
    ]
    s = strategy.parse({"canary": 0, "in_use": "skip"})
    p = plan.build(devices, IMAGE, {"hosts": ("a", "b", "c", "d", "e")}, s)
    assert [c.uuid for w in p.waves for c in w] == ["a-gpu0"]
    assert {e.uuid: e.reason for e in p.excluded} == {
        "a-gpu1": plan.ALREADY_AT_VERSION,
        "a-gpu2": plan.INCOMPATIBLE,
        "a-gpu3": plan.INCOMPATIBLE,
        "b-gpu0": plan.HOST_DOWN,
        "c-gpu0": plan.MAINTENANCE,
        "d-gpu0": plan.IN_USE,
        "d-gpu1": plan.BELOW_MIN_VERSION,
        "d-gpu2": plan.NOT_UPDATABLE,
        "d-gpu3": plan.INCOMPATIBLE,
        "e-gpu0": plan.BUSY,
    }
    assert all(e.detail for e in p.excluded)


@pytest.mark.parametrize("policy", ["wait", "force"])
def test_in_use_devices_are_planned_unless_skipped(policy):
    s = strategy.parse({"canary": 0, "in_use": policy})
    p = plan.build([gpu("a", 0, in_use=True)], IMAGE, {"hosts": ("a",)}, s)
    assert p.total == 1


def test_selector_criteria_are_anded():
    devices = [gpu("a", 0), gpu("a", 1, model="H100 PCIe"), gpu("b", 0)]
    s = strategy.parse({"canary": 0})
    p = plan.build(
        devices,
        dataclasses.replace(IMAGE, models=("H100 PCIe",)),
        {"hosts": ("a",), "models": ("H100 SXM5",)},
        s,
    )
    assert [c.uuid for w in p.waves for c in w] == ["a-gpu0"]
    by_version = plan.build(devices, IMAGE, {"current_versions": ("96.00.5a.00.01",)}, s)
    assert by_version.total == 3


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({}, "empty"),
        ({"hosts": []}, "non-empty"),
        ({"hosts": "a"}, "non-empty"),
        ({"everything": True}, "Unknown selector"),
        ([], "object"),
    ],
)
def test_selector_refusals(body, text):
    # Through the request schema (the per-field rules), then the planner's own rule.
    request = {"image_uuid": "u", "selector": body}
    with pytest.raises(exception.Invalid, match=text):
        plan.parse_selector(validation.check(schemas.CREATE, request)["selector"])
