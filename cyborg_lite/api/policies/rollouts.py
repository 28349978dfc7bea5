"""Policy rules for firmware rollouts and the device firmware view (admins; managers read)."""

from __future__ import annotations

from oslo_policy import policy

from cyborg_lite.api.policies import base

CREATE = "cyborg:firmware_rollout:create"
GET_ALL = "cyborg:firmware_rollout:get_all"
GET_ONE = "cyborg:firmware_rollout:get_one"
JOBS = "cyborg:firmware_rollout:get_jobs"
ACTION = "cyborg:firmware_rollout:action"
DEVICE_FIRMWARE = "cyborg:device:firmware"


def list_rules() -> list[policy.RuleDefault]:
    """The rollout rules."""
    return [
        base.rule(
            CREATE,
            base.ADMIN,
            "Plan (dry run) or start a firmware rollout.",
            [("POST", "/v2/firmware_rollouts")],
        ),
        base.rule(
            GET_ALL,
            base.PROJECT_MANAGER_OR_ADMIN,
            "List firmware rollouts.",
            [("GET", "/v2/firmware_rollouts")],
        ),
        base.rule(
            GET_ONE,
            base.PROJECT_MANAGER_OR_ADMIN,
            "Show a firmware rollout.",
            [("GET", "/v2/firmware_rollouts/{uuid}")],
        ),
        base.rule(
            JOBS,
            base.PROJECT_MANAGER_OR_ADMIN,
            "List a rollout's jobs.",
            [("GET", "/v2/firmware_rollouts/{uuid}/jobs")],
        ),
        base.rule(
            ACTION,
            base.ADMIN,
            "Pause, resume, abort or roll back a rollout.",
            [("POST", "/v2/firmware_rollouts/{uuid}/action")],
        ),
        base.rule(
            DEVICE_FIRMWARE,
            base.PROJECT_MANAGER_OR_ADMIN,
            "Show a device's firmware components and history.",
            [("GET", "/v2/devices/{uuid}/firmware")],
        ),
    ]
