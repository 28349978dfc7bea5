"""Policy rules for the firmware image catalog: admins manage it; agents (the service role)
may download images to flash them."""

from __future__ import annotations

from oslo_policy import policy

from cyborg_lite.api.policies import base

CREATE = "cyborg:firmware_image:create"
GET_ALL = "cyborg:firmware_image:get_all"
GET_ONE = "cyborg:firmware_image:get_one"
UPLOAD = "cyborg:firmware_image:upload"
DOWNLOAD = "cyborg:firmware_image:download"
DELETE = "cyborg:firmware_image:delete"

_ADMIN_OR_SERVICE = "rule:admin_api or rule:service_api"


def list_rules() -> list[policy.RuleDefault]:
    """The firmware image rules."""
    return [
        base.rule(
            CREATE, base.ADMIN, "Register a firmware image.", [("POST", "/v2/firmware_images")]
        ),
        base.rule(GET_ALL, base.ADMIN, "List firmware images.", [("GET", "/v2/firmware_images")]),
        base.rule(
            GET_ONE,
            _ADMIN_OR_SERVICE,
            "Show a firmware image.",
            [("GET", "/v2/firmware_images/{uuid}")],
        ),
        base.rule(
            UPLOAD,
            base.ADMIN,
            "Upload a firmware image's bytes.",
            [("PUT", "/v2/firmware_images/{uuid}/file")],
        ),
        base.rule(
            DOWNLOAD,
            _ADMIN_OR_SERVICE,
            "Download a firmware image's bytes (agents do, to flash them).",
            [("GET", "/v2/firmware_images/{uuid}/file")],
        ),
        base.rule(
            DELETE,
            base.ADMIN,
            "Delete a firmware image.",
            [("DELETE", "/v2/firmware_images/{uuid}")],
        ),
    ]
