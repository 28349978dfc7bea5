"""The rollout engine's view of agents, over the bus (``agent.rpcapi`` 1.1)."""

from __future__ import annotations

from typing import Any

import oslo_messaging
from oslo_log import log as logging

from cyborg_lite import rpc
from cyborg_lite.agent import rpcapi

LOG = logging.getLogger(__name__)


class BusAgents:
    """``rollout_io.Agents`` through the agent RPC client."""

    def __init__(self, client: rpcapi.AgentAPI) -> None:
        self._client = client

    def flash(self, hostname: str, job: dict[str, Any]) -> None:
        """Cast the job to ``hostname``'s agent."""
        self._client.flash_firmware(rpc.admin_context(), hostname, job)

    def job_status(self, hostname: str, job_uuid: str) -> dict[str, Any] | None:
        """Ask the agent; None when it does not answer in time or never heard of the job."""
        try:
            return self._client.job_status(rpc.admin_context(), hostname, job_uuid)
        except oslo_messaging.MessagingTimeout:
            LOG.warning("Agent %s did not answer about job %s in time", hostname, job_uuid)
            return None
