"""The usage commands' pure parts: durations as the CLI takes them, and sparklines."""

from __future__ import annotations

import argparse

import pytest

from cyborg_lite.cli import usage


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90s", 90),
        ("30m", 1800),
        ("1h", 3600),
        ("2d", 172800),
        ("1w", 604800),
        (" 1H ", 3600),
        ("0", 0),
    ],
)
def test_durations(text, seconds):
    assert usage.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1.5h", "-1", "1y", "an hour", "1h30m"])
def test_a_bad_duration_is_an_argparse_error(text):
    with pytest.raises(argparse.ArgumentTypeError, match="invalid duration"):
        usage.parse_duration(text)
    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--idle-for", type=usage.parse_duration)
    with pytest.raises(argparse.ArgumentError):
        parser.parse_args(["--idle-for", text])


def test_sparkline_scales_min_to_max_and_leaves_unknown_blank():
    assert usage.sparkline([0, 50, 100]) == "▁▅█"
    assert usage.sparkline([3.0, None, 3.0]) == "▁ ▁"
    assert usage.sparkline([None, None]) == "  "
    assert usage.sparkline([]) == ""


def test_sparkline_resamples_to_its_width_keeping_peaks():
    values = [0.0] * 100
    values[37] = 9.0
    line = usage.sparkline(values, width=10)
    assert len(line) == 10
    assert line == "▁▁▁█▁▁▁▁▁▁"
