"""What the agent's job runner (``agent.jobs``) needs of the agent around it, as Protocols:
the host's inventory and drivers, the conductor's job RPCs, and the image source."""

from __future__ import annotations

from typing import Any, Protocol

from cyborg_lite.drivers import base


class Inventory(Protocol):
    """What the runner needs of ``manager.AgentManager``."""

    host: str
    drivers: list[base.Driver]
    last_report: dict[str, Any] | None

    def request_refresh(self, delay: float = 0.0) -> None:
        """Discover and report in full ``delay`` seconds from now."""


class JobConductor(Protocol):
    """What the runner needs of ``conductor.rpcapi.ConductorAPI``."""

    def job_update(
        self,
        context: Any,
        job_uuid: str,
        state: str,
        *,
        version: str | None = None,
        error_code: str | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        """Report a job's result (or progress), awaiting the answer."""

    def job_progress(self, context: Any, job_uuid: str, state: str) -> None:
        """Report a job's progress without waiting (a cast)."""


class Images(Protocol):
    """What the runner needs of ``images.ImageSource``."""

    def fetch(self, image_uuid: str, sha256: str | None, size: int | None = None) -> str:
        """Download and check an image; its path, or ``images.ImageError``."""

    def clear(self) -> None:
        """Remove downloads left by an earlier run."""
