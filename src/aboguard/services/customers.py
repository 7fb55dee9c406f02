"""Customer use cases."""

from __future__ import annotations

from aboguard.domain import events as ev
from aboguard.domain.customers import Customer, CustomerSpec, build_customer
from aboguard.errors import DuplicateCustomer
from aboguard.ids import CustomerId

from .context import ServiceContext


def create_customer(ctx: ServiceContext, spec: CustomerSpec) -> Customer:
    now = ctx.now()
    customer = build_customer(spec, customer_id=CustomerId(ctx.new_id()), created_at=now)
    with ctx.uow() as uow:
        if customer.external_ref and uow.customers.find_by_external_ref(customer.external_ref):
            raise DuplicateCustomer(f"a customer with external reference {customer.external_ref!r} "
                                    f"already exists")
        uow.customers.add(customer)
        uow.events.add([ev.CustomerCreated(customer.id, customer.email, customer.kind)], now)
        uow.commit()
    return customer


def get_customer(ctx: ServiceContext, customer_id: str) -> Customer:
    with ctx.uow() as uow:
        return uow.customers.get(CustomerId(customer_id))


def list_customers(ctx: ServiceContext, *, limit: int = 100, offset: int = 0) -> list[Customer]:
    with ctx.uow() as uow:
        return uow.customers.list(limit=limit, offset=offset)
