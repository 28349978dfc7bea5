"""Client side of the agent's RPC API (topic ``cyborg-lite-agent``, server = the host name).

The conductor and the API use it to ask agents for things. Payloads are plain JSON-able dicts.

API version history:

* 1.0 - Initial version: ``refresh()`` (cast): discover now and report in full; sent to one
  host, or fanned out to every agent.
"""

from __future__ import annotations

from typing import Any

import oslo_messaging

from cyborg_lite import rpc


class AgentAPI:
    """The agent RPC client; a method per endpoint of ``agent.manager.AgentEndpoint``."""

    #: The newest version this client speaks.
    RPC_API_VERSION = "1.0"

    def __init__(
        self, transport: oslo_messaging.Transport, *, version_cap: str | None = None
    ) -> None:
        self.client = rpc.get_client(
            transport,
            rpc.AGENT_TOPIC,
            self.RPC_API_VERSION,
            version_cap=version_cap or self.RPC_API_VERSION,
        )

    def refresh(self, context: Any, host: str | None = None) -> None:
        """Ask ``host``'s agent (every agent when None) to discover and report in full."""
        if host is None:
            cctxt = self.client.prepare(version="1.0", fanout=True)
        else:
            cctxt = self.client.prepare(version="1.0", server=host)
        cctxt.cast(context, "refresh")
