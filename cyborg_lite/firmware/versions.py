"""Ordering of firmware version strings across vendors' formats.

A version whose every field (between ``.``, ``-``, ``_``, ``:``, ``+``) is hexadecimal, such as
NVIDIA's VBIOS ``96.00.5A.00.01``, compares field by field as hex numbers (for fields of digits
only this is the same order as decimal). Anything else (``G520.0200.00.05``, ``2.0.1-rc2``) is
split into numeric and alphabetic runs: numbers compare as numbers, text as text, and a number
sorts after text at the same position. ``0x1c`` is a hex literal. Equal keys mean equal versions
(``1.02 == 1.2``).
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\d+|[A-Za-z]+")

Key = tuple[tuple[int, int | str], ...]


def key(version: str) -> Key:
    """A sort key for ``version``; hex literals (``0x1c``) compare by value."""
    text = version.strip()
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
        return ((1, int(text, 16)),)
    fields = [f for f in re.split(r"[.\-_:+]", text) if f]
    if fields and all(re.fullmatch(r"[0-9a-fA-F]+", f) for f in fields):
        return tuple((1, int(f, 16)) for f in fields)
    out: list[tuple[int, int | str]] = []
    for token in _TOKEN.findall(text):
        out.append((1, int(token)) if token.isdigit() else (0, token.lower()))
    return tuple(out)


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, the same as, or newer than ``b``."""
    ka, kb = key(a), key(b)
    return (ka > kb) - (ka < kb)


def same(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` are the same version in different spellings."""
    return key(a) == key(b)
