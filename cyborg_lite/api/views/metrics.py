"""How ``/metrics`` looks: the Prometheus text exposition of the counts SQL gives at scrape
time.

Firmware jobs are kept as history, so the counts of their final states only grow: rates of
success and failure come out of ``rate()`` over them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

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


# Per-device usage gauges (issue 16): (name, help, the row's column, divisor). Named as DCGM
# exporter's counterparts translate (README, "Accelerator usage").
DEVICE_GAUGES: tuple[tuple[str, str, str, int], ...] = (
    (
        "cyborg_lite_device_utilization_ratio",
        "Device utilization over the last report interval, 0-1 (DCGM_FI_DEV_GPU_UTIL / 100).",
        "utilization_percent",
        100,
    ),
    (
        "cyborg_lite_device_memory_used_bytes",
        "Device memory in use, bytes (DCGM_FI_DEV_FB_USED is MiB).",
        "memory_used_bytes",
        1,
    ),
    (
        "cyborg_lite_device_power_watts",
        "Device power draw, watts (DCGM_FI_DEV_POWER_USAGE).",
        "power_watts",
        1,
    ),
    (
        "cyborg_lite_device_temperature_celsius",
        "Device temperature, degrees Celsius (DCGM_FI_DEV_GPU_TEMP).",
        "temperature_celsius",
        1,
    ),
)
IDLE_GAUGE = "cyborg_lite_device_idle_seconds"
DEVICE_LABELS = ("device_uuid", "hostname", "vendor", "model")


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def render_usage(
    rows: list[Any],
    idle_by_model: list[tuple[str, int]],
    allocated_idle: list[tuple[str, str, int]],
    now: dt.datetime,
    busy_after: dt.datetime,
) -> str:
    """The usage gauges: one sample per device per figure it has (a figure its source cannot
    give has no sample), its idle seconds (0 while busy, none while unknown), and the idle and
    allocated-but-idle counts by model (and project)."""
    labels = [
        ",".join(f'{k}="{_label(str(v))}"' for k, v in zip(DEVICE_LABELS, r[:4], strict=True))
        for r in rows
    ]
    lines: list[str] = []
    for name, help_text, column, divisor in DEVICE_GAUGES:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        for r, pairs in zip(rows, labels, strict=True):
            value = getattr(r, column)
            if value is not None:
                lines.append(
                    f"{name}{{{pairs}}} {_number(value / divisor if divisor != 1 else value)}"
                )
    lines += [
        f"# HELP {IDLE_GAUGE} Seconds since the device went idle; 0 while busy, no sample "
        "while unknown.",
        f"# TYPE {IDLE_GAUGE} gauge",
    ]
    for r, pairs in zip(rows, labels, strict=True):
        if r.idle_since is not None:
            seconds = max(0.0, (now - r.idle_since).total_seconds())
            lines.append(f"{IDLE_GAUGE}{{{pairs}}} {_number(seconds)}")
        elif r.last_busy is not None and r.last_busy >= busy_after:
            lines.append(f"{IDLE_GAUGE}{{{pairs}}} 0")
    lines += [
        "# HELP cyborg_lite_devices_idle Idle devices by model.",
        "# TYPE cyborg_lite_devices_idle gauge",
    ]
    lines += [
        f'cyborg_lite_devices_idle{{model="{_label(m)}"}} {n}' for m, n in sorted(idle_by_model)
    ]
    lines += [
        "# HELP cyborg_lite_devices_allocated_idle Devices bound to an ARQ and idle for more "
        "than [usage] allocated_idle_after, by model and project.",
        "# TYPE cyborg_lite_devices_allocated_idle gauge",
    ]
    lines += [
        f'cyborg_lite_devices_allocated_idle{{model="{_label(m)}",project_id="{_label(p)}"}} {n}'
        for m, p, n in sorted(allocated_idle)
    ]
    return "\n".join(lines) + "\n"


LENT_COUNTER = "cyborg_lite_lent_device_seconds_total"


def render_lending(lent: list[Any]) -> str:
    """The lending counter: device-seconds lent per owner and borrower project, ever
    (``db.loans_metrics.lent_seconds``; an open loan counts until the scrape)."""
    lines = [
        f"# HELP {LENT_COUNTER} Device-seconds lent by an owner project to a borrower project.",
        f"# TYPE {LENT_COUNTER} counter",
    ]
    lines += [
        f'{LENT_COUNTER}{{owner_project_id="{_label(o)}",borrower_project_id="{_label(b)}"}} '
        f"{_number(float(n))}"
        for o, b, n in lent
    ]
    return "\n".join(lines) + "\n"
