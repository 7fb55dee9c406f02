"""How fast the foundation finds and computes due billing work.

1. Domain: billing periods for N subscriptions (month-end anchors included), as a billing run will
   compute them: ``periods_to_bill`` + ``mark_billed`` per subscription.
2. Storage: N subscriptions in a SQLite file (and PostgreSQL with --postgres URL); how long the indexed
   ``due_for_billing`` query (a range scan of the ``due_on`` index) takes to claim a batch of 1,000 due
   ones, compared with a full scan.

Prints figures and ratios; asserts nothing. Usage:
    .venv/bin/python bench/billing_periods.py [--domain N] [--store N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text

from aboguard.clock import TestClock
from aboguard.domain import subscriptions as lifecycle
from aboguard.domain.catalog import PlanSpec, build_version
from aboguard.domain.customers import CustomerSpec
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.domain.subscriptions import Subscription, SubscriptionStatus
from aboguard.ids import SubscriptionId
from aboguard.money import Money
from aboguard.services import customers, plans
from aboguard.services.context import ServiceContext
from aboguard.store import migrate, rows, tables
from aboguard.store.engine import make_engine, sqlite_url
from aboguard.store.sql import SqlUnitOfWorkFactory

NOW = datetime(2025, 6, 1, tzinfo=UTC)
TODAY = date(2025, 6, 1)


def bench_domain(n: int) -> None:
    version = build_version(PlanSpec(Money(9_99, "EUR"), Interval(IntervalUnit.MONTH)), version_id="v",  # type: ignore[arg-type]
                            plan_id="p", number=1, created_at=NOW)  # type: ignore[arg-type]
    rng = random.Random(7)
    subs = [Subscription(id=f"s{i}", customer_id="c", plan_version_id="v", status=SubscriptionStatus.ACTIVE,  # type: ignore[arg-type]
                         start_on=(a := date(2025, 1, 1) + timedelta(days=rng.randrange(150))), billing_anchor=a,
                         next_bill_on=a, created_at=NOW) for i in range(n)]
    started = time.perf_counter()
    periods = 0
    for sub in subs:
        for period in lifecycle.periods_to_bill(sub, version, TODAY):
            sub = lifecycle.mark_billed(sub, period)
            periods += 1
    elapsed = time.perf_counter() - started
    print(f"domain: {n:,} subscriptions, {periods:,} periods computed in {elapsed:.2f} s "
          f"= {n / elapsed:,.0f} subscriptions/s ({periods / elapsed:,.0f} periods/s)")


def bench_store(url: str, n: int, label: str) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    uow_factory = SqlUnitOfWorkFactory(engine)
    ctx = ServiceContext(uow=uow_factory, clock=TestClock(NOW), merchant_tz=ZoneInfo("Europe/Berlin"))
    plan = plans.create_plan(ctx, code=f"bench-{NOW.timestamp():.0f}-{random.randrange(10**9)}", name="Bench",
                             spec=PlanSpec(Money(9_99, "EUR"), Interval(IntervalUnit.MONTH)))
    customer = customers.create_customer(ctx, CustomerSpec(email="bench@example.de", name="Bench", country="DE"))
    rng = random.Random(11)
    started = time.perf_counter()
    with engine.begin() as conn:
        batch = []
        for _ in range(n):
            start = date(2024, 6, 1) + timedelta(days=rng.randrange(365))
            due = TODAY + timedelta(days=rng.randrange(-2, 29))  # about 1 in 10 due now
            sub = Subscription(id=SubscriptionId(ctx.new_id()), customer_id=customer.id,
                               plan_version_id=plan.current.id, status=SubscriptionStatus.ACTIVE, start_on=start,
                               billing_anchor=start, next_bill_on=due, created_at=NOW)
            batch.append(rows.subscription_to_row(sub))
            if len(batch) == 10_000:
                conn.execute(insert(tables.subscriptions), batch)
                batch = []
        if batch:
            conn.execute(insert(tables.subscriptions), batch)
    print(f"{label}: inserted {n:,} subscriptions in {time.perf_counter() - started:.1f} s")
    if label == "postgres":  # what autovacuum does soon after a bulk load; without it the planner guesses
        with engine.begin() as conn:
            conn.execute(text("ANALYZE subscriptions"))
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        with uow_factory() as uow:
            ids = uow.subscriptions.due_for_billing(TODAY, limit=1000)
        timings.append(time.perf_counter() - started)
    indexed = min(timings)
    with engine.connect() as conn:
        # The same predicate with the index defeated (an expression on the column), as a full scan.
        column = "date(due_on, '+0 day')" if label == "sqlite" else "(due_on + 0)"
        started = time.perf_counter()
        due_total = conn.execute(text(f"SELECT count(*) FROM subscriptions WHERE {column} <= :d "
                                      "AND status = 'active'"), {"d": TODAY}).scalar_one()
        scan = time.perf_counter() - started
    print(f"{label}: due_for_billing claimed {len(ids):,} of {due_total:,} due in {indexed * 1000:.1f} ms "
          f"(best of 5); a full scan of the same predicate took {scan * 1000:.1f} ms "
          f"(ratio {scan / indexed:.0f}x)")
    uow_factory.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domain", type=int, default=200_000, help="subscriptions for the domain benchmark")
    parser.add_argument("--store", type=int, default=200_000, help="subscriptions stored for the query benchmark")
    parser.add_argument("--postgres", help="also run the query benchmark on this (empty) PostgreSQL database")
    args = parser.parse_args()
    bench_domain(args.domain)
    with tempfile.TemporaryDirectory() as tmp:
        bench_store(sqlite_url(Path(tmp)), args.store, "sqlite")
    if args.postgres:
        bench_store(args.postgres, args.store, "postgres")


if __name__ == "__main__":
    main()
