"""Which devices a pool offers: idleness, binds, the reserve (its order and stability), and
the reason for every device not offered."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from cyborg_lite.lending import offers, pools

NOW = dt.datetime(2026, 6, 12, 22, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
NONE = pools.Reserve(count=0)


def idle(uuid, hours=5.0, busy_hours_ago=None, **kw):
    """A device idle for ``hours``, last busy ``busy_hours_ago`` (default: when idleness began)."""
    ago = hours if busy_hours_ago is None else busy_hours_ago
    return offers.DeviceFacts(uuid, idle_since=NOW - hours * HOUR, last_busy=NOW - ago * HOUR, **kw)


def decide(devices, reserve=NONE, min_idle_seconds=3600, window_open=True, now=NOW):
    return offers.decide(
        devices,
        reserve=reserve,
        min_idle_seconds=min_idle_seconds,
        window_open=window_open,
        now=now,
    )


def test_an_idle_free_device_is_offered_while_the_window_is_open():
    result = decide([idle("a")])
    assert result.offered == ("a",)
    assert result.withheld == {}
    assert result.reserved == ()


def test_nothing_is_offered_while_the_window_is_closed():
    result = decide([idle("a"), idle("b", bound=True)], window_open=False)
    assert result.offered == ()
    assert result.withheld == {"a": offers.WINDOW_CLOSED, "b": offers.WINDOW_CLOSED}


@pytest.mark.parametrize(
    ("device", "reason"),
    [
        (offers.DeviceFacts("a", idle_since=None, last_busy=NOW), offers.NOT_IDLE),
        (offers.DeviceFacts("a", idle_since=None), offers.NOT_IDLE),  # unknown is not idle
        (idle("a", hours=0.5), offers.NOT_IDLE),
        (idle("a", hours=-1), offers.NOT_IDLE),  # idle_since ahead of now: clock skew
        (idle("a", bound=True), offers.BOUND),
        (idle("a", bound=True, on_loan=True), offers.BOUND),
        (idle("a", usable=False), offers.UNUSABLE),
        (idle("a", usable=False, bound=True), offers.UNUSABLE),
        (
            dataclasses.replace(idle("a"), withheld_until=NOW + dt.timedelta(seconds=1)),
            offers.RECLAIMED,
        ),
    ],
)
def test_each_device_not_offered_says_why(device, reason):
    result = decide([device])
    assert result.offered == ()
    assert result.withheld == {"a": reason}


def test_min_idle_seconds_is_inclusive_and_zero_still_needs_idleness():
    exactly = offers.DeviceFacts("a", idle_since=NOW - HOUR)
    assert decide([exactly], min_idle_seconds=3600).offered == ("a",)
    assert decide([exactly], min_idle_seconds=3601).withheld == {"a": offers.NOT_IDLE}
    just_idle = offers.DeviceFacts("a", idle_since=NOW)
    assert decide([just_idle], min_idle_seconds=0).offered == ("a",)
    never = offers.DeviceFacts("a", idle_since=None)
    assert decide([never], min_idle_seconds=0).withheld == {"a": offers.NOT_IDLE}


def test_the_reserve_keeps_the_devices_busy_most_recently():
    devices = [
        idle("a", busy_hours_ago=9),
        idle("b", busy_hours_ago=2),
        idle("c", busy_hours_ago=5),
    ]
    result = decide(devices, reserve=pools.Reserve(count=2))
    assert result.reserved == ("b", "c")
    assert result.offered == ("a",)
    assert result.withheld == {"b": offers.RESERVE, "c": offers.RESERVE}


def test_never_busy_devices_are_lent_first_and_ties_go_by_uuid():
    never = [offers.DeviceFacts(u, idle_since=NOW - 9 * HOUR) for u in ("z", "y", "x")]
    result = decide(never, reserve=pools.Reserve(count=1))
    assert result.reserved == ("x",)
    mixed = [*never, idle("w", busy_hours_ago=30)]
    assert decide(mixed, reserve=pools.Reserve(count=1)).reserved == ("w",)


def test_devices_the_owner_uses_fill_the_reserve_first():
    devices = [idle("a", busy_hours_ago=1), idle("b", busy_hours_ago=2), idle("c", bound=True)]
    result = decide(devices, reserve=pools.Reserve(count=1))
    # The owner's bound device is its reserve, so both idle ones are lent.
    assert result.reserved == ("c",)
    assert result.offered == ("a", "b")
    assert result.withheld == {"c": offers.BOUND}


def test_the_owner_using_more_than_its_reserve_leaves_the_rest_to_lend():
    devices = [idle("a", bound=True), idle("b", bound=True), idle("c"), idle("d")]
    result = decide(devices, reserve=pools.Reserve(count=1))
    assert len(result.reserved) == 1
    assert result.reserved[0] in {"a", "b"}
    assert result.offered == ("c", "d")


def test_devices_on_loan_never_join_the_reserve():
    # Four devices, a share of 0.5 keeps two; two are lent already, so the two others are kept
    # (a raised reserve is filled as loans end, not by taking lent devices).
    devices = [
        idle("a", bound=True, on_loan=True, busy_hours_ago=0),
        idle("b", bound=True, on_loan=True, busy_hours_ago=0),
        idle("c"),
        idle("d"),
    ]
    result = decide(devices, reserve=pools.Reserve(count=None, share=0.5))
    assert result.reserved == ("c", "d")
    assert result.offered == ()
    three = decide(devices, reserve=pools.Reserve(count=3))
    assert three.reserved == ("c", "d")  # short of three: lent devices are not taken


def test_unusable_devices_never_join_the_reserve():
    devices = [idle("a", usable=False, busy_hours_ago=0), idle("b", busy_hours_ago=3), idle("c")]
    result = decide(devices, reserve=pools.Reserve(count=1))
    assert result.reserved == ("b",)
    assert result.offered == ("c",)
    assert result.withheld == {"a": offers.UNUSABLE, "b": offers.RESERVE}


def test_a_share_counts_every_device_of_the_pool_and_rounds_up():
    devices = [idle(f"d{i}", busy_hours_ago=i) for i in range(5)]
    result = decide(devices, reserve=pools.Reserve(count=None, share=0.25))
    assert result.reserved == ("d0", "d1")  # ceil(0.25 x 5) = 2, the two busiest recently
    assert result.offered == ("d2", "d3", "d4")


def test_the_decision_does_not_depend_on_the_order_of_the_facts():
    devices = [idle(f"d{i}", busy_hours_ago=i % 3, bound=i % 4 == 0) for i in range(12)]
    expected = decide(devices, reserve=pools.Reserve(count=4))
    rng = random.Random(17)
    for _ in range(20):
        shuffled = devices[:]
        rng.shuffle(shuffled)
        assert decide(shuffled, reserve=pools.Reserve(count=4)) == expected


def test_the_reserve_is_stable_while_nothing_changes():
    devices = [
        idle("a", busy_hours_ago=1),
        idle("b", busy_hours_ago=3),
        idle("c", busy_hours_ago=8),
    ]
    first = decide(devices, reserve=pools.Reserve(count=1))
    later = decide(devices, reserve=pools.Reserve(count=1), now=NOW + 5 * HOUR)
    assert first.reserved == later.reserved == ("a",)


def test_every_device_is_offered_or_withheld_exactly_once():
    devices = [
        idle("a"),
        idle("b", hours=0.1),
        idle("c", bound=True),
        idle("d", usable=False),
        idle("e", busy_hours_ago=0.5),
    ]
    result = decide(devices, reserve=pools.Reserve(count=2))
    assert set(result.offered) | set(result.withheld) == {"a", "b", "c", "d", "e"}
    assert not set(result.offered) & set(result.withheld)
    assert set(result.withheld.values()) <= set(offers.REASONS)


def test_a_device_listed_twice_is_a_bug_of_the_caller():
    with pytest.raises(ValueError, match="twice"):
        decide([idle("a"), idle("a")])


def test_may_borrow_needs_an_offer_and_a_listed_borrower():
    pool = pools.parse({"name": "night", "borrower_project_ids": ["p1"]})
    result = decide([idle("a"), idle("b", bound=True)])
    assert offers.may_borrow(pool, result, "a", "p1") is None
    assert (
        offers.may_borrow(pool, result, "a", "p2") == "Project p2 may not borrow from pool night."
    )
    assert offers.may_borrow(pool, result, "b", "p1") == (
        "Device b of pool night is not offered (bound)."
    )
    assert "not in the pool" in offers.may_borrow(pool, result, "zz", "p1")
    closed = decide([idle("a")], window_open=False)
    assert "window_closed" in offers.may_borrow(pool, closed, "a", "p1")


def test_a_reclaimed_device_is_offered_again_once_its_withholding_ends():
    device = dataclasses.replace(idle("a"), withheld_until=NOW)
    assert decide([device]).offered == ("a",)  # withheld until NOW, not at NOW
    later = dataclasses.replace(device, withheld_until=NOW + dt.timedelta(hours=1))
    assert decide([later]).withheld == {"a": offers.RECLAIMED}
