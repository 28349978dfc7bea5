"""Rollout use cases: plan (dry run), create, pause/resume/abort, rollback.

``Rollouts`` is what the API calls: each entry point runs in a transaction of its own, then
wakes the conductor, whose engine (``conductor/rollout.py``) does the flashing. The functions
below it take the caller's session, for the conductor and the tests that steer a rollout.
"""

from __future__ import annotations

import collections
import dataclasses
import json
from typing import Any

from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.context import RequestContext
from cyborg_lite.db import firmware_candidates, models
from cyborg_lite.db import firmware_images as db_images
from cyborg_lite.db import rollouts as db_rollouts
from cyborg_lite.db.engine import Database
from cyborg_lite.firmware import plan, states, versions
from cyborg_lite.firmware import strategy as strategy_mod
from cyborg_lite.usecases import ports


@dataclasses.dataclass(frozen=True)
class Planned:
    """A dry run's answer: the plan, and the strategy and image it was made for."""

    plan: plan.Plan
    strategy: strategy_mod.Strategy
    image_uuid: str


@dataclasses.dataclass(frozen=True)
class Tracked:
    """A rollout as just written, with its job counts (what its view shows)."""

    rollout: models.Rollout
    progress: db_rollouts.Progress


class Rollouts:
    """The rollout API's use cases, each in one transaction, the conductor woken after it."""

    def __init__(self, db: Database, conductor: ports.Conductor) -> None:
        self._db = db
        self._conductor = conductor

    def dry_run(self, image_uuid: str, selector_body: Any, strategy_body: Any) -> Planned:
        """The plan a rollout of the active image ``image_uuid`` would follow; writes nothing.
        409 for an image without bytes; 400 for a bad selector or strategy."""
        with self._db.transaction() as session:
            image = active_image(session, image_uuid)
            _, strategy, the_plan = make_plan(session, image, selector_body, strategy_body)
        return Planned(the_plan, strategy, image.uuid)

    def create(
        self, ctx: RequestContext, image_uuid: str, selector_body: Any, strategy_body: Any
    ) -> Tracked:
        """Plan a rollout of the active image ``image_uuid`` and start it, for ``ctx``'s user
        and project; the conductor is woken once it is committed."""
        with self._db.transaction() as session:
            image = active_image(session, image_uuid)
            selector, strategy, the_plan = make_plan(session, image, selector_body, strategy_body)
            rollout = db_rollouts.create(
                session,
                image,
                selector,
                strategy,
                the_plan,
                user_id=ctx.user_id,
                project_id=ctx.project_id,
            )
            [created] = _tracked(session, [rollout])
        self._conductor.rollout_changed(ctx, rollout.uuid)
        return created

    def act(self, ctx: RequestContext, uuid: str, action: str) -> list[Tracked]:
        """``pause``, ``resume`` or ``abort`` rollout ``uuid`` (the rollout, alone), or
        ``rollback`` it (the rollouts created); the conductor is woken for each."""
        with self._db.transaction() as session:
            if action == "rollback":
                changed = rollback(session, uuid, ctx.user_id, ctx.project_id)
            else:
                step = {"pause": pause, "resume": resume, "abort": abort}[action]
                changed = [step(session, uuid, ctx.user_id, ctx.project_id)]
            out = _tracked(session, changed)
        for tracked in out:
            self._conductor.rollout_changed(ctx, tracked.rollout.uuid)
        return out


def _tracked(session: orm.Session, rollouts: list[models.Rollout]) -> list[Tracked]:
    session.flush()
    progress = db_rollouts.progress(session, [r.id for r in rollouts])
    return [Tracked(r, progress[r.id]) for r in rollouts]


def image_spec(image: models.FirmwareImage) -> plan.Image:
    """The planner's view of a catalog image."""
    return plan.Image(
        vendor=image.vendor,
        component=image.component,
        version=image.version,
        device_ids=tuple(json.loads(image.device_ids)),
        models=tuple(json.loads(image.models)),
        min_version=image.min_version,
    )


def active_image(session: orm.Session, uuid: str) -> models.FirmwareImage:
    """The image, which must have its bytes (409 otherwise)."""
    image = db_images.get(session, uuid)
    if image.status != "active":
        raise exception.Conflict(
            f"Firmware image {uuid} has no bytes uploaded yet; upload them before a rollout."
        )
    return image


def make_plan(
    session: orm.Session, image: models.FirmwareImage, selector_body: Any, strategy_body: Any
) -> tuple[dict[str, tuple[str, ...]], strategy_mod.Strategy, plan.Plan]:
    """Check the selector and strategy and plan the rollout from the current inventory."""
    selector = plan.parse_selector(selector_body)
    strategy = strategy_mod.parse(strategy_body)
    candidates = firmware_candidates.load(session, image.component, selector)
    return selector, strategy, plan.build(candidates, image_spec(image), selector, strategy)


