"""SQLAlchemy models: the inventory (hosts, devices, deployables, attach handles, attributes,
control path ids) and the scheduling records (device profiles, accelerator requests).

The schema itself is owned by alembic (``db/migrations``); a test checks that these models and
the migrations describe the same schema on every backend.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Microsecond timestamps on MySQL too (its DATETIME drops fractions by default).
DateTime: sa.types.TypeEngine[dt.datetime] = sa.DateTime().with_variant(
    mysql.DATETIME(fsp=6), "mysql"
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Naive UTC now: every timestamp is stored as naive UTC and rendered with +00:00."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_uuid() -> str:
    """A random UUID as the canonical lower-case string."""
    return str(uuidlib.uuid4())


class Base(DeclarativeBase):
    """Declarative base with the naming convention alembic uses too."""

    metadata = sa.MetaData(naming_convention=NAMING)


class TimestampMixin:
    """``created_at`` set on insert, ``updated_at`` on every update (null until then)."""

    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, onupdate=utcnow)


class Host(TimestampMixin, Base):
    """A host running an agent, named by its one identity (``[DEFAULT] host``)."""

    __tablename__ = "hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    hostname: Mapped[str] = mapped_column(sa.String(255), unique=True)
    agent_version: Mapped[str | None] = mapped_column(sa.String(64))
    # up | down | maintenance
    state: Mapped[str] = mapped_column(sa.String(16), default="up")
    last_heartbeat: Mapped[dt.datetime | None] = mapped_column(DateTime)
    report_digest: Mapped[str | None] = mapped_column(sa.String(64))
    # The highest ``seq`` of the host's reports seen (``agent.reportseq``): a report at or
    # below it is stale. NULL until an agent that sends seq reports.
    report_seq: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Drivers whose discovery failed in the last report, as a JSON list of {driver, error}.
    driver_errors: Mapped[str | None] = mapped_column(sa.Text)


class Device(TimestampMixin, Base):
    """A physical accelerator card (or function) on a host, as Cyborg models it."""

    __tablename__ = "devices"
    __table_args__ = (sa.UniqueConstraint("hostname", "stable_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    type: Mapped[str] = mapped_column(sa.String(32), index=True)
    vendor: Mapped[str] = mapped_column(sa.String(255), index=True)
    model: Mapped[str] = mapped_column(sa.String(255))
    std_board_info: Mapped[str | None] = mapped_column(sa.Text)
    vendor_board_info: Mapped[str | None] = mapped_column(sa.Text)
    hostname: Mapped[str] = mapped_column(sa.String(255), index=True)
    # The agent's identity for the device on its host (serial, UUID or PCI address): reports
    # are matched on (hostname, stable_id), so a device keeps its uuid across reports.
    stable_id: Mapped[str] = mapped_column(sa.String(255))
    driver_name: Mapped[str | None] = mapped_column(sa.String(64))
    # enabled | maintaining (Cyborg's status, microversion 2.3)
    status: Mapped[str] = mapped_column(sa.String(16), default="enabled")
    # True while the device is gone from its host's reports but an ARQ still holds it.
    missing: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # The firmware job that has taken the device out of scheduling (no new binds), if any.
    firmware_drain: Mapped[str | None] = mapped_column(sa.String(36))
    # Bumped on every change, for optimistic concurrency between conductors.
    generation: Mapped[int] = mapped_column(sa.Integer, default=0)


class ControlpathId(TimestampMixin, Base):
    """How the agent reaches a device (a PCI address for every driver today)."""

    __tablename__ = "controlpath_ids"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    device_id: Mapped[int] = mapped_column(
        sa.ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    cpid_type: Mapped[str] = mapped_column(sa.String(16))
    cpid_info: Mapped[str] = mapped_column(sa.Text)


class Deployable(TimestampMixin, Base):
    """What is scheduled: a whole GPU, a MIG/vGPU slice, an FPGA region, a VF."""

    __tablename__ = "deployables"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    num_accelerators: Mapped[int] = mapped_column(sa.Integer, default=1)
    device_id: Mapped[int] = mapped_column(
        sa.ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(sa.Integer)
    root_id: Mapped[int | None] = mapped_column(sa.Integer)
    rp_uuid: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    driver_name: Mapped[str | None] = mapped_column(sa.String(64))
    bitstream_id: Mapped[str | None] = mapped_column(sa.String(36))


class Attribute(TimestampMixin, Base):
    """A key/value on a deployable: ``rc`` (resource class) and ``traitN`` (traits), or any."""

    __tablename__ = "attributes"
    __table_args__ = (sa.UniqueConstraint("deployable_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    deployable_id: Mapped[int] = mapped_column(
        sa.ForeignKey("deployables.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(sa.String(255))
    value: Mapped[str] = mapped_column(sa.String(255))


class AttachHandle(TimestampMixin, Base):
    """How a deployable is given to an instance: a PCI address or an mdev."""

    __tablename__ = "attach_handles"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    deployable_id: Mapped[int] = mapped_column(
        sa.ForeignKey("deployables.id", ondelete="CASCADE"), index=True
    )
    cpid_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("controlpath_ids.id", ondelete="SET NULL"), index=True
    )
    # PCI | MDEV | TEST_PCI
    attach_type: Mapped[str] = mapped_column(sa.String(16))
    # JSON object of strings, e.g. {"domain": "0000", "bus": "3b", "device": "00", ...}
    attach_info: Mapped[str] = mapped_column(sa.Text)
    in_use: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class DeviceProfile(TimestampMixin, Base):
    """A named, immutable list of request groups (Placement resources, traits, accel:*)."""

    __tablename__ = "device_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    # JSON list of string->string dicts, order preserved (Nova's device_profile_<i>).
    groups: Mapped[str] = mapped_column(sa.Text)


class AcceleratorRequest(TimestampMixin, Base):
    """An ARQ: one accelerator of one profile group, owned by a project, bound to an instance."""

    __tablename__ = "accelerator_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    # Initial | BindStarted | Bound | BindFailed | Unbound | Deleting
    state: Mapped[str] = mapped_column(sa.String(16), default="Initial", index=True)
    device_profile_id: Mapped[int] = mapped_column(
        sa.ForeignKey("device_profiles.id", ondelete="RESTRICT"), index=True
    )
    device_profile_group_id: Mapped[int] = mapped_column(sa.Integer)
    project_id: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    hostname: Mapped[str | None] = mapped_column(sa.String(255))
    device_rp_uuid: Mapped[str | None] = mapped_column(sa.String(36))
    instance_uuid: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    attach_handle_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("attach_handles.id", ondelete="SET NULL"), index=True
    )
    # Program at bind: the bitstream job this BindStarted ARQ waits for (it holds its handle
    # meanwhile), and why a bind failed (shown from microversion 2.5).
    program_job_uuid: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    error: Mapped[str | None] = mapped_column(sa.Text)


class FirmwareComponent(TimestampMixin, Base):
    """One firmware component of a device (vbios, inforom, fpga_shell, ...) as last reported.

    Reconciled from agent reports; the firmware rollout reads the current versions here.
    """

    __tablename__ = "firmware_components"
    # The unique key's index leads with device_id, so it also serves the foreign key.
    __table_args__ = (sa.UniqueConstraint("device_id", "component"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("devices.id", ondelete="CASCADE"))
    component: Mapped[str] = mapped_column(sa.String(64))
    version: Mapped[str] = mapped_column(sa.String(255))
    updatable: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # How a new image becomes active: live | reset | reboot | power_cycle
    activation: Mapped[str] = mapped_column(sa.String(16), default="reset")
    # Written but not active yet (waits for the activation above).
    pending_version: Mapped[str | None] = mapped_column(sa.String(255))


class FirmwareImage(TimestampMixin, Base):
    """A firmware image in the catalog: metadata, compatibility, and where its bytes are.

    ``status`` is ``queued`` until its bytes are uploaded and verified, then ``active``.
    """

    __tablename__ = "firmware_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    name: Mapped[str] = mapped_column(sa.String(255))
    vendor: Mapped[str] = mapped_column(sa.String(4), index=True)
    component: Mapped[str] = mapped_column(sa.String(64), index=True)
    version: Mapped[str] = mapped_column(sa.String(64))
    # JSON lists: PCI device ids ("2330") and board models the image fits.
    device_ids: Mapped[str] = mapped_column(sa.Text, default="[]")
    models: Mapped[str] = mapped_column(sa.Text, default="[]")
    min_version: Mapped[str | None] = mapped_column(sa.String(64))
    # Bitstreams: the function they provide (a profile's accel:function_id) and the PR
    # interface ids of the regions they fit (JSON list; empty: any).
    function_id: Mapped[str | None] = mapped_column(sa.String(255))
    pr_interface_ids: Mapped[str | None] = mapped_column(sa.Text, default="[]")
    # The operator's expected sha256 until upload, then the verified one.
    sha256: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    signature: Mapped[str | None] = mapped_column(sa.Text)
    signed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    created_by_user: Mapped[str | None] = mapped_column(sa.String(255))
    created_by_project: Mapped[str | None] = mapped_column(sa.String(255))
    # Who sent the bytes: registering and uploading are separate acts, perhaps by different
    # operators, and the upload is the one that decides what a device will run.
    uploaded_by_user: Mapped[str | None] = mapped_column(sa.String(255))
    uploaded_by_project: Mapped[str | None] = mapped_column(sa.String(255))


class Rollout(TimestampMixin, Base):
    """A firmware rollout: an image, a selector, a strategy, and where it stands.

    ``state``: running | paused | halted | completed | aborted | failed. One conductor at a
    time advances it, holding the lease (``lease_owner`` until ``lease_expires``).
    """

    __tablename__ = "rollouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    # The image may be deleted once no unfinished rollout uses it; its identity stays here.
    image_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("firmware_images.id", ondelete="SET NULL"), index=True
    )
    image_uuid: Mapped[str] = mapped_column(sa.String(36))
    component: Mapped[str] = mapped_column(sa.String(64))
    target_version: Mapped[str] = mapped_column(sa.String(255))
    selector: Mapped[str] = mapped_column(sa.Text)  # JSON
    strategy: Mapped[str] = mapped_column(sa.Text)  # JSON, every default explicit
    state: Mapped[str] = mapped_column(sa.String(16), default="running", index=True)
    current_wave: Mapped[int] = mapped_column(sa.Integer, default=0)
    wave_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    # When the current wave's last job ended: the next starts after bake_seconds from here.
    wave_finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Failures of the current wave an operator accepted by resuming a halted rollout: the
    # budget counts only failures beyond them.
    forgiven_failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    message: Mapped[str | None] = mapped_column(sa.Text)  # why it halted, failed or ended
    rollback_of: Mapped[str | None] = mapped_column(sa.String(36))
    # NULL for an operator's rollout, "program" for a deployable's bitstream load.
    kind: Mapped[str | None] = mapped_column(sa.String(16))
    created_by_user: Mapped[str | None] = mapped_column(sa.String(255))
    created_by_project: Mapped[str | None] = mapped_column(sa.String(255))
    last_action: Mapped[str | None] = mapped_column(sa.String(16))
    last_action_by_user: Mapped[str | None] = mapped_column(sa.String(255))
    last_action_by_project: Mapped[str | None] = mapped_column(sa.String(255))
    last_action_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(255))
    lease_expires: Mapped[dt.datetime | None] = mapped_column(DateTime)
    generation: Mapped[int] = mapped_column(sa.Integer, default=0)


class RolloutJob(TimestampMixin, Base):
    """One device's part in a rollout, and afterwards its firmware history.

    ``state``: pending, draining, dispatched, flashing, verifying, then succeeded, failed,
    skipped, pending_activation or cancelled. Every transition is written before it is acted on.
    """

    __tablename__ = "rollout_jobs"
    __table_args__ = (sa.UniqueConstraint("rollout_id", "device_uuid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=new_uuid)
    rollout_id: Mapped[int] = mapped_column(sa.ForeignKey("rollouts.id", ondelete="CASCADE"))
    # The device's uuid and host are kept as text: history outlives the device's row.
    device_uuid: Mapped[str] = mapped_column(sa.String(36), index=True)
    hostname: Mapped[str] = mapped_column(sa.String(255), index=True)
    component: Mapped[str] = mapped_column(sa.String(64))
    wave: Mapped[int] = mapped_column(sa.Integer)
    position: Mapped[int] = mapped_column(sa.Integer)
    state: Mapped[str] = mapped_column(sa.String(24), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    version_before: Mapped[str | None] = mapped_column(sa.String(255))
    version_after: Mapped[str | None] = mapped_column(sa.String(255))
    error_code: Mapped[str | None] = mapped_column(sa.String(32))
    error: Mapped[str | None] = mapped_column(sa.Text)
    deadline: Mapped[dt.datetime | None] = mapped_column(DateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # The conductor that last dispatched the job (its conductors name; issue 18).
    dispatched_by: Mapped[str | None] = mapped_column(sa.String(255))


# The usage, lending and cluster tables live in modules of their own; importing them here
# puts them on Base.metadata wherever the models are loaded (alembic, the schema test), and keeps
# ``models.<Name>`` working for every table.
from cyborg_lite.db.models_cluster import Conductor  # noqa: E402
from cyborg_lite.db.models_lending import (  # noqa: E402
    AcceleratorPool,
    Loan,
    PoolDevice,
    PoolWindow,
)
from cyborg_lite.db.models_usage import DeviceUsage, UsageRollup  # noqa: E402

__all__ = [
    "AcceleratorPool",
    "Conductor",
    "DeviceUsage",
    "Loan",
    "PoolDevice",
    "PoolWindow",
    "UsageRollup",
]
