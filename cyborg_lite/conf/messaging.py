"""oslo.messaging's own [DEFAULT] transport options, registered early so the all-in-one
default (``transport_url = fake://``) can be given to them.

oslo.messaging registers these options itself when a transport is built; registering equal
copies first is harmless (oslo.config accepts an equal option twice) and lets ``--help``,
config files and ``set_default`` see them before any transport exists.
"""

from __future__ import annotations

import importlib

from oslo_config import cfg

# oslo.messaging's in-process transport: the all-in-one runs API, conductor and agents in one
# process, so it needs no broker. Production sets rabbit://user:pass@host:5672/vhost.
DEFAULT_TRANSPORT_URL = "fake://"
# Topics of one deployment live in this exchange; two deployments on one broker use distinct
# exchanges or virtual hosts.
DEFAULT_EXCHANGE = "cyborg-lite"
# Notifications go out on the same transport with oslo.messaging's v2 message format.
DEFAULT_NOTIFICATION_DRIVER = ["messagingv2"]
# (module, option list = group name) that oslo.messaging registers on cfg.CONF only.
_GLOBAL_ONLY = (
    ("oslo_messaging._metrics.client", "oslo_messaging_metrics"),
    ("oslo_messaging._tracing.client", "oslo_messaging_tracing"),
)


def _messaging_opts() -> dict[str | None, list[cfg.Opt]]:
    # Imported here: oslo_messaging.opts pulls in every driver's options, which only the
    # processes that build a configuration need.
    from oslo_messaging import opts

    found: dict[str | None, list[cfg.Opt]] = {
        group: list(group_opts) for group, group_opts in opts.list_opts()
    }
    # oslo.messaging reads [oslo_messaging_metrics] and [oslo_messaging_tracing] on every RPC
    # send but registers them on the global cfg.CONF only (and lists them nowhere); a private
    # ConfigOpts needs them too. Releases without one of them simply skip it.
    for module, attr in _GLOBAL_ONLY:
        try:
            found[attr] = list(getattr(importlib.import_module(module), attr))
        except (ImportError, AttributeError):
            continue
    return found


def register(conf: cfg.ConfigOpts) -> None:
    """Register the transport and notification options with cyborg-lite's defaults."""
    opts = _messaging_opts()
    conf.register_opts(opts[None])
    conf.register_opts(opts["oslo_messaging_notifications"], group="oslo_messaging_notifications")
    for _module, group in _GLOBAL_ONLY:
        if group in opts:
            conf.register_opts(opts[group], group=group)
    conf.set_default("transport_url", DEFAULT_TRANSPORT_URL)
    conf.set_default("control_exchange", DEFAULT_EXCHANGE)
    conf.set_default("driver", DEFAULT_NOTIFICATION_DRIVER, group="oslo_messaging_notifications")
