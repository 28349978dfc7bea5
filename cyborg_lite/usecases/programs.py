"""Programming FPGA deployables: start a load, wait for it, and settle what it decides.

``start`` checks the request and creates the one-device rollout (kind ``program``) that the
conductor's engine then drives like any other; ``wait`` is the API's bounded wait for its
job; ``finished`` is what the engine does in the job's final transaction: record the running
bitstream (``usecases.arqs.finish_waiting`` then settles the binds that waited for it).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable

from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.db import firmware_candidates, models
from cyborg_lite.db import firmware_images as db_images
from cyborg_lite.db import programming as db_programming
from cyborg_lite.db import rollout_jobs as db_jobs
from cyborg_lite.db import rollouts as db_rollouts
from cyborg_lite.db.engine import Database
from cyborg_lite.firmware import plan, programming, states
from cyborg_lite.usecases import rollouts as rollout_cases

# The API's wait for a job: quick first looks (a simulated or quick load ends in well under a
# second), then at most one read a second while a slow one runs.
_FIRST_POLL = 0.05
_MAX_POLL = 1.0


@dataclasses.dataclass(frozen=True)
class Started:
    """A program request accepted: the job to follow, or None when the deployable already
    runs the image (nothing to load)."""

    deployable_uuid: str
    image_uuid: str
    job_uuid: str | None = None
    rollout_uuid: str | None = None


@dataclasses.dataclass(frozen=True)
class Outcome:
    """Where a program job stands: its state and, once failed, the driver's error."""

    state: str
    error_code: str | None = None
    error: str | None = None


def bitstream_image(session: orm.Session, image_uuid: str) -> models.FirmwareImage:
    """The catalog image ``image_uuid``, which must be an active bitstream (400/409)."""
    try:
        image = db_images.get(session, image_uuid)
    except exception.NotFound as err:
        raise exception.Invalid(
            f"Cannot program: no firmware image with uuid={image_uuid} is in the catalog."
        ) from err
    if image.component != programming.BITSTREAM:
        raise exception.Invalid(
            f"Cannot program: firmware image {image_uuid} is a {image.component!r} image, "
            f"not a {programming.BITSTREAM!r}."
        )
    return rollout_cases.active_image(session, image_uuid)


def start(
    session: orm.Session,
    deployable_uuid: str,
    image_uuid: str,
    *,
    user_id: str | None,
    project_id: str | None,
    at_bind: bool = False,
) -> Started:
    """Check a program request and create its rollout. 404 for an unknown deployable; 400
    for an image that is unknown, not a bitstream, or does not fit the device or its PR
    region; 409 for a device that is busy, held by an instance (unless ``at_bind``), in
    maintenance or on a host that is not up, or that cannot load bitstreams."""
    target = db_programming.target(session, deployable_uuid)
    image = bitstream_image(session, image_uuid)
    pr_ids = json.loads(image.pr_interface_ids or "[]")
    regions = programming.region_ids(target.traits)
    if not programming.fits_region(pr_ids, regions):
        raise exception.Invalid(
            f"Cannot program deployable {deployable_uuid} with image {image_uuid}: the image "
            f"fits PR interface ids {pr_ids}, the deployable's region is "
            f"{sorted(regions) or 'not reported'}."
        )
    selector = {"device_uuids": (target.device_uuid,)}
    strategy = programming.strategy(at_bind=at_bind)
    candidates = firmware_candidates.load(session, programming.BITSTREAM, selector)
    the_plan = plan.build(candidates, rollout_cases.image_spec(image), selector, strategy)
    if not the_plan.total:
        if not the_plan.excluded:
            raise exception.Conflict(f"Deployable {deployable_uuid} has no device to program.")
        left_out = the_plan.excluded[0]
        if left_out.reason == plan.ALREADY_AT_VERSION:
            return Started(deployable_uuid, image_uuid)
        raise programming.refusal(left_out, deployable_uuid, image_uuid)
    rollout = db_rollouts.create(
        session,
        image,
        selector,
        programming.strategy(at_bind=at_bind, running=True),
        the_plan,
        user_id=user_id,
        project_id=project_id,
        kind=states.PROGRAM,
    )
    job = db_programming.only_job(session, rollout.id)
    return Started(deployable_uuid, image_uuid, job.uuid, rollout.uuid)


def image_for_function(
    session: orm.Session, target: db_programming.Target, function_id: str
) -> str:
    """The newest active bitstream providing ``function_id`` that fits the device (400)."""
    for image in db_programming.images_with_function(session, function_id, target.device_vendor):
        ids = {d.lower() for d in json.loads(image.device_ids)}
        fits = (target.product_id or "").lower() in ids or target.device_model in json.loads(
            image.models
        )
        if fits:
            return image.uuid
    raise exception.Invalid(
        f"No active bitstream image provides function {function_id} for "
        f"{target.device_model} (vendor {target.device_vendor})."
    )


def wait(
    db: Database,
    job_uuid: str,
    timeout: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """The job's state once it is final, or its state when ``timeout`` seconds have passed.

    A bounded wait with growing pauses, each look a short transaction of its own; the
    request thread is all it holds.
    """
    deadline = clock() + timeout
    pause = _FIRST_POLL
    while True:
        with db.transaction() as session:
            job = db_jobs.get(session, job_uuid)
            if job is None:
                raise exception.NotFound(f"Firmware job not found with uuid={job_uuid}")
            outcome = Outcome(job.state, job.error_code, job.error)
        left = deadline - clock()
        if outcome.state in states.TERMINAL or left <= 0:
            return outcome
        sleep(min(pause, left))
        pause = min(pause * 2, _MAX_POLL)


def finished(
    session: orm.Session, state: str, *, device_uuid: str, component: str, rollout_uuid: str
) -> bool | None:
    """In a job's final transaction: a loaded bitstream becomes the device's deployables'
    ``bitstream_id``. Returns whether the job loaded a bitstream (None: not a bitstream job,
    or not over), which decides the binds that waited for it (``usecases.arqs.finish_waiting``)."""
    if component != programming.BITSTREAM:
        return None
    loaded = programming.outcome_of(state)
    if loaded:
        image_uuid = db_programming.rollout_image(session, rollout_uuid)
        if image_uuid:
            db_programming.set_bitstream(session, device_uuid, image_uuid)
    return loaded
