"""Options of the [agent_api] group: how agents authenticate to the API to download images.

These are keystoneauth1's own session and auth options (``auth_type``, ``auth_url``,
``username``, ``cafile``, ``timeout``...), registered under this group so that an agent can use
a service user. With no ``auth_type``, agents call the API without a token, as a noauth API
expects.
"""

from __future__ import annotations

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = cfg.OptGroup(
    "agent_api",
    title="Agent credentials for the API",
    help="How agents authenticate to the cyborg-lite API to download firmware images (the "
    "download policy allows the service role). Example for a service user: auth_type = "
    "password, auth_url = https://keystone.example.com/v3, username = cyborg-agent, "
    "password = ..., project_name = service, user_domain_name = Default, "
    "project_domain_name = Default. Leave auth_type unset against a noauth API. "
    "timeout bounds each connect and read of a download (300 seconds when unset).",
)


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [agent_api] session and auth options on ``conf`` (the auth plugin's own
    options are registered when the plugin is loaded, as keystoneauth1 does)."""
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title, help=GROUP.help))
    ks_loading.register_session_conf_options(conf, GROUP.name)
    ks_loading.register_auth_conf_options(conf, GROUP.name)


def list_opts() -> list[cfg.Opt]:
    """The options the sample config shows: session, auth type, and the password plugin's
    (the usual choice for a service user)."""
    opts: list[cfg.Opt] = []
    for opt in [
        *ks_loading.get_session_conf_options(),
        *ks_loading.get_auth_common_conf_options(),
        *ks_loading.get_auth_plugin_conf_options("password"),
    ]:
        if all(o.dest != opt.dest for o in opts):
            opts.append(opt)
    return opts
