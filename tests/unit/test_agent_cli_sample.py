"""``cyborg-lite-agent sample``: one usage sample of this host's devices, printed, contacting
nothing; the document's shape."""

from __future__ import annotations

import datetime as dt
import json

from cyborg_lite.agent import usage
from cyborg_lite.cmd import agent as agent_cmd
from cyborg_lite.drivers import base
from tests.unit.test_agent import gpu
from tests.unit.test_agent_cli import run


def test_sample_json_is_one_document_of_every_device(tmp_path, capsys):
    code, out, _err = run(tmp_path, capsys, "--host", "lab-1", "sample", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["host"] == "lab-1"
    assert dt.datetime.fromisoformat(document["sampled_at"]).tzinfo is not None
    assert len(document["devices"]) == 5
    for d in document["devices"]:
        assert {"stable_id", "driver", "type", "model", "busy", "deployables"} <= set(d)
        assert {"utilization_percent", "memory_used_bytes", "power_watts"} <= set(d)
        assert d["driver"] == "simulated"


def test_sample_table_and_a_failed_driver(tmp_path, capsys):
    code, out, err = run(tmp_path, capsys, "sample", drivers="simulated,no_such_driver")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["DRIVER", "TYPE", "MODEL", "UTIL%"]
    assert len(lines) == 6
    assert "driver no_such_driver failed" in err


def test_the_document_merges_slices_and_lists_them():
    device = gpu("g")
    taken = usage.Taken(
        dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC),
        {
            "g": [
                base.Sample("g", utilization_percent=3.0, memory_total_bytes=80),
                base.Sample("g", deployable="mig-1", memory_used_bytes=10, processes=1),
            ]
        },
        [],
    )
    document = agent_cmd.sample_document("h", [device, gpu("unsampled")], taken, 5.0)
    (only,) = document["devices"]
    assert only["stable_id"] == "g"
    assert only["memory_used_bytes"] == 10
    # Under 5 % but a compute process runs on a slice: busy.
    assert only["busy"] is True
    assert only["deployables"] == [
        {
            "deployable": "mig-1",
            "utilization_percent": None,
            "memory_used_bytes": 10,
            "memory_total_bytes": None,
            "power_watts": None,
            "temperature_celsius": None,
            "processes": 1,
            "function_loaded": None,
            "in_use": None,
        }
    ]
    assert document["sampled_at"] == "2026-03-01T10:00:00+00:00"
