"""Lending's rules at bind (issue 17): whether a borrower's ARQ may take a pooled device,
and the loan its bind opens. ``usecases.arqs.bind`` calls them in its transaction; the
account and the engine's moves are ``db/loans.py``'s.
"""

from __future__ import annotations

from sqlalchemy import orm

from cyborg_lite.db import lending_devices, models
from cyborg_lite.db import loans as db_loans
from cyborg_lite.lending import offers
from cyborg_lite.lending import pools as lending_pools

# Why a device is not offered is the lending engine's decision, which SQL keeps only as the
# flag; the refusal says so rather than guess a reason of ``lending.offers.REASONS``.
NOT_LENT_NOW = "not lent now"


def borrow_refusal(
    session: orm.Session, lent: lending_devices.Pooled, project_id: str | None
) -> str | None:
    """Why ``project_id``'s ARQ may not borrow the pooled device ``lent`` (the text for its
    ``error``), or None when it may. The offer is read under its row's lock (see
    ``db.lending_devices.lock_offer``)."""
    if project_id is None:
        return (
            f"An accelerator request without a project cannot borrow device "
            f"{lent.device_uuid} of pool {lent.pool_name}."
        )
    rules = lending_pools.Pool(name=lent.pool_name, borrower_project_ids=lent.borrower_project_ids)
    if not rules.lends_to(project_id):
        return offers.may_borrow(rules, offers.Offers((), (), {}), lent.device_uuid, project_id)
    offered = lending_devices.lock_offer(session, lent.device_id)
    now = offers.Offers(
        offered=(lent.device_uuid,) if offered else (),
        reserved=(),
        withheld={} if offered else {lent.device_uuid: NOT_LENT_NOW},
    )
    return offers.may_borrow(rules, now, lent.device_uuid, project_id)


def open_for_bind(
    session: orm.Session,
    lent: lending_devices.Pooled,
    borrower_project_id: str,
    arq_uuid: str,
    instance_uuid: str | None,
) -> models.Loan:
    """The loan a borrower's bind of ``lent`` opens, now, in the bind's transaction."""
    return db_loans.open_loan(
        session,
        pool_uuid=lent.pool_uuid,
        device_uuid=lent.device_uuid,
        owner_project_id=lent.owner_project_id,
        borrower_project_id=borrower_project_id,
        arq_uuid=arq_uuid,
        instance_uuid=instance_uuid,
        started_at=models.utcnow(),
    )
