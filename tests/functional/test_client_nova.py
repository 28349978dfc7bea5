"""Nova's own Cyborg client (``nova.accelerator.cyborg`` from nova 34.x) against cyborg-lite.

The live tests (``slow``) build Nova's venv (``tests/client_venvs.py``, once), start an
all-in-one with its simulated fleet and ``[nova]`` pointed at a recording Nova, and run
``nova_driver.py`` under Nova's Python: every public method of ``_CyborgClient`` and every
public module function (the helpers Nova's scheduler and conductor call, and
``get_arq_pci_device_profile``, compute's PCI request for an accelerator-direct port, on the
ARQ bound to the simulated N6001, whose handle names its physical network), in two modes
(endpoint from the service catalog with bare tokens, and ``[cyborg] endpoint_override`` with
keystonemiddleware's identity headers; see the driver's docstring). The requests Nova made are
kept in ``tests/fixtures/nova_client_requests.json``; the live run must send exactly those
again (``CYBORG_LITE_RECORD_NOVA=1`` rewrites the file instead), and the fast replay tests send
them to the in-process app on every database backend, so the contract holds without Nova's
venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import falcon.testing
import pytest
import sqlalchemy as sa

from cyborg_lite.db import models
from tests import client_venvs, nova_server, seed, services
from tests.functional import nova_wire
from tests.functional.cli_support import running_aio
from tests.functional.servers import call

NOVA_REQUIREMENTS = ["nova==34.*"]
DRIVER = Path(__file__).with_name("nova_driver.py")
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "nova_client_requests.json"
RECORD = os.environ.get("CYBORG_LITE_RECORD_NOVA") == "1"
MODES = ("catalog", "override")
HOST = "sim-host-01"
ARQS = "/v2/accelerator_requests"

# Two groups on two providers for the instance path; one for the port path.
PROFILES = {
    "nova-gpu": [
        {"resources:PGPU": "1", "trait:CUSTOM_NVIDIA_2330": "required"},
        {"resources:FPGA": "1", "trait:CUSTOM_FPGA_INTEL": "required"},
    ],
    "nova-port": [{"resources:FPGA": "1", "trait:CUSTOM_FPGA_XILINX": "required"}],
}
# The simulated fleet's deployables Nova's scheduler would have picked, by role; the port's
# only handle is taken before Nova binds, so that bind ends BindFailed.
# ``pci`` is where the simulated driver puts each card (the replay seeds the same addresses);
# the N6001, a SmartNIC, reports the all-in-one's [simulated] physical_network (its default).
PROVIDERS = {
    "rp:gpu": {
        "deployable": f"{HOST}_nvidia-h100-0",
        "pci": "0000:10:00.0",
        "rc": "PGPU",
        "traits": ["OWNER_CYBORG", "CUSTOM_NVIDIA_2330"],
        "handles": 1,
    },
    "rp:fpga": {
        "deployable": f"{HOST}_intel-n6001-0",
        "pci": "0000:60:00.0",
        "rc": "FPGA",
        "traits": ["CUSTOM_FPGA_INTEL", "CUSTOM_FPGA_INTEL_N6001"],
        "handles": 1,
        "physical_network": "physnet1",
    },
    "rp:port": {
        "deployable": f"{HOST}_xilinx-u280-0",
        "pci": "0000:80:00.0",
        "rc": "FPGA",
        "traits": ["CUSTOM_FPGA_XILINX"],
        "handles": 0,
    },
}
# Every public name of _CyborgClient, each called by the driver.
CLIENT_METHODS = [
    "ARQ_URL",
    "DEVICE_PROFILE_URL",
    "bind_arqs",
    "create_arqs",
    "create_arqs_and_match_resource_providers",
    "delete_arqs_by_uuid",
    "delete_arqs_for_instance",
    "get_arq_by_uuid",
    "get_arq_device_rp_uuid",
    "get_arq_uuids_for_instance",
    "get_arqs_for_instance",
    "get_device_profile_groups",
    "get_device_request_groups",
]
# Every public function of nova.accelerator.cyborg, each called by the driver too
# (get_client builds the client every step uses).
MODULE_FUNCTIONS = [
    "get_arq_pci_device_profile",
    "get_client",
    "get_device_amount_of_dp_groups",
    "get_device_profile_group_requester_id",
    "get_device_profile_request_groups",
]


# The live run


@pytest.fixture(scope="module")
def nova_python() -> str:
    """Nova's venv's Python (built on first use, then cached)."""
    try:
        venv = client_venvs.ensure("nova", NOVA_REQUIREMENTS)
    except Exception as err:  # no PyPI, or pip failed: the live tests cannot run here
        services.unavailable("nova's client venv", err)
    return client_venvs.script(venv, "python")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An all-in-one telling a recording Nova about binds, with the profiles made and the
    port provider's handle taken; yields (base URL, Nova recorder, rp uuid by role)."""
    with nova_server.running_nova() as nova:
        extra = f"[nova]\nauth_type = admin_token\nendpoint = {nova.url}\ntoken = admin\n"
        with running_aio(tmp_path_factory.mktemp("nova-client"), extra) as base:
            status, _, raw = call("GET", f"{base}/v2/deployables")
            assert status == 200
            by_name = {d["name"]: d["rp_uuid"] for d in json.loads(raw)["deployables"]}
            rps = {role: by_name[p["deployable"]] for role, p in PROVIDERS.items()}
            for name, groups in PROFILES.items():
                made = call(
                    "POST", f"{base}/v2/device_profiles", [{"name": name, "groups": groups}]
                )
                assert made[0] == 201, made
            take_handle(base, rps["rp:port"])
            yield base, nova, rps


