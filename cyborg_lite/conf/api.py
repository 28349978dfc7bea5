"""Options of the [api] group: how the REST API listens, authenticates and pages."""

from __future__ import annotations

from oslo_config import cfg

GROUP = cfg.OptGroup("api", title="REST API options")

OPTS = [
    cfg.HostAddressOpt(
        "host", default="127.0.0.1", help="Address the API listens on. Example: 0.0.0.0."
    ),
    cfg.PortOpt("port", default=6666, help="TCP port the API listens on (Cyborg's is 6666)."),
    cfg.IntOpt(
        "workers",
        default=2,
        min=1,
        help="Number of gunicorn worker processes serving the API. The all-in-one service "
        "always runs one, since its conductor shares the worker's process.",
    ),
    cfg.IntOpt(
        "threads",
        default=4,
        min=1,
        help="Threads per gunicorn worker (the gthread worker class).",
    ),
    cfg.StrOpt(
        "auth_strategy",
        default="noauth",
        choices=[
            (
                "noauth",
                "No token is checked. Identity comes from the X-Roles, X-Project-Id, "
                "X-User-Id and X-Service-Roles headers when present, else the caller is an admin "
                "of the default project with the service role.",
            ),
            (
                "keystone",
                "keystonemiddleware auth_token validates X-Auth-Token (and "
                "X-Service-Token) against Keystone; see [keystone_authtoken].",
            ),
        ],
        help="How API callers are authenticated.",
    ),
    cfg.StrOpt(
        "noauth_project_id",
        default="00000000000000000000000000000000",
        help="Project of the default identity with auth_strategy = noauth when a request "
        "names no project.",
    ),
    cfg.URIOpt(
        "public_endpoint",
        help="Base URL written into `links` and version documents, for a service behind a "
        "proxy or path prefix. Default: the request's own base URL. "
        "Example: https://cloud.example.org/accelerator.",
    ),
    cfg.BoolOpt(
        "metrics_public",
        default=True,
        help="Serve GET /metrics (Prometheus text: rollouts, firmware jobs, hosts, devices and "
        "ARQs by state) without a token, as scrapers expect. False puts it behind "
        "authentication and the cyborg:metrics:get rule (admin).",
    ),
    cfg.FloatOpt(
        "program_timeout",
        default=60.0,
        min=0,
        help="Seconds `PATCH /v2/deployables/{uuid}/program` waits for the agent to report "
        "the bitstream load: 200 with the deployable once loaded in time, else 202 with the "
        "firmware job to follow. Each waiting request holds one API thread.",
    ),
    cfg.IntOpt(
        "max_limit",
        default=1000,
        min=1,
        help="Largest page a list returns when a client asks with `limit`. Lists without "
        "`limit` return every match, as Cyborg does.",
    ),
    cfg.IntOpt(
        "max_request_body_bytes",
        default=1024 * 1024,
        min=1024,
        help="Largest JSON request body accepted, in bytes; larger bodies get 413. Firmware "
        "image uploads are limited by [firmware] max_image_bytes instead.",
    ),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [api] options on ``conf``."""
    # A fresh OptGroup per ConfigOpts: oslo.config copies groups shallowly, so sharing the
    # module-level one would share option overrides between configurations.
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)
