"""``/metrics``: Prometheus text with the counts the service manages, public or behind auth."""

from __future__ import annotations

import falcon.testing

from cyborg_lite.api.app import create_app
from cyborg_lite.firmware import states
from tests import firmware_fleet as ff
from tests import personas
from tests.conftest import make_test_conf
from tests.functional.envelope import message


def samples(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = int(value)
    return out


def test_metrics_count_what_is_in_sql(client, db):
    ff.fleet(db, hosts=3, per_host=2)
    uuid = ff.rollout(db, ff.image(db), {"hosts": ["node000", "node001"]}, {"canary": 0})
    assert uuid
    result = client.simulate_get("/metrics", headers={})
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(result.text)
    assert got['cyborg_lite_rollouts{state="running"}'] == 1
    assert got['cyborg_lite_rollouts{state="completed"}'] == 0
    assert got['cyborg_lite_firmware_jobs{state="pending"}'] == 4
    assert got['cyborg_lite_hosts{state="up"}'] == 3
    assert got['cyborg_lite_devices{type="GPU",host_state="up"}'] == 6
    assert got['cyborg_lite_arqs{state="Bound"}'] == 0
    assert all(f'cyborg_lite_firmware_jobs{{state="{s}"}}' in got for s in states.JOB_STATES)
    assert "# TYPE cyborg_lite_rollouts gauge" in result.text


def test_metrics_behind_auth_when_not_public(db, tmp_path):
    conf = make_test_conf(str(tmp_path), **{"api.metrics_public": False})
    client = falcon.testing.TestClient(create_app(conf, db=db))
    denied = client.simulate_get("/metrics", headers=personas.MEMBER)
    assert denied.status_code == 403
    assert "cyborg:metrics:get" in message(denied)
    assert client.simulate_get("/metrics", headers=personas.ADMIN).status_code == 200
