"""The order of an agent's reports: seq grows within a run, across restarts, and past a
generation the agent forgot."""

from __future__ import annotations

import json
import os

import pytest

from cyborg_lite.agent import reportseq
from cyborg_lite.agent.reportseq import ReportSequence, generation_of


@pytest.fixture
def path(tmp_path):
    return reportseq.sequence_path(str(tmp_path / "state"), "node1")


def saved(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)["generation"]


def test_nothing_is_read_or_written_before_the_first_report(path):
    sequence = ReportSequence(path)
    assert sequence.generation is None
    assert not os.path.exists(path)


def test_seq_counts_up_within_a_run(path):
    sequence = ReportSequence(path)
    seqs = [sequence.next() for _ in range(5)]
    assert seqs == sorted(set(seqs))
    assert seqs[0] == (1 << 32) + 1
    assert {generation_of(s) for s in seqs} == {1}
    assert saved(path) == 1


def test_a_restart_starts_above_everything_sent_before(path):
    first = ReportSequence(path)
    before = [first.next() for _ in range(1000)]
    again = ReportSequence(path)  # the next process, on the same state folder
    after = again.next()
    assert after > max(before)
    assert generation_of(after) == 2
    assert saved(path) == 2
    assert ReportSequence(path).next() > again.next()


def test_a_full_counter_moves_to_the_next_generation(path, monkeypatch):
    monkeypatch.setattr(reportseq, "MAX_COUNTER", 3)
    sequence = ReportSequence(path)
    seqs = [sequence.next() for _ in range(7)]
    assert seqs == sorted(set(seqs))
    assert [generation_of(s) for s in seqs] == [1, 1, 1, 2, 2, 2, 3]
    assert saved(path) == 3


def test_skip_past_a_seq_the_conductor_holds(path):
    sequence = ReportSequence(path)
    mine = sequence.next()
    held = (7 << 32) + 12  # from a run whose generation file was lost
    sequence.skip_past(held)
    assert sequence.next() == (8 << 32) + 1
    assert saved(path) == 8
    # One already behind this run's generation changes nothing.
    sequence.skip_past(mine)
    assert generation_of(sequence.next()) == 8
    assert generation_of(ReportSequence(path).next()) == 9


def test_an_unreadable_file_starts_over_low(path):
    os.makedirs(os.path.dirname(path))
    for content in ("{not json", '{"generation": "7"}', '{"generation": -3}', "[]"):
        with open(path, "w", encoding="utf-8") as f:
            f.write(content)
        assert generation_of(ReportSequence(path).next()) == 1


def test_an_unwritable_folder_raises_and_keeps_nothing(tmp_path):
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state folder should be")
    sequence = ReportSequence(reportseq.sequence_path(str(blocker), "node1"))
    with pytest.raises(NotADirectoryError):
        sequence.next()
    assert sequence.generation is None
