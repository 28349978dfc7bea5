"""How ``/metrics`` looks: the Prometheus text exposition of the counts SQL gives at scrape
time.

Firmware jobs are kept as history, so the counts of their final states only grow: rates of
success and failure come out of ``rate()`` over them.
"""

from __future__ import annotations

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

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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
