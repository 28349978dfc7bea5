"""``openstack accelerator pool ...`` and ``openstack accelerator loan ...``: lending pools, their
windows, reclaim, loans and the account (microversion 2.7). A pool is named by uuid or name."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from osc_lib import exceptions

from cyborg_lite.cli import client, common

V27 = (2, 7)
POOL_COLUMNS = ("uuid", "name", "owner_project_id", "device_count", "open_now", "on_reclaim")
LOAN_COLUMNS = (
    "uuid",
    "pool_uuid",
    "device_uuid",
    "borrower_project_id",
    "state",
    "started_at",
    "duration_seconds",
)
GROUP_COLUMNS = ("key", "loans", "device_seconds", "energy_kwh")


def pool_uuid(api: client.Client, ident: str) -> str:
    """The uuid of the pool ``ident`` (a uuid, or a name looked up)."""
    if common.is_uuid(ident):
        return ident
    found = api.get("/accelerator_pools", minimum=V27, name=ident)["accelerator_pools"]
    if not found:
        raise exceptions.CommandError(f"No accelerator pool named {ident!r}.")
    return str(found[0]["uuid"])


def _fields(parser: argparse.ArgumentParser, create: bool) -> None:
    parser.add_argument("--owner-project", metavar="<project>", help="Owner (admins only)")
    for flag, what in (("--host", "hosts"), ("--model", "models"), ("--device", "device_uuids")):
        parser.add_argument(
            flag, dest=what, action="append", metavar="<value>", help=f"Select by {what}"
        )
    parser.add_argument(
        "--borrower-project",
        dest="borrowers",
        action="append",
        metavar="<project>",
        help="A project that may borrow (repeat; default any project)",
    )
    parser.add_argument("--reserve-count", type=int, metavar="<n>", help="Devices never lent")
    parser.add_argument("--reserve-share", type=float, metavar="<s>", help="Share never lent")
    parser.add_argument("--min-idle-seconds", type=int, metavar="<s>")
    parser.add_argument("--notice-seconds", type=int, metavar="<s>")
    parser.add_argument("--on-reclaim", choices=("notify", "stop", "shelve", "delete"))
    parser.add_argument("--timezone", metavar="<zone>", help="IANA time zone, e.g. Europe/Berlin")
    if not create:
        parser.add_argument("--name", metavar="<name>", help="A new name")


def _body(a: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    selector = {k: getattr(a, k) for k in ("hosts", "models", "device_uuids") if getattr(a, k)}
    if selector:
        body["selector"] = selector
    simple = (
        ("owner_project_id", a.owner_project),
        ("borrower_project_ids", a.borrowers),
        ("min_idle_seconds", a.min_idle_seconds),
        ("notice_seconds", a.notice_seconds),
        ("on_reclaim", a.on_reclaim),
        ("timezone", a.timezone),
    )
    body.update({k: v for k, v in simple if v is not None})
    if a.reserve_count is not None:
        body["reserve"] = {"count": a.reserve_count}
    if a.reserve_share is not None:
        body["reserve"] = {"share": a.reserve_share}
    return body


class CreatePool(common.ShowOne):
    """Create a lending pool of devices."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("name", metavar="<name>", help="The pool's name")
        _fields(parser, create=True)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        body = {"name": parsed_args.name, **_body(parsed_args)}
        return common.show(common.api(self).post("/accelerator_pools", body, minimum=V27))


class ListPool(common.ResourceList):
    """List lending pools."""

    path = "/accelerator_pools"
    key = "accelerator_pools"
    columns = POOL_COLUMNS
    long_columns = ("trait", "borrower_project_ids", "reserve", "notice_seconds", "timezone")
    filters = (
        ("--owner-project", "owner_project_id", "Only this project's pools"),
        ("--name", "name", "Only the pool of this name"),
    )
    minimum = V27


class ShowPool(common.ShowOne):
    """Show a lending pool: its fields, devices, windows and whether one is open now."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("pool", metavar="<pool>", help="Pool (uuid or name)")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        api = common.api(self)
        uuid = pool_uuid(api, parsed_args.pool)
        return common.show(api.get(f"/accelerator_pools/{uuid}", minimum=V27))


class SetPool(common.ShowOne):
    """Change a lending pool's fields (a selector option re-resolves its devices)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("pool", metavar="<pool>", help="Pool (uuid or name)")
        _fields(parser, create=False)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        api = common.api(self)
        uuid = pool_uuid(api, parsed_args.pool)
        body = _body(parsed_args)
        if parsed_args.name:
            body["name"] = parsed_args.name
        if not body:
            raise exceptions.CommandError("Nothing to change: give at least one option.")
        resp = api.request("PATCH", f"/accelerator_pools/{uuid}", minimum=V27, body=body)
        return common.show(resp.json())