def take_handle(base: str, rp_uuid: str) -> None:
    """Bind an ARQ of another instance to ``rp_uuid`` (noauth's default identity)."""
    status, _, raw = call("POST", f"{base}{ARQS}", {"device_profile_name": "nova-port"})
    assert status == 201, raw
    arq = json.loads(raw)["arqs"][0]["uuid"]
    ops = bind_ops(rp_uuid, str(uuid.uuid4()))
    assert call("PATCH", f"{base}{ARQS}", {arq: ops})[0] == 202
    assert json.loads(call("GET", f"{base}{ARQS}/{arq}")[2])["state"] == "Bound"


def bind_ops(rp_uuid: str, instance: str) -> list[dict[str, str]]:
    return [
        {"op": "add", "path": "/hostname", "value": HOST},
        {"op": "add", "path": "/device_rp_uuid", "value": rp_uuid},
        {"op": "add", "path": "/instance_uuid", "value": instance},
    ]


@pytest.fixture(scope="module", params=MODES)
def run(request: pytest.FixtureRequest, nova_python: str, fleet: Any) -> dict[str, Any]:
    """One driver run in one mode: its steps, wire log, and the scenario it was given."""
    base, nova, rps = fleet
    scenario = {
        "endpoint": f"{base}/v2",
        "mode": request.param,
        "hostname": HOST,
        "profile": "nova-gpu",
        "rg_rp_map": {"device_profile_0": [rps["rp:gpu"]], "device_profile_1": [rps["rp:fpga"]]},
        "port_profile": "nova-port",
        "port_rp": rps["rp:port"],
    }
    done = subprocess.run(
        [nova_python, str(DRIVER)],
        input=json.dumps(scenario),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return {
        "mode": request.param,
        "scenario": scenario,
        "rps": rps,
        "nova": nova,
        "base": base,
        **json.loads(done.stdout),
    }


def value(step: dict[str, Any]) -> Any:
    """A step's return value; fails with Nova's exception when it raised."""
    assert "error" not in step, step
    return step["value"]


def failed(step: dict[str, Any], error: str, *words: str) -> None:
    """The step raised ``error`` whose message has each of ``words``."""
    assert step.get("error") == error, step
    for word in words:
        assert word in step["message"], step


@pytest.mark.slow
def test_every_public_client_method_is_driven(run):
    assert run["steps"]["client_class"] == "_CyborgClient"
    assert run["steps"]["public_methods"] == CLIENT_METHODS
    assert run["steps"]["module_functions"] == MODULE_FUNCTIONS


@pytest.mark.slow
def test_device_profile_becomes_request_groups(run):
    steps = run["steps"]["profile"]
    assert value(steps["profile_groups"]) == PROFILES["nova-gpu"]
    groups = value(steps["profile_request_groups"])
    assert [(g["requester_id"], g["resources"], g["required_traits"]) for g in groups] == [
        ("device_profile_0", {"PGPU": 1}, ["CUSTOM_NVIDIA_2330"]),
        ("device_profile_1", {"FPGA": 1}, ["CUSTOM_FPGA_INTEL"]),
    ]
    port = value(steps["port_request_groups"])
    assert [g["requester_id"] for g in port["groups"]] == [
        f"device_profile_{i}{port['owner']}" for i in range(2)
    ]
    assert value(steps["amount_of_dp_groups"]) == 2
    assert value(steps["requester_id"]) == f"device_profile_1{steps['port']}"
    failed(steps["unknown_profile"], "DeviceProfileError", "got nothing")


@pytest.mark.slow
def test_instance_arqs_are_matched_bound_listed_and_deleted(run):
    steps, rps = run["steps"]["bind"], run["rps"]
    instance = steps["instance"]
    matched = value(steps["matched"])
    assert [(a["device_profile_group_id"], a["state"], a["device_rp_uuid"]) for a in matched] == [
        (0, "Initial", rps["rp:gpu"]),
        (1, "Initial", rps["rp:fpga"]),
    ]
    assert value(steps["bind"]) is None
    bound = value(steps["for_instance"])
    assert [
        (
            a["uuid"],
            a["state"],
            a["hostname"],
            a["instance_uuid"],
            a["device_rp_uuid"],
            a["attach_handle_type"],
            a["attach_handle_info"],
        )
        for a in bound
    ] == [
        (a["uuid"], "Bound", HOST, instance, a["device_rp_uuid"], "PCI", pci_info(role))
        for a, role in zip(matched, ("rp:gpu", "rp:fpga"), strict=True)
    ]
    assert value(steps["resolved"]) == bound
    # Compute's PCI request for an accelerator-direct port: only the SmartNIC has a network.
    gpu_profile, nic_profile = steps["pci_device_profiles"]
    failed(gpu_profile, "KeyError", "physical_network")
    assert value(nic_profile) == {
        "physical_network": "physnet1",
        "pci_slot": PROVIDERS["rp:fpga"]["pci"],
        "arq_uuid": matched[1]["uuid"],
    }
    assert value(steps["by_uuid"]) == bound
    assert value(steps["uuids_for_instance"]) == [a["uuid"] for a in matched]
    assert value(steps["delete_for_instance"]) is None
    failed(steps["after_delete"], "AcceleratorRequestOpFailed", "no accelerator requests")
    for gone in steps["by_uuid_after_delete"]:
        failed(gone, "AcceleratorRequestOpFailed", "404")


def pci_info(role: str) -> dict[str, str]:
    """The ``attach_handle_info`` of a PCI card, as Cyborg shows it (strings, no colons),
    with the physical network of a NIC."""
    provider = PROVIDERS[role]
    domain, bus, rest = provider["pci"].split(":")
    device, function = rest.split(".")
    info = {"domain": domain, "bus": bus, "device": device, "function": function}
    if "physical_network" in provider:
        info["physical_network"] = provider["physical_network"]
    return info


@pytest.mark.slow
def test_delete_for_instance_freed_the_handles(run):
    """Nova's delete unbound first: both cards take a new instance's ARQs again."""
    base, rps = run["base"], run["rps"]
    status, _, raw = call("POST", f"{base}{ARQS}", {"device_profile_name": "nova-gpu"})
    assert status == 201
    arqs = [a["uuid"] for a in json.loads(raw)["arqs"]]
    instance = str(uuid.uuid4())
    body = {a: bind_ops(rps[r], instance) for a, r in zip(arqs, ("rp:gpu", "rp:fpga"), strict=True)}
    assert call("PATCH", f"{base}{ARQS}", body)[0] == 202
    assert [json.loads(call("GET", f"{base}{ARQS}/{a}")[2])["state"] for a in arqs] == ["Bound"] * 2
    assert call("DELETE", f"{base}{ARQS}?instance={instance}")[0] == 204


@pytest.mark.slow
def test_port_arq_bind_failure_and_cleanup_by_uuid(run):
    steps = run["steps"]["port"]
    [arq] = value(steps["created"])
    assert (arq["device_profile_name"], arq["state"]) == ("nova-port", "Initial")
    assert value(steps["rp_uuids"]) == [run["rps"]["rp:port"]]
    assert value(steps["bind"]) is None  # Cyborg accepts it; the outcome is the ARQ's state
    [resolved] = value(steps["resolved"])
    assert (resolved["uuid"], resolved["state"]) == (arq["uuid"], "BindFailed")
    assert value(steps["delete_by_uuid"]) is None
    failed(steps["by_uuid_after_delete"][0], "AcceleratorRequestOpFailed", "404")
    # Not idempotent: the second delete is a 404, which Nova only logs.
    assert value(steps["delete_by_uuid_again"]) is None
    assert [
        w["status"] for w in run["wire"] if w["method"] == "DELETE" and "arqs=" in w["url"]
    ] == [204, 404]


@pytest.mark.slow
def test_cyborg_refusals_become_nova_exceptions(run):
    steps = run["steps"]["errors"]
    failed(steps["create_unknown_profile"], "AcceleratorRequestOpFailed", "404")
    failed(steps["bind_unknown_arq"], "AcceleratorRequestBindingFailed", steps["missing"])
    failed(steps["unknown_arq"], "AcceleratorRequestOpFailed", "404")
    failed(steps["no_arqs_for_instance"], "AcceleratorRequestOpFailed", "no accelerator requests")
    assert value(steps["delete_for_unknown_instance"]) is None  # idempotent


@pytest.mark.slow
def test_nova_heard_of_every_bind(run):
    bound, port = run["steps"]["bind"], run["steps"]["port"]
    by_instance = {
        i: sorted((e["tag"], e["status"]) for e in run["nova"].events() if e["server_uuid"] == i)
        for i in (bound["instance"], port["instance"])
    }
    assert by_instance == {
        bound["instance"]: sorted((a["uuid"], "completed") for a in value(bound["matched"])),
        port["instance"]: [(value(port["created"])[0]["uuid"], "failed")],
    }


@pytest.mark.slow
def test_nova_sends_what_was_recorded(run):
    """The fixture is what Nova really sends: the live run must send it again (or, with
    ``CYBORG_LITE_RECORD_NOVA=1``, rewrite it)."""
    entries = recorded_entries(run)
    if RECORD:
        write_fixture(run["mode"], entries)
        return
    fixture = json.loads(FIXTURE.read_text())
    assert [comparable(e) for e in entries] == [
        comparable(e) for e in fixture["modes"][run["mode"]]
    ]
    assert [e["status"] for e in entries] == [e["status"] for e in fixture["modes"][run["mode"]]]


def recorded_entries(run: dict[str, Any]) -> list[dict[str, Any]]:
    steps = run["steps"]
    known = {
        **run["rps"],
        "instance:bind": steps["bind"]["instance"],
        "instance:port": steps["port"]["instance"],
        "instance:missing": steps["errors"]["missing"],
    }
    return nova_wire.record(run["wire"], run["base"], known)


def comparable(entry: dict[str, Any]) -> dict[str, Any]:
    """The request without User-Agent, which names library versions pip may move."""
    sent = nova_wire.request_part(entry)
    sent["headers"] = {k: v for k, v in sent["headers"].items() if k.lower() != "user-agent"}
    return sent


def write_fixture(mode: str, entries: list[dict[str, Any]]) -> None:
    data = json.loads(FIXTURE.read_text()) if FIXTURE.exists() else {}
    data.update(
        about="Nova 34.x's Cyborg client's requests and cyborg-lite's answers, recorded by "
        "tests/functional/test_client_nova.py (CYBORG_LITE_RECORD_NOVA=1) and replayed by it.",
        profiles=PROFILES,
        providers={
            role: {k: v for k, v in p.items() if k != "deployable"} for role, p in PROVIDERS.items()
        },
    )
    data.setdefault("modes", {})[mode] = entries
    FIXTURE.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")


# The replay: fast, in-process, no Nova needed


@pytest.fixture
def replay_client(app, db) -> falcon.testing.TestClient:
    """The in-process app with the recorded profiles and providers seeded; ``.rps`` names
    each provider's uuid by role."""
    fixture = json.loads(FIXTURE.read_text())
    made = falcon.testing.TestClient(app)
    for role, p in fixture["providers"].items():
        dev = seed.device(
            db,
            hostname=HOST,
            pci=p["pci"],
            rc=p["rc"],
            traits=tuple(p["traits"]),
            handles=p["handles"],
            handle_extra=(
                {"physical_network": p["physical_network"]} if "physical_network" in p else None
            ),
        )
        made.rps = {**getattr(made, "rps", {}), role: dev["rp_uuid"]}  # type: ignore[attr-defined]
    for name, groups in fixture["profiles"].items():
        result = made.simulate_post("/v2/device_profiles", json=[{"name": name, "groups": groups}])
        assert result.status_code == 201, result.text
    return made


@pytest.mark.parametrize("mode", MODES)
def test_replay_recorded_nova_requests(replay_client, db, mode):
    entries = json.loads(FIXTURE.read_text())["modes"][mode]

    def send(method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any):
        result = replay_client.simulate_request(
            method,
            path,
            query_string=urlencode(query) or None,
            headers=headers,
            body=json.dumps(body) if body is not None else None,
        )
        return result.status_code, result.json if result.text else None

    replay = nova_wire.Replay(send, "http://falconframework.org", replay_client.rps)
    for entry in entries:
        replay.run(entry)
    # Every ARQ Nova made was deleted again through its own calls, and no handle stays taken.
    with db.transaction() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(models.AcceleratorRequest)) == 0
        assert s.scalar(sa.select(sa.func.count()).where(models.AttachHandle.in_use.is_(True))) == 0


def test_fixture_covers_every_call_nova_makes():
    """Each of Nova's request kinds is in the record, in each mode."""
    fixture = json.loads(FIXTURE.read_text())
    for mode in MODES:
        kinds = {
            (e["method"], "".join(e["path"].split("/")[2:3]), tuple(sorted(e["query"])))
            for e in fixture["modes"][mode]
        }
        assert {
            ("GET", "device_profiles", ("name",)),
            ("POST", "accelerator_requests", ()),
            ("PATCH", "accelerator_requests", ()),
            ("GET", "accelerator_requests", ("instance",)),
            ("GET", "accelerator_requests", ()),
            ("DELETE", "accelerator_requests", ("instance",)),
            ("DELETE", "accelerator_requests", ("arqs",)),
        } <= kinds, (mode, kinds)
