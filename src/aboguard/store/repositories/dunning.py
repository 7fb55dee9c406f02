"""Dunning policies, cases, their timeline, and the fees and interest charged in them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from aboguard.domain.dunning import (
    CaseStatus,
    DunningCase,
    DunningPolicy,
    TimelineEntry,
    policy_from_dict,
    policy_to_dict,
)
from aboguard.domain.dunning_charges import ChargeKind, DunningCharge
from aboguard.errors import ConcurrentUpdate, NotFound
from aboguard.ids import CustomerId, InvoiceId
from aboguard.money import Money
from aboguard.store.tables import dunning_cases, dunning_charges, dunning_policies, dunning_timeline

from ._base import insert_row, select_where, update_versioned, where

_NEXT_SEQ = select(func.coalesce(func.max(dunning_timeline.c.seq), 0)).where(
    dunning_timeline.c.case_id == bindparam("case_id"))


class DunningCaseNotFound(NotFound):
    code = "dunning.not_found"


_CASE_FIELDS = ("id", "policy_code", "due_on", "steps_done", "next_step_on", "created_at", "updated_at",
                "default_since", "paused_until", "pause_reason", "version")


def _case_row(case: DunningCase) -> dict[str, Any]:
    row = {name: getattr(case, name) for name in _CASE_FIELDS}
    row.update(invoice_id=case.invoice_id, customer_id=case.customer_id, status=case.status.value)
    return row


def _case(row: Any) -> DunningCase:
    values = {name: row[name] for name in _CASE_FIELDS}
    return DunningCase(**values, invoice_id=InvoiceId(row["invoice_id"]), customer_id=CustomerId(row["customer_id"]),
                       status=CaseStatus(row["status"]))


def _charge(row: Any) -> DunningCharge:
    currency = row["currency"]
    return DunningCharge(id=row["id"], case_id=row["case_id"], invoice_id=InvoiceId(row["invoice_id"]),
                         customer_id=CustomerId(row["customer_id"]), kind=ChargeKind(row["kind"]),
                         amount=Money(row["amount_minor"], currency), charged_on=row["charged_on"],
                         created_at=row["created_at"], description=row["description"],
                         paid=Money(row["paid_minor"], currency), waived=Money(row["waived_minor"], currency),
                         version=row["version"])


def _charge_row(charge: DunningCharge) -> dict[str, Any]:
    zero = Money.zero(charge.amount.currency)
    return {"id": charge.id, "case_id": charge.case_id, "invoice_id": charge.invoice_id,
            "customer_id": charge.customer_id, "kind": charge.kind.value, "amount_minor": charge.amount.minor,
            "paid_minor": (charge.paid or zero).minor, "waived_minor": (charge.waived or zero).minor,
            "currency": charge.amount.currency, "charged_on": charge.charged_on, "created_at": charge.created_at,
            "description": charge.description, "version": charge.version}


def _entry(row: Any) -> TimelineEntry:
    return TimelineEntry(id=row["id"], case_id=row["case_id"], invoice_id=InvoiceId(row["invoice_id"]),
                         seq=row["seq"], action=row["action"], happened_on=row["happened_on"],
                         created_at=row["created_at"], detail=row["detail"], channel=row["channel"],
                         fee_minor=row["fee_minor"], interest_minor=row["interest_minor"], currency=row["currency"])


class SqlDunning:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    # -- policies --------------------------------------------------------------------------------------------

    def policies(self) -> list[DunningPolicy]:
        rows = self._conn.execute(select(dunning_policies).order_by(dunning_policies.c.code)).mappings()
        return [policy_from_dict(row["definition"]) for row in rows]

    def save_policy(self, policy: DunningPolicy, now: datetime) -> bool:
        """Insert or replace by code; True when it was new."""
        values = {"name": policy.name, "priority": policy.priority, "definition": policy_to_dict(policy),
                  "updated_at": now}
        result = self._conn.execute(update(dunning_policies).where(dunning_policies.c.code == policy.code)
                                    .values(**values))
        if result.rowcount:
            return False
        self._conn.execute(insert(dunning_policies).values(code=policy.code, created_at=now, **values))
        return True

    def remove_policy(self, code: str) -> bool:
        return bool(self._conn.execute(delete(dunning_policies).where(dunning_policies.c.code == code)).rowcount)

    # -- cases -----------------------------------------------------------------------------------------------

    def add_case(self, case: DunningCase) -> None:
        insert_row(self._conn, dunning_cases, _case_row(case))

    def case_for_invoice(self, invoice_id: str) -> DunningCase | None:
        row = self._conn.execute(select_where(dunning_cases, "invoice_id"), where(invoice_id=invoice_id)
                                 ).mappings().first()
        return _case(row) if row is not None else None

    def get_case(self, case_id: str) -> DunningCase:
        row = self._conn.execute(select_where(dunning_cases, "id"), where(id=case_id)).mappings().first()
        if row is None:
            raise DunningCaseNotFound(f"no dunning case {case_id!r}")
        return _case(row)

    def save_case(self, case: DunningCase) -> DunningCase:
        values = _case_row(case)
        for fixed in ("id", "invoice_id", "customer_id", "created_at", "version"):
            del values[fixed]
        if update_versioned(self._conn, dunning_cases, values, case.id, case.version) == 0:
            raise ConcurrentUpdate(f"the dunning of invoice {case.invoice_id} was changed by someone else; run again")
        return replace(case, version=case.version + 1)

    def claim_due(self, today: date, *, limit: int, skip_locked: bool = False) -> list[DunningCase]:
        """Cases whose next step is due by ``today`` (active, or paused with a pause that has run out)."""
        query = (select(dunning_cases)
                 .where(dunning_cases.c.next_step_on <= today,
                        or_(dunning_cases.c.status == CaseStatus.ACTIVE.value,
                            (dunning_cases.c.status == CaseStatus.PAUSED.value)
                            & (dunning_cases.c.paused_until < today)))
                 .order_by(dunning_cases.c.next_step_on, dunning_cases.c.id).limit(limit))
        if skip_locked and self._conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [_case(row) for row in self._conn.execute(query).mappings()]

    def cases(self, *, customer_id: str | None = None, status: CaseStatus | None = None,
              statuses: frozenset[CaseStatus] | None = None, limit: int = 1000, offset: int = 0) -> list[DunningCase]:
        query = select(dunning_cases)
        if customer_id is not None:
            query = query.where(dunning_cases.c.customer_id == customer_id)
        if status is not None:
            query = query.where(dunning_cases.c.status == status.value)
        if statuses is not None:
            query = query.where(dunning_cases.c.status.in_([s.value for s in statuses]))
        query = query.order_by(dunning_cases.c.created_at, dunning_cases.c.id).limit(limit).offset(offset)
        return [_case(row) for row in self._conn.execute(query).mappings()]

    def count_by_status(self) -> dict[str, int]:
        query = select(dunning_cases.c.status, func.count()).group_by(dunning_cases.c.status)
        return {status: int(n) for status, n in self._conn.execute(query)}

    # -- timeline --------------------------------------------------------------------------------------------

    def add_entry(self, entry: TimelineEntry) -> None:
        insert_row(self._conn, dunning_timeline, dict(
            id=entry.id, case_id=entry.case_id, invoice_id=entry.invoice_id, seq=entry.seq, action=entry.action,
            happened_on=entry.happened_on, created_at=entry.created_at, detail=entry.detail, channel=entry.channel,
            fee_minor=entry.fee_minor, interest_minor=entry.interest_minor, currency=entry.currency))

    def next_seq(self, case_id: str) -> int:
        return int(self._conn.execute(_NEXT_SEQ, {"case_id": case_id}).scalar_one()) + 1

    def timeline(self, case_id: str) -> list[TimelineEntry]:
        query = select(dunning_timeline).where(dunning_timeline.c.case_id == case_id).order_by(dunning_timeline.c.seq)
        return [_entry(row) for row in self._conn.execute(query).mappings()]

    # -- charges ---------------------------------------------------------------------------------------------

    def add_charge(self, charge: DunningCharge) -> None:
        insert_row(self._conn, dunning_charges, _charge_row(charge))

    def charges_for_invoice(self, invoice_id: str) -> list[DunningCharge]:
        query = select_where(dunning_charges, "invoice_id", order_by=("charged_on", "id"))
        return [_charge(row) for row in self._conn.execute(query, where(invoice_id=invoice_id)).mappings()]

    def charges_for_customer(self, customer_id: str) -> list[DunningCharge]:
        query = (select(dunning_charges).where(dunning_charges.c.customer_id == customer_id)
                 .order_by(dunning_charges.c.charged_on, dunning_charges.c.id))
        return [_charge(row) for row in self._conn.execute(query).mappings()]

    def save_charge(self, charge: DunningCharge) -> DunningCharge:
        values = _charge_row(charge)
        for fixed in ("id", "case_id", "invoice_id", "customer_id", "created_at", "version"):
            del values[fixed]
        if update_versioned(self._conn, dunning_charges, values, charge.id, charge.version) == 0:
            raise ConcurrentUpdate(f"dunning charge {charge.id} was changed by someone else; run again")
        return replace(charge, version=charge.version + 1)

    def open_charges_by_customer(self) -> dict[tuple[str, str], dict[str, int]]:
        """(customer, receivable kind) -> currency -> open minor units, for the ledger check."""
        open_ = func.sum(dunning_charges.c.amount_minor - dunning_charges.c.paid_minor - dunning_charges.c.waived_minor)
        query = (select(dunning_charges.c.customer_id, dunning_charges.c.kind, dunning_charges.c.currency, open_)
                 .group_by(dunning_charges.c.customer_id, dunning_charges.c.kind, dunning_charges.c.currency))
        result: dict[tuple[str, str], dict[str, int]] = {}
        for customer_id, kind, currency, amount in self._conn.execute(query):
            group = "interest" if kind == ChargeKind.INTEREST.value else "costs"
            bucket = result.setdefault((customer_id, group), {})
            bucket[currency] = bucket.get(currency, 0) + int(amount)
        return result
