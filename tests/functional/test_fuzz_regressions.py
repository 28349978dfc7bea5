"""What the fuzzer (``test_fuzz.py``) found, each pinned by a plain test."""

from __future__ import annotations

import pytest

from cyborg_lite import exception
from cyborg_lite.api import validation
from cyborg_lite.api.schemas import rollouts as schemas
from cyborg_lite.firmware import strategy
from tests import personas, seed
from tests.functional.envelope import message
from tests.functional.test_openapi import check_response

V24 = personas.headers("admin", version="2.4")
HUGE = 1347835538078242033159372800  # past any SQL integer: used to overflow the driver (500)


def test_devices_at_2_4_match_the_document(client, db):
    # host_state (from 2.4) was missing from the Device schema, which forbids extra keys.
    ids = seed.device(db)
    listed = client.simulate_get("/v2/devices", headers=V24)
    assert listed.json["devices"][0]["host_state"] == "up"
    check_response("/v2/devices", "get", listed)
    check_response(
        "/v2/devices/{uuid}",
        "get",
        client.simulate_get(f"/v2/devices/{ids['device_uuid']}", headers=V24),
    )


def test_openapi_document_with_a_bad_microversion_is_a_documented_406(client):
    result = client.simulate_get(
        "/v2/openapi.json", headers={"OpenStack-API-Version": "accelerator nonsense"}
    )
    assert result.status_code == 406
    check_response("/v2/openapi.json", "get", result)


def test_huge_deployable_id_in_an_attribute_is_a_400(client, db):
    seed.device(db)
    result = client.simulate_post(
        "/v2/attributes", json={"deployable_id": HUGE, "key": "k", "value": "v"}
    )
    assert result.status_code == 400
    assert "deployable_id" in message(result)
    check_response("/v2/attributes", "post", result)


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/v2/attributes", f"deployable_id={HUGE}", "deployable_id"),
        ("/v2/devices", f"limit={HUGE}", None),
    ],
)
def test_huge_integers_in_queries(client, db, path, query, field):
    result = client.simulate_get(path, query_string=query)
    if field is None:
        assert result.status_code == 200  # limit is capped at [api] max_limit
    else:
        assert result.status_code == 400
        assert f"{field}: must be <= {2**31 - 1}" in message(result)


def test_huge_wave_filter_on_jobs_is_a_400(client, db):
    from tests.functional.test_rollouts_api import gpu_fleet, image, start

    gpu_fleet(db, hosts=1)
    rollout = start(client, image(client), {"hosts": ["node0"]}).json
    result = client.simulate_get(
        f"/v2/firmware_rollouts/{rollout['uuid']}/jobs", query_string=f"wave={HUGE}", headers=V24
    )
    assert result.status_code == 400
    assert "wave" in message(result)


@pytest.mark.parametrize(
    "body",
    [
        {"bake_seconds": HUGE},
        {"canary": HUGE},
        {"max_in_flight": HUGE},
        {"waves": [HUGE]},
        {"failure_budget": {"count": HUGE}},
    ],
)
def test_huge_strategy_numbers_are_refused(body):
    # A bake of 10**27 seconds overflowed timedelta in the engine: the rollout would be stuck.
    with pytest.raises(exception.Invalid):
        validation.check(schemas.STRATEGY, body)


def test_largest_strategy_numbers_are_accepted():
    body = {"bake_seconds": strategy.INT_MAX, "waves": [strategy.INT_MAX]}
    parsed = strategy.parse(validation.check(schemas.STRATEGY, body))
    assert parsed.bake_seconds == strategy.INT_MAX


def test_version_with_a_trailing_newline_is_refused(client):
    body = {
        "name": "n",
        "vendor": "10de",
        "component": "vbios",
        "version": "96.00.99.00.01\n",
        "device_ids": ["2330"],
    }
    result = client.simulate_post("/v2/firmware_images", json=body, headers=V24)
    assert result.status_code == 400
    assert "version" in message(result)
