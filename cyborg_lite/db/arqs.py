"""Reader and writer functions for accelerator requests (ARQs).

Ownership is enforced here: every reader takes ``project_id``, the caller's project, or None
for an admin, who sees every project's ARQs. Another project's ARQ is simply not found.
The states and their rules are ``arqs/states.py``; binding's SQL is ``db/binding.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.arqs.states import INITIAL, RESOLVED
from cyborg_lite.db import models, query

AR = models.AcceleratorRequest
# A select of any number of columns (the views select three entities).
AnySelect = sa.Select[*tuple[Any, ...]]


class ArqView(NamedTuple):
    """An ARQ with what its representation needs from other tables."""

    arq: models.AcceleratorRequest
    profile_name: str
    handle: models.AttachHandle | None

    @property
    def handle_info(self) -> dict[str, str]:
        """The attach handle's info (e.g. PCI domain/bus/device/function), or {}."""
        if self.handle is None:
            return {}
        info: dict[str, str] = json.loads(self.handle.attach_info)
        return info


def fan_out(groups: Sequence[dict[str, str]]) -> list[int]:
    """The ``device_profile_group_id`` of each ARQ a profile asks for, in order.

    A group asks for the sum of its ``resources:*`` amounts: ``[{"resources:FPGA": "2"},
    {"resources:CUSTOM_QAT": "1"}]`` gives ``[0, 0, 1]``.
    """
    ids: list[int] = []
    for index, group in enumerate(groups):
        count = sum(int(v) for k, v in group.items() if k.startswith("resources:"))
        ids.extend([index] * count)
    return ids


def _owned(stmt: AnySelect, project_id: str | None) -> AnySelect:
    return stmt if project_id is None else stmt.where(AR.project_id == project_id)


def _views() -> AnySelect:
    return (
        sa.select(AR, models.DeviceProfile.name, models.AttachHandle)
        .join(models.DeviceProfile, AR.device_profile_id == models.DeviceProfile.id)
        .outerjoin(models.AttachHandle, AR.attach_handle_id == models.AttachHandle.id)
    )


def _to_views(rows: Iterable[Any]) -> list[ArqView]:
    return [ArqView(arq, name, handle) for arq, name, handle in rows]


def create_for_profile(
    session: orm.Session,
    profile: models.DeviceProfile,
    groups: Sequence[dict[str, str]],
    *,
    project_id: str | None,
) -> list[ArqView]:
    """Create the ARQs ``profile`` asks for (see ``fan_out``), all ``Initial``."""
    arqs = [
        AR(
            device_profile_id=profile.id,
            device_profile_group_id=group_id,
            project_id=project_id,
            state=INITIAL,
        )
        for group_id in fan_out(groups)
    ]
    session.add_all(arqs)
    session.flush()
    return [ArqView(arq, profile.name, None) for arq in arqs]


def list_arqs(
    session: orm.Session,
    *,
    project_id: str | None,
    instance: str | None = None,
    resolved_only: bool = False,
    limit: int | None = None,
    marker: str | None = None,
) -> list[ArqView]:
    """ARQs visible to ``project_id``, of one instance and/or resolved only when asked."""
    stmt = _owned(_views(), project_id)
    if instance is not None:
        stmt = stmt.where(AR.instance_uuid == instance)
    if resolved_only:
        stmt = stmt.where(AR.state.in_(sorted(RESOLVED)))
    stmt = query.paginate(session, stmt, AR, limit=limit, marker=marker)
    return _to_views(session.execute(stmt))


def has_unresolved(session: orm.Session, instance: str, *, project_id: str | None) -> bool:
    """True while some ARQ of ``instance`` (visible to ``project_id``) is still binding."""
    stmt = _owned(sa.select(AR.id), project_id).where(
        AR.instance_uuid == instance, AR.state.not_in(sorted(RESOLVED))
    )
    return session.scalar(stmt.limit(1)) is not None


def get_arq(session: orm.Session, uuid: str, *, project_id: str | None) -> ArqView:
    """The ARQ ``uuid`` if ``project_id`` may see it, else NotFound in Cyborg's words."""
    found = _to_views(session.execute(_owned(_views(), project_id).where(AR.uuid == uuid)))
    if not found:
        raise exception.NotFound(f"ExtArq not found with uuid={uuid}")
    return found[0]


def find(
    session: orm.Session, uuids: Sequence[str], *, project_id: str | None
) -> tuple[list[models.AcceleratorRequest], list[str]]:
    """The ARQs among ``uuids`` visible to ``project_id`` (in the order asked), and the uuids
    that are missing or not visible."""
    stmt = _owned(sa.select(AR), project_id).where(AR.uuid.in_(list(uuids)))
    by_uuid = {arq.uuid: arq for arq in session.scalars(stmt)}
    found = [by_uuid[u] for u in dict.fromkeys(uuids) if u in by_uuid]
    missing = [u for u in dict.fromkeys(uuids) if u not in by_uuid]
    return found, missing


def of_instance(
    session: orm.Session, instance: str, *, project_id: str | None
) -> list[models.AcceleratorRequest]:
    """The ARQs bound (or binding) to ``instance`` visible to ``project_id``."""
    stmt = _owned(sa.select(AR), project_id).where(AR.instance_uuid == instance).order_by(AR.id)
    return list(session.scalars(stmt))


def instances_with_arqs(session: orm.Session, instances: Iterable[str]) -> set[str]:
    """Which of ``instances`` already have ARQs, in any project (an instance has one owner)."""
    wanted = sorted(set(instances))
    if not wanted:
        return set()
    stmt = sa.select(AR.instance_uuid).where(AR.instance_uuid.in_(wanted)).distinct()
    return {u for u in session.scalars(stmt) if u is not None}


def delete_rows(session: orm.Session, ids: Sequence[int]) -> None:
    """Delete ARQ rows by id (callers release attach handles first)."""
    if ids:
        session.execute(sa.delete(AR).where(AR.id.in_(list(ids))))
