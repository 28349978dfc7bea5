"""Configuration: each option group has its own module; ``make_conf`` builds a fresh ConfigOpts.

Every entry point builds its own ``cfg.ConfigOpts`` with ``make_conf`` and hands it down; tests
build a fresh one per test. Nothing reads a global configuration object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from oslo_config import cfg
from oslo_log import log as logging
from oslo_policy import opts as policy_opts

from cyborg_lite import __version__
from cyborg_lite.conf import (
    agent,
    agent_api,
    aio,
    api,
    conductor,
    database,
    default,
    drivers,
    firmware,
    lending,
    messaging,
    nova,
    placement,
    simulated,
    usage,
)

# Modules that register an option group. Later issues append theirs here.
_REGISTRARS: list[Callable[[cfg.ConfigOpts], None]] = [
    default.register,
    api.register,
    database.register,
    agent.register,
    agent_api.register,
    drivers.register,
    messaging.register,
    conductor.register,
    aio.register,
    simulated.register,
    firmware.register,
    placement.register,
    nova.register,
    usage.register,
    lending.register,
]


def register_all(conf: cfg.ConfigOpts) -> None:
    """Register every cyborg-lite option group, oslo.log's and oslo.policy's on ``conf``."""
    for register in _REGISTRARS:
        register(conf)
    logging.register_options(conf)
    # Secure RBAC as Cyborg intends it: new defaults enforced (oslo.policy 6 always checks
    # scope_types, so a system-scoped token is refused on project-scoped rules).
    policy_opts.set_defaults(conf, enforce_new_defaults=True)


def make_conf(
    argv: Sequence[str] | None = None,
    *,
    default_config_files: Sequence[str] | None = None,
    extra_cli_opts: Sequence[cfg.Opt] = (),
) -> cfg.ConfigOpts:
    """Build and parse a new ConfigOpts; ``--config-file`` and ``--config-dir`` work as usual.

    ``default_config_files`` defaults to oslo.config's search (``/etc/cyborg-lite/...``); pass
    an empty list to read no file at all (tests do).
    """
    conf = cfg.ConfigOpts()
    register_all(conf)
    if extra_cli_opts:
        conf.register_cli_opts(list(extra_cli_opts))
    conf(
        list(argv or []),
        project="cyborg-lite",
        version=__version__,
        default_config_files=list(default_config_files)
        if default_config_files is not None
        else None,
    )
    return conf
