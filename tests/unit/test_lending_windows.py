"""Lending windows: parsing with errors naming the field, and open/close arithmetic in the
pool's time zone (DST changes, gaps, folds, merging), on fixed datetimes."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from cyborg_lite import exception
from cyborg_lite.lending import windows

UTC = dt.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def berlin(*args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN, fold=fold)


def weekly(days, start, end):
    return windows.parse({"days": days, "start": start, "end": end})


EVENINGS = weekly(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "19:00", "07:00")


# -- time zones ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Europe",
        "garbage",
        "",
        "/etc/passwd",
        "../etc",
        "x" * 5000,
        "a\x00b",
        "zone.tab",
        "utc ",
        3,
        None,
    ],
)
def test_a_bad_time_zone_is_an_error_naming_timezone(name):
    with pytest.raises(exception.Invalid, match=r"^timezone: "):
        windows.parse_timezone(name)


def test_a_known_time_zone_loads():
    assert windows.parse_timezone("Europe/Berlin") == BERLIN
    assert windows.parse_timezone("UTC").utcoffset(None) == dt.timedelta(0)


# -- parsing -------------------------------------------------------------------------------


def test_a_weekly_window_round_trips_in_week_order():
    window = weekly(["fri", "mon"], "19:00", "07:00")
    assert window == windows.Weekly((0, 4), dt.time(19), dt.time(7))
    assert window.to_dict() == {"days": ["mon", "fri"], "start": "19:00", "end": "07:00"}
    assert windows.parse(window.to_dict()) == window


def test_a_one_off_window_is_read_as_utc_and_round_trips():
    window = windows.parse(
        {"starts_at": "2026-03-28T19:00:00+01:00", "ends_at": "2026-03-29T07:00:00Z"}
    )
    assert window == windows.OneOff(utc(2026, 3, 28, 18), utc(2026, 3, 29, 7))
    assert window.starts_at.tzinfo is UTC
    assert windows.parse(window.to_dict()) == window


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"days": [], "start": "19:00", "end": "07:00"}, "windows: 'days' must be a non-empty"),
        ({"days": "mon", "start": "19:00", "end": "07:00"}, "windows: 'days' must be"),
        ({"days": ["Mon"], "start": "19:00", "end": "07:00"}, "windows: 'days' has 'Mon'"),
        ({"days": ["monday"], "start": "19:00", "end": "07:00"}, "windows: 'days' has"),
        ({"days": ["mon", "mon"], "start": "19:00", "end": "07:00"}, "'days' lists 'mon' twice"),
        ({"days": ["mon"], "start": "24:00", "end": "07:00"}, "windows: 'start' must be"),
        ({"days": ["mon"], "start": "7:00", "end": "08:00"}, "windows: 'start' must be"),
        ({"days": ["mon"], "start": "19:00", "end": "07:60"}, "windows: 'end' must be"),
        ({"days": ["mon"], "start": "19:00", "end": 7}, "windows: 'end' must be"),
        ({"days": ["mon"], "start": "19:00:00", "end": "07:00"}, "windows: 'start' must be"),
        ({"days": ["mon"], "start": "19:00", "end": "19:00"}, "'end' must differ from 'start'"),
        ({"days": ["mon"], "start": "19:00"}, "windows: 'end' is required"),
        ({"days": ["mon"], "start": "19:00", "end": "07:00", "tz": "x"}, "unknown field 'tz'"),
        ({"days": ["mon"], "starts_at": "2026-01-01T00:00Z"}, "not both"),
        ({}, "windows: 'days' is required"),
        ({"starts_at": "2026-01-01T00:00Z"}, "windows: 'ends_at' is required"),
        (
            {"starts_at": "2026-01-01T00:00", "ends_at": "2026-01-02T00:00Z"},
            "windows: 'starts_at' '2026-01-01T00:00' has no UTC offset",
        ),
        (
            {"starts_at": "tomorrow", "ends_at": "2026-01-02T00:00Z"},
            "windows: 'starts_at' must be an ISO 8601",
        ),
        (
            {"starts_at": "2026-01-01T00:00Z", "ends_at": 5},
            "windows: 'ends_at' must be an ISO 8601",
        ),
        (
            {"starts_at": "2026-01-02T01:00+01:00", "ends_at": "2026-01-02T00:00Z"},
            "windows: 'ends_at' must be after 'starts_at'",
        ),
        ("mon 19:00", "windows: a window must be an object"),
    ],
)
def test_bad_windows_are_errors_naming_the_field(body, text):
    with pytest.raises(exception.Invalid) as err:
        windows.parse(body)
    assert text in err.value.message


def test_parse_all_reads_a_list():
    assert windows.parse_all([EVENINGS.to_dict()]) == (EVENINGS,)


# -- local times -------------------------------------------------------------------------


def test_an_ambiguous_time_is_its_first_occurrence():
    # 2026-10-25 02:30 happens twice in Berlin: first in CEST (00:30 UTC), then CET.
    assert windows.to_utc(dt.datetime(2026, 10, 25, 2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)


def test_a_nonexistent_time_moves_forward_to_the_change():
    # Clocks jump from 02:00 CET to 03:00 CEST at 01:00 UTC on 2026-03-29.
    assert windows.to_utc(dt.datetime(2026, 3, 29, 2, 30), BERLIN) == utc(2026, 3, 29, 1)
    assert windows.to_utc(dt.datetime(2026, 3, 29, 2, 0), BERLIN) == utc(2026, 3, 29, 1)
    assert windows.to_utc(dt.datetime(2026, 3, 29, 1, 59), BERLIN) == utc(2026, 3, 29, 0, 59)
    assert windows.to_utc(dt.datetime(2026, 3, 29, 3, 0), BERLIN) == utc(2026, 3, 29, 1)


# -- DST ---------------------------------------------------------------------------------


def test_a_night_window_across_spring_forward_is_11_hours():
    span = windows.open_at([EVENINGS], BERLIN, berlin(2026, 3, 28, 23))
    assert span == windows.Occurrence(berlin(2026, 3, 28, 19), berlin(2026, 3, 29, 7))
    assert span.seconds == 11 * 3600
    assert span.start == utc(2026, 3, 28, 18)
    assert span.end == utc(2026, 3, 29, 5)


def test_a_night_window_across_fall_back_is_13_hours():
    span = windows.open_at([EVENINGS], BERLIN, utc(2026, 10, 25, 1, 30))
    assert span is not None
    assert (span.start, span.end) == (utc(2026, 10, 24, 17), utc(2026, 10, 25, 6))
    assert span.seconds == 13 * 3600


def test_an_ordinary_night_is_12_hours():
    span = windows.open_at([EVENINGS], BERLIN, berlin(2026, 6, 10, 2))
    assert span is not None
    assert span.seconds == 12 * 3600


def test_a_start_in_the_gap_opens_at_the_change():
    window = weekly(["sun"], "02:30", "05:00")
    span = windows.open_at([window], BERLIN, utc(2026, 3, 29, 1, 0))
    assert span == windows.Occurrence(utc(2026, 3, 29, 1), utc(2026, 3, 29, 3))
    assert windows.open_at([window], BERLIN, utc(2026, 3, 29, 0, 59)) is None


def test_a_window_inside_the_gap_is_skipped_that_day_and_opens_the_next_week():
    window = weekly(["sun"], "02:10", "02:40")
    assert windows.occurrence(window, BERLIN, dt.date(2026, 3, 29)) is None
    assert windows.next_change([window], BERLIN, utc(2026, 3, 28)) == berlin(2026, 4, 5, 2, 10)


def test_new_york_changes_a_different_weekend():
    # US DST began 2026-03-08: the night of the 7th is 11 hours there, the 28th is 12.
    assert windows.open_at([EVENINGS], NEW_YORK, utc(2026, 3, 8, 3)).seconds == 11 * 3600
    assert windows.open_at([EVENINGS], NEW_YORK, utc(2026, 3, 29, 3)).seconds == 12 * 3600


# -- open_at and next_change --------------------------------------------------------------

FRIDAY_NIGHT = weekly(["fri"], "19:00", "07:00")


@pytest.mark.parametrize(
    ("now", "open_"),
    [
        (berlin(2026, 6, 12, 18, 59), False),  # Friday before the start
        (berlin(2026, 6, 12, 19, 0), True),  # the start is inside
        (berlin(2026, 6, 13, 6, 59), True),  # Saturday morning, still Friday's window
        (berlin(2026, 6, 13, 7, 0), False),  # the end is outside
        (berlin(2026, 6, 13, 19, 30), False),  # Saturday is not listed
        (berlin(2026, 6, 12, 6, 0), False),  # Friday morning belongs to Thursday: not listed
    ],
)
def test_open_at_follows_the_listed_days(now, open_):
    assert windows.is_open([FRIDAY_NIGHT], BERLIN, now) is open_


def test_open_at_gives_utc_edges_and_next_change_the_end():
    now = berlin(2026, 6, 12, 22)
    span = windows.open_at([FRIDAY_NIGHT], BERLIN, now)
    assert span is not None
    assert span.start.tzinfo is UTC
    assert span.end.tzinfo is UTC
    assert windows.next_change([FRIDAY_NIGHT], BERLIN, now) == span.end == utc(2026, 6, 13, 5)
    assert windows.occurrence_end([FRIDAY_NIGHT], BERLIN, now) == span.end


def test_next_change_when_closed_is_the_next_start():
    assert windows.next_change([FRIDAY_NIGHT], BERLIN, berlin(2026, 6, 13, 8)) == berlin(
        2026, 6, 19, 19
    )
    assert windows.occurrence_end([FRIDAY_NIGHT], BERLIN, berlin(2026, 6, 13, 8)) is None


def test_no_windows_never_open():
    assert windows.open_at([], BERLIN, utc(2026, 1, 1)) is None
    assert windows.next_change([], BERLIN, utc(2026, 1, 1)) is None


def test_a_past_one_off_window_never_changes_again():
    once = windows.OneOff(utc(2026, 1, 1), utc(2026, 1, 2))
    assert windows.is_open([once], UTC, utc(2026, 1, 1, 12))
    assert not windows.is_open([once], UTC, utc(2026, 1, 2))
    assert windows.next_change([once], UTC, utc(2026, 1, 3)) is None


def test_a_far_one_off_window_is_the_next_change():
    once = windows.OneOff(utc(2027, 6, 1), utc(2027, 6, 2))
    assert windows.next_change([FRIDAY_NIGHT, once], BERLIN, utc(2027, 5, 1, 12)) == berlin(
        2027, 5, 7, 19
    )
    assert windows.next_change([once], BERLIN, utc(2026, 1, 1)) == utc(2027, 6, 1)


def test_a_long_one_off_window_is_open_in_its_middle():
    once = windows.OneOff(utc(2026, 1, 1), utc(2026, 3, 1))
    assert windows.open_at([once], UTC, utc(2026, 2, 1)) == windows.Occurrence(
        utc(2026, 1, 1), utc(2026, 3, 1)
    )


def test_a_naive_now_is_a_bug_of_the_caller():
    with pytest.raises(ValueError, match="naive"):
        windows.open_at([FRIDAY_NIGHT], BERLIN, dt.datetime(2026, 6, 12, 20))


# -- merging ----------------------------------------------------------------------------


def test_overlapping_windows_merge_into_one_span():
    evening = weekly(["fri"], "18:00", "23:00")
    once = windows.OneOff(berlin(2026, 6, 12, 22), berlin(2026, 6, 13, 9))
    span = windows.open_at([FRIDAY_NIGHT, evening, once], BERLIN, berlin(2026, 6, 12, 18, 30))
    assert span == windows.Occurrence(berlin(2026, 6, 12, 18), berlin(2026, 6, 13, 9))
    # Inside the merged span no edge of a single window is a change.
    assert windows.next_change(
        [FRIDAY_NIGHT, evening, once], BERLIN, berlin(2026, 6, 12, 23)
    ) == berlin(2026, 6, 13, 9)


def test_touching_windows_merge_and_a_gap_does_not():
    day = weekly(["sat"], "07:00", "12:00")
    span = windows.open_at([FRIDAY_NIGHT, day], BERLIN, berlin(2026, 6, 12, 20))
    assert span is not None
    assert span.end == berlin(2026, 6, 13, 12)
    later = weekly(["sat"], "07:01", "12:00")
    assert windows.next_change([FRIDAY_NIGHT, later], BERLIN, berlin(2026, 6, 12, 20)) == berlin(
        2026, 6, 13, 7
    )
    assert windows.next_change([FRIDAY_NIGHT, later], BERLIN, berlin(2026, 6, 13, 7)) == berlin(
        2026, 6, 13, 7, 1
    )


def test_windows_that_never_close_report_where_the_search_stopped():
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    always = [weekly(days, "07:00", "19:00"), weekly(days, "19:00", "07:00")]
    now = berlin(2026, 6, 12, 12)
    span = windows.open_at(always, BERLIN, now)
    assert span is not None
    assert span.end >= now + windows.HORIZON
    assert span.start <= now - windows.HORIZON + dt.timedelta(days=1)
    # At that end a pass finds the pool still open and a later end.
    assert windows.next_change(always, BERLIN, span.end) > span.end
    assert windows.is_open(always, BERLIN, span.end)


def test_merge_keeps_a_contained_span_inside():
    outer = windows.Occurrence(utc(2026, 1, 1), utc(2026, 1, 5))
    inner = windows.Occurrence(utc(2026, 1, 2), utc(2026, 1, 3))
    after = windows.Occurrence(utc(2026, 1, 6), utc(2026, 1, 7))
    assert windows.merge([outer, inner, after]) == [outer, after]


def test_occurrences_lists_every_overlap_in_order():
    found = windows.occurrences([FRIDAY_NIGHT], BERLIN, berlin(2026, 6, 13, 6), berlin(2026, 6, 27))
    assert [o.start for o in found] == [
        berlin(2026, 6, 12, 19),
        berlin(2026, 6, 19, 19),
        berlin(2026, 6, 26, 19),
    ]
    assert all(o.seconds == 12 * 3600 for o in found)


def test_a_fake_clock_walks_through_a_week_of_changes():
    # The engine's view: sleep until next_change, look again; every change flips the state.
    now = berlin(2026, 3, 23, 12)  # Monday
    states = []
    for _ in range(6):
        now = windows.next_change([EVENINGS], BERLIN, now)
        states.append(
            (now.astimezone(BERLIN).strftime("%a %H:%M"), windows.is_open([EVENINGS], BERLIN, now))
        )
    assert states == [
        ("Mon 19:00", True),
        ("Tue 07:00", False),
        ("Tue 19:00", True),
        ("Wed 07:00", False),
        ("Wed 19:00", True),
        ("Thu 07:00", False),
    ]
