"""The API as deployed: the real ``cyborg-lite-api`` (gunicorn, 2 workers) over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cyborg_lite.api import routes
from cyborg_lite.api.resources import attributes, deployables, devices, health, openapi, versions
from cyborg_lite.db.engine import Database
from tests import seed
from tests.functional.servers import call, running_api, sqlite_url

pytestmark = pytest.mark.slow


def fault(body: dict[str, str]) -> str:
    """The faultstring of Cyborg's double-encoded error envelope."""
    return str(json.loads(body["error_message"])["faultstring"])


def test_every_route_over_real_http(tmp_path):
    with running_api({}, tmp_path) as base:
        db = Database(sqlite_url(tmp_path))
        ids = seed.device(db)
        db.dispose()
        dev, dep = ids["device_uuid"], ids["deployable_uuid"]
        exercised: set[str] = set()

        def get(template: str, path: str, **kwargs: Any) -> tuple[int, dict[str, str], Any]:
            exercised.add(template)
            status, headers, raw = call(kwargs.pop("method", "GET"), base + path, **kwargs)
            assert headers["x-openstack-request-id"].startswith("req-")
            is_json = headers.get("content-type", "").startswith("application/json")
            return status, headers, json.loads(raw) if is_json and raw else raw

        status, _, body = get("/", "/")
        assert (status, body["name"]) == (200, "OpenStack Cyborg API")
        assert body["versions"][0]["links"][0]["href"] == f"{base}/v2"
        status, headers, body = get("/v2", "/v2/")
        assert (status, body["id"]) == (200, "v2.0")
        assert headers["openstack-api-version"] == "accelerator 2.0"
        assert get("/healthcheck", "/healthcheck")[::2] == (200, b"OK")
        status, _, body = get("/v2/openapi.json", "/v2/openapi.json")
        assert (status, body["openapi"], body["servers"]) == (200, "3.0.3", [{"url": base}])

        status, _, body = get("/v2/devices", "/v2/devices")
        assert (status, [d["uuid"] for d in body["devices"]]) == (200, [dev])
        status, _, body = get("/v2/devices/{uuid}", f"/v2/devices/{dev}")
        assert (status, body["hostname"]) == (200, "compute1")
        for action in ("disable", "enable"):
            status, _, raw = get(
                f"/v2/devices/{{uuid}}/{action}", f"/v2/devices/{dev}/{action}", method="POST"
            )
            assert (status, raw) == (204, b"")

        status, _, body = get("/v2/deployables", "/deployables")  # unversioned, as Cyborg
        assert (status, [d["uuid"] for d in body["deployables"]]) == (200, [dep])
        status, _, body = get("/v2/deployables/{uuid}", f"/v2/deployables/{dep}")
        assert (status, body["device_id"]) == (200, ids["device_id"])
        assert json.loads(body["attributes_list"])[0] == {"rc": "PGPU"}
        patch = [{"path": "/program", "op": "replace", "value": [{"image_uuid": dep}]}]
        status, _, raw = get(
            "/v2/deployables/{uuid}/program",
            f"/v2/deployables/{dep}/program",
            method="PATCH",
            body=patch,
        )
        assert status == 400
        assert "no firmware image" in fault(raw)

        new = {"attribute": {"deployable_id": dep, "key": "zone", "value": "a"}}
        status, _, body = get("/v2/attributes", "/v2/attributes", method="POST", body=new)
        assert (status, body["key"], body["deployable_id"]) == (201, "zone", ids["deployable_id"])
        item = f"/v2/attributes/{body['uuid']}"
        status, _, listed = get("/v2/attributes", "/v2/attributes?key=zone")
        assert (status, [a["uuid"] for a in listed["attributes"]]) == (200, [body["uuid"]])
        assert get("/v2/attributes/{uuid}", item)[0] == 200
        assert get("/v2/attributes/{uuid}", item, method="DELETE")[::2] == (204, b"")
        status, _, missing = get("/v2/attributes/{uuid}", item)
        assert status == 404
        assert "Attribute not found" in fault(missing)

        status, _, unknown = get("/v2/nothing", "/v2/nothing")
        assert status == 404
        assert "/v2/nothing" in fault(unknown)
    exercised.discard("/v2/nothing")
    assert exercised <= {template for template, _, _ in routes.ROUTES}
    # Every route of the resources this test knows was called (other resources have their own).
    known = (attributes, deployables, devices, health, openapi, versions)
    mine = {t for t, cls, _ in routes.ROUTES if any(cls.__module__ == m.__name__ for m in known)}
    assert mine <= exercised