class DeletePool(common.ResourceDelete):
    """Delete lending pools (refused while a pool has open loans)."""

    path = "/accelerator_pools/{}"
    noun = "accelerator pool"
    argument = "pool"
    minimum = V27

    def resolve(self, ident: str) -> str:
        return pool_uuid(common.api(self), ident)


class AddWindow(common.ShowOne):
    """Add a lending window: weekly (--days --start --end) or one-off (--starts-at --ends-at)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("pool", metavar="<pool>", help="Pool (uuid or name)")
        parser.add_argument("--days", metavar="<mon,tue,...>", help="Weekdays, comma-separated")
        parser.add_argument("--start", metavar="<HH:MM>", help="Opens (pool's time zone)")
        parser.add_argument("--end", metavar="<HH:MM>", help="Closes; before start: next day")
        parser.add_argument("--starts-at", metavar="<ISO 8601>", help="One-off: opens")
        parser.add_argument("--ends-at", metavar="<ISO 8601>", help="One-off: closes")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        a = parsed_args
        if a.starts_at or a.ends_at:
            body: dict[str, Any] = {"starts_at": a.starts_at, "ends_at": a.ends_at}
        else:
            days = [d.strip() for d in (a.days or "").split(",") if d.strip()]
            body = {"days": days, "start": a.start, "end": a.end}
        api = common.api(self)
        uuid = pool_uuid(api, a.pool)
        return common.show(api.post(f"/accelerator_pools/{uuid}/windows", body, minimum=V27))


class RemoveWindow(common.Command):
    """Remove a lending window of a pool."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("pool", metavar="<pool>", help="Pool (uuid or name)")
        parser.add_argument("window", metavar="<window>", help="The window's uuid")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        api = common.api(self)
        uuid = pool_uuid(api, parsed_args.pool)
        api.delete(f"/accelerator_pools/{uuid}/windows/{parsed_args.window}", minimum=V27)


class ReclaimPool(common.Lister):
    """Reclaim lent devices of a pool now (all, or --device): the loans now reclaiming."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("pool", metavar="<pool>", help="Pool (uuid or name)")
        parser.add_argument(
            "--device", dest="devices", action="append", metavar="<uuid>", help="Only this device"
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        api = common.api(self)
        uuid = pool_uuid(api, parsed_args.pool)
        body: dict[str, Any] = {"action": "reclaim"}
        if parsed_args.devices:
            body["device_uuids"] = parsed_args.devices
        done = api.post(f"/accelerator_pools/{uuid}/action", body, minimum=V27)
        names = (*LOAN_COLUMNS, "reclaim_deadline")
        return names, [common.row(loan, names) for loan in done["loans"]]


class ListLoan(common.ResourceList):
    """List loans (admins: all; a project: those it owns or borrows)."""

    path = "/loans"
    key = "loans"
    columns = LOAN_COLUMNS
    long_columns = ("owner_project_id", "arq_uuid", "instance_uuid", "ended_at", "energy_kwh")
    filters = (
        ("--pool", "pool_uuid", "Only this pool's loans (uuid)"),
        ("--borrower-project", "borrower_project_id", "Only this borrower's loans"),
        ("--owner-project", "owner_project_id", "Only this owner's loans"),
        ("--state", "state", "active, reclaiming or closed"),
        ("--since", "since", "Loans not ended by this time (ISO 8601)"),
        ("--until", "until", "Loans started before this time (ISO 8601)"),
    )
    minimum = V27


class SummaryLoan(common.Lister):
    """The account of loans over a period (default the last 30 days, by borrower)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument("--since", metavar="<ISO 8601>")
        parser.add_argument("--until", metavar="<ISO 8601>")
        parser.add_argument("--group-by", choices=("borrower", "owner", "model", "pool"))
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        a = parsed_args
        found = common.api(self).get(
            "/loans/summary", minimum=V27, since=a.since, until=a.until, group_by=a.group_by
        )
        return GROUP_COLUMNS, [common.row(g, GROUP_COLUMNS) for g in found["groups"]]
