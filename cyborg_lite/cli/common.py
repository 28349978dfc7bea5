"""What the command modules share: the client lookup, how values are shown, and declarative
base classes for list, show and delete commands (a resource module then mostly states its
path, its key and its columns).

Columns are the API's own field names (``uuid``, ``hostname``...), as OSC's in-tree
accelerator commands do, so ``-c hostname``, ``--sort-column state`` and ``-f json`` keys match
the REST API one to one.
"""

from __future__ import annotations

import argparse
import json
import logging
import uuid as uuid_mod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from cliff import columns
from osc_lib import exceptions
from osc_lib.command import command

from cyborg_lite.cli import client

API_NAME = "cyborg_lite"  # the plugin's name: its client is this attribute of the manager
EPILOG = "This command is provided by the cyborg-lite plugin."
HIDDEN = frozenset({"links"})  # on every object, never informative in a terminal
V24 = (2, 4)


class _Epilog:
    """Names this plugin in ``--help`` without cliff's scan of every installed distribution
    (``packages_distributions()``), which costs a third of a second on each invocation."""

    def get_epilog(self) -> str:
        """The command's epilog and where it comes from."""
        return "\n\n".join(filter(None, [getattr(self, "_epilog", None), EPILOG]))


class Command(_Epilog, command.Command):
    """Base of the plugin's commands that print nothing."""


class Lister(_Epilog, command.Lister):
    """Base of the plugin's list commands."""


class ShowOne(_Epilog, command.ShowOne):
    """Base of the plugin's show commands."""


def api(cmd: command.Command) -> client.Client:
    """The plugin's client (built once per invocation by ``plugin.make_client``)."""
    found: client.Client = getattr(cmd.app.client_manager, API_NAME)
    return found


def is_uuid(value: str) -> bool:
    """True when ``value`` parses as a UUID."""
    try:
        uuid_mod.UUID(value)
    except ValueError:
        return False
    return True


class Struct(columns.FormattableColumn[Any]):
    """A dict or list value: ``k=v, k=v`` or one item per line in a table, raw in JSON/YAML."""

    def human_readable(self) -> str:
        """Flat dicts as ``k=v`` pairs, lists one item per line, anything deeper as JSON."""
        value = self._value
        if isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values()):
            return ", ".join(f"{k}={v}" for k, v in value.items())
        if isinstance(value, list):
            return "\n".join(
                Struct(v).human_readable() if isinstance(v, dict | list) else str(v) for v in value
            )
        return json.dumps(value, sort_keys=True)


def cell(value: Any) -> Any:
    """A value ready for a cliff formatter."""
    return Struct(value) if isinstance(value, dict | list) else value


def row(item: Mapping[str, Any], names: Sequence[str]) -> tuple[Any, ...]:
    """The values of ``names`` in ``item`` (absent ones as None: older microversions)."""
    return tuple(cell(item.get(name)) for name in names)


