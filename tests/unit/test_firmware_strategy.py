"""Strategy parsing and the pure rules: wave sizes, failure budget, window."""

from __future__ import annotations

import datetime as dt

import pytest

from cyborg_lite import exception
from cyborg_lite.api import validation
from cyborg_lite.api.schemas import rollouts as schemas
from cyborg_lite.firmware import strategy


def from_request(body):
    """``body`` as a client's strategy: through the request schema (the per-field rules),
    then ``strategy.parse`` (the rules that span fields or that no schema states)."""
    request = {"image_uuid": "u", "selector": {"hosts": ["a"]}, "strategy": body}
    return strategy.parse(validation.check(schemas.CREATE, request)["strategy"])


def test_defaults_are_explicit():
    s = strategy.parse({})
    assert s.to_dict() == {
        "canary": 1,
        "waves": ["10%", "50%", "100%"],
        "max_in_flight": 10,
        "max_in_flight_per_host": 1,
        "failure_budget": {"count": 1, "rate": 0.1},
        "bake_seconds": 0,
        "window": None,
        "in_use": "wait",
        "allow_reboot": False,
    }
    assert strategy.from_dict(s.to_dict()) == s


def test_full_body_round_trips():
    body = {
        "canary": 2,
        "waves": [5, "50%", "100%"],
        "max_in_flight": 100,
        "max_in_flight_per_host": 2,
        "failure_budget": {"count": 5, "rate": 0.25},
        "bake_seconds": 60,
        "window": {"start": "22:00", "end": "04:00", "timezone": "Europe/Paris"},
        "in_use": "skip",
        "allow_reboot": True,
    }
    s = from_request(body)
    assert s.to_dict() == body
    assert strategy.from_dict(s.to_dict()) == s


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"canary": -1}, "canary"),
        ({"canary": True}, "canary"),
        ({"waves": []}, "waves"),
        ({"waves": "10%"}, "waves"),
        ({"waves": ["0%"]}, "percentage"),
        ({"waves": ["150%"]}, "percentage"),
        ({"waves": [0]}, "counts"),
        ({"max_in_flight": 0}, "max_in_flight"),
        ({"failure_budget": {"rate": 2}}, "rate"),
        ({"failure_budget": {"count": -1}}, "count"),
        ({"failure_budget": {"ratio": 1}}, "failure_budget"),
        ({"window": {"start": "25:00", "end": "01:00"}}, "window.start"),
        ({"window": {"start": "01:00"}}, "window"),
        ({"window": {"start": "01:00", "end": "02:00", "timezone": "Mars/Olympus"}}, "time zone"),
        ({"window": {"start": "01:00", "end": "01:00"}}, "differ"),
        ({"in_use": "sometimes"}, "in_use"),
        ({"allow_reboot": "yes"}, "allow_reboot"),
        ({"speed": "fast"}, "speed"),
        ({"canary": 1.0}, "canary"),
        ({"waves": [5.0]}, "count"),
        ({"window": {"start": "01:00", "end": "02:00", "timezone": "Europe"}}, "time zone"),
        ({"window": {"start": "01:00", "end": "02:00", "timezone": "E" * 300}}, "time zone"),
    ],
)
def test_refusals(body, text):
    with pytest.raises(exception.Invalid, match=text):
        from_request(body)


@pytest.mark.parametrize(
    ("total", "canary", "waves", "sizes"),
    [
        (200, 2, ["10%", "50%", "100%"], [2, 18, 80, 100]),
        (200, 0, ["10%", "50%", "100%"], [20, 80, 100]),
        (10, 1, ["10%", "50%", "100%"], [1, 4, 5]),
        (3, 5, ["100%"], [3]),
        (7, 0, [2, 5], [2, 3, 2]),
        (7, 0, ["33%"], [3, 4]),
        (0, 2, ["100%"], []),
        (5, 1, [1, 1, "100%"], [1, 4]),
    ],
)
def test_wave_sizes(total, canary, waves, sizes):
    assert strategy.wave_sizes(total, canary, waves) == sizes
    assert sum(sizes) == total


@pytest.mark.parametrize(
    ("failed", "wave", "count", "rate", "halts"),
    [
        (0, 10, 1, 0.1, False),
        (1, 10, 1, 0.5, True),  # count reached
        (2, 100, 5, 0.3, False),
        (5, 100, 5, 0.3, True),
        (29, 100, 0, 0.3, False),  # count disabled, rate 30 % of 100 = 30
        (30, 100, 0, 0.3, True),
        (1, 100, 0, 0.0, True),  # rate 0: first failure halts
        (99, 100, 0, 1.0, False),
        (100, 100, 0, 1.0, True),
    ],
)
def test_failure_budget(failed, wave, count, rate, halts):
    s = strategy.parse({"failure_budget": {"count": count, "rate": rate}})
    assert strategy.budget_exceeded(failed, wave, s) is halts


def test_window_same_day_and_overnight():
    day = strategy.parse({"window": {"start": "09:00", "end": "17:00"}}).window
    night = strategy.parse(
        {"window": {"start": "22:00", "end": "04:00", "timezone": "America/New_York"}}
    ).window
    at = lambda h, m=0: dt.datetime(2026, 11, 22, h, m, tzinfo=dt.UTC)  # noqa: E731
    assert day.is_open(at(9))
    assert day.is_open(at(16, 59))
    assert not day.is_open(at(17))
    assert not day.is_open(at(8, 59))
    # New York is UTC-5 in November: 22:00-04:00 there is 03:00-09:00 UTC.
    assert night.is_open(at(3))
    assert night.is_open(at(8, 59))
    assert not night.is_open(at(9))
    assert not night.is_open(at(2, 59))


def test_program_strategies_refuse_then_wait_for_a_held_device_or_force_at_bind():
    from cyborg_lite.firmware import programming

    planned = programming.strategy(at_bind=False)
    running = programming.strategy(at_bind=False, running=True)
    at_bind = programming.strategy(at_bind=True, running=True)
    assert (planned.in_use, running.in_use, at_bind.in_use) == ("skip", "wait", "force")
    assert (running.canary, running.waves, running.max_in_flight) == (0, ("100%",), 1)
    assert not running.allow_reboot
