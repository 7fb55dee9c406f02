"""Bulk set-up for benchmarks and crash tests: thousands of card-paying subscribers in a few statements.

The services take a transaction per customer, payment method and subscription (minutes for thousands);
this builds the same domain objects and inserts their rows in bulk, as the billing benchmark does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime

from sqlalchemy import insert

from aboguard.domain import subscriptions as lifecycle
from aboguard.domain.catalog import PaymentMethodKind, Plan
from aboguard.domain.customers import CustomerSpec, build_customer
from aboguard.domain.payment_methods import PaymentMethodSpec, build_payment_method
from aboguard.ids import CustomerId, PaymentMethodId, SubscriptionId

from . import rows, tables
from .sql import SqlUnitOfWorkFactory

CHUNK = 2500


def card_subscribers(factory: SqlUnitOfWorkFactory, plan: Plan, tokens: Sequence[str], *, now: datetime,
                     today: date, new_id: Callable[[], str]) -> dict[str, str]:
    """One customer, default card (``token``) and subscription to ``plan`` starting ``today`` per token;
    returns customer id -> card token."""
    token_of: dict[str, str] = {}
    with factory.engine.begin() as conn:
        for offset in range(0, len(tokens), CHUNK):
            customer_rows, method_rows, sub_rows = [], [], []
            for i, token in enumerate(tokens[offset:offset + CHUNK], start=offset):
                customer = build_customer(CustomerSpec(email=f"c{i}@example.de", name=f"Customer {i}", country="DE"),
                                          customer_id=CustomerId(new_id()), created_at=now)
                method = build_payment_method(
                    PaymentMethodSpec(PaymentMethodKind.CARD, gateway_token=token, brand="visa", last4="4242",
                                      exp_month=12, exp_year=2030, make_default=True),
                    method_id=PaymentMethodId(new_id()), customer_id=customer.id, created_at=now, today=today)
                sub, _ = lifecycle.start(SubscriptionId(new_id()), customer=customer, plan=plan, start_on=today,
                                         created_at=now)
                customer_rows.append(rows.customer_to_row(customer))
                method_rows.append(rows.payment_method_to_row(method, factory.secrets))
                sub_rows.append(rows.subscription_to_row(sub))
                token_of[customer.id] = token
            conn.execute(insert(tables.customers), customer_rows)
            conn.execute(insert(tables.payment_methods), method_rows)
            conn.execute(insert(tables.subscriptions), sub_rows)
    return token_of