def pause(
    session: orm.Session, uuid: str, user_id: str | None, project_id: str | None = None
) -> models.Rollout:
    """Start no new job; in-flight jobs finish."""
    rollout = db_rollouts.get(session, uuid, lock=True)
    db_rollouts.set_state(
        session,
        rollout,
        [states.RUNNING],
        states.PAUSED,
        action="pause",
        user_id=user_id,
        project_id=project_id,
    )
    return rollout


def resume(
    session: orm.Session, uuid: str, user_id: str | None, project_id: str | None = None
) -> models.Rollout:
    """Continue a paused or halted rollout. Resuming a halted one accepts the current wave's
    failures so far: the budget then counts only new ones."""
    rollout = db_rollouts.get(session, uuid, lock=True)
    if rollout.state == states.HALTED:
        progress = db_rollouts.progress(session, [rollout.id])[rollout.id]
        wave = progress.by_wave.get(rollout.current_wave, {})
        rollout.forgiven_failures = sum(wave.get(s, 0) for s in states.FAILURES)
    db_rollouts.set_state(
        session,
        rollout,
        [states.PAUSED, states.HALTED],
        states.RUNNING,
        action="resume",
        user_id=user_id,
        project_id=project_id,
        message="",
    )
    return rollout


def abort(
    session: orm.Session, uuid: str, user_id: str | None, project_id: str | None = None
) -> models.Rollout:
    """Cancel every job not yet started; in-flight jobs finish, then nothing more happens."""
    rollout = db_rollouts.get(session, uuid, lock=True)
    db_rollouts.set_state(
        session,
        rollout,
        sorted(states.UNFINISHED),
        states.ABORTED,
        action="abort",
        user_id=user_id,
        project_id=project_id,
        message=f"Aborted by {user_id or 'an operator'}.",
    )
    db_rollouts.cancel_pending(session, rollout)
    return rollout


def rollback(
    session: orm.Session, uuid: str, user_id: str | None, project_id: str | None
) -> list[models.Rollout]:
    """New rollouts returning each device this rollout changed to the image it had before.

    Devices are grouped by their previous version, one rollout per previous image, with the
    original strategy. An unfinished original is aborted first. 409 when a previous version has
    no active image in the catalog, naming it; nothing is created then.
    """
    original = db_rollouts.get(session, uuid, lock=True)
    changed = [
        job
        for job in db_rollouts.list_jobs(session, original, {})
        if job.state in (states.SUCCEEDED, states.PENDING_ACTIVATION) and job.version_before
    ]
    if not changed:
        raise exception.Conflict(
            f"Rollout {uuid} changed no device; there is nothing to roll back."
        )
    by_version: dict[str, list[str]] = collections.defaultdict(list)
    for job in changed:
        by_version[str(job.version_before)].append(job.device_uuid)
    current = db_images.get(session, original.image_uuid) if original.image_id else None
    images: dict[str, models.FirmwareImage] = {}
    missing = []
    for version in sorted(by_version):
        found = _previous_image(session, original, current, version)
        if found is None:
            missing.append(version)
        else:
            images[version] = found
    if missing:
        raise exception.Conflict(
            f"Cannot roll back rollout {uuid}: no active {original.component} image with "
            f"version {', '.join(missing)} is in the catalog. Upload it, then roll back again."
        )
    if original.state in states.UNFINISHED:
        abort(session, uuid, user_id, project_id)
    strategy = strategy_mod.from_dict(json.loads(original.strategy))
    created = []
    for version, device_uuids in sorted(by_version.items()):
        image = images[version]
        selector = {"device_uuids": tuple(device_uuids)}
        candidates = firmware_candidates.load(session, image.component, selector)
        the_plan = plan.build(candidates, image_spec(image), selector, strategy)
        created.append(
            db_rollouts.create(
                session,
                image,
                selector,
                strategy,
                the_plan,
                user_id=user_id,
                project_id=project_id,
                rollback_of=uuid,
            )
        )
    return created


def _previous_image(
    session: orm.Session,
    original: models.Rollout,
    current: models.FirmwareImage | None,
    version: str,
) -> models.FirmwareImage | None:
    """An active image of the same component (and vendor) at ``version``."""
    filters = {"component": original.component, "status": "active"}
    if current is not None:
        filters["vendor"] = current.vendor
    for image in db_images.list_images(session, filters):
        if versions.same(image.version, version):
            return image
    return None
