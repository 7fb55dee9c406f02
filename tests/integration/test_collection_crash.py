"""Collection killed with SIGKILL at random moments, then restarted: nothing charged twice, nothing lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from aboguard import bootstrap
from aboguard.config import Settings
from aboguard.domain.catalog import PaymentMethodKind, PlanSpec
from aboguard.domain.customers import CustomerSpec
from aboguard.domain.invoicing import InvoiceStatus
from aboguard.domain.payment_methods import PaymentMethodSpec
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.money import Money
from aboguard.services import billing, customers, installation, invoices, ledger, payment_methods, plans, subscriptions

INVOICES = 120
KILLS = 6
COLLECT = "import sys; from aboguard.cli import main; sys.exit(main(['collect', '--json']))"


def test_collection_survives_sigkill_at_random_points(db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "ABOGUARD_DATABASE_URL": db_url, "ABOGUARD_DATA_DIR": str(tmp_path / "data"),
           "ABOGUARD_MERCHANT_TZ": "Europe/Berlin"}
    settings = Settings.from_env(env)
    ctx, _ = bootstrap.initialise(settings, test_clock=True, at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    try:
        plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(Money(9_99, "EUR"),
                                                                         Interval(IntervalUnit.MONTH)))
        for i in range(INVOICES):
            customer = customers.create_customer(ctx, CustomerSpec(email=f"c{i}@example.de", name=f"C{i}",
                                                                   country="DE"))
            payment_methods.add_payment_method(ctx, customer.id, PaymentMethodSpec(
                PaymentMethodKind.CARD, gateway_token="tok_visa", brand="visa", last4="4242", exp_month=12,
                exp_year=2030))
            subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="basic")
        assert billing.run_billing(ctx).invoices == INVOICES
    finally:
        ctx.close()

    rng = random.Random(7)
    for _ in range(KILLS):  # start a collector and kill it somewhere in the middle
        process = subprocess.Popen([sys.executable, "-c", COLLECT], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait()

    ctx = bootstrap.build(settings)
    try:  # an hour later the interrupted attempts count as stale and are resolved with the gateway
        installation.advance_clock(ctx, hours=1)
    finally:
        ctx.close()
    finished = subprocess.run([sys.executable, "-c", COLLECT], env=env, capture_output=True, text=True,
                              timeout=300)
    assert finished.returncode == 0, finished.stderr
    # (On this machine the killed collectors leave about 50 attempts pending, which this run resolves.)

    ctx = bootstrap.build(settings)
    try:
        issued = invoices.list_invoices(ctx, limit=INVOICES + 10)
        assert len(issued) == INVOICES and all(i.status is InvoiceStatus.PAID for i in issued)
        charges = ctx.gateway.charges()  # type: ignore[union-attr]
        keys = [c["idempotency_key"] for c in charges]
        assert len(keys) == len(set(keys)) == INVOICES  # the provider charged each invoice exactly once
        with ctx.uow() as uow:
            attempts = uow.attempts.list(limit=10 * INVOICES)
        assert sorted(a.idempotency_key for a in attempts) == sorted(keys)
        assert {a.status.value for a in attempts} == {"succeeded"}
        check = ledger.check_ledger(ctx)
        assert check.ok and check.entries == 2 * INVOICES
        with ctx.uow() as uow:
            assert uow.ledger.balance("clearing:sandbox") == {"EUR": 9_99 * INVOICES}
    finally:
        ctx.close()
