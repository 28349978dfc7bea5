"""Fixtures for the driver tests: a fake host tree, fake vendor tools, a config pointing there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_test_conf
from tests.unit.drivers.fake_tools import FakeTools
from tests.unit.drivers.sysfs import FakeHost

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "drivers"


def fixture_text(rel: str) -> str:
    """A recorded tool output."""
    return (FIXTURES / rel).read_text()


@pytest.fixture
def host(tmp_path):
    """An empty fake host tree."""
    return FakeHost(tmp_path / "host")


@pytest.fixture
def tools(tmp_path):
    """The fake vendor tools, installed on a private PATH."""
    return FakeTools(tmp_path)


@pytest.fixture
def conf(tmp_path, host):
    """Configuration reading the fake host tree."""
    return make_test_conf(str(tmp_path / "state"), **{"agent.sysfs_root": str(host.root)})
