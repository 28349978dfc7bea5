"""Telling Nova a bind finished: ``POST /os-server-external-events`` (contract §10.3), and
the lending engine's reclaim actions on a borrower's server (issue 17).

One ``accelerator-request-bound`` event per ARQ of a bind batch, status ``completed`` for a
bound ARQ and ``failed`` otherwise, tag = the ARQ uuid, at compute microversion 2.82. Nova
answers 200, or 207 when some events could not be delivered (422: the instance is not on a
host yet), which it copes with, so both are success. Nothing here raises: the bind is already
committed, and Nova times out and reschedules if an event is lost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
from oslo_log import log as logging

from cyborg_lite.arqs import states as arq_states
from cyborg_lite.lending import loans as lending_loans

LOG = logging.getLogger(__name__)

MICROVERSION = "2.82"  # the first compute version that knows accelerator-request-bound
EVENT_NAME = "accelerator-request-bound"
GROUP = "nova"
ACCEPTED = (200, 207)
# A pool's on_reclaim actions that Nova carries out: the body of POST /servers/{id}/action,
# or None for DELETE /servers/{id}. ``notify`` is not here: it makes no Nova call.
SERVER_ACTIONS: dict[str, dict[str, None] | None] = {
    "stop": {"os-stop": None},
    "shelve": {"shelve": None},
    "delete": None,
}
# Nova answers an accepted action with 202 (stop, shelve) or 204 (delete); 404 on a delete
# means the server is gone already, which is what was asked.
_ACTION_OK = (202, 204)
# What server_status answers for a server Nova does not know (404).
SERVER_GONE = lending_loans.GONE


def bound_events(bound: Mapping[str, tuple[str, str]]) -> list[dict[str, str]]:
    """Events for ``{arq uuid: (instance uuid, final state)}``, in ARQ uuid order."""
    return [
        {
            "name": EVENT_NAME,
            "server_uuid": instance,
            "tag": arq_uuid,
            "status": "completed" if state == arq_states.BOUND else "failed",
        }
        for arq_uuid, (instance, state) in sorted(bound.items())
    ]


class NovaClient:
    """Sends external events through one keystoneauth1 adapter (service type ``compute``)."""

    def __init__(self, adapter: Any) -> None:
        self._adapter = adapter

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> NovaClient | None:
        """The client for ``[nova]``; None when no ``auth_type`` is configured."""
        auth = ks_loading.load_auth_from_conf_options(conf, GROUP)
        if auth is None:
            return None
        session = ks_loading.load_session_from_conf_options(conf, GROUP, auth=auth)
        return cls(ks_loading.load_adapter_from_conf_options(conf, GROUP, session=session))

    def send_events(
        self, events: Sequence[dict[str, str]], *, request_id: str | None = None
    ) -> bool:
        """POST ``events``; True when Nova took them (200 or 207)."""
        if not events:
            return True
        try:
            resp = self._adapter.post(
                "/os-server-external-events",
                json={"events": list(events)},
                raise_exc=False,
                microversion=MICROVERSION,
                global_request_id=request_id,
            )
        except ks_exc.ClientException as err:
            LOG.warning("Could not send %d event(s) to Nova: %s", len(events), err)
            return False
        if resp.status_code not in ACCEPTED:
            LOG.warning(
                "Nova refused %d accelerator-request-bound event(s): HTTP %s %s",
                len(events),
                resp.status_code,
                resp.text[:200],
            )
            return False
        if resp.status_code == 207:
            LOG.info("Nova took the events partly (207): %s", resp.text[:500])
        return True

    def server_action(self, instance_uuid: str, action: str) -> bool:
        """Run a reclaim ``action`` (``SERVER_ACTIONS``: stop, shelve, delete) on the server
        ``instance_uuid``; True when Nova accepted it. Never raises: a failure is logged and
        False, and the lending engine records it and retries on a later pass."""
        if action not in SERVER_ACTIONS:
            LOG.warning("Unknown reclaim action %r for server %s", action, instance_uuid)
            return False
        body = SERVER_ACTIONS[action]
        try:
            if body is None:
                resp = self._adapter.delete(
                    f"/servers/{instance_uuid}", raise_exc=False, microversion=MICROVERSION
                )
            else:
                resp = self._adapter.post(
                    f"/servers/{instance_uuid}/action",
                    json=body,
                    raise_exc=False,
                    microversion=MICROVERSION,
                )
        except ks_exc.ClientException as err:
            LOG.warning("Could not %s server %s through Nova: %s", action, instance_uuid, err)
            return False
        if resp.status_code in _ACTION_OK or (body is None and resp.status_code == 404):
            LOG.info("Nova accepted %s of server %s (reclaim)", action, instance_uuid)
            return True
        LOG.warning(
            "Nova refused %s of server %s: HTTP %s %s",
            action,
            instance_uuid,
            resp.status_code,
            resp.text[:200],
        )
        return False

    def server_status(self, instance_uuid: str) -> str | None:
        """``GET /servers/{id}``'s ``status``; ``DELETED`` on a 404 (Nova no longer knows
        the server); None when Nova could not be asked or answered something else, logged.
        Never raises: the engine asks again on a later pass."""
        try:
            resp = self._adapter.get(
                f"/servers/{instance_uuid}", raise_exc=False, microversion=MICROVERSION
            )
        except ks_exc.ClientException as err:
            LOG.warning("Could not read server %s from Nova: %s", instance_uuid, err)
            return None
        if resp.status_code == 404:
            return SERVER_GONE
        if resp.status_code != 200:
            LOG.warning(
                "Nova did not show server %s: HTTP %s %s",
                instance_uuid,
                resp.status_code,
                resp.text[:200],
            )
            return None
        try:
            status = resp.json()["server"]["status"]
        except (ValueError, KeyError, TypeError):
            LOG.warning(
                "Nova's answer for server %s has no status: %s", instance_uuid, resp.text[:200]
            )
            return None
        return str(status).upper()
