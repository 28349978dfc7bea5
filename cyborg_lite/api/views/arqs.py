"""How accelerator requests (ARQs) look in the API."""

from __future__ import annotations

from typing import Any

from cyborg_lite.api import util
from cyborg_lite.arqs import states as arq_states
from cyborg_lite.db import arqs as db_arqs

ERROR_VERSION = (2, 5)


def serialize(
    view: db_arqs.ArqView, base: str, version: tuple[int, int] = (2, 0)
) -> dict[str, Any]:
    """An ARQ as Cyborg shows it; attach handle details only once ``Bound``; from 2.5 its
    ``error`` (why a bind failed, else null)."""
    arq = view.arq
    bound = arq.state == arq_states.BOUND and view.handle is not None
    body = {
        "uuid": arq.uuid,
        "state": arq.state,
        "device_profile_name": view.profile_name,
        "device_profile_group_id": arq.device_profile_group_id,
        "hostname": arq.hostname,
        "device_rp_uuid": arq.device_rp_uuid,
        "instance_uuid": arq.instance_uuid,
        "project_id": arq.project_id,
        "attach_handle_type": view.handle.attach_type if bound and view.handle else "",
        "attach_handle_uuid": view.handle.uuid if bound and view.handle else None,
        "attach_handle_info": view.handle_info if bound else {},
        "links": util.self_link(base, "accelerator_requests", arq.uuid),
        "created_at": util.timestamp(arq.created_at),
        "updated_at": util.timestamp(arq.updated_at),
    }
    if version >= ERROR_VERSION:
        body["error"] = arq.error
    return body
