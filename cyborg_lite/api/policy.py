"""The policy enforcer: built once per app from the rules in code and the configuration."""

from __future__ import annotations

from typing import Any

from oslo_config import cfg
from oslo_policy import policy

from cyborg_lite import exception
from cyborg_lite.api import policies
from cyborg_lite.context import RequestContext


class Enforcer:
    """Checks a request context against a rule; failures raise ``PolicyNotAuthorized``."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self._enforcer = policy.Enforcer(conf)
        self._enforcer.register_defaults(policies.list_rules())

    def authorize(
        self, rule: str, ctx: RequestContext, target: dict[str, Any] | None = None
    ) -> None:
        """Raise unless ``ctx`` may do ``rule``. The default target is the caller's own
        project and user, as Cyborg does (ownership is then enforced in the data layer)."""
        if target is None:
            target = {"project_id": ctx.project_id, "user_id": ctx.user_id}
        try:
            self._enforcer.authorize(rule, target, ctx, do_raise=True)
        except (policy.PolicyNotAuthorized, policy.InvalidScope) as err:
            raise exception.PolicyNotAuthorized(action=rule) from err

    def allowed(self, rule: str, ctx: RequestContext) -> bool:
        """True when ``ctx`` may do ``rule`` (no exception)."""
        try:
            self.authorize(rule, ctx)
        except exception.PolicyNotAuthorized:
            return False
        return True


def get_enforcer_for_generator() -> policy.Enforcer:
    """Entry point for ``oslopolicy-*`` tools: an enforcer with our rules registered."""
    conf = cfg.ConfigOpts()
    conf([], project="cyborg-lite", default_config_files=[])
    enforcer = policy.Enforcer(conf)
    enforcer.register_defaults(policies.list_rules())
    return enforcer
