"""``openstack accelerator usage show`` (the fleet summary) and ``openstack accelerator device
usage <device>`` (one device's series, with a sparkline per figure), microversion 2.6; and the
pure parts they share with ``device list --idle-for``: durations and sparklines."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from cyborg_lite.cli import common

V26 = (2, 6)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^(\d+)([smhdw]?)$")
# Eight heights; a step with no figure is a space.
BARS = "▁▂▃▄▅▆▇█"


def parse_duration(text: str) -> int:
    """``90s``, ``30m``, ``1h``, ``2d``, ``1w`` or plain seconds, as seconds; an
    ``argparse`` type, so a bad value is a usage error naming it."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: use seconds or a number with s, m, h, d or w (e.g. 1h)"
        )
    return int(match.group(1)) * _UNITS[match.group(2) or "s"]


def sparkline(values: Sequence[float | None], width: int = 60) -> str:
    """``values`` as a row of block characters scaled from their minimum to their maximum
    (all the same: the lowest bar), a gap where a value is unknown; resampled to at most
    ``width`` characters by taking each bucket's maximum."""
    if not values:
        return ""
    if len(values) > width:
        size = len(values) / width
        buckets = [values[int(i * size) : int((i + 1) * size)] for i in range(width)]
        values = [max((v for v in b if v is not None), default=None) for b in buckets]
    known = [v for v in values if v is not None]
    if not known:
        return " " * len(values)
    low, high = min(known), max(known)
    span = high - low
    top = len(BARS) - 1
    return "".join(
        " " if v is None else BARS[0 if span == 0 else round((v - low) / span * top)]
        for v in values
    )


def _range(values: Sequence[float | None], unit: str) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "no figure"
    mean = sum(known) / len(known)
    return f"min {min(known):g}{unit}, mean {mean:.1f}{unit}, max {max(known):g}{unit}"


class Figure(common.Struct):
    """A series' figure: a sparkline and its range in a table, the raw values in JSON/YAML."""

    def __init__(self, values: list[float | None], unit: str) -> None:
        super().__init__(values)
        self._unit = unit

    def human_readable(self) -> str:
        """The sparkline, then min, mean and max."""
        return f"{sparkline(self._value)}  {_range(self._value, self._unit)}"


def _group_line(key: str) -> Any:
    def line(g: dict[str, Any]) -> str:
        mean = g.get("utilization_percent_mean")
        util = "-" if mean is None else f"{mean:.1f}%"
        return (
            f"{g.get(key) or '-'}: {g['devices']} devices, {g['busy']} busy, {g['idle']} idle, "
            f"mean utilization {util}"
        )

    return line


def _idle_line(a: dict[str, Any]) -> str:
    return (
        f"{a['device_uuid']} idle since {a['idle_since']}: ARQ {a['arq_uuid']} "
        f"(instance {a.get('instance_uuid') or '-'}, project {a.get('project_id') or '-'})"
    )


class Lines(common.Struct):
    """A list shown one formatted line per item in a table, raw in JSON/YAML."""

    def __init__(self, value: list[dict[str, Any]], line: Any) -> None:
        super().__init__(value)
        self._line = line

    def human_readable(self) -> str:
        """One line per item."""
        return "\n".join(self._line(v) for v in self._value) or "-"


class ShowUsage(common.ShowOne):
    """Show the fleet's usage: devices, busy, idle and mean utilization by model, host and
    project, and the devices bound to an ARQ but idle (2.6)."""

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        """One line per group entry in a table."""
        body = common.api(self).get("/usage", minimum=V26)
        return (
            ("by_model", "by_host", "by_project", "allocated_idle"),
            (
                Lines(body["by_model"], _group_line("model")),
                Lines(body["by_host"], _group_line("hostname")),
                Lines(body["by_project"], _group_line("project_id")),
                Lines(body["allocated_idle"], _idle_line),
            ),
        )


def _since(parsed_args: argparse.Namespace, now: dt.datetime) -> str | None:
    if parsed_args.since:
        return str(parsed_args.since)
    if parsed_args.last is not None:
        return (now - dt.timedelta(seconds=parsed_args.last)).isoformat()
    return None


class ShowDeviceUsage(common.ShowOne):
    """Show a device's usage series: utilization, memory and power over time, each with a
    sparkline (2.6). Default: the last hour at the finest resolution stored."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """The device and the window."""
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("device", metavar="<device>", help="The device's uuid")
        window = parser.add_mutually_exclusive_group()
        window.add_argument(
            "--last",
            type=parse_duration,
            metavar="<duration>",
            help="The series of the last <duration> (e.g. 6h, 2d)",
        )
        window.add_argument("--since", metavar="<time>", help="Start, ISO 8601")
        parser.add_argument("--until", metavar="<time>", help="End, ISO 8601 (default now)")
        parser.add_argument(
            "--resolution",
            type=parse_duration,
            metavar="<duration>",
            help="Seconds per sample: an agent's report interval (e.g. 60s) or 1h",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        """The series' figures as sparklines, then every sample."""
        now = dt.datetime.now(dt.UTC)
        params = {
            "since": _since(parsed_args, now),
            "until": parsed_args.until,
            "resolution": parsed_args.resolution,
        }
        body = common.api(self).get(f"/devices/{parsed_args.device}/usage", minimum=V26, **params)
        samples = body["samples"]
        return (
            (
                "device_uuid",
                "resolution_seconds",
                "samples",
                "utilization_percent",
                "memory_used_bytes",
                "power_watts",
                "first",
                "last",
            ),
            (
                body["device_uuid"],
                body["resolution_seconds"],
                len(samples),
                Figure([s["utilization_percent_mean"] for s in samples], "%"),
                Figure([s["memory_used_bytes"] for s in samples], ""),
                Figure([s["power_watts"] for s in samples], " W"),
                samples[0]["start"] if samples else None,
                samples[-1]["start"] if samples else None,
            ),
        )
