"""Client side of the conductor's RPC API (topic ``cyborg-lite-conductor``).

Agents call it to report their inventory and to say they are alive. Payloads are plain
JSON-able dicts, so an agent and a conductor of different releases only need to agree on the
version below.

API version history:

* 1.0 - Initial version: ``report_inventory(report)`` (call) returns
  ``{"applied": bool, "events": int}``; ``heartbeat(host, agent_version, digest)`` (call)
  returns ``{"report_wanted": bool}``.
* 1.1 - ``rollout_changed(rollout_uuid)`` (cast, from the API): a rollout was created or acted
  on, advance it now. ``job_update(job_uuid, state, version, error_code, message)`` (call,
  from agents): progress or result of a firmware job; returns ``{"accepted": bool}`` (False
  for a stale or duplicate update, which changes nothing). Agents repeat a result until a
  conductor answers; progress (``flashing``, ``verifying``) may also come as a cast of the
  same method, which nobody answers or repeats.
* 1.2 - ``report_inventory``'s report may carry ``seq``, an integer that orders a host's
  reports across agent restarts (``agent.reportseq``); a report whose seq is below the last
  one seen for its host (or equal to it with another digest) changes nothing and is answered
  ``{"applied": False, "events": 0, "stale": True, "seq": <the newer seq>}``; other answers
  carry ``"stale": False``. A report without seq is applied as in 1.0. Still sent at 1.0: a
  conductor before 1.2 ignores seq and applies the report as before, which is what a rolling
  upgrade wants.
* 1.3 - ``device_changed(device_uuid)`` (cast, from the API): a device was enabled or disabled;
  the conductor brings its Placement providers in line with SQL. ``arqs_bound(bound)`` (cast,
  from the API): ``{arq uuid: [instance uuid, final state]}`` of a finished bind; the
  conductor sends Nova its ``accelerator-request-bound`` events. The API then talks to neither
  Placement nor Nova itself.
* 1.4 - ``usage_report(host, reports)`` (call, from agents): a host's usage, one entry per
  interval of ``[agent] usage_report_interval``, ``{"interval_start", "interval_end",
  "devices": [usage.summary.DeviceSummary.to_dict()]}`` (``usage.report.IntervalReport``),
  usually one interval, more after the conductor was unreachable. An interval sent again lands
  once. Returns ``{"accepted": <device intervals of known devices>, "unknown": <summaries of
  devices SQL does not hold for the host>, "allocated": [stable ids of the host's devices
  bound to an ARQ]}``; a malformed report raises ``Invalid`` and stores nothing. An agent
  pinned below 1.4 sends no usage.
* 1.5 - ``pool_changed(pool_uuid)`` (cast, from the API): a lending pool was created, changed,
  deleted, had a window added or removed, or was reclaimed (its offers withdrawn and its
  loans reclaiming, already in SQL); the conductor's lending engine passes over it now. A
  lost cast is repaired by the engine's own passes; a conductor before 1.5 cannot take it,
  so the API does not send it there (``version_cap``).
* 1.6 - ``job_updates(updates)`` (call, from agents): many firmware job results in one call,
  each ``{"job_uuid", "state", "version", "error_code", "message"}`` as 1.1's ``job_update``;
  returns ``{"accepted": [bool, ...]}`` in the same order (False for a stale, duplicate or
  malformed update, which changes nothing). ``job_progress_many(updates)`` (cast): many
  progress updates (``{"job_uuid", "state"}``). An agent process sends what arrived within
  ``[agent] result_batch_seconds`` as one message (``agent.results``); against a conductor
  before 1.6 (``UnsupportedVersion``, or the cap ``[upgrade_levels] conductor``) it goes back
  to 1.1's one job per message. Conductors still serve 1.1's ``job_update`` for old agents.
* 1.7 - ``heartbeats(beats)``: many hosts' heartbeats in one message, each ``{"host",
  "agent_version", "digest"}``; sent as a cast (an agent process's first batch as a call, to
  learn whether the conductor knows 1.7), recorded in a few statements; a host whose report
  is wanted is asked for it with the agent API's ``refresh`` cast (a call also returns
  ``{"report_wanted": [hosts]}``). Agents of a process share one batch
  (``agent.heartbeats``); against a conductor before 1.7 each host calls 1.0's
  ``heartbeat`` as before, which conductors still serve.
"""

from __future__ import annotations

from typing import Any

import oslo_messaging

from cyborg_lite import rpc


