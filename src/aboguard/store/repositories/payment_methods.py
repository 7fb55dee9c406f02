"""Payment methods, with gateway tokens and IBANs encrypted at rest and at most one default per customer.

"At most one default" is also a partial unique index (``ix_payment_methods_one_default``), so two
transactions racing to set a default cannot both win.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from aboguard.domain.catalog import PaymentMethodKind
from aboguard.domain.payment_methods import PaymentMethod, PaymentMethodStatus
from aboguard.errors import ConcurrentUpdate, DuplicateMandateReference, PaymentMethodNotFound
from aboguard.ids import CustomerId, PaymentMethodId
from aboguard.store import rows
from aboguard.store.secrets import NoSecrets, SecretBox
from aboguard.store.tables import payment_methods

from ._base import execute_guarded, one_of

NO_SECRETS = NoSecrets("no secret key was given to the unit of work, so IBANs and payment tokens cannot be "
                       "read or written: pass secrets= to SqlUnitOfWorkFactory (bootstrap does)")
_ACTIVE = PaymentMethodStatus.ACTIVE.value
_FIXED = ("id", "customer_id", "kind", "created_at", "version")


class SqlPaymentMethodRepository:
    def __init__(self, connection: Connection, secrets: SecretBox | None = None) -> None:
        self._conn = connection
        self._secrets: SecretBox = secrets if secrets is not None else NO_SECRETS

    def add(self, method: PaymentMethod) -> PaymentMethod:
        """Insert ``method``; it becomes the customer's default when asked or when the customer has no
        active default yet (the previous default is unset in this same transaction). Returns it as stored."""
        self._check_mandate_reference(method)
        if method.is_active:
            current = self.default_for(method.customer_id)
            if current is None:
                method = replace(method, is_default=True)
            elif method.is_default:
                self._unset_default(current)
        else:
            method = replace(method, is_default=False)
        error = execute_guarded(self._conn, insert(payment_methods).values(
            rows.payment_method_to_row(method, self._secrets)))
        if error is not None:
            self._check_mandate_reference(method)
            raise ConcurrentUpdate(f"the payment methods of customer {method.customer_id} were changed by "
                                   f"someone else meanwhile; try again") from None
        return method

    def get(self, method_id: PaymentMethodId) -> PaymentMethod:
        row = self._conn.execute(
            select(payment_methods).where(payment_methods.c.id == method_id)).mappings().first()
        if row is None:
            raise PaymentMethodNotFound(f"no payment method with id {method_id!r}")
        return rows.payment_method_from_row(row, self._secrets)

    def list_for_customer(self, customer_id: CustomerId, *, include_removed: bool = False) -> list[PaymentMethod]:
        """Oldest first."""
        query = select(payment_methods).where(payment_methods.c.customer_id == customer_id)
        if not include_removed:
            query = query.where(payment_methods.c.status == _ACTIVE)
        query = query.order_by(payment_methods.c.created_at, payment_methods.c.id)
        return [rows.payment_method_from_row(row, self._secrets) for row in self._conn.execute(query).mappings()]

    def default_for(self, customer_id: CustomerId) -> PaymentMethod | None:
        row = self._conn.execute(select(payment_methods).where(
            payment_methods.c.customer_id == customer_id, payment_methods.c.is_default.is_(True),
            payment_methods.c.status == _ACTIVE)).mappings().first()
        return rows.payment_method_from_row(row, self._secrets) if row is not None else None

    def defaults_for(self, customer_ids: Collection[CustomerId]) -> dict[CustomerId, PaymentMethod]:
        """The default method of each customer that has one, in one query."""
        if not customer_ids:
            return {}
        query = select(payment_methods).where(
            one_of(self._conn, payment_methods.c.customer_id, sorted(set(customer_ids))),
            payment_methods.c.is_default.is_(True), payment_methods.c.status == _ACTIVE)
        found = (rows.payment_method_from_row(row, self._secrets) for row in self._conn.execute(query).mappings())
        return {method.customer_id: method for method in found}

    def default_kinds_for(self, customer_ids: Collection[CustomerId]) -> dict[CustomerId, PaymentMethodKind]:
        """The kind of each customer's default method (no secrets decrypted), in one query."""
        if not customer_ids:
            return {}
        query = select(payment_methods.c.customer_id, payment_methods.c.kind).where(
            one_of(self._conn, payment_methods.c.customer_id, sorted(set(customer_ids))),
            payment_methods.c.is_default.is_(True), payment_methods.c.status == _ACTIVE)
        return {CustomerId(customer): PaymentMethodKind(kind) for customer, kind in self._conn.execute(query)}

    def find_by_mandate_reference(self, reference: str) -> PaymentMethod | None:
        """The method with this mandate reference, compared case-insensitively (REFERENCE.md 1.3)."""
        row = self._conn.execute(select(payment_methods).where(
            func.upper(payment_methods.c.mandate_reference) == reference.upper())).mappings().first()
        return rows.payment_method_from_row(row, self._secrets) if row is not None else None

    def mandate_reference_taken(self, reference: str) -> bool:
        return self._conn.execute(select(payment_methods.c.id).where(
            func.upper(payment_methods.c.mandate_reference) == reference.upper())).first() is not None

    def count_for_customer(self, customer_id: CustomerId) -> int:
        """All methods ever added for the customer, removed ones included."""
        return int(self._conn.execute(select(func.count()).select_from(payment_methods).where(
            payment_methods.c.customer_id == customer_id)).scalar_one())

    def save(self, method: PaymentMethod) -> PaymentMethod:
        """Update where the stored version equals ``method.version``; returns it with version + 1. Setting
        a default while another one is still stored raises ConcurrentUpdate: unset the old one first."""
        values: dict[str, Any] = rows.payment_method_to_row(method, self._secrets)
        for fixed in _FIXED:
            del values[fixed]
        statement = (update(payment_methods)
                     .where(payment_methods.c.id == method.id, payment_methods.c.version == method.version)
                     .values(**values, version=payment_methods.c.version + 1))
        try:
            with self._conn.begin_nested():
                result = self._conn.execute(statement)
        except IntegrityError:
            raise ConcurrentUpdate(f"customer {method.customer_id} already has another default payment "
                                   f"method; unset it first") from None
        if result.rowcount == 0:
            stored = self._conn.execute(
                select(payment_methods.c.version).where(payment_methods.c.id == method.id)).scalar_one_or_none()
            if stored is None:
                raise PaymentMethodNotFound(f"no payment method with id {method.id!r}")
            raise ConcurrentUpdate(f"payment method {method.id} was changed by someone else (version {stored}, "
                                   f"expected {method.version}); reload it and try again")
        return replace(method, version=method.version + 1)

    def _unset_default(self, current: PaymentMethod) -> None:
        self.save(replace(current, is_default=False))

    def _check_mandate_reference(self, method: PaymentMethod) -> None:
        reference = method.mandate_reference
        if reference is not None and self.mandate_reference_taken(reference):
            raise DuplicateMandateReference(f"mandate reference {reference!r} is already used; each mandate "
                                            f"needs its own reference")
