"""The lending engine (issue 17): one level-triggered pass per pool, then the calls out.

A pass reads the pool's facts and writes its decisions in one short transaction, the pool's
row locked (``SELECT ... FOR UPDATE``; SQLite serializes writers anyway), so several
conductors may pass over the same pool and each sees the other's result:

1. the loans (``lending.loans.decide``): open loans whose ARQ is gone are closed, with their
   energy; with the window closed, active loans go ``reclaiming`` with the deadline now +
   ``notice_seconds``;
2. the offers (``lending.offers.decide``, the window from ``lending.windows``): the offered
   flags are set to exactly the decision (``set_offered`` writes only what changes);
3. the reclaiming loans past their deadline whose action is due (never tried, or the last
   try failed at least ``retry_seconds`` ago) have their next attempt claimed, a conditional
   update on the attempt count, so of two conductors one acts.

After the commit, with no transaction open: Placement is synced for the devices whose offer
changed (the lending traits are computed from ``pool_devices.offered`` by the sync), each
reclaiming loan this engine has not announced yet is announced (``accelerator.loan.reclaim``;
at least once: a restarted conductor announces a loan still in its notice again), and each
claimed action runs through Nova (``stop``, ``shelve``, ``delete``; ``notify`` calls nothing),
its outcome recorded in one more short transaction. A failed or unrecorded action is retried
on a later pass. Once Nova shows the action taken effect (``lending.loans.took_effect``: the
server ``SHUTOFF``, shelved or gone; read right after the call and then every
``confirm_seconds``), the engine takes the device back: the borrower's ARQ ends
``BindFailed`` with the reason, its handle freed, and the loan closes in the same transaction
(``usecases.arqs.revoke``). An action Nova accepted that has not taken effect within
``retry_seconds`` is recorded as failed and sent again. ``notify`` enforces nothing: its loan
closes when the borrower unbinds or deletes the ARQ (the bind rules, or step 1 of a pass).

The state lives in SQL, so a pass repeated, or run by a new engine after a restart, decides
the same again: with nothing changed, it writes nothing and calls nobody.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Sequence

from oslo_log import log as logging
from sqlalchemy import orm

from cyborg_lite import exception
from cyborg_lite.conductor.ports import DeviceSync, NovaServers
from cyborg_lite.db import lending_devices, lending_windows, models
from cyborg_lite.db import loans as db_loans
from cyborg_lite.db import pools as db_pools
from cyborg_lite.db.engine import Database
from cyborg_lite.inventory.changes import Event
from cyborg_lite.lending import loans as lending_loans
from cyborg_lite.lending import offers, windows
from cyborg_lite.usecases import arqs as arq_cases

LOG = logging.getLogger(__name__)

RECLAIM_EVENT = "loan.reclaim"
NOTIFY = "notify"
NO_NOVA = "no Nova client is configured ([nova] auth_type): the action cannot run"


def _aware(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=dt.UTC)


def _naive(when: dt.datetime) -> dt.datetime:
    return when.astimezone(dt.UTC).replace(tzinfo=None)


def due_to_act(loan: db_loans.Reclaiming, now: dt.datetime, retry_seconds: float) -> bool:
    """Whether a reclaiming loan past its deadline gets an attempt at ``now`` (naive UTC):
    never tried, or the last attempt failed (or never recorded its outcome) at least
    ``retry_seconds`` ago. A successful attempt is not repeated."""
    if loan.reclaim_acted_at is None:
        return True
    if loan.reclaim_error is None:
        return False
    return loan.reclaim_acted_at + dt.timedelta(seconds=retry_seconds) <= now


def next_due(candidates: Sequence[dt.datetime | None], now: dt.datetime) -> dt.datetime | None:
    """The earliest of ``candidates`` (aware) still after ``now``, as naive UTC; None when
    none is."""
    ahead = [c for c in candidates if c is not None and c > now]
    return _naive(min(ahead)) if ahead else None


def reclaim_payload(loan: db_loans.Reclaiming) -> dict[str, str | None]:
    """The ``accelerator.loan.reclaim`` payload of a reclaiming loan."""
    deadline = loan.reclaim_deadline
    return {
        "loan_uuid": loan.uuid,
        "device_uuid": loan.device_uuid,
        "instance_uuid": loan.instance_uuid,
        "borrower_project_id": loan.borrower_project_id,
        "deadline": None if deadline is None else _aware(deadline).isoformat(),
    }


def waiting_for_effect(loan: db_loans.Reclaiming, on_reclaim: str) -> bool:
    """Whether the loan's last attempt was accepted by Nova and the engine now waits for it
    to take effect (it reads the server's status until it has)."""
    return on_reclaim != NOTIFY and loan.reclaim_acted_at is not None and loan.reclaim_error is None


@dataclasses.dataclass(frozen=True)
class Action:
    """A claimed on_reclaim attempt (or, ``check_only``, a look at whether the last accepted
    one took effect), to run after the commit."""

    loan_uuid: str
    arq_uuid: str
    instance_uuid: str | None
    attempt: int
    acted_at: dt.datetime | None = None
    check_only: bool = False


@dataclasses.dataclass
class Outcome:
    """What one pass over a pool did (sorted uuids; for logs and tests). ``next_due``: when
    the pool next needs a pass (naive UTC), None when nothing is ahead but the sweep."""

    pool_uuid: str
    found: bool = True
    offered: list[str] = dataclasses.field(default_factory=list)
    withdrawn: list[str] = dataclasses.field(default_factory=list)
    closed: list[str] = dataclasses.field(default_factory=list)
    reclaimed: list[str] = dataclasses.field(default_factory=list)
    synced: list[str] = dataclasses.field(default_factory=list)
    announced: list[str] = dataclasses.field(default_factory=list)
    acted: dict[str, bool] = dataclasses.field(default_factory=dict)
    returned: list[str] = dataclasses.field(default_factory=list)
    next_due: dt.datetime | None = None

    @property
    def changed(self) -> bool:
        """True when the pass wrote or called anything."""
        return bool(
            self.offered
            or self.withdrawn
            or self.closed
            or self.reclaimed
            or self.synced
            or self.announced
            or self.acted
            or self.returned
        )


@dataclasses.dataclass
class _Plan:
    """What the transaction decided, carried out after it."""

    on_reclaim: str = NOTIFY
    pool_name: str = ""
    members: list[str] = dataclasses.field(default_factory=list)
    offered_now: frozenset[str] = frozenset()
    reclaiming: list[db_loans.Reclaiming] = dataclasses.field(default_factory=list)
    actions: list[Action] = dataclasses.field(default_factory=list)


class LendingEngine:
    """Passes over lending pools; thread-safe (the runner's thread calls it)."""

    def __init__(
        self,
        db: Database,
        *,
        emit: Callable[[Sequence[Event]], None],
        device_sync: DeviceSync | None,
        nova: NovaServers | None,
        retry_seconds: float,
        confirm_seconds: float = 5.0,
        clock: Callable[[], dt.datetime] = models.utcnow,
    ) -> None:
        self._db = db
        self._emit = emit
        self._device_sync = device_sync
        self._nova = nova
        self._retry_seconds = retry_seconds
        self._confirm_seconds = confirm_seconds
        self._clock = clock
        self._lock = threading.Lock()
        # Per process: the loans announced, and each pool's offered devices as last synced
        # (a pool not seen yet has all its devices synced once, which also repairs what a
        # reclaim withdrew before this process started).
        self._announced: dict[str, set[str]] = {}
        self._synced: dict[str, frozenset[str]] = {}

    def pool_uuids(self) -> list[str]:
        """Every pool to sweep: those in SQL, and those this engine offered devices of (a
        deleted pool's devices lose their traits on its last pass)."""
        with self._db.transaction() as session:
            stored = {p.uuid for p in db_pools.list_pools(session, {})}
        with self._lock:
            known = set(self._synced)
        return sorted(stored | known)

    def run_pass(self, pool_uuid: str) -> Outcome:
        """One pass over the pool (see the module docstring)."""
        now = self._clock()
        outcome = Outcome(pool_uuid)
        with self._db.transaction() as session:
            plan = self._decide(session, pool_uuid, now, outcome)
        self._sync(pool_uuid, plan, outcome)
        self._announce(pool_uuid, plan, outcome)
        for action in plan.actions:
            if action.check_only:
                self._check(plan, action, now, outcome)
            else:
                outcome.acted[action.loan_uuid] = self._act(plan, action, now, outcome)
        if any(
            accepted and plan.on_reclaim != NOTIFY and uuid not in outcome.returned
            for uuid, accepted in outcome.acted.items()
        ):
            # Accepted, not taken effect yet: the next look is due after confirm_seconds.
            look = now + dt.timedelta(seconds=self._confirm_seconds)
            outcome.next_due = min(filter(None, [outcome.next_due, look]))
        if outcome.changed:
            LOG.info("Lending pass over pool %s: %s", pool_uuid, outcome)
        return outcome

    # --- the transaction ------------------------------------------------------------------

    def _decide(
        self, session: orm.Session, pool_uuid: str, now: dt.datetime, out: Outcome
    ) -> _Plan:
        try:
            pool = db_pools.get(session, pool_uuid, lock=True)
        except exception.NotFound:
            out.found = False
            return _Plan()
        rules = db_pools.rules(pool)
        tz = windows.parse_timezone(rules.timezone)
        spans = [w.window for w in lending_windows.list_windows(session, pool.id)]
        at = _aware(now)
        window_open = windows.is_open(spans, tz, at)
        # Loans first: a loan closed here frees its device for this pass's offers.
        loans = lending_loans.decide(
            db_loans.loan_facts(session, pool.uuid),
            now=at,
            window_open=window_open,
            notice_seconds=rules.notice_seconds,
        )
        closing = set(loans.close)
        for loan in db_loans.to_close(session, pool.uuid):
            if loan.uuid in closing:
                kwh = db_loans.energy(session, loan.device_uuid, loan.started_at, now)
                if db_loans.close(session, loan.uuid, ended_at=now, energy_kwh=kwh):
                    out.closed.append(loan.uuid)
        facts = lending_devices.device_facts(session, pool.id)
        decided = offers.decide(
            facts,
            reserve=rules.reserve,
            min_idle_seconds=rules.min_idle_seconds,
            window_open=window_open,
            now=at,
        )
        out.offered, out.withdrawn = lending_devices.set_offered(session, pool.id, decided.offered)
        if loans.reclaim:
            out.reclaimed = db_loans.start_reclaim(
                session, pool.uuid, _naive(loans.deadline), loan_uuids=loans.reclaim
            )
        reclaiming = db_loans.reclaiming(session, pool.uuid)
        # Past the deadline (``loans.act``, and a loan moved just now with no notice).
        past = [
            loan
            for loan in reclaiming
            if loan.reclaim_deadline is None or loan.reclaim_deadline <= now
        ]
        actions = [
            Action(loan.uuid, loan.arq_uuid, loan.instance_uuid, loan.reclaim_attempts + 1)
            for loan in past
            if due_to_act(loan, now, self._retry_seconds)
            and db_loans.claim_action(session, loan.uuid, attempts=loan.reclaim_attempts, now=now)
        ]
        # An accepted action is looked at (no claim: a look changes nothing, and the take
        # back is conditional) until it took effect or its retry time comes.
        waiting = [loan for loan in past if waiting_for_effect(loan, rules.on_reclaim)]
        actions += [
            Action(
                loan.uuid,
                loan.arq_uuid,
                loan.instance_uuid,
                loan.reclaim_attempts,
                acted_at=loan.reclaim_acted_at,
                check_only=True,
            )
            for loan in waiting
        ]
        ahead = [windows.next_change(spans, tz, at), loans.next_due]
        if window_open:
            # A device not idle long enough yet is offered once it is.
            ahead += [
                f.idle_since + dt.timedelta(seconds=rules.min_idle_seconds)
                for f in facts
                if decided.withheld.get(f.uuid) == offers.NOT_IDLE and f.idle_since is not None
            ]
        retry = dt.timedelta(seconds=self._retry_seconds)
        ahead += [
            _aware(loan.reclaim_acted_at + retry)
            for loan in reclaiming
            if loan.reclaim_acted_at is not None and loan.reclaim_error is not None
        ]
        confirm = dt.timedelta(seconds=self._confirm_seconds)
        ahead += [
            _aware(min(now + confirm, loan.reclaim_acted_at + retry))
            for loan in waiting
            if loan.reclaim_acted_at is not None
        ]
        out.next_due = next_due(ahead, at)
        return _Plan(
            on_reclaim=rules.on_reclaim,
            pool_name=pool.name,
            members=[f.uuid for f in facts],
            offered_now=frozenset(decided.offered),
            reclaiming=reclaiming,
            actions=actions,
        )

    # --- after the commit -----------------------------------------------------------------

    def _sync(self, pool_uuid: str, plan: _Plan, out: Outcome) -> None:
        """Placement for the devices whose offer changed (this pass's changes, and any
        since this engine last synced the pool; every member on the first pass)."""
        with self._lock:
            before = self._synced.get(pool_uuid)
            if out.found:
                self._synced[pool_uuid] = plan.offered_now
            else:
                self._synced.pop(pool_uuid, None)
        devices = set(out.offered) | set(out.withdrawn)
        if before is None:
            devices |= set(plan.members)
        else:
            devices |= before ^ plan.offered_now
        if self._device_sync is None:
            return
        for device_uuid in sorted(devices):
            # False is logged by the sync; the periodic host sync writes the traits from SQL.
            self._device_sync.sync_device(device_uuid)
            out.synced.append(device_uuid)

    def _announce(self, pool_uuid: str, plan: _Plan, out: Outcome) -> None:
        with self._lock:
            seen = self._announced.get(pool_uuid, set())
            new = [loan for loan in plan.reclaiming if loan.uuid not in seen]
            # Only the loans still reclaiming are remembered (closed ones are forgotten).
            self._announced[pool_uuid] = {loan.uuid for loan in plan.reclaiming}
        if new:
            self._emit([(RECLAIM_EVENT, reclaim_payload(loan)) for loan in new])
            out.announced = [loan.uuid for loan in new]

    def _act(self, plan: _Plan, action: Action, now: dt.datetime, out: Outcome) -> bool:
        """Run one claimed attempt and record its outcome; True when Nova accepted it (or,
        for notify, nothing was to be called). Takes the device back at once when the server
        shows the action taken effect (before the call: the borrower stopped it already)."""
        error: str | None = None
        on_reclaim = plan.on_reclaim
        if on_reclaim != NOTIFY:
            if self._nova is None:
                error = NO_NOVA
            elif action.instance_uuid is None:
                error = "the loan names no instance to act on"
            elif self._give_back_if_done(plan, action, now, out):
                return True
            elif not self._nova.server_action(action.instance_uuid, on_reclaim):
                error = f"Nova did not accept {on_reclaim} of server {action.instance_uuid}"
            elif self._give_back_if_done(plan, action, now, out):
                return True
        if error is not None:
            LOG.warning(
                "Reclaim of loan %s, attempt %d: %s; retried in %ss",
                action.loan_uuid,
                action.attempt,
                error,
                self._retry_seconds,
            )
        with self._db.transaction() as session:
            db_loans.record_action(session, action.loan_uuid, attempt=action.attempt, error=error)
        return error is None

    def _check(self, plan: _Plan, action: Action, now: dt.datetime, out: Outcome) -> None:
        """Look at a server whose action Nova accepted: take the device back once it took
        effect; past ``retry_seconds`` without effect, record the attempt failed (the next
        pass sends the action again)."""
        if self._nova is None or action.instance_uuid is None:
            return
        if self._give_back_if_done(plan, action, now, out):
            return
        if action.acted_at is None:
            return
        if action.acted_at + dt.timedelta(seconds=self._retry_seconds) > now:
            return
        error = (
            f"server {action.instance_uuid} has not taken {plan.on_reclaim} effect "
            f"{self._retry_seconds:g}s after Nova accepted it"
        )
        LOG.warning("Reclaim of loan %s: %s; sent again", action.loan_uuid, error)
        with self._db.transaction() as session:
            db_loans.record_action(session, action.loan_uuid, attempt=action.attempt, error=error)

    def _give_back_if_done(
        self, plan: _Plan, action: Action, now: dt.datetime, out: Outcome
    ) -> bool:
        """If Nova shows the pool's action done on the loan's server, take the device back
        from the borrower's ARQ and close the loan (one transaction); True when it did."""
        if self._nova is None or action.instance_uuid is None:
            return False
        status = self._nova.server_status(action.instance_uuid)
        if not lending_loans.took_effect(plan.on_reclaim, status):
            return False
        reason = (
            f"Reclaimed by the owner of pool {plan.pool_name}: the loan's notice ended and "
            f"the server is {status} ({plan.on_reclaim})."
        )
        with self._db.transaction() as session:
            db_loans.record_action(session, action.loan_uuid, attempt=action.attempt, error=None)
            closed = arq_cases.revoke(session, action.arq_uuid, reason, now=now)
        if action.loan_uuid in closed:
            out.returned.append(action.loan_uuid)
            LOG.info("Loan %s closed: %s", action.loan_uuid, reason)
        return True
