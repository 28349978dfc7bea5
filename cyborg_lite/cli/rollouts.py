"""``openstack accelerator firmware rollout ...``: plan, start, watch and steer rollouts (2.4).

``create --dry-run`` prints the plan: in a table, the devices wave by wave and then the
devices left out with the reason; as JSON or YAML, the API's plan document. ``create --wait``
and ``show --watch`` follow the rollout live (``progress.py``) and exit 1 unless it completed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from cliff.formatters import base as base_formatters
from osc_lib import exceptions

from cyborg_lite.cli import client, common, firmware_images, progress
from cyborg_lite.firmware import states

COLUMNS = ("uuid", "state", "component", "target_version", "current_wave", "wave_count", "done")
LONG = ("total", "counts", "eta_seconds", "image_uuid", "rollback_of", "created_at")
PLAN_COLUMNS = ("wave", "device", "hostname", "model", "current_version", "in_use")
EXCLUDED_COLUMNS = ("device", "hostname", "reason", "detail")
FOLLOW_HELP = "Follow the rollout's progress until it ends; exit 1 unless it completed"
# Formats that take the whole plan as one document rather than as tables.
DOCUMENT_FORMATS = frozenset({"json", "yaml", "shell"})


def listed(rollout: dict[str, Any]) -> dict[str, Any]:
    """A rollout with ``done`` (jobs finished) added, for lists."""
    return {**rollout, "done": progress.done(rollout.get("counts", {}))}


def add_wait_options(parser: argparse.ArgumentParser, flag: str, text: str) -> None:
    """``--wait``/``--watch`` and ``--interval``."""
    parser.add_argument(flag, action="store_true", help=text)
    parser.add_argument(
        "--interval",
        type=float,
        default=2.0,
        metavar="<seconds>",
        help="Seconds between progress polls (default 2)",
    )


def follow(api: client.Client, uuid: str, interval: float) -> dict[str, Any]:
    """Show live progress on stderr until the rollout ends; returns its last state."""
    if interval <= 0:
        raise exceptions.CommandError("--interval must be more than 0 seconds.")
    return progress.watch(
        lambda: api.get(f"/firmware_rollouts/{uuid}", minimum=common.V24),
        sys.stderr,
        interval=interval,
    )


def _strategy(a: argparse.Namespace) -> dict[str, Any]:
    strategy: dict[str, Any] = {}
    for name in ("canary", "max_in_flight", "max_in_flight_per_host", "bake_seconds", "in_use"):
        if getattr(a, name) is not None:
            strategy[name] = getattr(a, name)
    if a.wave:
        strategy["waves"] = [int(w) if w.isdigit() else w for w in a.wave]
    budget = {
        k: v for k, v in (("count", a.failure_count), ("rate", a.failure_rate)) if v is not None
    }
    if budget:
        strategy["failure_budget"] = budget
    if a.window:
        start, sep, end = a.window.partition("-")
        if not sep:
            raise exceptions.CommandError("--window takes START-END, e.g. 22:00-04:00.")
        strategy["window"] = {"start": start, "end": end, "timezone": a.window_timezone}
    if a.allow_reboot:
        strategy["allow_reboot"] = True
    return strategy


class CreateRollout(common.ShowOne):
    """Plan (--dry-run) or start a firmware rollout; --wait follows it to the end."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """Image, selector, strategy, and what to do after."""
        p: argparse.ArgumentParser = super().get_parser(prog_name)
        p.add_argument("--image", required=True, metavar="<image>", help="Image uuid or name")
        sel = p.add_argument_group("selector (at least one; repeat each for more values)")
        sel.add_argument("--host", action="append", metavar="<host>", help="Hosts")
        sel.add_argument("--device", action="append", metavar="<uuid>", help="Device uuids")
        sel.add_argument("--model", action="append", metavar="<model>", help="Board models")
        sel.add_argument(
            "--current-version", action="append", metavar="<v>", help="Current versions"
        )
        st = p.add_argument_group("strategy (the API's defaults where not given)")
        st.add_argument("--canary", type=int, metavar="<n>", help="Devices in the canary wave")
        st.add_argument(
            "--wave",
            action="append",
            metavar="<n|p%>",
            help="Cumulative wave target, a count or a percentage (repeat: --wave 10%% "
            "--wave 100%%)",
        )
        st.add_argument("--max-in-flight", type=int, metavar="<n>", help="Devices at once")
        st.add_argument(
            "--max-in-flight-per-host", type=int, metavar="<n>", help="Devices at once per host"
        )
        st.add_argument("--failure-count", type=int, metavar="<n>", help="Failures that halt")
        st.add_argument(
            "--failure-rate", type=float, metavar="<0..1>", help="Failure rate that halts"
        )
        st.add_argument("--bake-seconds", type=int, metavar="<s>", help="Pause between waves")
        st.add_argument("--window", metavar="<HH:MM-HH:MM>", help="Daily maintenance window")
        st.add_argument("--window-timezone", default="UTC", metavar="<tz>", help="Its time zone")
        st.add_argument(
            "--in-use", choices=("wait", "skip", "force"), help="What to do with devices in use"
        )
        st.add_argument("--allow-reboot", action="store_true", help="Allow reboot-level activation")
        p.add_argument("--dry-run", action="store_true", help="Print the plan; start nothing")
        add_wait_options(p, "--wait", FOLLOW_HELP)
        return p

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        """POST the rollout (or its dry run)."""
        api = common.api(self)
        selector = {
            key: values
            for key, values in (
                ("hosts", parsed_args.host),
                ("device_uuids", parsed_args.device),
                ("models", parsed_args.model),
                ("current_versions", parsed_args.current_version),
            )
            if values
        }
        if not selector:
            raise exceptions.CommandError(
                "Select devices with --host, --device, --model or --current-version: "
                "a rollout never targets every device by omission."
            )
        body: dict[str, Any] = {
            "image_uuid": firmware_images.find_image(api, parsed_args.image),
            "selector": selector,
            "strategy": _strategy(parsed_args),
        }
        if parsed_args.dry_run:
            body["dry_run"] = True
            self.plan = api.post("/firmware_rollouts", body, minimum=common.V24)
            return (), ()
        rollout = api.post("/firmware_rollouts", body, minimum=common.V24)
        if parsed_args.wait:
            rollout = follow(api, rollout["uuid"], parsed_args.interval)
        self.final_state = rollout["state"]
        return common.show(rollout)

    def produce_output(self, parsed_args: argparse.Namespace, names: Any, data: Any) -> int:
        """The rollout, or the plan as tables (or one document for json/yaml/shell)."""
        if not parsed_args.dry_run:
            return int(super().produce_output(parsed_args, names, data))
        plan = self.plan
        formatter = self.formatter
        if parsed_args.formatter in DOCUMENT_FORMATS or not isinstance(
            formatter, base_formatters.ListFormatter
        ):
            keys = ("image_uuid", "total", "waves", "excluded", "strategy")
            return int(super().produce_output(parsed_args, keys, common.row(plan, keys)))
        rows = [
            (w["wave"], d["uuid"], d["hostname"], d["model"], d["current_version"], d["in_use"])
            for w in plan["waves"]
            for d in w["devices"]
        ]
        left_out = [(e["uuid"], e["hostname"], e["reason"], e["detail"]) for e in plan["excluded"]]
        if parsed_args.formatter != "table":
            # value (and other list formats): the plan's rows only, for scripts.
            _emit(formatter, parsed_args, PLAN_COLUMNS, rows, self.app.stdout)
            return 0
        out = self.app.stdout
        if rows:
            out.write(f"Plan: {plan['total']} device(s) in {len(plan['waves'])} wave(s)\n")
            _emit(formatter, parsed_args, PLAN_COLUMNS, rows, out)
        else:
            out.write("Plan: no device would be flashed.\n")
        if left_out:
            out.write(f"Left out: {len(left_out)} device(s)\n")
            _emit(formatter, parsed_args, EXCLUDED_COLUMNS, left_out, out)
        return 0

    def run(self, parsed_args: argparse.Namespace) -> int:
        """Exit 1 when ``--wait`` saw the rollout end other than completed."""
        self.final_state = None
        code = int(super().run(parsed_args))
        return code or _exit_code(self.final_state if parsed_args.wait else None)


def _emit(
    formatter: base_formatters.ListFormatter,
    parsed_args: argparse.Namespace,
    names: Sequence[str],
    rows: list[Any],
    out: Any,
) -> None:
    """One table of the plan, limited to the ``-c`` columns it has (all when none given)."""
    wanted = [c.lower().strip().replace(" ", "_") for c in parsed_args.columns]
    keep = [i for i, n in enumerate(names) if not wanted or n in wanted]
    if keep:
        formatter.emit_list(
            [names[i] for i in keep], [[r[i] for i in keep] for r in rows], out, parsed_args
        )


def _exit_code(final_state: str | None) -> int:
    if final_state is None or final_state == states.COMPLETED:
        return 0
    sys.stderr.write(f"The rollout ended {final_state}, not completed.\n")
    return 1


class ListRollout(common.ResourceList):
    """List firmware rollouts."""

    path = "/firmware_rollouts"
    key = "firmware_rollouts"
    columns = COLUMNS
    long_columns = LONG
    filters = (
        ("--state", "state", "Only rollouts in this state"),
        ("--image", "image_uuid", "Only rollouts of this image (uuid)"),
    )
    minimum = common.V24

    def shape(self, item: dict[str, Any]) -> dict[str, Any]:
        """With ``done`` computed from the counts."""
        return listed(item)


class ShowRollout(common.ResourceShow):
    """Show a rollout and its progress; --watch follows it until it ends."""

    path = "/firmware_rollouts/{}"
    argument = "rollout"
    argument_help = "The rollout's uuid"
    minimum = common.V24

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """``--watch``."""
        parser = super().get_parser(prog_name)
        add_wait_options(
            parser, "--watch", "Follow the rollout until it ends; exit 1 unless completed"
        )
        return parser

    def fetch(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        """One look, or the last one of a watch."""
        if not parsed_args.watch:
            return super().fetch(parsed_args)
        rollout = follow(common.api(self), parsed_args.rollout, parsed_args.interval)
        self.final_state = rollout["state"]
        return rollout

    def run(self, parsed_args: argparse.Namespace) -> int:
        """Exit 1 when ``--watch`` saw the rollout end other than completed."""
        self.final_state = None
        code = int(super().run(parsed_args))
        return code or _exit_code(self.final_state)


class ListRolloutJobs(common.ResourceList):
    """List a rollout's jobs: one per device."""

    key = "jobs"
    columns = (
        "uuid",
        "wave",
        "device_uuid",
        "hostname",
        "state",
        "version_before",
        "version_after",
    )
    long_columns = ("attempts", "error_code", "error", "started_at", "finished_at")
    filters = (
        ("--state", "state", "Only jobs in this state"),
        ("--wave", "wave", "Only jobs of this wave"),
        ("--hostname", "hostname", "Only jobs on this host"),
        ("--device", "device_uuid", "Only the job of this device"),
    )
    minimum = common.V24

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """The rollout."""
        parser = super().get_parser(prog_name)
        parser.add_argument("rollout", metavar="<rollout>", help="The rollout's uuid")
        return parser

    def list_path(self, parsed_args: argparse.Namespace) -> str:
        """Under the rollout."""
        return f"/firmware_rollouts/{parsed_args.rollout}/jobs"


class _Action(common.ShowOne):
    action = ""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("rollout", metavar="<rollout>", help="The rollout's uuid")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        path = f"/firmware_rollouts/{parsed_args.rollout}/action"
        return common.show(common.api(self).post(path, {"action": self.action}, minimum=common.V24))


class PauseRollout(_Action):
    """Pause a rollout: no new job starts; in-flight ones finish."""

    action = "pause"


class ResumeRollout(_Action):
    """Resume a paused or halted rollout."""

    action = "resume"


class AbortRollout(_Action):
    """Abort a rollout: no new job starts, in-flight ones finish, pending ones are cancelled."""

    action = "abort"


class RollbackRollout(common.Lister):
    """Roll a rollout back: new rollouts return each device to its previous image."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """The rollout."""
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("rollout", metavar="<rollout>", help="The rollout's uuid")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        """POST the action; list the rollouts it created."""
        path = f"/firmware_rollouts/{parsed_args.rollout}/action"
        body = common.api(self).post(path, {"action": "rollback"}, minimum=common.V24)
        names = (*COLUMNS, "rollback_of")
        return names, [common.row(listed(r), names) for r in body["firmware_rollouts"]]
