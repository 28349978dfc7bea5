"""The agent process's result batcher (RPC 1.6, issue 18): a burst of results leaves as one
call and progress as one cast, each result acknowledged only once a conductor answered, a
failure leaves them to the retry loop, a result is never queued twice, and a conductor
older than 1.6 gets them one at a time."""

from __future__ import annotations

import threading

import pytest

from cyborg_lite.agent.results import ResultBatcher, is_unsupported_version


class UnsupportedVersion(Exception):
    """As oslo.messaging names the refusal of an unknown version."""


class Conductor:
    def __init__(self, batch=True):
        self.calls = []
        self.batch = batch
        self.fail = None
        self.sent = threading.Event()

    def batch_supported(self):
        return True

    def job_updates(self, context, updates):
        self.calls.append(("job_updates", [u["job_uuid"] for u in updates]))
        self.sent.set()
        if self.fail:
            raise self.fail
        if not self.batch:
            raise UnsupportedVersion("1.6")
        return {"accepted": [True] * len(updates)}

    def job_progress_many(self, context, updates):
        self.calls.append(("job_progress_many", [u["job_uuid"] for u in updates]))
        if not self.batch:
            raise UnsupportedVersion("1.6")

    def job_update(self, context, job_uuid, state, **kwargs):
        self.calls.append(("job_update", job_uuid))
        return {"accepted": True}

    def job_progress(self, context, job_uuid, state):
        self.calls.append(("job_progress", job_uuid))


def result(uuid):
    return {
        "job_uuid": uuid,
        "state": "succeeded",
        "version": "2",
        "error_code": None,
        "message": None,
    }


@pytest.fixture
def acks():
    return {}


def run(conductor, acks, items, progress=()):
    """Queue everything before the thread starts, then stop: one flush of all of it."""
    batcher = ResultBatcher(conductor, window=0.01)
    for uuid in items:
        batcher.send_result(result(uuid), lambda ok, uuid=uuid: acks.setdefault(uuid, ok))
    for uuid in progress:
        batcher.send_progress({"job_uuid": uuid, "state": "flashing"})
    batcher.start()
    batcher.stop()
    return batcher


def test_a_burst_leaves_as_one_call_and_one_cast(acks):
    conductor = Conductor()
    run(conductor, acks, ["j1", "j2", "j3"], progress=["j4", "j5"])
    assert conductor.calls == [
        ("job_progress_many", ["j4", "j5"]),
        ("job_updates", ["j1", "j2", "j3"]),
    ]
    assert acks == {"j1": True, "j2": True, "j3": True}


def test_a_result_is_queued_once(acks):
    conductor = Conductor()
    run(conductor, acks, ["j1", "j1", "j2"])
    assert conductor.calls == [("job_updates", ["j1", "j2"])]


def test_a_failed_send_leaves_the_results_unacknowledged(acks):
    conductor = Conductor()
    conductor.fail = TimeoutError("no conductor answered")
    batcher = run(conductor, acks, ["j1", "j2"])
    assert acks == {"j1": False, "j2": False}
    assert batcher.batched  # a timeout is no reason to stop batching


def test_a_conductor_before_1_6_gets_them_one_at_a_time(acks):
    conductor = Conductor(batch=False)
    batcher = run(conductor, acks, ["j1", "j2"], progress=["j3"])
    assert not batcher.batched
    assert conductor.calls == [
        ("job_progress_many", ["j3"]),
        ("job_progress", "j3"),
        # Downgraded by the progress cast's refusal: the results go one by one at once.
        ("job_update", "j1"),
        ("job_update", "j2"),
    ]
    assert acks == {"j1": True, "j2": True}


def test_the_window_gathers_results_that_arrive_meanwhile(acks):
    conductor = Conductor()
    batcher = ResultBatcher(conductor, window=0.3)
    batcher.start()
    try:
        for uuid in ("j1", "j2", "j3"):
            batcher.send_result(result(uuid), lambda ok, uuid=uuid: acks.setdefault(uuid, ok))
        assert conductor.sent.wait(5)
    finally:
        batcher.stop()
    assert conductor.calls[0] == ("job_updates", ["j1", "j2", "j3"])


def test_unsupported_version_is_recognised_raised_or_remote():
    class RemoteError(Exception):
        exc_type = "UnsupportedVersion"

    assert is_unsupported_version(UnsupportedVersion())
    assert is_unsupported_version(RemoteError())
    assert not is_unsupported_version(TimeoutError())


def test_a_refused_batch_call_is_sent_again_job_by_job(acks):
    conductor = Conductor(batch=False)
    batcher = run(conductor, acks, ["j1", "j2"])
    assert not batcher.batched
    assert conductor.calls == [
        ("job_updates", ["j1", "j2"]),
        ("job_update", "j1"),
        ("job_update", "j2"),
    ]
    assert acks == {"j1": True, "j2": True}
