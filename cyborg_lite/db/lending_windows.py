"""Reader and writer functions for a pool's lending windows (issue 17).

A window is stored as the body ``lending.windows`` parsed (``to_dict``, JSON), with its kind
(``weekly`` or ``once``), so reading it back is ``windows.parse`` again.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.db import models
from cyborg_lite.lending import windows

PW = models.PoolWindow
WEEKLY = "weekly"
ONCE = "once"


class StoredWindow(NamedTuple):
    """A window as stored: its uuid and its rule."""

    uuid: str
    window: windows.Window


def add(session: orm.Session, pool_id: int, window: windows.Window) -> models.PoolWindow:
    """Store ``window`` for the pool ``pool_id``."""
    row = PW(
        pool_id=pool_id,
        kind=ONCE if isinstance(window, windows.OneOff) else WEEKLY,
        spec=json.dumps(window.to_dict()),
    )
    session.add(row)
    session.flush()
    return row


def list_windows(session: orm.Session, pool_id: int) -> list[StoredWindow]:
    """The pool's windows, oldest first."""
    rows = session.execute(sa.select(PW.uuid, PW.spec).where(PW.pool_id == pool_id).order_by(PW.id))
    return [StoredWindow(uuid, windows.parse(json.loads(spec))) for uuid, spec in rows]


def of_pools(session: orm.Session, pool_ids: list[int]) -> dict[int, list[StoredWindow]]:
    """The windows of several pools (a list page), oldest first per pool; one query."""
    out: dict[int, list[StoredWindow]] = {i: [] for i in pool_ids}
    if pool_ids:
        rows = session.execute(
            sa.select(PW.pool_id, PW.uuid, PW.spec).where(PW.pool_id.in_(pool_ids)).order_by(PW.id)
        )
        for pool_id, uuid, spec in rows:
            out[pool_id].append(StoredWindow(uuid, windows.parse(json.loads(spec))))
    return out


def delete(session: orm.Session, pool_id: int, window_uuid: str) -> None:
    """Delete the pool's window ``window_uuid``; NotFound when the pool has no such window."""
    done = session.execute(
        sa.delete(PW)
        .where(PW.pool_id == pool_id, PW.uuid == window_uuid)
        .execution_options(synchronize_session=False)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise exception.NotFound(f"Pool window not found with uuid={window_uuid}")
