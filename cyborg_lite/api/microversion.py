"""Microversions: the list of versions, and parsing of ``OpenStack-API-Version``.

Every versioned behaviour names its version from ``VERSIONS``; ``test_microversion`` fails if
code asks for a version that is not listed here.
"""

from __future__ import annotations

import re

from cyborg_lite import exception

SERVICE_TYPE = "accelerator"
HEADER = "OpenStack-API-Version"

VERSIONS: list[tuple[int, int]] = [
    (2, 0),  # Cyborg's base v2 API.
    (2, 1),  # ARQ bind PATCH accepts a /project_id op (admin only).
    (2, 2),  # GET /v2/device_profiles/{name} accepts a name as well as a uuid.
    (2, 3),  # Devices carry `status` (enabled | maintaining).
    (2, 4),  # cyborg-lite's additions: hosts (devices carry `host_state`), firmware images,
    #          device firmware, firmware rollouts.
    (2, 5),  # ARQs carry `error`: why a bind failed (e.g. its bitstream did not load).
    (2, 6),  # Accelerator usage: devices carry `usage`, `GET /v2/devices?idle_for=`,
    #          `GET /v2/devices/{uuid}/usage` (the series) and `GET /v2/usage` (the fleet).
    (2, 7),  # Lending: accelerator pools with lending windows and reclaim, `GET /v2/loans`
    #          and `GET /v2/loans/summary` (the account).
]

MIN = VERSIONS[0]
MAX = VERSIONS[-1]

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")


def fmt(version: tuple[int, int]) -> str:
    """``(2, 3)`` -> ``"2.3"``."""
    return f"{version[0]}.{version[1]}"


def range_text() -> str:
    """The supported range as Cyborg writes it in 406 messages."""
    return f"[{fmt(MIN)}, {fmt(MAX)}]"


def known(version: tuple[int, int]) -> bool:
    """True when ``version`` is listed in ``VERSIONS``."""
    return version in VERSIONS


def parse(header: str | None) -> tuple[int, int]:
    """The version a request asks for; no header means the minimum, as Cyborg does.

    Accepts ``accelerator X.Y``, ``accelerator latest`` and a bare ``X.Y``; a header naming
    another service, an unparsable value or an unsupported version raises ``NotAcceptable``.
    """
    if header is None or not header.strip():
        return MIN
    value = header.strip()
    parts = value.split()
    if len(parts) == 2:
        if parts[0].lower() != SERVICE_TYPE:
            raise exception.NotAcceptable("Invalid value for OpenStack-API-Version header")
        value = parts[1]
    elif len(parts) != 1:
        raise exception.NotAcceptable("Invalid value for OpenStack-API-Version header")
    if value.lower() == "latest":
        return MAX
    match = _VERSION_RE.match(value)
    if not match:
        raise exception.NotAcceptable("Invalid value for OpenStack-API-Version header")
    version = (int(match.group(1)), int(match.group(2)))
    if version[0] != MAX[0]:
        raise exception.NotAcceptable(
            f"Mutually exclusive versions requested. Version {fmt(version)} requested but the "
            f"supported version range is: {range_text()}."
        )
    if not MIN <= version <= MAX:
        raise exception.NotAcceptable(
            f"Version {fmt(version)} was requested but the minor version is not supported by "
            f"this service. The supported version range is: {range_text()}."
        )
    return version


def require(current: tuple[int, int], needed: tuple[int, int]) -> None:
    """Refuse (406) a feature that needs ``needed`` when the request runs at ``current``."""
    assert known(needed), f"microversion {fmt(needed)} is not in VERSIONS"
    if current < needed:
        raise exception.NotAcceptable(
            f"Request not acceptable. The minimal required API version should be {fmt(needed)}"
        )


def at_least(current: tuple[int, int], needed: tuple[int, int]) -> bool:
    """True when the request runs at ``needed`` or later (``needed`` must be listed)."""
    assert known(needed), f"microversion {fmt(needed)} is not in VERSIONS"
    return current >= needed
