"""``/metrics``: Prometheus text exposition of what the service manages.

Gauges computed from SQL at scrape time, so every API worker (and every replica) answers the
same. Firmware jobs are kept as history, so the counts of their final states only grow: rates
of success and failure come out of ``rate()`` over them.
"""

from __future__ import annotations

import falcon

from cyborg_lite.api.policies import metrics as rules
from cyborg_lite.api.services import Services
from cyborg_lite.db import metrics as db_metrics
from cyborg_lite.firmware import states

# family -> (help, label names, states always listed even at zero)
FAMILIES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "rollouts": ("Firmware rollouts by state.", ("state",), states.ROLLOUT_STATES),
    "firmware_jobs": (
        "Firmware jobs (one per device and rollout, kept as history) by state.",
        ("state",),
        states.JOB_STATES,
    ),
    "hosts": ("Hosts by state.", ("state",), ("up", "down", "maintenance")),
    "devices": ("Devices by type and by the state of their host.", ("type", "host_state"), ()),
    "arqs": (
        "Accelerator requests by state.",
        ("state",),
        ("Initial", "BindStarted", "Bound", "BindFailed", "Unbound"),
    ),
}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(values: dict[str, dict[tuple[str, ...], int]]) -> str:
    """The text exposition format (version 0.0.4)."""
    lines: list[str] = []
    for family, (help_text, labels, always) in FAMILIES.items():
        name = f"cyborg_lite_{family}"
        series: dict[tuple[str, ...], int] = {(s,): 0 for s in always}
        series.update(values.get(family, {}))
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        for key in sorted(series):
            pairs = ",".join(f'{k}="{_label(v)}"' for k, v in zip(labels, key, strict=True))
            lines.append(f"{name}{{{pairs}}} {series[key]}")
    return "\n".join(lines) + "\n"


class Metrics:
    """The scrape target."""

    def __init__(self, services: Services) -> None:
        self._s = services

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Current counts; behind the admin rule unless ``[api] metrics_public``."""
        if not self._s.conf.api.metrics_public:
            self._s.enforcer.authorize(rules.GET, req.context.ctx)
        with self._s.db.transaction() as session:
            values = db_metrics.counts(session)
        resp.content_type = "text/plain; version=0.0.4; charset=utf-8"
        resp.text = render(values)
