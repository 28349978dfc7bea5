"""Drives Nova's own Cyborg client (``nova.accelerator.cyborg``) against a cyborg-lite.

Run with the Python of the Nova client venv (``tests/client_venvs.py``), never imported by
the test suite: it needs the ``nova`` package, which the project's venv does not have. It
reads one JSON document on stdin, the scenario (see ``test_client_nova.py``)::

    {"endpoint": "http://127.0.0.1:PORT/v2", "mode": "catalog" | "override",
     "hostname": "sim-host-01", "profile": "...",
     "rg_rp_map": {"device_profile_0": ["<rp uuid>"], ...},
     "port_profile": "...", "port_rp": "<rp uuid whose only handle is taken>"}

and writes one JSON document on stdout: what every call returned or raised (``steps``) and
every HTTP request the client put on the wire with its answer (``wire``).

Nova's code runs unchanged. Only what a deployment configures differs: Nova's options
(``[cyborg]``, ``[service_user]``) come from a generated ``nova.conf``, and the request
context is built here as nova-api would build it from keystonemiddleware's output. Two modes:

``catalog``
    Production's path: the endpoint comes from the context's service catalog, the user's
    token is ``X-Auth-Token`` and Nova's service token ``X-Service-Token`` (keystoneauth's
    ``admin_token`` plugin under ``[service_user]``). cyborg-lite runs with noauth, so these
    requests act as its default identity plus the service role.
``override``
    ``[cyborg] endpoint_override`` (no catalog), and the user's auth plugin adds what
    keystonemiddleware would set in front of Cyborg after validating both tokens: the
    member's user, project and roles, and ``X-Service-Roles: service``. Ownership and policy
    then run as for a real project member calling through Nova.
"""

from __future__ import annotations

import inspect
import json
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import requests.adapters
from keystoneauth1 import plugin as ksa_plugin

WIRE: list[dict[str, Any]] = []
USER_TOKEN = "nova-user-token"  # fake tokens: the server runs noauth
SERVICE_TOKEN = "nova-service-token"
MEMBER = {"user": "nova-driver-user", "project": "nova-driver-project"}


