"""A lending pool's rules: its fields other than the selector and the owner, parsed from a
request body into a frozen value, and the traits an offered device carries.

Decisions kept here, so the API, the tables and the engine agree on them:

- ``name``: 1 to 236 characters of ASCII letters, digits, ``-``, ``_`` and ``.``, starting
  with a letter or digit; lowercase is welcome. Its trait is ``CUSTOM_CYBORG_POOL_`` + the
  name upper-cased with every other character as ``_`` (``team-a.gpus`` is
  ``CUSTOM_CYBORG_POOL_TEAM_A_GPUS``), which keeps within Placement's custom trait rule
  (``CUSTOM_`` then ``[A-Z0-9_]``, at most 255 characters). Names that differ only in case or
  in ``-``/``_``/``.`` share a trait, so the store must keep a pool's trait unique.
- ``reserve``: what is never lent, ``{"count": N}`` (an integer >= 0; more than the pool holds
  keeps all of it) or ``{"share": s}`` with ``0 <= s < 1``, rounded up (``Reserve.size``).
  A share of 1 is refused: it would lend nothing, which a pool without windows says plainly,
  and a 1 is most often a percentage typed as a share. Default ``{"count": 0}``.
- ``min_idle_seconds`` (default 3600), ``notice_seconds`` (default 600): integers from 0 to
  ``INT_MAX`` (they become SQL integers and timedeltas).
- ``on_reclaim``: ``notify``, ``stop``, ``shelve`` or ``delete`` (default ``stop``: the
  borrower's server survives and the device comes back).
- ``borrower_project_ids``: a list of distinct non-empty strings, or null for any project.
- ``timezone``: an IANA name (default ``UTC``), checked by ``windows.parse_timezone``.
"""

from __future__ import annotations

import dataclasses
import fractions
import math
import re
from collections.abc import Mapping
from typing import Any

from cyborg_lite import exception
from cyborg_lite.lending import windows

LENDABLE_TRAIT = "CUSTOM_CYBORG_LENDABLE"
POOL_TRAIT_PREFIX = "CUSTOM_CYBORG_POOL_"
TRAIT_MAX_LENGTH = 255
NAME_MAX_LENGTH = TRAIT_MAX_LENGTH - len(POOL_TRAIT_PREFIX)
ON_RECLAIM = ("notify", "stop", "shelve", "delete")
INT_MAX = 2**31 - 1

# The fields this module owns; ``selector`` and ``owner_project_id`` are the API's (the
# selector is resolved against the inventory, the owner depends on policy).
FIELDS = frozenset(
    {
        "name",
        "reserve",
        "min_idle_seconds",
        "notice_seconds",
        "on_reclaim",
        "borrower_project_ids",
        "timezone",
    }
)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NOT_TRAIT = re.compile(r"[^A-Z0-9_]")
_TRAIT = re.compile(r"CUSTOM_[A-Z0-9_]+")


@dataclasses.dataclass(frozen=True)
class Reserve:
    """What a pool never lends: exactly one of ``count`` and ``share``."""

    count: int | None = 0
    share: float | None = None

    def size(self, pool_size: int) -> int:
        """How many of ``pool_size`` devices are kept: the count (at most the pool), or the
        share rounded up, since owners come first (0.25 of 3 devices keeps 1). The share is
        taken as the decimal it was written as, so 0.3 of 10 keeps 3, not 4."""
        if self.share is None:
            return min(self.count or 0, pool_size)
        exact = fractions.Fraction(repr(self.share)) * pool_size
        return min(math.ceil(exact), pool_size)

    def to_dict(self) -> dict[str, int | float]:
        """The wire form."""
        if self.share is not None:
            return {"share": self.share}
        return {"count": self.count or 0}


