"""schemathesis against the OpenAPI document the service publishes (``/v2/openapi.json``).

Every documented operation is fuzzed in process through the real falcon app (as deployed by
``wsgi.build``, noauth: the default identity is an admin holding the service role, so requests
reach the deepest code) on a SQLite database seeded with one device, a profile, an ARQ, an
image and a rollout, so that some generated uuids and names hit real rows. Each case runs at
microversion 2.0 (no header, what Nova sends) and at the newest.

Checks: no 5xx; every status, content type, header and body is one the document declares.
Bounded: ``max_examples`` per operation, no deadline (the machine is shared), no shrinking
beyond hypothesis's defaults, derandomized so a failure is reproducible.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import falcon.testing
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from cyborg_lite.api import openapi, wsgi
from cyborg_lite.db import migration, models
from cyborg_lite.db.engine import Database
from tests import seed
from tests.conftest import make_test_conf

# Per operation; a deeper run: CYBORG_LITE_FUZZ_EXAMPLES=500 pytest tests/functional/test_fuzz.py
MAX_EXAMPLES = int(os.environ.get("CYBORG_LITE_FUZZ_EXAMPLES", "10"))
VERSIONS = ({}, {"OpenStack-API-Version": "accelerator latest"})
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def _seed(app: Any, db: Database) -> None:
    ids = seed.device(db, hostname="compute1", handles=2)
    with db.transaction() as s:
        s.add(
            models.FirmwareComponent(
                device_id=ids["device_id"],
                component="vbios",
                version="96.00.5A.00.01",
                updatable=True,
                activation="reset",
            )
        )
    client = falcon.testing.TestClient(app)
    v24 = {"OpenStack-API-Version": "accelerator 2.4"}
    made = client.simulate_post(
        "/v2/device_profiles", json=[{"name": "fuzz", "groups": [{"resources:PGPU": "1"}]}]
    )
    assert made.status_code == 201, made.text
    made = client.simulate_post("/v2/accelerator_requests", json={"device_profile_name": "fuzz"})
    assert made.status_code == 201, made.text
    data = b"fuzz image"
    image = client.simulate_post(
        "/v2/firmware_images",
        headers=v24,
        json={
            "name": "fuzz",
            "vendor": "10de",
            "component": "vbios",
            "version": "96.00.99.00.01",
            "device_ids": ["2330"],
            "sha256": hashlib.sha256(data).hexdigest(),
        },
    )
    assert image.status_code == 201, image.text
    put = client.simulate_put(
        f"/v2/firmware_images/{image.json['uuid']}/file",
        body=data,
        headers={**v24, "Content-Type": "application/octet-stream"},
    )
    assert put.status_code == 200, put.text
    rollout = client.simulate_post(
        "/v2/firmware_rollouts",
        headers=v24,
        json={
            "image_uuid": image.json["uuid"],
            "selector": {"hosts": ["compute1"]},
            "strategy": {"canary": 0, "waves": ["100%"]},
        },
    )
    assert rollout.status_code == 201, rollout.text


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The deployed WSGI app on a seeded SQLite database."""
    state = tmp_path_factory.mktemp("fuzz")
    conf = make_test_conf(str(state))
    url = f"sqlite:///{state / 'fuzz.sqlite'}"
    conf.set_override("connection", url, group="database")
    db = Database(url)
    migration.upgrade(db.engine)
    app = wsgi.build(conf)
    _seed(app, db)
    yield app
    db.dispose()


def test_the_served_document_is_the_one_fuzzed(fuzz_app: Any) -> None:
    served = falcon.testing.TestClient(fuzz_app).simulate_get("/v2/openapi.json")
    assert served.status_code == 200
    document = served.json
    document.pop("servers")  # the request's own base URL, added when served
    assert document == openapi.document()


# Built from the document in code, which the test above proves is the one served: the
# schema must exist at collection time, before any fixture runs.
schema = schemathesis.openapi.from_dict(openapi.document())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_document(fuzz_app: Any, case: schemathesis.Case) -> None:
    for version in VERSIONS:
        case.call_and_validate(app=fuzz_app, headers=version, checks=CHECKS)
