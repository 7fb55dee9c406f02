"""Customers."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from aboguard.domain.customers import Customer
from aboguard.errors import CustomerNotFound, DuplicateCustomer
from aboguard.ids import CustomerId
from aboguard.store import rows
from aboguard.store.tables import customers

from ._base import execute_guarded, one_of, select_where, where


class SqlCustomerRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, customer: Customer) -> None:
        ref = customer.external_ref
        if ref is not None and self.find_by_external_ref(ref) is not None:
            raise DuplicateCustomer(f"a customer with external reference {ref!r} already exists")
        error = execute_guarded(self._conn, insert(customers).values(rows.customer_to_row(customer)))
        if error is not None:
            if ref is not None and self.find_by_external_ref(ref) is not None:
                raise DuplicateCustomer(f"a customer with external reference {ref!r} already exists") from None
            raise error

    def get(self, customer_id: CustomerId) -> Customer:
        row = self._conn.execute(select_where(customers, "id"), where(id=customer_id)).mappings().first()
        if row is None:
            raise CustomerNotFound(f"no customer with id {customer_id!r}")
        return rows.customer_from_row(row)

    def get_many(self, customer_ids: Collection[CustomerId]) -> dict[CustomerId, Customer]:
        """The customers with these ids (missing ones are left out), in one query."""
        if not customer_ids:
            return {}
        query = select(customers).where(one_of(self._conn, customers.c.id, sorted(set(customer_ids))))
        found = (rows.customer_from_row(row) for row in self._conn.execute(query).mappings().all())
        return {customer.id: customer for customer in found}

    def find_by_external_ref(self, external_ref: str) -> Customer | None:
        row = self._conn.execute(
            select(customers).where(customers.c.external_ref == external_ref)).mappings().first()
        return rows.customer_from_row(row) if row is not None else None

    def list(self, *, limit: int = 100, offset: int = 0) -> list[Customer]:
        query = (select(customers).order_by(customers.c.created_at, customers.c.id)
                 .limit(limit).offset(offset))
        return [rows.customer_from_row(row) for row in self._conn.execute(query).mappings()]
