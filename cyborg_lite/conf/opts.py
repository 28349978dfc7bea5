"""Option listing for oslo-config-generator (entry point ``oslo.config.opts``)."""

from __future__ import annotations

from collections.abc import Sequence

from oslo_config import cfg

from cyborg_lite.conf import agent, aio, api, conductor, database, default, simulated


def list_opts() -> list[tuple[str | cfg.OptGroup | None, Sequence[cfg.Opt]]]:
    """Every cyborg-lite option, by group, for the sample config file."""
    return [
        (None, default.OPTS),
        (api.GROUP, api.OPTS),
        (database.GROUP, database.OPTS),
        (agent.GROUP, agent.OPTS),
        # [DEFAULT] transport_url and [oslo_messaging_*] are listed by oslo.messaging's own
        # namespace in the generator config.
        (conductor.GROUP, conductor.OPTS),
        (aio.GROUP, aio.OPTS),
        (simulated.GROUP, simulated.OPTS),
    ]


def set_defaults(conf: cfg.ConfigOpts) -> None:
    """Hook for oslo-config-generator's ``oslo.config.opts.defaults``: nothing to override."""
