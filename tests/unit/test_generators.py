"""``make genconfig`` and ``make genpolicy``: the generators run through our entry points, and
the committed samples list every option and rule in the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cyborg_lite.api import policies
from cyborg_lite.conf import opts

ROOT = Path(__file__).resolve().parents[2]
ETC = ROOT / "etc" / "cyborg-lite"


def generate(tool: str, generator_conf: str, output: Path) -> str:
    """Run ``tool`` (next to the tests' Python) with the repository's generator config."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / tool),
            "--config-file",
            str(ETC / generator_conf),
            "--output-file",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return output.read_text()


@pytest.fixture(scope="module")
def config_sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "cyborg-lite.conf.sample"
    return generate("oslo-config-generator", "config-generator.conf", out)


@pytest.fixture(scope="module")
def policy_sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "policy.yaml.sample"
    return generate("oslopolicy-sample-generator", "policy-generator.conf", out)


@pytest.mark.parametrize(
    "expected",
    [
        "[api]",
        "#auth_strategy = noauth",
        "#port = 6666",
        "[database]",
        "[agent]",
        # Library namespaces from config-generator.conf:
        "[keystone_authtoken]",
        "#www_authenticate_uri = <None>",
        "[oslo_messaging_rabbit]",
        "#log_file = <None>",
        # Our defaults hook: secure RBAC, as register_all sets at run time.
        "[oslo_policy]",
        "#enforce_new_defaults = true",
        # Sample defaults instead of this machine's values.
        "#state_path = $PWD/var",
        "#host = <hostname>",
    ],
)
def test_config_sample_has(config_sample, expected):
    assert expected in config_sample.splitlines()


@pytest.mark.parametrize(
    "expected",
    [
        '#"admin_api": "role:admin"',
        '#"cyborg:device_profile:create": "rule:admin_api"',
        '#"cyborg:deployable:program": "rule:admin_api"',
        '#"cyborg:attribute:get_all": "rule:project_manager_or_admin"',
        '#"cyborg:arq:update": "rule:project_member_or_service"',
    ],
)
def test_policy_sample_has(policy_sample, expected):
    assert expected in policy_sample.splitlines()


def test_committed_config_sample_lists_every_option():
    committed = (ETC / "cyborg-lite.conf.sample").read_text().splitlines()
    for group, options in opts.list_opts():
        name = "DEFAULT" if group is None else getattr(group, "name", group)
        assert f"[{name}]" in committed, "run make genconfig"
        for opt in options:
            assert any(line.startswith(f"#{opt.dest} =") for line in committed), (
                f"[{name}] {opt.dest} is missing from the committed sample: run make genconfig"
            )


def test_committed_policy_sample_lists_every_rule():
    committed = (ETC / "policy.yaml.sample").read_text().splitlines()
    for rule in policies.list_rules():
        assert any(line.startswith(f'#"{rule.name}": ') for line in committed), (
            f"{rule.name} is missing from the committed sample: run make genpolicy"
        )