class ConductorAPI:
    """The conductor RPC client; a method per endpoint of ``conductor.manager``."""

    #: The newest version this client speaks.
    RPC_API_VERSION = "1.7"

    def __init__(
        self,
        transport: oslo_messaging.Transport,
        *,
        version_cap: str | None = None,
        timeout: float | None = None,
    ) -> None:
        # version_cap pins the client to what the oldest conductor understands during a
        # rolling upgrade; no I/O happens here.
        self.client = rpc.get_client(
            transport,
            rpc.CONDUCTOR_TOPIC,
            self.RPC_API_VERSION,
            version_cap=version_cap or self.RPC_API_VERSION,
            timeout=timeout,
        )

    def report_inventory(self, context: Any, report: dict[str, Any]) -> dict[str, Any]:
        """Send a host's full inventory report; the conductor reconciles it into SQL.

        ``report`` holds ``host``, ``agent_version``, ``digest``, ``devices`` (each as
        ``drivers.base.to_dict``), ``driver_errors`` (``[{"driver", "error"}]``) and, since
        1.2, ``seq`` (see the history above for why it still goes out at 1.0).
        """
        cctxt = self.client.prepare(version="1.0")
        result: dict[str, Any] = cctxt.call(context, "report_inventory", report=report)
        return result

    def heartbeat(self, context: Any, host: str, agent_version: str, digest: str) -> dict[str, Any]:
        """Say ``host`` is alive with inventory ``digest``; the answer says whether a full
        report is wanted (the conductor does not hold that digest)."""
        cctxt = self.client.prepare(version="1.0")
        result: dict[str, Any] = cctxt.call(
            context, "heartbeat", host=host, agent_version=agent_version, digest=digest
        )
        return result

    def usage_supported(self) -> bool:
        """Whether this client may send ``usage_report`` (its version cap is 1.4 or more)."""
        return bool(self.client.can_send_version("1.4"))

    def usage_report(
        self, context: Any, host: str, reports: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Send ``host``'s usage intervals (1.4); the answer counts them and names the
        host's devices bound to ARQs."""
        cctxt = self.client.prepare(version="1.4")
        result: dict[str, Any] = cctxt.call(context, "usage_report", host=host, reports=reports)
        return result

    def rollout_changed(self, context: Any, rollout_uuid: str) -> None:
        """Tell a conductor a rollout needs advancing now (1.1)."""
        cctxt = self.client.prepare(version="1.1")
        cctxt.cast(context, "rollout_changed", rollout_uuid=rollout_uuid)

    def device_changed(self, context: Any, device_uuid: str) -> None:
        """A device was enabled or disabled: sync its Placement providers (1.3)."""
        cctxt = self.client.prepare(version="1.3")
        cctxt.cast(context, "device_changed", device_uuid=device_uuid)

    def arqs_bound(self, context: Any, bound: dict[str, tuple[str, str]]) -> None:
        """A bind finished: tell Nova, ``{arq uuid: (instance uuid, final state)}`` (1.3)."""
        cctxt = self.client.prepare(version="1.3")
        cctxt.cast(context, "arqs_bound", bound={k: list(v) for k, v in bound.items()})

    def pool_changed(self, context: Any, pool_uuid: str) -> None:
        """A lending pool changed: the lending engine passes over it now (1.5); nothing is
        sent to a conductor pinned below 1.5."""
        if not self.client.can_send_version("1.5"):
            return
        cctxt = self.client.prepare(version="1.5")
        cctxt.cast(context, "pool_changed", pool_uuid=pool_uuid)

    def batch_supported(self) -> bool:
        """Whether this client may send 1.6's batched job updates (its version cap)."""
        return bool(self.client.can_send_version("1.6"))

    def job_updates(self, context: Any, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """Many firmware job results in one call (1.6)."""
        cctxt = self.client.prepare(version="1.6")
        result: dict[str, Any] = cctxt.call(context, "job_updates", updates=updates)
        return result

    def job_progress_many(self, context: Any, updates: list[dict[str, Any]]) -> None:
        """Many firmware job progress updates in one cast (1.6)."""
        cctxt = self.client.prepare(version="1.6")
        cctxt.cast(context, "job_progress_many", updates=updates)

    def heartbeats_supported(self) -> bool:
        """Whether this client may send 1.7's batched heartbeats (its version cap)."""
        return bool(self.client.can_send_version("1.7"))

    def heartbeats(
        self, context: Any, beats: list[dict[str, Any]], *, wait: bool = False
    ) -> dict[str, Any] | None:
        """Many hosts' heartbeats (1.7): a cast, or with ``wait`` a call and its answer."""
        cctxt = self.client.prepare(version="1.7")
        if not wait:
            cctxt.cast(context, "heartbeats", beats=beats)
            return None
        result: dict[str, Any] = cctxt.call(context, "heartbeats", beats=beats)
        return result

    def job_progress(self, context: Any, job_uuid: str, state: str) -> None:
        """A firmware job's progress (1.1's ``job_update`` as a cast): advisory, so nothing
        waits for an answer; results go by ``job_update``'s call."""
        cctxt = self.client.prepare(version="1.1")
        cctxt.cast(context, "job_update", job_uuid=job_uuid, state=state)

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
        """Report a firmware job's progress or result (1.1)."""
        cctxt = self.client.prepare(version="1.1")
        result: dict[str, Any] = cctxt.call(
            context,
            "job_update",
            job_uuid=job_uuid,
            state=state,
            version=version,
            error_code=error_code,
            message=message,
        )
        return result
