"""How accelerator pools and their windows look in the API (2.7)."""

from __future__ import annotations

from typing import Any

from cyborg_lite.api import util
from cyborg_lite.db import lending_windows
from cyborg_lite.lending import windows
from cyborg_lite.usecases import pools as pool_cases


def window_body(stored: lending_windows.StoredWindow) -> dict[str, Any]:
    """A window: its uuid, its kind and its rule as given (one-off times in UTC)."""
    once = isinstance(stored.window, windows.OneOff)
    kind = lending_windows.ONCE if once else lending_windows.WEEKLY
    return {"uuid": stored.uuid, "kind": kind, **stored.window.to_dict()}


def pool_body(view: pool_cases.PoolView, base: str) -> dict[str, Any]:
    """A pool: every field (defaults explicit), its trait, its devices (``device_uuids``,
    sorted, with their count), its windows and whether one is open now."""
    pool = view.pool
    return {
        "uuid": pool.uuid,
        **view.rules.to_dict(),
        "owner_project_id": pool.owner_project_id,
        "selector": {k: list(v) for k, v in view.selector.items()},
        "trait": pool.trait,
        "device_uuids": list(view.device_uuids),
        "device_count": len(view.device_uuids),
        "windows": [window_body(w) for w in view.windows],
        "open_now": view.open_now,
        "created_at": util.timestamp(pool.created_at),
        "updated_at": util.timestamp(pool.updated_at),
        "links": util.self_link(base, "accelerator_pools", pool.uuid),
    }
