"""Version ordering across vendor formats."""

from __future__ import annotations

import pytest

from cyborg_lite.firmware import versions


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("96.00.99.00.01", "96.00.99.00.01", 0),
        ("96.00.5A.00.01", "96.00.99.00.01", -1),
        ("96.00.99.00.01", "96.00.100.00.01", -1),
        ("1.2", "1.02", 0),
        ("1.10", "1.9", 1),
        ("G520.0200.00.05", "G520.0200.00.04", 1),
        ("2.0.1", "2.0.1-rc2", -1),
        ("0x1c", "0x0d", 1),
        ("0x10", "0x0010", 0),
        ("96.00.0A.00.01", "96.00.10.00.01", -1),
        ("v1.0", "V1.0", 0),
    ],
)
def test_compare(a, b, expected):
    assert versions.compare(a, b) == expected
    assert versions.compare(b, a) == -expected
    assert versions.same(a, b) is (expected == 0)
