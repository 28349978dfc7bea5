"""Loans: states, the reclaim decision on a fake clock (window closes, explicit reclaim,
deadlines, restarts), duration and energy."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import replace

import pytest

from cyborg_lite.lending import loans, windows

NOW = dt.datetime(2026, 6, 13, 5, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)


def loan(uuid, state=loans.ACTIVE, device=None, deadline=None, arq_bound=True):
    return loans.LoanFacts(uuid, device or f"dev-{uuid}", state, deadline, arq_bound)


def decide(items, now=NOW, window_open=True, notice_seconds=300, reclaim_devices=()):
    return loans.decide(
        items,
        now=now,
        window_open=window_open,
        notice_seconds=notice_seconds,
        reclaim_devices=reclaim_devices,
    )


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        (loans.ACTIVE, loans.RECLAIMING, True),
        (loans.ACTIVE, loans.CLOSED, True),
        (loans.RECLAIMING, loans.CLOSED, True),
        (loans.RECLAIMING, loans.ACTIVE, False),
        (loans.CLOSED, loans.ACTIVE, False),
        (loans.CLOSED, loans.RECLAIMING, False),
        (loans.ACTIVE, loans.ACTIVE, False),
        (loans.CLOSED, loans.CLOSED, False),
        ("lost", loans.CLOSED, False),
    ],
)
def test_loans_only_move_forward(old, new, allowed):
    assert loans.can_move(old, new) is allowed


def test_sources_are_the_guards_of_conditional_updates():
    assert loans.sources(loans.CLOSED) == (loans.ACTIVE, loans.RECLAIMING)
    assert loans.sources(loans.RECLAIMING) == (loans.ACTIVE,)
    assert loans.sources(loans.ACTIVE) == ()


def test_the_reclaim_deadline_is_now_plus_the_notice():
    assert loans.reclaim_deadline(NOW, 300) == NOW + 300 * SECOND
    assert loans.reclaim_deadline(NOW, 0) == NOW
    with pytest.raises(ValueError, match="negative"):
        loans.reclaim_deadline(NOW, -1)


def test_nothing_happens_while_the_window_is_open():
    result = decide([loan("a"), loan("b")])
    assert (result.close, result.reclaim, result.act, result.next_due) == ((), (), (), None)


def test_a_closed_window_starts_reclaiming_every_active_loan():
    result = decide([loan("b"), loan("a"), loan("c", state=loans.CLOSED)], window_open=False)
    assert result.reclaim == ("a", "b")
    assert result.deadline == NOW + 300 * SECOND
    assert result.next_due == result.deadline
    assert result.act == ()


def test_an_explicit_reclaim_takes_only_the_devices_named():
    items = [loan("a", device="d1"), loan("b", device="d2")]
    result = decide(items, reclaim_devices={"d2"})
    assert result.reclaim == ("b",)


def test_a_reclaiming_loan_is_acted_on_at_its_deadline_not_before():
    deadline = NOW + 10 * SECOND
    items = [loan("a", state=loans.RECLAIMING, deadline=deadline)]
    before = decide(items, now=deadline - SECOND, window_open=False)
    assert before.act == ()
    assert before.next_due == deadline
    assert before.reclaim == ()  # already reclaiming: its deadline is not pushed back
    at = decide(items, now=deadline, window_open=False)
    assert at.act == ("a",)
    assert at.next_due is None


def test_an_open_window_does_not_cancel_a_reclaim():
    deadline = NOW - SECOND
    items = [loan("a", state=loans.RECLAIMING, deadline=deadline)]
    assert decide(items, window_open=True).act == ("a",)


def test_a_reclaiming_loan_without_deadline_is_acted_on():
    assert decide([loan("a", state=loans.RECLAIMING)]).act == ("a",)


def test_a_gone_arq_closes_the_loan_whatever_its_state():
    items = [
        loan("a", arq_bound=False),
        loan("b", state=loans.RECLAIMING, deadline=NOW - SECOND, arq_bound=False),
        loan("c", state=loans.CLOSED, arq_bound=False),
    ]
    result = decide(items, window_open=False)
    assert result.close == ("a", "b")
    assert result.reclaim == ()
    assert result.act == ()


def test_next_due_is_the_earliest_deadline_ahead():
    items = [
        loan("a", state=loans.RECLAIMING, deadline=NOW + 50 * SECOND),
        loan("b", state=loans.RECLAIMING, deadline=NOW + 20 * SECOND),
        loan("c"),
    ]
    assert decide(items, window_open=False, notice_seconds=100).next_due == NOW + 20 * SECOND
    assert decide(items, window_open=False, notice_seconds=10).next_due == NOW + 10 * SECOND


def test_a_loan_never_outlives_its_window_by_more_than_the_notice_plus_one_pass():
    # The engine on a fake clock: a pass at each due time (the window's next change, the
    # earliest deadline) and at least every PASS seconds; ``table`` is what SQL would hold.
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    night = [windows.parse({"days": ["fri"], "start": "19:00", "end": "07:00"})]
    notice, pass_seconds = 900, 60
    started = dt.datetime(2026, 6, 12, 23, 0, tzinfo=berlin)
    window_end = windows.occurrence_end(night, berlin, started)
    assert window_end == dt.datetime(2026, 6, 13, 7, 0, tzinfo=berlin)
    table = {"a": loan("a"), "b": loan("b")}
    ended_at: dict[str, dt.datetime] = {}
    now = started
    for _ in range(2000):  # a bound on passes, so a clock that stops advancing fails
        if len(ended_at) == len(table):
            break
        result = decide(
            table.values(),
            now=now,
            window_open=windows.is_open(night, berlin, now),
            notice_seconds=notice,
        )
        for uuid in result.reclaim:
            table[uuid] = replace(
                table[uuid], state=loans.RECLAIMING, reclaim_deadline=result.deadline
            )
        for uuid in result.act:
            # The action stops the server and its ARQ is unbound: the next pass closes it.
            table[uuid] = replace(table[uuid], arq_bound=False)
        for uuid in result.close:
            table[uuid] = replace(table[uuid], state=loans.CLOSED)
            ended_at[uuid] = now
        due = [t for t in (windows.next_change(night, berlin, now), result.next_due) if t]
        now = min([now + pass_seconds * SECOND, *due])
    assert set(ended_at) == {"a", "b"}
    for end in ended_at.values():
        assert window_end + dt.timedelta(seconds=notice) <= end
        assert end <= window_end + dt.timedelta(seconds=notice + pass_seconds)


def test_a_restart_mid_notice_decides_the_same_from_the_stored_rows():
    # Nothing is kept between passes: a fresh conductor reading the same rows at the same
    # time makes the same decision, and one at the deadline acts.
    deadline = NOW + 300 * SECOND
    rows = [loan("a", state=loans.RECLAIMING, deadline=deadline), loan("b")]
    first = decide(rows, now=NOW + 100 * SECOND, window_open=False)
    assert first == decide(list(reversed(rows)), now=NOW + 100 * SECOND, window_open=False)
    assert first.act == ()
    assert first.reclaim == ("b",)
    after = decide(rows, now=deadline + 3600 * SECOND, window_open=False)
    assert after.act == ("a",)


def test_duration_is_whole_seconds_to_the_end_or_now():
    start = NOW - dt.timedelta(seconds=90, milliseconds=700)
    assert loans.duration_seconds(start, None, NOW) == 90
    assert loans.duration_seconds(start, NOW - 30 * SECOND, NOW + 999 * SECOND) == 60
    assert loans.duration_seconds(NOW, NOW - SECOND, NOW) == 0


def test_energy_of_known_power_in_kwh():
    assert loans.energy_kwh([(3600, 1000.0)]) == pytest.approx(1.0)
    assert loans.energy_kwh([(1800, 400.0), (1800, 200.0)]) == pytest.approx(0.3)
    assert loans.energy_kwh([(3600, 0.0)]) == 0.0


def test_unknown_power_stays_unknown():
    assert loans.energy_kwh([]) is None
    assert loans.energy_kwh([(3600, None), (60, None)]) is None
    # Only the known part counts; the unknown hour is not guessed.
    assert loans.energy_kwh([(3600, None), (3600, 500.0)]) == pytest.approx(0.5)


def test_negative_intervals_are_a_bug_of_the_caller():
    with pytest.raises(ValueError, match="negative"):
        loans.energy_kwh([(-1, 100.0)])
    with pytest.raises(ValueError, match="negative"):
        loans.energy_kwh([(1, -100.0)])


@pytest.mark.parametrize(
    ("action", "status", "done"),
    [
        ("stop", "SHUTOFF", True),
        ("stop", "shutoff", True),
        ("stop", "ACTIVE", False),
        ("stop", "SHELVED_OFFLOADED", True),
        ("stop", "DELETED", True),
        ("shelve", "SHUTOFF", False),
        ("shelve", "SHELVED", True),
        ("shelve", "SHELVED_OFFLOADED", True),
        ("delete", "SHUTOFF", False),
        ("delete", "SOFT_DELETED", True),
        ("delete", loans.GONE, True),
        ("stop", None, False),
        ("notify", "SHUTOFF", False),
        ("stop", "ERROR", False),
    ],
)
def test_an_action_took_effect_in_the_state_asked_or_further(action, status, done):
    assert loans.took_effect(action, status) is done
