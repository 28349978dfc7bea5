"""Client side of the agent's RPC API (topic ``cyborg-lite-agent``, server = the host name).

The conductor and the API use it to ask agents for things. Payloads are plain JSON-able dicts.

API version history:

* 1.0 - Initial version: ``refresh()`` (cast): discover now and report in full; sent to one
  host, or fanned out to every agent.
* 1.1 - ``flash_firmware(job)`` (cast): run a firmware job (the payload of
  ``conductor.rollout_io.job_payload``); an agent runs a job uuid at most once, so a repeated
  dispatch is harmless. ``job_status(job_uuid)`` (call): what the agent knows of a job,
  ``{"state", "version", "error_code", "message"}``, or None when it never heard of it.
"""

from __future__ import annotations

from typing import Any

import oslo_messaging

from cyborg_lite import rpc


class AgentAPI:
    """The agent RPC client; a method per endpoint of ``agent.manager.AgentEndpoint``."""

    #: The newest version this client speaks.
    RPC_API_VERSION = "1.1"

    def __init__(
        self,
        transport: oslo_messaging.Transport,
        *,
        version_cap: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.client = rpc.get_client(
            transport,
            rpc.AGENT_TOPIC,
            self.RPC_API_VERSION,
            version_cap=version_cap or self.RPC_API_VERSION,
            timeout=timeout,
        )

    def refresh(self, context: Any, host: str | None = None) -> None:
        """Ask ``host``'s agent (every agent when None) to discover and report in full."""
        if host is None:
            cctxt = self.client.prepare(version="1.0", fanout=True)
        else:
            cctxt = self.client.prepare(version="1.0", server=host)
        cctxt.cast(context, "refresh")

    def flash_firmware(self, context: Any, host: str, job: dict[str, Any]) -> None:
        """Ask ``host``'s agent to run a firmware job (1.1). The agent reports progress and
        the result with the conductor's ``job_update``."""
        cctxt = self.client.prepare(version="1.1", server=host)
        cctxt.cast(context, "flash_firmware", job=job)

    def job_status(self, context: Any, host: str, job_uuid: str) -> dict[str, Any] | None:
        """What ``host``'s agent knows of a job (1.1); None when it never heard of it."""
        cctxt = self.client.prepare(version="1.1", server=host)
        result: dict[str, Any] | None = cctxt.call(context, "job_status", job_uuid=job_uuid)
        return result
