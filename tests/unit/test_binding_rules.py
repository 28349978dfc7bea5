"""Pure rules of device profiles and ARQs: state transitions, fan-out, group normalization,
and the bind/unbind PATCH parser (no database, no app)."""

from __future__ import annotations

import uuid

import pytest

from cyborg_lite import exception
from cyborg_lite.api.resources import arqs as arq_api
from cyborg_lite.api.resources import device_profiles as dp_api
from cyborg_lite.arqs import states
from cyborg_lite.context import RequestContext
from cyborg_lite.db import arqs as db_arqs

# (from, to) pairs the contract allows (§10.1); every other pair is refused.
ALLOWED = {
    ("Initial", "BindStarted"),
    ("Unbound", "BindStarted"),
    ("BindStarted", "Bound"),
    ("Initial", "Unbound"),
    ("BindStarted", "Unbound"),
    ("Bound", "Unbound"),
    ("BindFailed", "Unbound"),
    ("BindStarted", "BindFailed"),
    ("Bound", "BindFailed"),
    *((s, "Deleting") for s in states.STATES if s != "Deleting"),
}


@pytest.mark.parametrize("current", states.STATES)
@pytest.mark.parametrize("target", sorted(states.ALLOWED_FROM))
def test_transitions_match_the_contract(current, target):
    assert states.can_transition(current, target) == ((current, target) in ALLOWED)


def test_resolved_states():
    assert {s for s in states.STATES if states.is_resolved(s)} == {
        "Bound",
        "BindFailed",
        "Deleting",
    }


@pytest.mark.parametrize(
    ("groups", "ids"),
    [
        ([{"resources:FPGA": "2"}, {"resources:CUSTOM_QAT": "1"}], [0, 0, 1]),
        (
            [{"resources:PGPU": "1", "resources:CUSTOM_X": "2", "trait:CUSTOM_Y": "required"}],
            [0] * 3,
        ),
        ([{"trait:CUSTOM_Y": "required"}, {"resources:VGPU": "1"}], [1]),
        ([{"accel:bitstream_id": "5"}], []),
    ],
)
def test_fan_out(groups, ids):
    assert db_arqs.fan_out(groups) == ids


def test_normalize_group_squeezes_names_and_keeps_order():
    group = {"trait: CUSTOM_B": "forbidden", "resources:CUSTOM_ A": "3", "accel:k": " v "}
    assert list(dp_api.normalize_group(0, group).items()) == [
        ("trait:CUSTOM_B", "forbidden"),
        ("resources:CUSTOM_A", "3"),
        ("accel:k", " v "),
    ]


@pytest.mark.parametrize("rc", [*sorted(dp_api.RESOURCE_CLASSES), "CUSTOM_FOO_1"])
def test_allowed_resource_classes(rc):
    assert dp_api.normalize_group(0, {f"resources:{rc}": "1"}) == {f"resources:{rc}": "1"}


@pytest.mark.parametrize(
    "group",
    [
        {"resources:CUSTOM_": "1"},
        {"resources:CUSTOM_" + "A" * 249: "1"},
        {"resources:SRIOV_NET_VF": "1"},
        {"resources:FPGA": " 1"},
        {"resources:FPGA": "1.0"},
        {"trait:HW_CPU_X86_AVX": "required"},
        {"trait:CUSTOM_X": "Required"},
        {"other": "x"},
    ],
)
def test_refused_groups(group):
    with pytest.raises(exception.Invalid):
        dp_api.normalize_group(3, group)


@pytest.mark.parametrize("name", ["a", "A-b_9", "x" * 255])
def test_good_names(name):
    assert dp_api.check_name(name) == name


@pytest.mark.parametrize("name", ["a b", "a.b", "é", "a\n", "a/b"])
def test_bad_names(name):
    with pytest.raises(exception.Invalid, match="is invalid"):
        dp_api.check_name(name)


def _ctx(admin=False, version=(2, 0)):
    roles = ["admin", "member"] if admin else ["member"]
    return RequestContext(roles=roles, is_admin=admin, project_id="p", microversion=version)


def _bind(**values):
    return [{"op": "add", "path": f"/{k}", "value": v} for k, v in values.items()]


def test_parse_bind():
    arq, rp, inst = (str(uuid.uuid4()) for _ in range(3))
    body = {arq.upper(): _bind(hostname="h", device_rp_uuid=rp, instance_uuid=inst)}
    patch = arq_api.parse_patch(body, _ctx())
    assert patch.op == "add"
    assert patch.binds == {arq: states.BindTarget("h", rp, inst)}
    assert patch.unbinds == []


def test_parse_bind_with_project_id_as_admin_at_2_1():
    arq, rp, inst = (str(uuid.uuid4()) for _ in range(3))
    ops = _bind(hostname="h", device_rp_uuid=rp, instance_uuid=inst, project_id="q")
    patch = arq_api.parse_patch({arq: ops}, _ctx(admin=True, version=(2, 1)))
    assert patch.binds[arq].project_id == "q"


def test_parse_unbind_ignores_values():
    arq = str(uuid.uuid4())
    ops = [{"op": "remove", "path": "/hostname", "value": 1}]
    assert arq_api.parse_patch({arq: ops}, _ctx()).unbinds == [arq]


@pytest.mark.parametrize(
    ("ctx", "error"),
    [
        (_ctx(), exception.NotAcceptable),
        (_ctx(version=(2, 1)), exception.Forbidden),
    ],
)
def test_project_id_gates(ctx, error):
    ops = [{"op": "remove", "path": "/project_id"}]
    with pytest.raises(error):
        arq_api.parse_patch({str(uuid.uuid4()): ops}, ctx)


def test_ops_must_agree_across_arqs():
    body = {
        str(uuid.uuid4()): [{"op": "remove", "path": "/hostname"}],
        str(uuid.uuid4()): _bind(hostname="h"),
    }
    with pytest.raises(exception.Invalid, match="Every op must be add or remove"):
        arq_api.parse_patch(body, _ctx())


@pytest.mark.parametrize(("value", "resolved"), [(None, False), ("resolved", True)])
def test_bind_state(value, resolved):
    assert arq_api.parse_bind_state(value) is resolved


@pytest.mark.parametrize("value", ["", "Bound", "RESOLVED"])
def test_bad_bind_state(value):
    with pytest.raises(exception.Invalid):
        arq_api.parse_bind_state(value)


def test_owner_scope():
    assert arq_api.owner_scope(_ctx(admin=True)) is None
    assert arq_api.owner_scope(_ctx()) == "p"
    with pytest.raises(exception.Forbidden):
        arq_api.owner_scope(RequestContext(roles=["member"], project_id=None))


@pytest.mark.parametrize("path", ["xhostname", "hostname", "/hostname/", "/state", ""])
def test_bad_paths(path):
    ops = [{"op": "remove", "path": path}]
    with pytest.raises(exception.Invalid, match="Invalid path in patch"):
        arq_api.parse_patch({str(uuid.uuid4()): ops}, _ctx())
