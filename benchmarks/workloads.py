"""The workloads, each a function of a running system and the plan; figures come back as
plain dicts of per-run values (summarized by ``stats.figure`` in the report)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from benchmarks import loadgen, stats

PROJECT = "b3c8a1d2e4f6478a9b0c1d2e3f4a5b6c"
# The identity keystonemiddleware would set for a service user that is also an admin: what
# Nova sends when it binds. Both systems read these headers without a token.
HEADERS = {
    "X-Roles": "admin,member,reader",
    "X-Project-Id": PROJECT,
    "X-User-Id": "bench",
    "X-Service-Roles": "service",
    "Accept": "application/json",
}
CYCLE_PROFILE = "bench-profile-000"
CYCLE_MODEL = "nvidia-h100"


class System(Protocol):
    """What the workloads need of a deployment."""

    name: str
    base_url: str


@dataclass(frozen=True)
class Plan:
    """How long and how often: the quick plan and the full plan differ only here."""

    runs: int
    seconds: float
    warmup: float
    concurrencies: tuple[int, ...]
    cycle_concurrencies: tuple[int, ...]
    ingest_seconds: float
    changed_reports: int
    paging_pages: int
    rollout_hosts: int
    rollout_devices_per_host: int
    big_devices: int


# The quick plan rolls out to 100 hosts x 10 devices; the full plan to the 1,000 x 10.
# Quick: shorter windows and a smaller fleet, still three runs a figure, to stay under five
# minutes on two cores (with 2 s windows and 200 hosts it took 5.6 minutes).
QUICK = Plan(3, 1.5, 0.3, (1, 8, 32), (1, 8), 2.0, 10, 10, 100, 10, 100_000)
SMOKE = Plan(1, 1.0, 0.2, (1, 8), (1,), 1.0, 3, 3, 100, 10, 20_000)
FULL = Plan(5, 6.0, 1.0, (1, 8, 32), (1, 8), 8.0, 50, 100, 1000, 10, 100_000)


def profile_body(i: int) -> list[dict[str, Any]]:
    """The ``i``-th of the seeded device profiles (the first one is the cycle's)."""
    groups = [{"resources:PGPU": "1", "trait:CUSTOM_NVIDIA_2330": "required"}]
    if i % 4 == 1:
        groups = [{"resources:FPGA": "1", "trait:CUSTOM_FPGA_XILINX": "required"}]
    elif i % 4 == 2:
        groups = [{"resources:PGPU": "1", "trait:CUSTOM_AMD_74A1": "required"}]
    elif i % 4 == 3:
        groups.append({"resources:FPGA": "1", "trait:CUSTOM_FPGA_PRODUCT_ID_500C": "required"})
    return [{"name": f"bench-profile-{i:03d}", "groups": groups, "description": None}]


def seed_profiles(system: System, count: int) -> float:
    """Create ``count`` device profiles through the API; profiles per second."""

    async def go() -> None:
        host, port = "127.0.0.1", int(system.base_url.rsplit(":", 1)[1])
        conn = loadgen.Connection(host, port, HEADERS)
        try:
            for i in range(count):
                await loadgen.call(
                    conn, "POST", "/v2/device_profiles", profile_body(i), expect=(200, 201)
                )
        finally:
            await conn.close()

    t0 = time.perf_counter()
    asyncio.run(go())
    return count / (time.perf_counter() - t0)


def _summary(result: loadgen.RunResult) -> dict[str, float]:
    return {
        "rate": result.rate,
        "p50": stats.percentile(result.latencies, 50),
        "p99": stats.percentile(result.latencies, 99),
        "samples": float(len(result.latencies)),
        "errors": float(result.errors),
    }


def api_reads(systems: list[System], plan: Plan, log: Any) -> dict[str, Any]:
    """Workload 1: GET lists at each concurrency; runs alternate between the systems so that
    a slow moment of the machine does not land on one system only."""
    out: dict[str, Any] = {}
    for path in ("/v2/devices", "/v2/device_profiles"):
        for c in plan.concurrencies:
            for run in range(plan.runs):
                for system in systems:
                    result = loadgen.run(
                        system.base_url,
                        HEADERS,
                        loadgen.get(path),
                        concurrency=c,
                        seconds=plan.seconds,
                        warmup=plan.warmup,
                    )
                    key = f"{system.name}|{path}|{c}"
                    out.setdefault(key, []).append(_summary(result))
                    if result.errors:
                        log(f"  {key} run {run}: {result.errors} errors, {result.first_error}")
                    log(f"  {key} run {run}: {result.rate:.1f}/s")
    return out


def cycle_targets(system: System) -> list[tuple[str, str]]:
    """(hostname, rp_uuid) of every deployable of the cycle's model, for bind."""
    resp = loadgen.one_shot(system.base_url, HEADERS, "GET", "/v2/deployables")
    if resp.status != 200:
        raise loadgen.HTTPError(f"GET /v2/deployables: {resp.status}")
    targets = []
    for dep in resp.json()["deployables"]:
        host, _, name = dep["name"].partition("_")
        if name.startswith(CYCLE_MODEL) and dep.get("rp_uuid"):
            targets.append((host, dep["rp_uuid"]))
    return sorted(targets)


def cycle_operation(targets: list[tuple[str, str]]) -> loadgen.Operation:
    """One scheduler cycle as Nova runs it: create an ARQ from a profile, bind it, read the
    instance's ARQs back until resolved, delete them by instance. Worker ``i`` binds on its
    own deployable, so workers never compete for one attach handle."""

    async def op(conn: loadgen.Connection, index: int, _seq: int) -> None:
        host, rp = targets[index % len(targets)]
        instance = str(uuid.uuid4())
        resp = await loadgen.call(
            conn,
            "POST",
            "/v2/accelerator_requests",
            {"device_profile_name": CYCLE_PROFILE},
            expect=(200, 201),
        )
        arq = resp.json()["arqs"][0]["uuid"]
        patch = {
            arq: [
                {"path": "/hostname", "op": "add", "value": host},
                {"path": "/device_rp_uuid", "op": "add", "value": rp},
                {"path": "/instance_uuid", "op": "add", "value": instance},
            ]
        }
        await loadgen.call(conn, "PATCH", "/v2/accelerator_requests", patch, expect=(200, 202))
        path = f"/v2/accelerator_requests?instance={instance}&bind_state=resolved"
        for _ in range(400):  # bounded: about 4 s at most
            resp = await conn.request("GET", path)
            if resp.status == 200:
                states = {a["state"] for a in resp.json()["arqs"]}
                if states == {"Bound"}:
                    break
                if "BindFailed" in states:
                    raise loadgen.HTTPError(f"bind failed on {host} {rp}")
            elif resp.status != 423:  # 423: not resolved yet (Cyborg's answer)
                raise loadgen.HTTPError(f"GET {path}: {resp.status} {resp.body[:200]!r}")
            await asyncio.sleep(0.01)
        else:
            raise loadgen.HTTPError(f"ARQ {arq} not bound in time")
        await loadgen.call(
            conn, "DELETE", f"/v2/accelerator_requests?instance={instance}", expect=(202, 204)
        )

    return op


def scheduler_cycle(systems: list[System], plan: Plan, log: Any) -> dict[str, Any]:
    """Workload 2: cycles per second and cycle latency at each concurrency."""
    out: dict[str, Any] = {}
    targets = {s.name: cycle_targets(s) for s in systems}
    for c in plan.cycle_concurrencies:
        for run in range(plan.runs):
            for system in systems:
                result = loadgen.run(
                    system.base_url,
                    HEADERS,
                    cycle_operation(targets[system.name]),
                    concurrency=c,
                    seconds=plan.seconds,
                    warmup=plan.warmup,
                )
                key = f"{system.name}|cycle|{c}"
                out.setdefault(key, []).append(_summary(result))
                note = f", {result.errors} errors: {result.first_error}" if result.errors else ""
                log(f"  {key} run {run}: {result.rate:.1f} cycles/s{note}")
    return out


def paging(system: System, pages: int) -> dict[str, float]:
    """Workload 4: walk ``GET /v2/devices?limit=1000`` by marker until ``pages`` full pages are
    timed, starting over at the end of the collection; the time of each full page.

    Only full pages count, and both collections give the same number of them: a 10,000-device
    walk ends on an empty page that took a fraction of a full one, and ten pages against a
    hundred compared a colder process with a warmer one.
    """

    async def go() -> tuple[list[float], float, int]:
        conn = loadgen.Connection("127.0.0.1", int(system.base_url.rsplit(":", 1)[1]), HEADERS)
        times: list[float] = []
        first, walks, marker = math.nan, 1, None
        try:
            for _ in range(2 * pages + 1):  # bounded: each walk ends on one short page
                if len(times) >= pages:
                    break
                path = "/v2/devices?limit=1000" + (f"&marker={marker}" if marker else "")
                t0 = time.perf_counter()
                resp = await loadgen.call(conn, "GET", path)
                took = time.perf_counter() - t0
                first = took if math.isnan(first) else first
                devices = resp.json()["devices"]
                if len(devices) == 1000:
                    times.append(took)
                    marker = devices[-1]["uuid"]
                elif marker is None:
                    break  # not even one full page in the collection
                else:
                    marker, walks = None, walks + 1
        finally:
            await conn.close()
        return times, first, walks

    times, first, walks = asyncio.run(go())
    return {
        "pages": float(len(times)),
        "walks": float(walks),
        "p50": stats.percentile(times, 50),
        "first": first,
        "last": times[-1] if times else float("nan"),
    }


def firmware_image(version: str) -> bytes:
    """A simulated vbios image the simulated driver recognizes (its header names the version)."""
    header = f"CYBORG-LITE-SIMULATED-FIRMWARE component=vbios version={version}\n".encode()
    return header + b"\0" * 4096


def upload_image(system: System, version: str) -> str:
    """Register and upload the rollout's image through the API (2.4); its uuid."""
    data = firmware_image(version)
    headers = {**HEADERS, "OpenStack-API-Version": "accelerator 2.4"}
    body = {
        "name": f"H100 VBIOS {version}",
        "vendor": "10de",
        "component": "vbios",
        "version": version,
        "device_ids": ["2330"],
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    resp = loadgen.one_shot(system.base_url, headers, "POST", "/v2/firmware_images", body)
    if resp.status not in (200, 201):
        raise loadgen.HTTPError(f"POST /v2/firmware_images: {resp.status} {resp.body[:300]!r}")
    image = resp.json()
    image_uuid = str(image.get("uuid") or image.get("firmware_image", {}).get("uuid"))
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", int(system.base_url.rsplit(":", 1)[1]))
    put_headers = {**headers, "Content-Type": "application/octet-stream"}
    conn.request("PUT", f"/v2/firmware_images/{image_uuid}/file", data, put_headers)
    put = conn.getresponse()
    put.read()
    conn.close()
    if put.status not in (200, 201, 204):
        raise loadgen.HTTPError(f"PUT image file: {put.status}")
    return image_uuid


def start_rollout(system: System, image_uuid: str, model: str, max_in_flight: int) -> str:
    """POST the rollout (one wave, no canary, ``max_in_flight``); its uuid."""
    headers = {**HEADERS, "OpenStack-API-Version": "accelerator 2.4"}
    body = {
        "image_uuid": image_uuid,
        "selector": {"models": [model]},
        "strategy": {
            "canary": 0,
            "waves": ["100%"],
            "max_in_flight": max_in_flight,
            "max_in_flight_per_host": 10,
            "failure_budget": {"count": 100, "rate": 0.05},
            "allow_reboot": True,
        },
    }
    resp = loadgen.one_shot(system.base_url, headers, "POST", "/v2/firmware_rollouts", body)
    if resp.status not in (200, 201, 202):
        raise loadgen.HTTPError(f"POST /v2/firmware_rollouts: {resp.status} {resp.body[:400]!r}")
    doc = resp.json()
    return str(doc.get("uuid") or doc.get("firmware_rollout", {}).get("uuid"))


def rollout_state(system: System, rollout_uuid: str) -> dict[str, Any]:
    """The rollout document."""
    headers = {**HEADERS, "OpenStack-API-Version": "accelerator 2.4"}
    resp = loadgen.one_shot(
        system.base_url, headers, "GET", f"/v2/firmware_rollouts/{rollout_uuid}"
    )
    doc: dict[str, Any] = resp.json()
    state: dict[str, Any] = doc.get("firmware_rollout", doc)
    return state


def write_json(path: Path, data: Any) -> None:
    """Keep a raw result next to the report."""
    path.write_text(json.dumps(data, indent=1, default=str))