def record_wire() -> None:
    """Record every request requests sends, and its answer, as it goes on the wire: the
    transport is observed, not changed (keystoneauth and openstacksdk run as they are)."""
    send = requests.adapters.HTTPAdapter.send

    def recording(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = send(self, request, *args, **kwargs)
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        WIRE.append(
            {
                "method": request.method,
                "url": request.url,
                "headers": dict(request.headers),
                "body": json.loads(body) if body else None,
                "status": response.status_code,
                "response": _json_or_none(response),
            }
        )
        return response

    requests.adapters.HTTPAdapter.send = recording  # type: ignore[method-assign]


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class KeystonemiddlewareHeaders(ksa_plugin.BaseAuthPlugin):
    """The user's auth for ``override`` mode: its token, plus the identity headers that
    keystonemiddleware would put in front of Cyborg once it validated the user's token and
    Nova's service token (cyborg-lite's noauth reads exactly those)."""

    def get_token(self, session: Any, **kwargs: Any) -> str:
        return USER_TOKEN

    def get_headers(self, session: Any, **kwargs: Any) -> dict[str, str]:
        return {
            "X-Auth-Token": USER_TOKEN,
            "X-User-Id": MEMBER["user"],
            "X-Project-Id": MEMBER["project"],
            "X-Roles": "member,reader",
            "X-Service-Roles": "service",
        }

    def get_endpoint(self, session: Any, **kwargs: Any) -> None:
        return None  # [cyborg] endpoint_override names it


def configure_nova(scenario: dict[str, Any], folder: Path) -> None:
    """Load a nova.conf into Nova's global CONF, as nova-compute reads its own."""
    import nova.conf

    lines = [
        "[service_user]",
        "send_service_user_token = true",
        "auth_type = admin_token",
        f"token = {SERVICE_TOKEN}",
        f"endpoint = {scenario['endpoint']}",  # admin_token needs one; the catalog wins
        "[cyborg]",
    ]
    if scenario["mode"] == "override":
        lines.append(f"endpoint_override = {scenario['endpoint']}")
    path = folder / "nova.conf"
    path.write_text("\n".join(lines) + "\n")
    nova.conf.CONF(["--config-file", str(path)], project="nova", default_config_files=[])


def make_context(scenario: dict[str, Any]) -> Any:
    """The RequestContext nova-api would have built for the member's request."""
    from nova import context

    catalog = [
        {
            "type": "accelerator",
            "name": "cyborg",
            "endpoints": [
                {
                    "region": "RegionOne",
                    "publicURL": scenario["endpoint"],
                    "internalURL": scenario["endpoint"],
                }
            ],
        }
    ]
    override = scenario["mode"] == "override"
    return context.RequestContext(
        user_id=MEMBER["user"],
        project_id=MEMBER["project"],
        roles=["member", "reader"],
        is_admin=False,  # decided here: Nova's policy engine is not loaded
        auth_token=USER_TOKEN,
        service_catalog=None if override else catalog,
        user_auth_plugin=KeystonemiddlewareHeaders() if override else None,
    )


def attempt(call: Any) -> dict[str, Any]:
    """``{"value": ...}`` or ``{"error": class name, "message": ...}`` for ``call()``."""
    try:
        return {"value": call()}
    except Exception as err:  # every Nova exception is data for the test
        return {"error": type(err).__name__, "message": str(err)}


def group_dict(group: Any) -> dict[str, Any]:
    """A RequestGroup as plain data."""
    return {
        "requester_id": group.requester_id,
        "resources": dict(group.resources),
        "required_traits": sorted(group.required_traits),
        "forbidden_traits": sorted(group.forbidden_traits),
        "use_same_provider": group.use_same_provider,
    }


def profile_steps(cyborg: Any, client: Any, ctx: Any, s: dict[str, Any]) -> dict[str, Any]:
    """The scheduler's side: a device profile's groups as request groups."""
    port = str(uuid.uuid4())
    groups = attempt(lambda: client.get_device_profile_groups(s["profile"]))
    return {
        "port": port,
        "requester_id": attempt(lambda: cyborg.get_device_profile_group_requester_id(1, port)),
        "profile_request_groups": attempt(
            lambda: [
                group_dict(g) for g in cyborg.get_device_profile_request_groups(ctx, s["profile"])
            ]
        ),
        "profile_groups": groups,
        "port_request_groups": attempt(
            lambda: {
                "owner": port,
                "groups": [
                    group_dict(g) for g in client.get_device_request_groups(groups["value"], port)
                ],
            }
        ),
        "amount_of_dp_groups": attempt(
            lambda: cyborg.get_device_amount_of_dp_groups(groups["value"])
        ),
        "unknown_profile": attempt(lambda: client.get_device_profile_groups("no-such-profile")),
    }


def bind_steps(cyborg: Any, client: Any, s: dict[str, Any]) -> dict[str, Any]:
    """The conductor's and compute's side for one instance: create, match, bind, read; and
    the PCI request compute builds for an accelerator-direct port from each bound ARQ."""
    out: dict[str, Any] = {}
    instance = str(uuid.uuid4())
    out["instance"] = instance
    out["matched"] = attempt(
        lambda: client.create_arqs_and_match_resource_providers(s["profile"], s["rg_rp_map"])
    )
    arqs = out["matched"].get("value") or []
    bindings = {
        a["uuid"]: {
            "hostname": s["hostname"],
            "device_rp_uuid": a["device_rp_uuid"],
            "instance_uuid": instance,
        }
        for a in arqs
    }
    out["bind"] = attempt(lambda: client.bind_arqs(bindings))
    out["for_instance"] = attempt(lambda: client.get_arqs_for_instance(instance))
    out["resolved"] = attempt(lambda: client.get_arqs_for_instance(instance, only_resolved=True))
    # Nova calls it only for a port's ARQ; a handle that is no NIC port has no network.
    out["pci_device_profiles"] = [
        attempt(lambda a=a: cyborg.get_arq_pci_device_profile(a))
        for a in out["for_instance"].get("value") or []
    ]
    out["by_uuid"] = attempt(lambda: [client.get_arq_by_uuid(a["uuid"]) for a in arqs])
    out["uuids_for_instance"] = attempt(
        lambda: client.get_arq_uuids_for_instance(_instance(instance))
    )
    out["delete_for_instance"] = attempt(lambda: client.delete_arqs_for_instance(instance))
    out["after_delete"] = attempt(lambda: client.get_arqs_for_instance(instance))
    out["by_uuid_after_delete"] = [
        attempt(lambda a=a: client.get_arq_by_uuid(a["uuid"])) for a in arqs
    ]
    return out


def _instance(instance_uuid: str) -> Any:
    from nova import objects

    return objects.Instance(uuid=instance_uuid)


def port_steps(client: Any, s: dict[str, Any]) -> dict[str, Any]:
    """The port (SmartNIC) path: ``create_arqs`` and ``get_arq_device_rp_uuid`` with an
    owner, then a bind that fails (the scheduler's provider has no free handle left) and
    Nova's cleanup by uuid."""
    out: dict[str, Any] = {}
    port, instance = str(uuid.uuid4()), str(uuid.uuid4())
    out["instance"] = instance
    out["created"] = attempt(lambda: client.create_arqs(s["port_profile"]))
    arqs = out["created"].get("value") or []
    rg_rp_map = {f"device_profile_0{port}": [s["port_rp"]]}
    out["rp_uuids"] = attempt(
        lambda: [client.get_arq_device_rp_uuid(a, rg_rp_map, port) for a in arqs]
    )
    # Cyborg accepts the PATCH and the ARQ ends BindFailed, which only_resolved counts as
    # resolved (Nova then reads the failure from it).
    bindings = {
        a["uuid"]: {
            "hostname": s["hostname"],
            "device_rp_uuid": s["port_rp"],
            "instance_uuid": instance,
        }
        for a in arqs
    }
    out["bind"] = attempt(lambda: client.bind_arqs(bindings))
    out["resolved"] = attempt(lambda: client.get_arqs_for_instance(instance, only_resolved=True))
    out["delete_by_uuid"] = attempt(lambda: client.delete_arqs_by_uuid(bindings.keys()))
    out["by_uuid_after_delete"] = [
        attempt(lambda a=a: client.get_arq_by_uuid(a["uuid"])) for a in arqs
    ]
    # Not idempotent in Cyborg (404); Nova logs it and carries on.
    out["delete_by_uuid_again"] = attempt(lambda: client.delete_arqs_by_uuid(bindings.keys()))
    return out


def error_steps(client: Any, s: dict[str, Any]) -> dict[str, Any]:
    """What Nova turns Cyborg's refusals into."""
    missing = str(uuid.uuid4())
    return {
        "missing": missing,
        "create_unknown_profile": attempt(lambda: client.create_arqs("no-such-profile")),
        "bind_unknown_arq": attempt(
            lambda: client.bind_arqs(
                {
                    missing: {
                        "hostname": s["hostname"],
                        "device_rp_uuid": s["port_rp"],
                        "instance_uuid": missing,
                    }
                }
            )
        ),
        "unknown_arq": attempt(lambda: client.get_arq_by_uuid(missing)),
        "no_arqs_for_instance": attempt(lambda: client.get_arqs_for_instance(missing)),
        "delete_for_unknown_instance": attempt(lambda: client.delete_arqs_for_instance(missing)),
    }


def main() -> None:
    """Run the scenario on stdin; the results go to stdout as JSON."""
    scenario = json.load(sys.stdin)
    with tempfile.TemporaryDirectory() as folder:
        configure_nova(scenario, Path(folder))
        from nova import objects
        from nova.accelerator import cyborg

        objects.register_all()
        record_wire()
        ctx = make_context(scenario)
        client = cyborg.get_client(ctx)
        steps = {
            "client_class": type(client).__name__,
            # The test checks it drives each of these: a new method in a later Nova shows up.
            "public_methods": sorted(n for n in dir(type(client)) if not n.startswith("_")),
            "module_functions": sorted(
                name
                for name, value in vars(cyborg).items()
                if inspect.isfunction(value)
                and value.__module__ == cyborg.__name__
                and not name.startswith("_")
            ),
            "profile": profile_steps(cyborg, client, ctx, scenario),
            "bind": bind_steps(cyborg, client, scenario),
            "port": port_steps(client, scenario),
            "errors": error_steps(client, scenario),
        }
    json.dump({"steps": steps, "wire": WIRE}, sys.stdout, indent=1, default=str)


if __name__ == "__main__":
    main()