@dataclasses.dataclass(frozen=True)
class Pool:
    """A pool's lending rules (not its selector, owner or windows)."""

    name: str
    reserve: Reserve = Reserve()
    min_idle_seconds: int = 3600
    notice_seconds: int = 600
    on_reclaim: str = "stop"
    borrower_project_ids: tuple[str, ...] | None = None
    timezone: str = "UTC"

    @property
    def trait(self) -> str:
        """The pool's own trait."""
        return pool_trait(self.name)

    def lends_to(self, project_id: str) -> bool:
        """True when ``project_id`` may borrow from the pool."""
        return self.borrower_project_ids is None or project_id in self.borrower_project_ids

    def to_dict(self) -> dict[str, Any]:
        """The wire form, every default explicit."""
        return {
            "name": self.name,
            "reserve": self.reserve.to_dict(),
            "min_idle_seconds": self.min_idle_seconds,
            "notice_seconds": self.notice_seconds,
            "on_reclaim": self.on_reclaim,
            "borrower_project_ids": (
                None if self.borrower_project_ids is None else list(self.borrower_project_ids)
            ),
            "timezone": self.timezone,
        }


def pool_trait(name: str) -> str:
    """``CUSTOM_CYBORG_POOL_<NAME>``: the name upper-cased, other characters as ``_``."""
    trait = POOL_TRAIT_PREFIX + _NOT_TRAIT.sub("_", name.upper())
    if len(trait) > TRAIT_MAX_LENGTH or not _TRAIT.fullmatch(trait):
        raise exception.Invalid(f"name: {name!r} cannot be made a trait.")
    return trait


def _name(value: Any) -> str:
    if (
        not isinstance(value, str)
        or not _NAME.fullmatch(value)
        or len(value) > NAME_MAX_LENGTH
        or not value.isascii()
    ):
        raise exception.Invalid(
            f"name: {value!r} must be 1 to {NAME_MAX_LENGTH} characters of letters, digits, "
            "'-', '_' and '.', starting with a letter or digit."
        )
    return value


def _int(value: Any, field: str) -> int:
    # JSON has one number type: 1.0 and true are refused rather than read as 1.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT_MAX:
        raise exception.Invalid(f"{field}: must be an integer from 0 to {INT_MAX}, not {value!r}.")
    return value


def _reserve(value: Any) -> Reserve:
    if not isinstance(value, Mapping) or len(value) != 1 or set(value) - {"count", "share"}:
        raise exception.Invalid(
            f"reserve: must be {{'count': N}} or {{'share': S}} (exactly one key), not {value!r}."
        )
    if "count" in value:
        return Reserve(count=_int(value["count"], "reserve.count"))
    share = value["share"]
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share < 1:
        raise exception.Invalid(
            f"reserve.share: must be a number from 0 up to but not including 1 (0.25 keeps a "
            f"quarter), not {share!r}."
        )
    return Reserve(count=None, share=float(share))


def _on_reclaim(value: Any) -> str:
    if value not in ON_RECLAIM:
        raise exception.Invalid(
            f"on_reclaim: must be one of {', '.join(ON_RECLAIM)}, not {value!r}."
        )
    return str(value)


def _borrowers(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise exception.Invalid(
            f"borrower_project_ids: must be a list of project ids, or null for any project, "
            f"not {value!r}."
        )
    if len(set(value)) != len(value):
        raise exception.Invalid("borrower_project_ids: lists a project twice.")
    return tuple(value)


def _timezone(value: Any) -> str:
    windows.parse_timezone(value)
    return str(value)


_PARSERS: dict[str, Any] = {
    "reserve": _reserve,
    "min_idle_seconds": lambda v: _int(v, "min_idle_seconds"),
    "notice_seconds": lambda v: _int(v, "notice_seconds"),
    "on_reclaim": _on_reclaim,
    "borrower_project_ids": _borrowers,
    "timezone": _timezone,
}


def _fields(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _PARSERS[key](body[key]) for key in sorted(_PARSERS) if key in body}


def parse(body: Mapping[str, Any]) -> Pool:
    """A ``Pool`` from a create body: ``name`` required, the rest defaulted. Keys other than
    ``FIELDS`` are ignored (the API owns them); every error is ``Invalid`` naming its field."""
    if "name" not in body:
        raise exception.Invalid("name: is required.")
    return Pool(name=_name(body["name"]), **_fields(body))


def update(pool: Pool, body: Mapping[str, Any]) -> Pool:
    """``pool`` with the fields of a PATCH body changed (those absent keep their value)."""
    changes = _fields(body)
    if "name" in body:
        changes["name"] = _name(body["name"])
    return dataclasses.replace(pool, **changes)


def from_dict(data: Mapping[str, Any]) -> Pool:
    """The inverse of ``Pool.to_dict`` (stored pools were checked when created)."""
    return parse(data)
