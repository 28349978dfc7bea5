"""How deployables look in the API, and the 202 body of a program still loading."""

from __future__ import annotations

import json
from typing import Any

from cyborg_lite.api import util
from cyborg_lite.db import deployables as db_deployables
from cyborg_lite.usecases import programs


def attributes_list(pairs: list[tuple[str, str]]) -> str:
    """Cyborg's ``attributes_list``: a JSON *string* of single-key dicts, in creation order.

    Clients only display it, but some parse it as Cyborg writes it, so the encoding (and
    ``json.dumps``'s default separators) match: ``[{"rc": "PGPU"}, {"trait0": "..."}]``.
    """
    return json.dumps([{key: value} for key, value in pairs])


def with_traits(pairs: list[tuple[str, str]], traits: tuple[str, ...]) -> list[tuple[str, str]]:
    """``pairs`` with ``traits`` appended as further ``traitN`` entries (numbered after the
    highest ``traitN`` already there), skipping any the attributes carry already: how an
    offered device shows its lending traits."""
    have = {v for k, v in pairs if k.startswith("trait")}
    numbers = [int(k[5:]) for k, _ in pairs if k.startswith("trait") and k[5:].isdigit()]
    following = max(numbers, default=-1) + 1
    extra = []
    for trait in traits:
        if trait not in have:
            extra.append((f"trait{following}", trait))
            following += 1
    return [*pairs, *extra]


def serialize(found: db_deployables.WithAttributes, base: str) -> dict[str, Any]:
    """A deployable as Cyborg shows it, with its self and bookmark links."""
    dep = found.deployable
    return {
        "uuid": dep.uuid,
        "name": dep.name,
        "num_accelerators": dep.num_accelerators,
        "device_id": dep.device_id,
        "parent_id": dep.parent_id,
        "root_id": dep.root_id,
        "attributes_list": attributes_list(with_traits(found.attributes, found.lending_traits)),
        "rp_uuid": dep.rp_uuid,
        "driver_name": dep.driver_name,
        "bitstream_id": dep.bitstream_id,
        "links": [
            *util.self_link(base, "deployables", dep.uuid),
            {"href": f"{base}/deployables/{dep.uuid}", "rel": "bookmark"},
        ],
        "created_at": util.timestamp(dep.created_at),
        "updated_at": util.timestamp(dep.updated_at),
    }


def job_accepted(started: programs.Started, base: str) -> dict[str, Any]:
    """The 202 body of a load still running after ``[api] program_timeout``: the job and
    where to follow it (the program's rollout, its jobs, the device's firmware history)."""
    rollout = f"{base}/v2/firmware_rollouts/{started.rollout_uuid}"
    return {
        "job_uuid": started.job_uuid,
        "rollout_uuid": started.rollout_uuid,
        "deployable_uuid": started.deployable_uuid,
        "image_uuid": started.image_uuid,
        "links": [
            {"href": f"{rollout}/jobs", "rel": "jobs"},
            {"href": rollout, "rel": "rollout"},
        ],
    }
