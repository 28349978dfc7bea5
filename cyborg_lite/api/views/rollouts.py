"""How rollouts, their plans and their jobs look in the API."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from cyborg_lite.api import util
from cyborg_lite.db import models
from cyborg_lite.db import rollouts as db_rollouts
from cyborg_lite.firmware import plan, states
from cyborg_lite.firmware import strategy as strategy_mod


def plan_body(
    the_plan: plan.Plan, strategy: strategy_mod.Strategy, image_uuid: str
) -> dict[str, Any]:
    """A dry run's answer: every wave with its devices, every device left out and why."""
    return {
        "dry_run": True,
        "image_uuid": image_uuid,
        "strategy": strategy.to_dict(),
        "total": the_plan.total,
        "waves": [
            {
                "wave": n,
                "canary": the_plan.canary and n == 0,
                "devices": [
                    {
                        "uuid": c.uuid,
                        "hostname": c.hostname,
                        "model": c.model,
                        "current_version": c.current_version,
                        "in_use": c.in_use,
                    }
                    for c in wave
                ],
            }
            for n, wave in enumerate(the_plan.waves)
        ],
        "excluded": [
            {"uuid": e.uuid, "hostname": e.hostname, "reason": e.reason, "detail": e.detail}
            for e in the_plan.excluded
        ],
    }


def _eta(
    rollout: models.Rollout, progress: db_rollouts.Progress, now: dt.datetime
) -> tuple[int | None, str | None]:
    if rollout.state not in states.UNFINISHED or progress.mean_job_seconds is None:
        return None, None
    total = sum(progress.by_state.values())
    left = total - sum(n for s, n in progress.by_state.items() if s in states.TERMINAL)
    strategy = json.loads(rollout.strategy)
    parallel = max(1, int(strategy.get("max_in_flight", 1)))
    waves_left = max(0, rollout.wave_count - rollout.current_wave - 1)
    seconds = math.ceil(left / parallel) * progress.mean_job_seconds
    seconds += waves_left * int(strategy.get("bake_seconds", 0))
    at = now + dt.timedelta(seconds=seconds)
    return round(seconds), util.timestamp(at)


def rollout_body(
    rollout: models.Rollout, progress: db_rollouts.Progress, base: str, now: dt.datetime
) -> dict[str, Any]:
    """A rollout with its state, counts per job state and per wave, and an ETA."""
    eta_seconds, eta = _eta(rollout, progress, now)
    total = sum(progress.by_state.values())
    return {
        "uuid": rollout.uuid,
        "image_uuid": rollout.image_uuid,
        "component": rollout.component,
        "target_version": rollout.target_version,
        "selector": json.loads(rollout.selector),
        "strategy": json.loads(rollout.strategy),
        "state": rollout.state,
        "message": rollout.message or None,
        "current_wave": rollout.current_wave,
        "wave_count": rollout.wave_count,
        "total": total,
        "counts": {s: progress.by_state.get(s, 0) for s in states.JOB_STATES},
        "waves": [
            {
                "wave": n,
                "size": sum(progress.by_wave.get(n, {}).values()),
                "counts": dict(sorted(progress.by_wave.get(n, {}).items())),
            }
            for n in range(rollout.wave_count)
        ],
        "eta_seconds": eta_seconds,
        "eta": eta,
        "rollback_of": rollout.rollback_of,
        "created_by": {
            "user_id": rollout.created_by_user,
            "project_id": rollout.created_by_project,
        },
        "last_action": (
            {
                "action": rollout.last_action,
                "user_id": rollout.last_action_by_user,
                "project_id": rollout.last_action_by_project,
                "at": util.timestamp(rollout.last_action_at),
            }
            if rollout.last_action
            else None
        ),
        "started_at": util.timestamp(rollout.started_at),
        "finished_at": util.timestamp(rollout.finished_at),
        "links": util.self_link(base, "firmware_rollouts", rollout.uuid),
        "created_at": util.timestamp(rollout.created_at),
        "updated_at": util.timestamp(rollout.updated_at),
    }


def job_body(job: models.RolloutJob, rollout_uuid: str) -> dict[str, Any]:
    """One job: a device's part in a rollout."""
    return {
        "uuid": job.uuid,
        "rollout_uuid": rollout_uuid,
        "device_uuid": job.device_uuid,
        "hostname": job.hostname,
        "component": job.component,
        "wave": job.wave,
        "position": job.position,
        "state": job.state,
        "attempts": job.attempts,
        "version_before": job.version_before,
        "version_after": job.version_after,
        "error_code": job.error_code,
        "error": job.error,
        "deadline": util.timestamp(job.deadline),
        "started_at": util.timestamp(job.started_at),
        "finished_at": util.timestamp(job.finished_at),
        "created_at": util.timestamp(job.created_at),
        "updated_at": util.timestamp(job.updated_at),
    }
