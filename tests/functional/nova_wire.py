"""Nova's Cyborg client's HTTP requests as a portable record, and their replay.

``record`` turns what ``nova_driver.py`` saw on the wire into entries that name no port and no
uuid of one run: each uuid becomes a placeholder (``<rp:gpu>`` for those the test names,
``<uuid:N>`` by first appearance for the rest), the server's base URL ``<base>``, timestamps
``<time>``, the newest microversion ``<version>``, error bodies ``<error>``. ``Replay`` sends
such entries to another server (the in-process app) and matches each answer against the
recorded one: a placeholder first seen in a request gets a fresh uuid (the client invented it:
an instance, a uuid nobody has), one first seen in an answer is bound to what the server
answered there, and every later use must agree, so the same ARQ flows from create to bind to
delete in the replay as it did live.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PLACEHOLDER = re.compile(r"<(?:uuid|rp|instance):[\w-]+>")
TIME_KEYS = {"created_at", "updated_at"}
# The newest microversion grows with the API; Nova asks for none, so any "X.Y" will do.
LOOSE_VERSION_KEYS = {"max_version"}
# Headers that decide how cyborg-lite answers (identity, version, body type) and the client's
# User-Agent, kept as documentation of what sent them; transport details are dropped.
KEPT_HEADERS = {
    "accept",
    "content-type",
    "openstack-api-version",
    "user-agent",
    "x-auth-token",
    "x-project-id",
    "x-roles",
    "x-service-roles",
    "x-service-token",
    "x-user-id",
}


class Names:
    """Concrete uuid -> placeholder, with the test's own names given first."""

    def __init__(self, known: Mapping[str, str]) -> None:
        self.of = {value: f"<{name}>" for name, value in known.items()}
        self.made = 0

    def name(self, value: str) -> str:
        if value not in self.of:
            self.made += 1
            self.of[value] = f"<uuid:{self.made}>"
        return self.of[value]


def _text(value: str, base: str, names: Names) -> str:
    return UUID.sub(lambda m: names.name(m.group(0)), value.replace(base, "<base>"))


def normalize(value: Any, base: str, names: Names, key: str = "") -> Any:
    """``value`` with uuids, base URL and timestamps replaced (see the module docstring)."""
    if isinstance(value, dict):
        if "error_message" in value:
            return "<error>"
        # Keys too: a bind's body is keyed by ARQ uuid.
        return {_text(k, base, names): normalize(v, base, names, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v, base, names) for v in value]
    if isinstance(value, str):
        if key in TIME_KEYS:
            return "<time>"
        if key in LOOSE_VERSION_KEYS:
            return "<version>"
        return _text(value, base, names)
    return value


def record(wire: list[dict[str, Any]], base: str, known: Mapping[str, str]) -> list[dict[str, Any]]:
    """The driver's wire log, normalized; ``base`` is the server's root URL (no /v2)."""
    names = Names(known)
    entries = []
    for sent in wire:
        url = urlsplit(sent["url"])
        entries.append(
            {
                "method": sent["method"],
                "path": _text(url.path, base, names),
                "query": {k: _text(v, base, names) for k, v in parse_qsl(url.query)},
                "headers": {k: v for k, v in sent["headers"].items() if k.lower() in KEPT_HEADERS},
                "body": normalize(sent["body"], base, names),
                "status": sent["status"],
                "response": normalize(sent["response"], base, names),
            }
        )
    return entries


def request_part(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What the client sent, without the answer (for comparing a live run with the record)."""
    return {k: entry[k] for k in ("method", "path", "query", "headers", "body")}


Send = Callable[[str, str, dict[str, str], dict[str, str], Any], tuple[int, Any]]


class Replay:
    """Replays entries through ``send(method, path, query, headers, body)`` -> (status, json),
    with ``bound`` the placeholders already known (the providers the test seeded)."""

    def __init__(self, send: Send, base: str, bound: Mapping[str, str]) -> None:
        self.send = send
        self.base = base
        self.bound = {f"<{k}>": v for k, v in bound.items()}

    def fill(self, value: Any) -> Any:
        """``value`` with every placeholder replaced; a new one is a client-made uuid."""
        if isinstance(value, dict):
            return {self.fill(k): self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if isinstance(value, str):
            return PLACEHOLDER.sub(lambda m: self._value(m.group(0)), value)
        return value

    def _value(self, placeholder: str) -> str:
        return self.bound.setdefault(placeholder, str(uuid.uuid4()))

    def run(self, entry: Mapping[str, Any]) -> None:
        """Send one entry; assert the status and that the answer matches the recorded one."""
        path = self.fill(entry["path"])
        status, answer = self.send(
            entry["method"],
            path,
            self.fill(entry["query"]),
            entry["headers"],
            self.fill(entry["body"]),
        )
        what = f"{entry['method']} {entry['path']} {entry['query']}"
        assert status == entry["status"], (what, status, answer)
        self.match(entry["response"], answer, what)

    def match(self, recorded: Any, actual: Any, where: str) -> None:
        """``actual`` has ``recorded``'s shape and values, placeholders bound as they come."""
        if recorded == "<error>":
            assert isinstance(actual, dict), (where, actual)
            inner = json.loads(actual["error_message"])
            assert {"faultcode", "faultstring", "debuginfo"} <= inner.keys(), (where, inner)
        elif recorded == "<time>":
            assert isinstance(actual, str), (where, actual)
        elif recorded == "<version>":
            assert re.fullmatch(r"\d+\.\d+", actual), (where, actual)
        elif isinstance(recorded, str):
            self._match_text(recorded, actual, where)
        elif isinstance(recorded, dict):
            assert isinstance(actual, dict), (where, actual)
            assert sorted(actual) == sorted(recorded), (where, sorted(actual), sorted(recorded))
            for key, value in recorded.items():
                self.match(value, actual[key], f"{where} .{key}")
        elif isinstance(recorded, list):
            assert isinstance(actual, list), (where, actual)
            assert len(actual) == len(recorded), (where, actual)
            for i, (want, got) in enumerate(zip(recorded, actual, strict=True)):
                self.match(want, got, f"{where} [{i}]")
        else:
            assert actual == recorded, (where, actual, recorded)

    def _match_text(self, recorded: str, actual: Any, where: str) -> None:
        # Placeholders inside a string (an ARQ's link) become uuid groups of one pattern.
        assert isinstance(actual, str), (where, actual)
        parts = re.split(f"({PLACEHOLDER.pattern})", recorded.replace("<base>", self.base))
        pattern = "".join(
            f"(?P<p{i}>{UUID.pattern})" if i % 2 else re.escape(p) for i, p in enumerate(parts)
        )
        found = re.fullmatch(pattern, actual)
        assert found, (where, actual, recorded)
        for i in range(1, len(parts), 2):
            value = found.group(f"p{i}")
            assert self.bound.setdefault(parts[i], value) == value, (where, parts[i], value)
