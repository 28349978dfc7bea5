"""Options of the [placement] group: how the conductor (and the API, for device enable and
disable) reach Placement, and how the provider tree is kept in line."""

from __future__ import annotations

from oslo_config import cfg

from cyborg_lite.conf import ksa

GROUP = cfg.OptGroup(
    "placement",
    title="Placement options",
    help="Where Placement is. Reporting to Placement is on once auth_type is set: with "
    "Keystone, e.g. auth_type = password plus auth_url, username, password, project_name, "
    "user_domain_name and project_domain_name; without Keystone (Placement's noauth2), "
    "auth_type = admin_token, endpoint = http://placement.example.org:8778, token = admin.",
)

SERVICE_TYPE = "placement"

OPTS = [
    cfg.BoolOpt(
        "create_compute_providers",
        default=False,
        help="Create a host's compute-node resource provider (named by [DEFAULT] host, with "
        "the COMPUTE_ACCELERATORS trait) when Placement has none. Leave it off where Nova "
        "manages the host: Nova creates that provider, and cyborg-lite waits for it, logging "
        "and retrying each sync. Turn it on only where no Nova compute service runs.",
    ),
    cfg.FloatOpt(
        "sync_interval",
        default=300.0,
        min=1.0,
        help="Seconds between two full syncs of every host's providers with SQL, which "
        "repair drift (a provider deleted or changed behind cyborg-lite's back, a report "
        "whose sync failed, a removed provider that allocations still held). Unchanged "
        "providers cost one listing per host. Example: 600.",
    ),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [placement] options, keystoneauth1's included, on ``conf``."""
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title, help=GROUP.help))
    conf.register_opts(OPTS, group=GROUP.name)
    ksa.register(conf, GROUP.name, SERVICE_TYPE)


def list_opts() -> list[cfg.Opt]:
    """Every [placement] option for the sample file."""
    return [*OPTS, *ksa.list_opts(SERVICE_TYPE)]