def show(item: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """Every field of one object but its links, in the API's order."""
    names = tuple(k for k in item if k not in HIDDEN)
    return names, row(item, names)


def add_filters(parser: argparse.ArgumentParser, filters: Sequence[tuple[str, str, str]]) -> None:
    """Add ``--option`` filters, each ``(option, API parameter, help)``."""
    for option, param, text in filters:
        parser.add_argument(option, dest=f"filter_{param}", metavar=f"<{param}>", help=text)


def filter_values(
    parsed_args: argparse.Namespace, filters: Sequence[tuple[str, str, str]]
) -> dict[str, Any]:
    """The API query from the given filter options."""
    values = {param: getattr(parsed_args, f"filter_{param}") for _, param, _ in filters}
    return {k: v for k, v in values.items() if v is not None}


class ResourceList(Lister):
    """``... list``: page through a collection; ``--long`` adds columns."""

    path: ClassVar[str]
    key: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]
    long_columns: ClassVar[tuple[str, ...]] = ()
    filters: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    minimum: ClassVar[tuple[int, int]] = (2, 0)
    marker_help = "Start after this item (its uuid)"

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """Filters, ``--long`` and paging options."""
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        add_filters(parser, self.filters)
        if self.long_columns:
            parser.add_argument("--long", action="store_true", help="List more columns")
        parser.add_argument("--limit", type=int, metavar="<n>", help="Show at most this many items")
        parser.add_argument("--marker", metavar="<marker>", help=self.marker_help)
        parser.add_argument(
            "--page-size",
            type=int,
            metavar="<n>",
            help=f"Items asked per request while paging (default {client.PAGE_SIZE})",
        )
        return parser

    def query(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        """The API query parameters (filters and marker)."""
        params = filter_values(parsed_args, self.filters)
        if parsed_args.marker:
            params["marker"] = parsed_args.marker
        return params

    def list_path(self, parsed_args: argparse.Namespace) -> str:
        """The collection's path (a subclass may build it from arguments)."""
        return self.path

    def shape(self, item: dict[str, Any]) -> dict[str, Any]:
        """An item as listed (a subclass may add computed fields)."""
        return item

    def needs(self, parsed_args: argparse.Namespace) -> tuple[int, int]:
        """The microversion the list needs (a subclass may raise it for an option)."""
        return self.minimum

    def column_names(self, parsed_args: argparse.Namespace) -> tuple[str, ...]:
        """The columns shown: ``columns``, and ``long_columns`` with ``--long``."""
        if self.long_columns and parsed_args.long:
            return self.columns + self.long_columns
        return self.columns

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        """Fetch every page and lay the rows out."""
        for name in ("limit", "page_size"):
            value = getattr(parsed_args, name)
            if value is not None and value < 1:
                raise exceptions.CommandError(f"--{name.replace('_', '-')} must be at least 1.")
        items = api(self).list_all(
            self.list_path(parsed_args),
            self.key,
            self.query(parsed_args),
            minimum=self.needs(parsed_args),
            limit=parsed_args.limit,
            page_size=parsed_args.page_size,
        )
        names = self.column_names(parsed_args)
        return names, [row(self.shape(item), names) for item in items]


class ResourceShow(ShowOne):
    """``... show``: one object by its identifier."""

    path: ClassVar[str]  # with one ``{}`` for the identifier
    argument: ClassVar[str]
    argument_help: ClassVar[str]
    minimum: ClassVar[tuple[int, int]] = (2, 0)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """The identifier argument."""
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument(self.argument, metavar=f"<{self.argument}>", help=self.argument_help)
        return parser

    def fetch(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        """The object as the API shows it."""
        ident = getattr(parsed_args, self.argument)
        found: dict[str, Any] = api(self).get(self.path.format(ident), minimum=self.minimum)
        return found

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Sequence[str], Any]:
        """Show every field."""
        return show(self.fetch(parsed_args))


class ResourceDelete(Command):
    """``... delete``: one or more objects; every failure is reported, then exit 1."""

    path: ClassVar[str]
    noun: ClassVar[str]
    argument: ClassVar[str]
    minimum: ClassVar[tuple[int, int]] = (2, 0)
    log = logging.getLogger(__name__)

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        """One or more identifiers."""
        parser: argparse.ArgumentParser = super().get_parser(prog_name)
        parser.add_argument(
            self.argument, metavar=f"<{self.argument}>", nargs="+", help=f"{self.noun}(s) to delete"
        )
        return parser

    def resolve(self, ident: str) -> str:
        """The path segment for ``ident`` (a subclass may look a name up)."""
        return ident

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        """Delete each; go on past failures so one bad name does not stop the rest."""
        idents = getattr(parsed_args, self.argument)
        failed = 0
        for ident in idents:
            try:
                api(self).delete(self.path.format(self.resolve(ident)), minimum=self.minimum)
            except exceptions.CommandError as err:
                failed += 1
                self.log.error("Failed to delete %s %s: %s", self.noun, ident, err)
        if failed:
            raise exceptions.CommandError(
                f"{failed} of {len(idents)} {self.noun}s failed to delete."
            )
