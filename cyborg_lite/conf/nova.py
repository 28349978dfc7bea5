"""Options of the [nova] group: where to send Nova's ``accelerator-request-bound`` events."""

from __future__ import annotations

from oslo_config import cfg

from cyborg_lite.conf import ksa

GROUP = cfg.OptGroup(
    "nova",
    title="Nova options",
    help="Where Nova's compute API is, for the external events sent when a bind finishes. "
    "Events are sent once auth_type is set, e.g. auth_type = password plus auth_url, "
    "username, password, project_name, user_domain_name and project_domain_name (a user "
    "with the admin or service role: Nova's policy for os-server-external-events).",
)

SERVICE_TYPE = "compute"


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [nova] options (keystoneauth1's) on ``conf``."""
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title, help=GROUP.help))
    ksa.register(conf, GROUP.name, SERVICE_TYPE)


def list_opts() -> list[cfg.Opt]:
    """Every [nova] option for the sample file."""
    return list(ksa.list_opts(SERVICE_TYPE))
