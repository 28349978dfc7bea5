"""The agent process's heartbeat batcher (RPC 1.7, issue 18): one message for many hosts, the
first a call (to find out a conductor before 1.7), casts after; a refusal of 1.7 turns it
off, any other failure makes the next batch a call again."""

from __future__ import annotations

from cyborg_lite.agent.heartbeats import HeartbeatBatcher


class UnsupportedVersion(Exception):
    """As oslo.messaging names the refusal of an unknown version."""


class Conductor:
    def __init__(self):
        self.sent = []
        self.fail = None

    def heartbeats_supported(self):
        return True

    def heartbeats(self, context, beats, *, wait=False):
        self.sent.append((wait, sorted(b["host"] for b in beats)))
        if self.fail:
            raise self.fail
        return {"report_wanted": []} if wait else None


def flush(batcher, *beats):
    for host, digest in beats:
        batcher.beat(host, "1.0", digest)
    batcher._send(list(batcher._beats.values()))  # one send, as the thread does
    batcher._beats = {}


def test_the_first_batch_is_a_call_then_casts_for_many_hosts():
    conductor = Conductor()
    batcher = HeartbeatBatcher(conductor, window=0.01)
    flush(batcher, ("h1", "d"), ("h2", "d"))
    flush(batcher, ("h1", "d"), ("h2", "d"), ("h3", "d"))
    assert conductor.sent == [(True, ["h1", "h2"]), (False, ["h1", "h2", "h3"])]


def test_a_newer_beat_replaces_the_waiting_one():
    batcher = HeartbeatBatcher(Conductor(), window=0.01)
    batcher.beat("h1", "1.0", "old")
    batcher.beat("h1", "1.0", "new")
    assert list(batcher._beats.values()) == [
        {"host": "h1", "agent_version": "1.0", "digest": "new"}
    ]


def test_a_conductor_before_1_7_turns_batching_off():
    conductor = Conductor()
    conductor.fail = UnsupportedVersion("1.7")
    batcher = HeartbeatBatcher(conductor, window=0.01)
    flush(batcher, ("h1", "d"))
    assert not batcher.batched


def test_a_failure_makes_the_next_batch_a_call_again():
    conductor = Conductor()
    batcher = HeartbeatBatcher(conductor, window=0.01)
    flush(batcher, ("h1", "d"))
    conductor.fail = TimeoutError("broker gone")
    flush(batcher, ("h1", "d"))
    conductor.fail = None
    flush(batcher, ("h1", "d"))
    assert [wait for wait, _ in conductor.sent] == [True, False, True]
    assert batcher.batched


def test_the_thread_sends_what_is_queued_when_stopped():
    conductor = Conductor()
    batcher = HeartbeatBatcher(conductor, window=5.0)
    batcher.start()
    batcher.beat("h1", "1.0", "d")
    batcher.stop()
    assert conductor.sent == [(True, ["h1"])]
