"""The message bus: transports, RPC servers and clients, notifiers, and the context on the wire.

One transport per process is built from ``[DEFAULT] transport_url`` (``rabbit://...`` in
production, oslo.messaging's in-process ``fake://`` in the all-in-one, where every component
must share the one transport object: fake exchanges live inside it). Servers use the threading
executor; payloads are plain JSON-able dicts and the request context travels as a dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import oslo_messaging
from oslo_config import cfg

from cyborg_lite import context as cl_context

CONDUCTOR_TOPIC = "cyborg-lite-conductor"
AGENT_TOPIC = "cyborg-lite-agent"


class ContextSerializer(oslo_messaging.NoOpSerializer):  # type: ignore[misc]
    """Sends the request context as oslo.context's dict, so request ids reach the logs."""

    def serialize_context(self, ctxt: Any) -> dict[str, Any]:
        """A context object (or an already plain dict) as a dict."""
        if isinstance(ctxt, dict):
            return ctxt
        return dict(ctxt.to_dict())

    def deserialize_context(self, ctxt: dict[str, Any]) -> cl_context.RequestContext:
        """The dict back as a request context."""
        return cl_context.RequestContext.from_dict(ctxt)


def admin_context() -> cl_context.RequestContext:
    """The context a service uses for its own calls (no user behind them)."""
    return cl_context.RequestContext(is_admin=True, overwrite=False)


def get_transport(conf: cfg.ConfigOpts) -> oslo_messaging.Transport:
    """The RPC transport for ``[DEFAULT] transport_url``."""
    return oslo_messaging.get_rpc_transport(conf)


def get_notifier(
    conf: cfg.ConfigOpts, transport: oslo_messaging.Transport | None, publisher_id: str
) -> oslo_messaging.Notifier:
    """A notifier on ``transport`` (a notification transport), or on a new one from ``conf``.

    The driver is ``[oslo_messaging_notifications] driver`` (``messagingv2`` by default).
    """
    if transport is None:
        transport = oslo_messaging.get_notification_transport(conf)
    return oslo_messaging.Notifier(
        transport, publisher_id=publisher_id, serializer=ContextSerializer()
    )


def get_server(
    transport: oslo_messaging.Transport,
    topic: str,
    server: str,
    endpoints: Sequence[object],
) -> oslo_messaging.MessageHandlingServer:
    """An RPC server for ``topic`` on ``server`` with the threading executor."""
    target = oslo_messaging.Target(topic=topic, server=server)
    rpc_server = oslo_messaging.get_rpc_server(
        transport,
        target,
        list(endpoints),
        serializer=ContextSerializer(),
        access_policy=oslo_messaging.DefaultRPCAccessPolicy,
    )
    # oslo.messaging picks the threading executor unless eventlet has monkey-patched the
    # process; nothing here patches, and the services rely on real threads.
    assert rpc_server.executor_type == "threading", rpc_server.executor_type
    return rpc_server


def get_client(
    transport: oslo_messaging.Transport,
    topic: str,
    version: str,
    *,
    version_cap: str | None = None,
    timeout: float | None = None,
) -> oslo_messaging.RPCClient:
    """An RPC client for ``topic`` speaking at most ``version_cap``."""
    target = oslo_messaging.Target(topic=topic, version=version)
    return oslo_messaging.get_rpc_client(
        transport,
        target,
        version_cap=version_cap,
        serializer=ContextSerializer(),
        timeout=timeout,
    )
