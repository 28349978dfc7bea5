"""Nothing a device, a catalog or a job says can inject into a vendor command or a path.

Vendor tools run as argument lists built from configured templates (never a shell, never
``str.format``); the PCI address must be canonical before it fills ``{address}``; image paths
and version strings are single arguments or not arguments at all; the agent refuses a job
whose image id or digest is not what it must be before building a URL or a file name.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import sys

import pytest
from keystoneauth1 import session as ks_session

from cyborg_lite.agent import images
from cyborg_lite.drivers import base, common, host

RECORDER = """#!{python}
import json, os, sys
with open(os.environ["RECORD"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""


@pytest.fixture
def recorder(tmp_path):
    """A fake ``nvflash`` on its own PATH that records each argv as a JSON line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "nvflash"
    tool.write_text(RECORDER.format(python=sys.executable))
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    record = tmp_path / "argv.jsonl"
    runner = host.CommandRunner(path=str(bin_dir), env={"RECORD": str(record)})

    def calls():
        if not record.exists():
            return []
        return [json.loads(line) for line in record.read_text().splitlines()]

    return runner, calls


def device(address, version="1"):
    return base.Device(
        type="GPU",
        vendor="10de",
        model="H100",
        stable_id=address,
        pci_address=address,
        driver="nvidia",
        firmware=(
            base.FirmwareComponent(
                component="vbios", version=version, updatable=True, activation="reset"
            ),
        ),
    )


def flash(runner, dev, image, expected_version=None):
    return common.flash_with_command(
        runner=runner,
        template=["nvflash", "--pcisegbus={address}", "-y", "{image}"],
        option="[nvidia] flash_command",
        device=dev,
        component="vbios",
        image_path=image,
        timeout=10,
        activation="reset",
        reread=lambda: dev,
        expected_version=expected_version,
    )


@pytest.mark.parametrize(
    "address",
    [
        "0000:3b:00.0 --force",
        "0000:3b:00.0\n",
        "0000:3b:00.0;reboot",
        "$(reboot)",
        "-0000:3b:00.0",
        "0000:3b:00.0\x00--force",
        "3b:00.0",  # parseable, but not canonical: never guessed at
    ],
)
def test_a_non_canonical_address_never_reaches_a_tool(recorder, tmp_path, address):
    runner, calls = recorder
    image = tmp_path / "vbios.rom"
    image.write_bytes(b"rom")
    result = flash(runner, device(address), str(image))
    assert (result.ok, result.error_code) == (False, "unknown")
    assert calls() == []


def test_image_path_and_version_are_one_argument_or_none(recorder, tmp_path):
    runner, calls = recorder
    folder = tmp_path / "a dir; touch pwned $(touch pwned2) `touch pwned3`"
    folder.mkdir()
    image = folder / "--force -y *.rom"
    image.write_bytes(b"rom")
    version = "2; touch pwned4 $(touch pwned5)"
    flash(runner, device("0000:3b:00.0"), str(image), expected_version=version)
    assert calls() == [["--pcisegbus=0000:3b:00.0", "-y", os.path.abspath(image)]]
    assert not any(p.name.startswith("pwned") for p in tmp_path.rglob("*"))
    assert not any(p.name.startswith("pwned") for p in os.scandir(os.getcwd()))


def test_placeholders_are_not_format_strings():
    # str.format would let a template reach attributes ({image.__class__}); only whole known
    # names are filled, each into its own argument.
    with pytest.raises(ValueError, match="unknown placeholder"):
        common.expand_command(["tool", "{image.__class__}"], {"image": "x"})
    argv = common.expand_command(["tool", "{image}"], {"image": "{address} -rf"})
    assert argv == ["tool", "{address} -rf"]


def test_the_runner_never_uses_a_shell(recorder, tmp_path):
    runner, calls = recorder
    runner.run(["nvflash", "a b", "$HOME", "; reboot", "|cat", ">out"], timeout=10)
    assert calls() == [["a b", "$HOME", "; reboot", "|cat", ">out"]]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("image_uuid", "sha256"),
    [
        ("../../../etc/cron.d/x", "a" * 64),
        ("5f0c1c8e-1111-4222-8333-444455556666/../../x", "a" * 64),
        ("5f0c1c8e-1111-4222-8333-444455556666?x=1", "a" * 64),
        ("5f0c1c8e-1111-4222-8333-444455556666", "a" * 63 + "\n"),
        ("5f0c1c8e-1111-4222-8333-444455556666", "../../x"),
    ],
)
def test_agent_refuses_a_job_naming_no_uuid_or_digest(tmp_path, image_uuid, sha256):
    folder = tmp_path / "downloads"
    # An endpoint nothing listens on: the refusal must come before any request.
    source = images.ImageSource("http://127.0.0.1:9", str(folder), ks_session.Session())
    with pytest.raises(images.ImageError) as err:
        source.fetch(image_uuid, sha256)
    assert "not" in err.value.message
    assert not any(tmp_path.rglob("*.part"))
    assert not (tmp_path / "etc").exists()


def test_a_device_dataclass_is_frozen():
    # Drivers hand back frozen values: nothing downstream can swap an address after the check.
    dev = device("0000:3b:00.0")
    with pytest.raises(dataclasses.FrozenInstanceError):
        dev.pci_address = "0000:3b:00.0 --force"  # type: ignore[misc]
