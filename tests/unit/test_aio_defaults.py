"""The all-in-one's demonstration defaults: set as defaults, so a config file still wins."""

from __future__ import annotations

from cyborg_lite import conf as cl_conf
from cyborg_lite.cmd import aio
from cyborg_lite.conf import usage as usage_conf


def test_the_all_in_one_shows_busy_idle_and_allocated_idle_devices_by_default():
    conf = cl_conf.make_conf([], default_config_files=[])
    assert conf.simulated.usage == []  # the service's own default: every model idle
    aio.apply_demo_defaults(conf)
    assert conf.simulated.usage == ["nvidia-h100:85", "amd-mi300x:0"]
    assert usage_conf.of(conf).allocated_idle_after == 300


def test_a_config_file_wins_over_the_demo_defaults(tmp_path):
    path = tmp_path / "aio.conf"
    path.write_text("[simulated]\nusage = nvidia-h100:10\n[usage]\nallocated_idle_after = 60\n")
    conf = cl_conf.make_conf(["--config-file", str(path)], default_config_files=[])
    aio.apply_demo_defaults(conf)
    assert conf.simulated.usage == ["nvidia-h100:10"]
    assert usage_conf.of(conf).allocated_idle_after == 60


def test_each_simulated_hosts_own_configuration_has_them_too():
    # Each simulated host's agent gets a ConfigOpts of its own, built again from the arguments.
    conf = cl_conf.make_conf([], default_config_files=[])
    host_conf = aio.AllInOne(conf, [])._agent_conf("sim-host-01")
    assert host_conf.simulated.usage == ["nvidia-h100:85", "amd-mi300x:0"]
    assert host_conf.host == "sim-host-01"
