"""Reading Cyborg's double-encoded error envelope in tests."""

from __future__ import annotations

import json
from typing import Any


def fault(result: Any) -> dict[str, Any]:
    """The inner fault object of an error response; checks the envelope's shape on the way."""
    assert result.headers["content-type"].startswith("application/json")
    body = result.json
    assert list(body) == ["error_message"]
    assert isinstance(body["error_message"], str)
    inner: dict[str, Any] = json.loads(body["error_message"])
    assert set(inner) == {"faultcode", "faultstring", "debuginfo"}
    assert inner["faultcode"] == ("Client" if result.status_code < 500 else "Server")
    assert inner["debuginfo"] is None
    return inner


def message(result: Any) -> str:
    """The faultstring of an error response."""
    return str(fault(result)["faultstring"])
