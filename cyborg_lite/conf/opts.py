"""Option listing for oslo-config-generator (entry point ``oslo.config.opts``)."""

from __future__ import annotations

from collections.abc import Sequence

from oslo_config import cfg

from cyborg_lite.conf import agent, api, database, default, firmware


def list_opts() -> list[tuple[str | cfg.OptGroup | None, Sequence[cfg.Opt]]]:
    """Every cyborg-lite option, by group, for the sample config file."""
    return [
        (None, default.OPTS),
        (api.GROUP, api.OPTS),
        (database.GROUP, database.OPTS),
        (agent.GROUP, agent.OPTS),
        (firmware.GROUP, firmware.OPTS),
    ]


def set_defaults(conf: cfg.ConfigOpts) -> None:
    """Hook for oslo-config-generator's ``oslo.config.opts.defaults``: nothing to override."""
