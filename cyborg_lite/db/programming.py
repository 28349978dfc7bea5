"""SQL of FPGA programming: the deployable a program targets, the bitstream it ends up
running, and the ARQs whose bind waits for a load."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.db import models

AR = models.AcceleratorRequest
BIND_STARTED = "BindStarted"


@dataclasses.dataclass(frozen=True)
class Target:
    """A deployable to program: its device, host and the traits it reports."""

    deployable_uuid: str
    device_uuid: str
    device_vendor: str
    device_model: str
    product_id: str | None
    hostname: str
    traits: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class WaitingArq:
    """An ARQ in ``BindStarted`` that waits for a program job."""

    id: int
    uuid: str
    instance_uuid: str | None
    attach_handle_id: int | None


def target(session: orm.Session, deployable_uuid: str) -> Target:
    """The deployable ``deployable_uuid`` as a program target, or NotFound."""
    row = session.execute(
        sa.select(models.Deployable.id, models.Device)
        .join(models.Device, models.Device.id == models.Deployable.device_id)
        .where(models.Deployable.uuid == deployable_uuid)
    ).first()
    if row is None:
        raise exception.NotFound(f"Deployable not found with uuid={deployable_uuid}")
    deployable_id, device = row
    traits = session.scalars(
        sa.select(models.Attribute.value).where(
            models.Attribute.deployable_id == deployable_id,
            models.Attribute.key.startswith("trait"),
        )
    )
    board = json.loads(device.std_board_info or "{}")
    return Target(
        deployable_uuid=deployable_uuid,
        device_uuid=device.uuid,
        device_vendor=device.vendor,
        device_model=device.model,
        product_id=board.get("product_id"),
        hostname=device.hostname,
        traits=tuple(traits),
    )


def target_by_rp(session: orm.Session, device_rp_uuid: str) -> Target | None:
    """The program target of the deployable whose resource provider is ``device_rp_uuid``."""
    uuid = session.scalar(
        sa.select(models.Deployable.uuid).where(models.Deployable.rp_uuid == device_rp_uuid)
    )
    return None if uuid is None else target(session, uuid)


def current_version(session: orm.Session, device_uuid: str, component: str) -> str | None:
    """The version of ``component`` the device last reported, or None."""
    return session.scalar(
        sa.select(models.FirmwareComponent.version)
        .join(models.Device, models.Device.id == models.FirmwareComponent.device_id)
        .where(models.Device.uuid == device_uuid, models.FirmwareComponent.component == component)
    )


def images_with_function(
    session: orm.Session, function_id: str, vendor: str
) -> Sequence[models.FirmwareImage]:
    """Active bitstream images of ``vendor`` that provide ``function_id``, newest first."""
    return session.scalars(
        sa.select(models.FirmwareImage)
        .where(
            models.FirmwareImage.component == "bitstream",
            models.FirmwareImage.status == "active",
            models.FirmwareImage.vendor == vendor,
            models.FirmwareImage.function_id == function_id,
        )
        .order_by(models.FirmwareImage.id.desc())
    ).all()


def only_job(session: orm.Session, rollout_id: int) -> models.RolloutJob:
    """The one job of a program rollout."""
    return session.scalars(
        sa.select(models.RolloutJob).where(models.RolloutJob.rollout_id == rollout_id)
    ).one()


def set_bitstream(session: orm.Session, device_uuid: str, image_uuid: str) -> None:
    """Record that the device's deployables now run the bitstream image ``image_uuid``."""
    device_id = sa.select(models.Device.id).where(models.Device.uuid == device_uuid)
    session.execute(
        sa.update(models.Deployable)
        .where(models.Deployable.device_id.in_(device_id.scalar_subquery()))
        .values(bitstream_id=image_uuid)
        .execution_options(synchronize_session=False)
    )


def rollout_image(session: orm.Session, rollout_uuid: str) -> str | None:
    """The image uuid a rollout loads."""
    return session.scalar(
        sa.select(models.Rollout.image_uuid).where(models.Rollout.uuid == rollout_uuid)
    )


def set_program_job(session: orm.Session, arq_id: int, job_uuid: str) -> None:
    """Tie a ``BindStarted`` ARQ to the job its bind waits for."""
    session.execute(
        sa.update(AR)
        .where(AR.id == arq_id)
        .values(program_job_uuid=job_uuid)
        .execution_options(synchronize_session=False)
    )


def waiting_for(session: orm.Session, job_uuid: str) -> list[WaitingArq]:
    """The ARQs still binding that wait for ``job_uuid``, locked against a racing unbind."""
    rows = session.execute(
        sa.select(AR.id, AR.uuid, AR.instance_uuid, AR.attach_handle_id)
        .where(AR.program_job_uuid == job_uuid, AR.state == BIND_STARTED)
        .order_by(AR.id)
        .with_for_update()
    )
    return [WaitingArq(int(r[0]), str(r[1]), r[2], r[3]) for r in rows]
