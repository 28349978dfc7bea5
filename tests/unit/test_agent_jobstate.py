"""The agent's job journal: dedup across restarts, atomic writes, bounded history."""

from __future__ import annotations

import json
import os

from cyborg_lite.agent import jobstate
from tests.firmware_agent import Clock


def job(n):
    return {"job_uuid": f"job-{n}", "stable_id": "dev", "component": "vbios"}


def finished(store, uuid, acked=True):
    store.finish(uuid, {"state": "succeeded", "version": "2", "error_code": None, "message": ""})
    if acked:
        store.acknowledge(uuid)


def test_path_is_per_host(tmp_path):
    assert jobstate.journal_path(str(tmp_path), "a") != jobstate.journal_path(str(tmp_path), "b")
    assert jobstate.journal_path("/s", "node-1") == "/s/agent-jobs-node-1.json"


def test_a_job_uuid_is_added_once_even_after_a_restart(tmp_path):
    path = str(tmp_path / "jobs.json")
    store = jobstate.JobStore(path)
    assert store.add(job(1))
    assert not store.add(job(1))
    restarted = jobstate.JobStore(path)
    assert not restarted.add(job(1))
    (record,) = restarted.records()
    assert (record["uuid"], record["state"], record["flash_started"]) == (
        "job-1",
        "dispatched",
        False,
    )


def test_writes_are_whole_files_with_nothing_left_beside(tmp_path):
    path = tmp_path / "sub" / "jobs.json"
    store = jobstate.JobStore(str(path))
    store.add(job(1))
    store.update("job-1", flash_started=True, state="flashing")
    assert json.loads(path.read_text())["jobs"][0]["flash_started"] is True
    assert os.listdir(path.parent) == ["jobs.json"]


def test_records_are_copies(tmp_path):
    store = jobstate.JobStore(str(tmp_path / "jobs.json"))
    store.add(job(1))
    store.get("job-1")["state"] = "tampered"
    assert store.get("job-1")["state"] == "dispatched"


def test_unacknowledged_results_are_listed_until_acknowledged(tmp_path):
    store = jobstate.JobStore(str(tmp_path / "jobs.json"))
    store.add(job(1))
    store.add(job(2))
    finished(store, "job-1", acked=False)
    assert [r["uuid"] for r in store.unacknowledged()] == ["job-1"]
    store.acknowledge("job-1")
    assert store.unacknowledged() == []


def test_history_is_bounded_by_age_and_count_never_dropping_open_jobs(tmp_path):
    clock = Clock()
    store = jobstate.JobStore(
        str(tmp_path / "jobs.json"), keep_seconds=100.0, keep_max=3, clock=clock
    )
    for n in range(5):
        store.add(job(n))
        clock.now += 1
    finished(store, "job-0")
    finished(store, "job-1")
    finished(store, "job-2", acked=False)
    # Five jobs, three allowed: the two oldest acknowledged go; open ones stay.
    assert [r["uuid"] for r in store.records()] == ["job-2", "job-3", "job-4"]

    clock.now += 1000
    store.acknowledge("job-2")  # old enough to go at once
    assert [r["uuid"] for r in store.records()] == ["job-3", "job-4"]
