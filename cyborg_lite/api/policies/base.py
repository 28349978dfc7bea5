"""Base rules that the API rules are built from (Cyborg's secure-RBAC personas)."""

from __future__ import annotations

from oslo_policy import policy

ADMIN = "rule:admin_api"
PROJECT_READER_OR_ADMIN = "rule:project_reader_or_admin"
PROJECT_MEMBER_OR_ADMIN = "rule:project_member_or_admin"
PROJECT_MANAGER_OR_ADMIN = "rule:project_manager_or_admin"
PROJECT_MEMBER_OR_SERVICE = "rule:project_member_or_service"
SERVICE = "rule:service_api"

PROJECT_SCOPE = ["project"]

RULES = [
    policy.RuleDefault("admin_api", "role:admin", "Administrators."),
    policy.RuleDefault(
        "project_admin_api", "role:admin and project_id:%(project_id)s", "Admin of the project."
    ),
    policy.RuleDefault(
        "project_manager_api",
        "role:manager and project_id:%(project_id)s",
        "Manager of the project.",
    ),
    policy.RuleDefault(
        "project_member_api",
        "role:member and project_id:%(project_id)s",
        "Member of the project.",
    ),
    policy.RuleDefault(
        "project_reader_api",
        "role:reader and project_id:%(project_id)s",
        "Reader of the project.",
    ),
    policy.RuleDefault("service_api", "role:service", "A service (Nova) acting for a user."),
    policy.RuleDefault(
        "project_reader_or_admin", "rule:project_reader_api or rule:admin_api", "Reader or admin."
    ),
    policy.RuleDefault(
        "project_member_or_admin", "rule:project_member_api or rule:admin_api", "Member or admin."
    ),
    policy.RuleDefault(
        "project_manager_or_admin",
        "rule:project_manager_api or rule:admin_api",
        "Manager or admin.",
    ),
    policy.RuleDefault(
        "project_member_or_service",
        "rule:project_member_api or rule:service_api",
        "Member or a service.",
    ),
]


def list_rules() -> list[policy.RuleDefault]:
    """The base rules."""
    return RULES


def rule(
    name: str, check: str, description: str, operations: list[tuple[str, str]]
) -> policy.DocumentedRuleDefault:
    """A project-scoped API rule; ``operations`` are (method, path) pairs for the docs."""
    return policy.DocumentedRuleDefault(
        name=name,
        check_str=check,
        description=description,
        operations=[{"method": m, "path": p} for m, p in operations],
        scope_types=PROJECT_SCOPE,
    )
