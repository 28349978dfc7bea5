"""Policy rules in code, one module per noun, with secure-RBAC defaults as Cyborg's.

``list_rules`` is the ``oslo.policy.policies`` entry point used by the enforcer and by
``oslopolicy-sample-generator``.
"""

from __future__ import annotations

import itertools

from oslo_policy import policy

from cyborg_lite.api.policies import (
    arqs,
    attributes,
    base,
    deployables,
    device_profiles,
    devices,
    firmware_images,
    hosts,
    lending,
    metrics,
    rollouts,
    usage,
)

# Modules contributing rules. Later issues append theirs here.
_MODULES = [
    base,
    devices,
    deployables,
    attributes,
    device_profiles,
    arqs,
    hosts,
    firmware_images,
    rollouts,
    metrics,
    usage,
    lending,
]


def list_rules() -> list[policy.RuleDefault]:
    """Every rule, base rules first."""
    return list(itertools.chain.from_iterable(m.list_rules() for m in _MODULES))
