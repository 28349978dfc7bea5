"""keystoneauth1 options (auth plugin, session, adapter) for a group that names a service.

Used by ``[placement]`` and ``[nova]``: each registers the usual ``auth_type``/``auth_url``/...,
``timeout``/``cafile``/... and ``service_type``/``endpoint_override``/``valid_interfaces``
options, as Nova and Cyborg do, with its own default service type.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

# Interfaces tried in order when none is configured: internal first, as services talk.
DEFAULT_INTERFACES = ["internal", "public"]


def register(conf: cfg.ConfigOpts, group: str, service_type: str) -> None:
    """Register keystoneauth1's auth, session and adapter options on ``group``."""
    ks_loading.register_auth_conf_options(conf, group)
    ks_loading.register_session_conf_options(conf, group)
    ks_loading.register_adapter_conf_options(conf, group, include_deprecated=False)
    conf.set_default("service_type", service_type, group=group)
    conf.set_default("valid_interfaces", DEFAULT_INTERFACES, group=group)


def list_opts(service_type: str) -> Sequence[cfg.Opt]:
    """The options ``register`` adds, for the sample file (defaults as registered), plus the
    options of the two plugins the README shows (``password`` and ``admin_token``)."""
    opts = copy.deepcopy(
        ks_loading.get_auth_common_conf_options()
        + ks_loading.get_session_conf_options()
        + ks_loading.get_adapter_conf_options(include_deprecated=False)
    )
    for opt in opts:
        if opt.dest == "service_type":
            opt.default = service_type
        elif opt.dest == "valid_interfaces":
            opt.default = DEFAULT_INTERFACES
    names = {opt.dest for opt in opts}
    for plugin in ("password", "admin_token"):
        for opt in ks_loading.get_auth_plugin_conf_options(plugin):
            if opt.dest not in names:
                names.add(opt.dest)
                opts.append(opt)
    return opts
