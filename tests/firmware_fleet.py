"""Seeding a fleet with firmware, an image and rollouts straight into SQL (engine tests)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cyborg_lite.db import models
from cyborg_lite.db import rollouts as db_rollouts
from cyborg_lite.db.engine import Database
from cyborg_lite.usecases import rollouts as use_cases
from tests import seed

OLD, NEW = "96.00.5A.00.01", "96.00.99.00.01"


def fleet(db: Database, hosts: int, per_host: int, version: str = OLD) -> list[dict[str, Any]]:
    """``hosts`` x ``per_host`` H100s, each with an updatable vbios at ``version``."""
    out = []
    for h in range(hosts):
        for i in range(per_host):
            d = seed.device(db, hostname=f"node{h:03d}", pci=f"0000:{0x10 + i:02x}:00.0")
            with db.transaction() as s:
                s.add(
                    models.FirmwareComponent(
                        device_id=d["device_id"],
                        component="vbios",
                        version=version,
                        updatable=True,
                        activation="reset",
                    )
                )
            out.append(d)
    return out


def image(db: Database, version: str = NEW) -> str:
    """An active vbios image for device id 2330; returns its uuid."""
    data = f"vbios {version}".encode()
    with db.transaction() as s:
        img = models.FirmwareImage(
            name=f"vbios {version}",
            vendor="10de",
            component="vbios",
            version=version,
            device_ids=json.dumps(["2330"]),
            models="[]",
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            status="active",
            signed=False,
        )
        s.add(img)
        s.flush()
        return img.uuid


def rollout(
    db: Database, image_uuid: str, selector: dict[str, Any], strategy: dict[str, Any]
) -> str:
    """A started rollout (as the API creates it); returns its uuid."""
    with db.transaction() as s:
        img = use_cases.active_image(s, image_uuid)
        sel, strat, the_plan = use_cases.make_plan(s, img, selector, strategy)
        r = db_rollouts.create(s, img, sel, strat, the_plan, user_id="u", project_id="p")
        return r.uuid
