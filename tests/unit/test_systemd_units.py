"""The systemd units under ``etc/systemd/`` (issue 18): each parses, starts a console script
this package installs with a config file, restarts on failure and has a stop timeout."""

from __future__ import annotations

import configparser
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "etc" / "systemd").glob("*.service"))


def console_scripts() -> set[str]:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    lines = setup["options.entry_points"]["console_scripts"].strip().splitlines()
    return {line.split("=")[0].strip() for line in lines}


def test_there_is_a_unit_for_each_service():
    assert {u.stem for u in UNITS} == {
        "cyborg-lite-api",
        "cyborg-lite-conductor",
        "cyborg-lite-agent",
    }


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.stem)
def test_a_unit_starts_an_installed_script_and_restarts_on_failure(unit):
    parsed = configparser.ConfigParser(strict=False, interpolation=None)
    parsed.optionxform = str  # systemd keys are case-sensitive
    parsed.read(unit)
    service = parsed["Service"]
    command = service["ExecStart"].split()
    assert pathlib.Path(command[0]).name == unit.stem
    assert unit.stem in console_scripts()
    assert command[1:] == ["--config-file", "/etc/cyborg-lite/cyborg-lite.conf"]
    assert service["Restart"] == "on-failure"
    assert int(service["TimeoutStopSec"]) >= 30
    assert parsed["Install"]["WantedBy"] == "multi-user.target"
