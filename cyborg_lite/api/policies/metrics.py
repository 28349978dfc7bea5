"""Policy rule for ``/metrics`` when it is not public (``[api] metrics_public = false``)."""

from __future__ import annotations

from oslo_policy import policy

from cyborg_lite.api.policies import base

GET = "cyborg:metrics:get"


def list_rules() -> list[policy.RuleDefault]:
    """The metrics rule."""
    return [base.rule(GET, base.ADMIN, "Read the Prometheus metrics.", [("GET", "/metrics")])]
