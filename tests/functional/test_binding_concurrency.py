"""Concurrent binds on every backend: never two ARQs on one attach handle.

Many threads bind their own ARQ to one deployable that has fewer handles than ARQs, each in
its own transaction, all released at once by a barrier. Exactly as many ARQs as there are
handles end ``Bound``, each on a different handle; the rest end ``BindFailed``.
"""

from __future__ import annotations

import threading
import uuid
from concurrent import futures

import sqlalchemy as sa

from cyborg_lite.arqs import states
from cyborg_lite.db import arqs as db_arqs
from cyborg_lite.db import device_profiles as db_profiles
from cyborg_lite.db import models
from cyborg_lite.usecases import arqs as arq_cases
from tests import seed

THREADS = 8
ARQ_COUNT = 12
HANDLES = 5


def _make_arqs(db, count):
    with db.transaction() as s:
        groups = [{"resources:PGPU": str(count)}]
        profile = db_profiles.create_profile(s, name="race", groups=groups)
        views = db_arqs.create_for_profile(s, profile, groups, project_id="p")
        return [v.arq.uuid for v in views]


def test_concurrent_binds_never_share_a_handle(db):
    rp_uuid = seed.device(db, handles=HANDLES)["rp_uuid"]
    uuids = _make_arqs(db, ARQ_COUNT)
    barrier = threading.Barrier(THREADS)

    def bind_all(mine):
        barrier.wait()
        results = {}
        for arq_uuid in mine:
            target = states.BindTarget("compute1", rp_uuid, str(uuid.uuid4()))
            with db.transaction() as s:
                results.update(arq_cases.bind(s, {arq_uuid: target}, project_id="p"))
        return results

    shares = [uuids[i::THREADS] for i in range(THREADS)]
    with futures.ThreadPoolExecutor(THREADS) as pool:
        outcomes = {}
        for result in pool.map(bind_all, shares):
            outcomes.update(result)

    assert sorted(outcomes.values()).count("Bound") == HANDLES
    assert sorted(outcomes.values()).count("BindFailed") == ARQ_COUNT - HANDLES
    with db.transaction() as s:
        rows = s.execute(
            sa.select(models.AcceleratorRequest.state, models.AcceleratorRequest.attach_handle_id)
        ).all()
        free = s.scalar(sa.select(sa.func.count()).where(models.AttachHandle.in_use.is_(False)))
    held = [h for state, h in rows if state == "Bound"]
    assert len(held) == HANDLES
    assert None not in held
    assert len(set(held)) == HANDLES
    assert all(h is None for state, h in rows if state == "BindFailed")
    assert free == 0
