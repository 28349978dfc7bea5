"""Option listing for oslo-config-generator (entry point ``oslo.config.opts``)."""

from __future__ import annotations

from collections.abc import Sequence

from oslo_config import cfg
from oslo_policy import opts as policy_opts

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
    nova,
    placement,
    simulated,
    usage,
)


def list_opts() -> list[tuple[str | cfg.OptGroup | None, Sequence[cfg.Opt]]]:
    """Every cyborg-lite option, by group, for the sample config file."""
    return [
        (None, default.OPTS),
        (api.GROUP, api.OPTS),
        (database.GROUP, database.OPTS),
        (agent.GROUP, agent.OPTS),
        (agent_api.GROUP, agent_api.list_opts()),
        *drivers.list_opts(),
        # [DEFAULT] transport_url and [oslo_messaging_*] are listed by oslo.messaging's own
        # namespace in the generator config.
        (conductor.GROUP, conductor.OPTS),
        (aio.GROUP, aio.OPTS),
        (simulated.GROUP, simulated.OPTS),
        (firmware.GROUP, firmware.OPTS),
        (placement.GROUP, placement.list_opts()),
        (nova.GROUP, nova.list_opts()),
        (usage.GROUP, usage.OPTS),
        (lending.GROUP, lending.OPTS),
    ]


def set_defaults() -> None:
    """Hook for oslo-config-generator's ``oslo.config.opts.defaults`` (called with no
    arguments): the library defaults cyborg-lite changes, so the sample shows them."""
    # oslo.policy keeps its option defaults on module-level Opt objects; setting them through
    # a throwaway ConfigOpts changes what the generator prints, as register_all does at run time.
    policy_opts.set_defaults(cfg.ConfigOpts(), enforce_new_defaults=True)
