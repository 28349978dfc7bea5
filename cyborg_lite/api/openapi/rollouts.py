"""OpenAPI for firmware rollouts and the device firmware view (microversion 2.4)."""

from __future__ import annotations

from typing import Any

from cyborg_lite.api.openapi.common import (
    NEXT_LINK_HEADER,
    PAGING,
    errors,
    json_response,
    operation,
    page_properties,
    query,
    ref,
    request_schema,
    uuid_path,
)
from cyborg_lite.api.policies import rollouts as rules
from cyborg_lite.api.schemas import rollouts as request
from cyborg_lite.firmware import states

_S = {"type": "string"}
_NS = {"type": "string", "nullable": True}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}

SCHEMAS: dict[str, Any] = {
    "RolloutCreate": request_schema(request.CREATE),
    "RolloutPlan": {
        "type": "object",
        "required": ["dry_run", "total", "waves", "excluded"],
        "properties": {
            "dry_run": {"type": "boolean"},
            "image_uuid": _S,
            "strategy": {"type": "object"},
            "total": {"type": "integer"},
            "waves": {"type": "array", "items": {"type": "object"}},
            "excluded": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"uuid": _S, "hostname": _S, "reason": _S, "detail": _S},
                },
            },
        },
    },
    "Rollout": {
        "type": "object",
        "required": ["uuid", "state", "image_uuid", "counts", "waves"],
        "properties": {
            "uuid": _S,
            "image_uuid": _S,
            "component": _S,
            "target_version": _S,
            "selector": {"type": "object"},
            "strategy": {"type": "object"},
            "state": {"type": "string", "enum": list(states.ROLLOUT_STATES)},
            "message": _NS,
            "current_wave": {"type": "integer"},
            "wave_count": {"type": "integer"},
            "total": {"type": "integer"},
            "counts": _COUNTS,
            "waves": {"type": "array", "items": {"type": "object"}},
            "eta_seconds": {"type": "integer", "nullable": True},
            "eta": _NS,
            "rollback_of": _NS,
            "created_by": {
                "type": "object",
                "required": ["user_id", "project_id"],
                "properties": {"user_id": _NS, "project_id": _NS},
            },
            "last_action": {
                "type": "object",
                "nullable": True,
                "description": "The last pause, resume or abort: what, who (user and project) "
                "and when.",
                "required": ["action", "user_id", "project_id", "at"],
                "properties": {"action": _S, "user_id": _NS, "project_id": _NS, "at": _NS},
            },
            "started_at": _NS,
            "finished_at": _NS,
            "links": ref("Links"),
            "created_at": _NS,
            "updated_at": _NS,
        },
    },
    "RolloutList": {
        "type": "object",
        "required": ["firmware_rollouts"],
        "properties": page_properties("firmware_rollouts", "Rollout"),
    },
    "RolloutJob": {
        "type": "object",
        "required": ["uuid", "device_uuid", "state", "wave"],
        "properties": {
            "uuid": _S,
            "rollout_uuid": _S,
            "device_uuid": _S,
            "hostname": _S,
            "component": _S,
            "wave": {"type": "integer"},
            "position": {"type": "integer"},
            "state": {"type": "string", "enum": list(states.JOB_STATES)},
            "attempts": {"type": "integer"},
            "version_before": _NS,
            "version_after": _NS,
            "error_code": _NS,
            "error": _NS,
            "deadline": _NS,
            "started_at": _NS,
            "finished_at": _NS,
            "created_at": _NS,
            "updated_at": _NS,
        },
    },
    "RolloutJobList": {
        "type": "object",
        "required": ["jobs"],
        "properties": page_properties("jobs", "RolloutJob"),
    },
    "RolloutAction": request_schema(request.ACTION),
    "DeviceFirmware": {
        "type": "object",
        "required": ["device_uuid", "components", "history"],
        "properties": {
            "device_uuid": _S,
            "hostname": _S,
            "components": {"type": "array", "items": {"type": "object"}},
            "history": {"type": "array", "items": ref("RolloutJob")},
        },
    },
}

_ITEM = [uuid_path(description="The rollout's uuid.")]
_TAG = "firmware rollouts"

PATHS: dict[str, Any] = {
    "/v2/firmware_rollouts": {
        "post": operation(
            "Plan (dry_run) or start a firmware rollout.",
            _TAG,
            {
                "200": json_response(
                    "The plan (dry run): waves and exclusions.", ref("RolloutPlan")
                ),
                "201": json_response("The rollout, started.", ref("Rollout")),
                **errors(400, 403, 404, 406, 409),
            },
            body=ref("RolloutCreate"),
            policy=rules.CREATE,
        ),
        "get": operation(
            "List rollouts.",
            _TAG,
            {
                "200": json_response("The rollouts.", ref("RolloutList"), NEXT_LINK_HEADER),
                **errors(400, 403, 406),
            },
            parameters=[
                query("state", "Only rollouts in this state."),
                query("image_uuid", "Only rollouts of this image."),
                *PAGING,
            ],
            policy=rules.GET_ALL,
        ),
    },
    "/v2/firmware_rollouts/{uuid}": {
        "get": operation(
            "Show a rollout: state, counts per job state and per wave, ETA.",
            _TAG,
            {"200": json_response("The rollout.", ref("Rollout")), **errors(400, 403, 404, 406)},
            parameters=_ITEM,
            policy=rules.GET_ONE,
        )
    },
    "/v2/firmware_rollouts/{uuid}/jobs": {
        "get": operation(
            "List a rollout's jobs in plan order.",
            _TAG,
            {
                "200": json_response("The jobs.", ref("RolloutJobList"), NEXT_LINK_HEADER),
                **errors(400, 403, 404, 406),
            },
            parameters=[
                *_ITEM,
                query("state", "Job state."),
                query("wave", "Wave number.", {"type": "integer"}),
                query("hostname", "Host."),
                query("device_uuid", "Device."),
                *PAGING,
            ],
            policy=rules.JOBS,
        )
    },
    "/v2/firmware_rollouts/{uuid}/action": {
        "post": operation(
            "Pause, resume, abort or roll back a rollout.",
            _TAG,
            {
                "200": json_response("The rollout after the action.", ref("Rollout")),
                "201": json_response("Rollback: the new rollouts.", ref("RolloutList")),
                **errors(400, 403, 404, 406, 409),
            },
            parameters=_ITEM,
            body=ref("RolloutAction"),
            policy=rules.ACTION,
        )
    },
    "/v2/devices/{uuid}/firmware": {
        "get": operation(
            "A device's firmware components and every job that touched it.",
            "devices",
            {
                "200": json_response("The device's firmware.", ref("DeviceFirmware")),
                **errors(400, 403, 404, 406),
            },
            parameters=[uuid_path(description="The device's uuid.")],
            policy=rules.DEVICE_FIRMWARE,
        )
    },
}
