"""The URI templates and the resources that serve them: routes are data.

Each entry is (template, resource class, suffix). A resource class serves several templates
through falcon suffixes (``on_get`` for the collection, ``on_get_item`` for one object).
Trailing slashes are stripped before routing (``app.py``), so ``/v2/devices/`` matches too.
"""

from __future__ import annotations

from cyborg_lite.api.resources import (
    arqs,
    attributes,
    deployables,
    device_firmware,
    device_profiles,
    devices,
    firmware_images,
    health,
    hosts,
    loans,
    metrics,
    openapi,
    pools,
    rollouts,
    usage,
    versions,
)

ROUTES: list[tuple[str, type, str | None]] = [
    ("/", versions.Root, None),
    ("/v2", versions.V2, None),
    ("/healthcheck", health.Health, None),
    ("/metrics", metrics.Metrics, None),
    ("/v2/devices", devices.Devices, None),
    ("/v2/devices/{uuid}", devices.Devices, "item"),
    ("/v2/devices/{uuid}/disable", devices.Devices, "disable"),
    ("/v2/devices/{uuid}/enable", devices.Devices, "enable"),
    ("/v2/deployables", deployables.Deployables, None),
    ("/v2/deployables/{uuid}", deployables.Deployables, "item"),
    ("/v2/deployables/{uuid}/program", deployables.Deployables, "program"),
    ("/v2/attributes", attributes.Attributes, None),
    ("/v2/attributes/{uuid}", attributes.Attributes, "item"),
    ("/v2/openapi.json", openapi.OpenApi, None),
    ("/v2/device_profiles", device_profiles.DeviceProfiles, None),
    ("/v2/device_profiles/{value}", device_profiles.DeviceProfiles, "item"),
    ("/v2/accelerator_requests", arqs.Arqs, None),
    ("/v2/accelerator_requests/{uuid}", arqs.Arqs, "item"),
    ("/v2/hosts", hosts.Hosts, None),
    ("/v2/hosts/{hostname}", hosts.Hosts, "item"),
    ("/v2/firmware_images", firmware_images.FirmwareImages, None),
    ("/v2/firmware_images/{uuid}", firmware_images.FirmwareImages, "item"),
    ("/v2/firmware_images/{uuid}/file", firmware_images.FirmwareImages, "file"),
    ("/v2/devices/{uuid}/firmware", device_firmware.DeviceFirmware, None),
    ("/v2/firmware_rollouts", rollouts.Rollouts, None),
    ("/v2/firmware_rollouts/{uuid}", rollouts.Rollouts, "item"),
    ("/v2/firmware_rollouts/{uuid}/jobs", rollouts.Rollouts, "jobs"),
    ("/v2/firmware_rollouts/{uuid}/action", rollouts.Rollouts, "action"),
    ("/v2/devices/{uuid}/usage", usage.DeviceUsage, None),
    ("/v2/usage", usage.Usage, None),
    ("/v2/accelerator_pools", pools.Pools, None),
    ("/v2/accelerator_pools/{uuid}", pools.Pools, "item"),
    ("/v2/accelerator_pools/{uuid}/windows", pools.Pools, "windows"),
    ("/v2/accelerator_pools/{uuid}/windows/{window_uuid}", pools.Pools, "window"),
    ("/v2/accelerator_pools/{uuid}/action", pools.Pools, "action"),
    ("/v2/loans", loans.Loans, None),
    # Before the item: a literal segment is never taken for a uuid (falcon prefers literals
    # anyway; the order says so to a reader).
    ("/v2/loans/summary", loans.Loans, "summary"),
    ("/v2/loans/{uuid}", loans.Loans, "item"),
]

# (method, template) of the routes whose body is streamed rather than parsed as JSON: each has
# its own size limit ([firmware] max_image_bytes), not [api] max_request_body_bytes.
STREAMED_BODIES: frozenset[tuple[str, str]] = frozenset(
    {("PUT", "/v2/firmware_images/{uuid}/file")}
)
