"""How fast the billing run turns due subscriptions into issued, booked invoices.

Creates N due subscriptions (one customer each) in a fresh database, runs the billing run in a child
process and prints subscriptions billed per second and the child's peak memory. Then it inserts the
very rows the run wrote (invoices, lines, journal entries and lines, events and their outbox rows, plus the
subscription updates as rows) into an empty copy of the schema with the fastest raw method of the database —
COPY on PostgreSQL, one executemany transaction on SQLite — and prints the ratio billing-run / raw.

With ``--processes K`` (PostgreSQL) it instead starts K ``aboguard bill`` processes at once on the
same due subscriptions and checks that every subscription was billed exactly once.

Prints figures; asserts nothing. Usage:
    .venv/bin/python bench/billing_run.py --subscriptions 100000 --db sqlite
    .venv/bin/python bench/billing_run.py --subscriptions 100000 --db postgres
    .venv/bin/python bench/billing_run.py --subscriptions 20000 --db postgres --processes 4
    .venv/bin/python bench/billing_run.py --subscriptions 100000 --db sqlite --memory 10000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from scratch_db import Database  # bench/ is on the path when a bench script runs
from sqlalchemy import insert, text

from aboguard import bootstrap
from aboguard.clock import TestClock
from aboguard.config import Settings
from aboguard.domain.catalog import PlanSpec, TaxCategory
from aboguard.domain.customers import CustomerKind, CustomerSpec, build_customer
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.domain.subscriptions import Subscription, SubscriptionStatus
from aboguard.ids import CustomerId, SubscriptionId, new_id
from aboguard.money import Money
from aboguard.services import billing, plans
from aboguard.services.context import ServiceContext
from aboguard.store import migrate, rows, tables
from aboguard.store.engine import make_engine
from aboguard.store.sql import SqlUnitOfWorkFactory

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TODAY = date(2026, 3, 1)
TZ = ZoneInfo("Europe/Berlin")
WRITTEN = ("invoices", "invoice_lines", "journal_entries", "journal_lines", "events", "outbox")
COUNTRIES = ["DE"] * 7 + ["AT", "FR", "NL"]


# -- databases ------------------------------------------------------------------------------------------


def settings_for(db: Database) -> Settings:
    return Settings(data_dir=Path(tempfile.gettempdir()), database_url=db.url, merchant_tz=TZ)


# -- set-up -----------------------------------------------------------------------------------------------


def populate(db: Database, n: int) -> None:
    """An initialised sandbox on 1 Mar 2026 with n subscriptions due today (one customer each)."""
    ctx, _ = bootstrap.initialise(settings_for(db), test_clock=True, at=START)
    try:
        consumer = plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(
            Money(9_99, "EUR"), Interval(IntervalUnit.MONTH)))
        box = plans.create_plan(ctx, code="box", name="Box", spec=PlanSpec(
            Money(29_90, "EUR"), Interval(IntervalUnit.MONTH), tax_category=TaxCategory.REDUCED))
        rng = random.Random(42)
        engine = ctx.uow.engine  # type: ignore[attr-defined]
        started = time.perf_counter()
        with engine.begin() as conn:
            for offset in range(0, n, 10_000):
                customer_rows, sub_rows = [], []
                for i in range(offset, min(n, offset + 10_000)):
                    customer = build_customer(
                        CustomerSpec(email=f"c{i}@example.de", name=f"Customer {i}", country=rng.choice(COUNTRIES)),
                        customer_id=CustomerId(new_id(int(START.timestamp() * 1000))), created_at=START)
                    version = (consumer if i % 5 else box).current
                    start = date(2025, rng.randrange(1, 13), 1)  # monthly on the 1st: 1 Mar 2026 is due
                    sub = Subscription(id=SubscriptionId(new_id(int(START.timestamp() * 1000))),
                                       customer_id=customer.id, plan_version_id=version.id,
                                       status=SubscriptionStatus.ACTIVE, start_on=start, billing_anchor=start,
                                       next_bill_on=TODAY, created_at=START,
                                       consumer=customer.kind is CustomerKind.CONSUMER)
                    customer_rows.append(rows.customer_to_row(customer))
                    sub_rows.append(rows.subscription_to_row(sub))
                conn.execute(insert(tables.customers), customer_rows)
                conn.execute(insert(tables.subscriptions), sub_rows)
            if db.kind == "postgres":
                conn.execute(text("ANALYZE"))
        print(f"  set-up: {n:,} customers and due subscriptions in {time.perf_counter() - started:.1f} s")
    finally:
        ctx.close()


# -- the billing run in a child process ---------------------------------------------------------------------


def _bill_child(url: str, batch: int, out: multiprocessing.Queue) -> None:
    engine = make_engine(url)
    factory = SqlUnitOfWorkFactory(engine)
    ctx = ServiceContext(uow=factory, clock=TestClock(START), merchant_tz=TZ)
    base = _high_water_kb()
    started = time.perf_counter()
    report = billing.run_billing(ctx, batch_size=batch)
    elapsed = time.perf_counter() - started
    peak = _high_water_kb()
    factory.close()
    out.put({"subscriptions": report.subscriptions, "invoices": report.invoices, "failures": len(report.failures),
             "seconds": elapsed, "peak_kb": peak, "base_kb": base})


def _high_water_kb() -> int:
    """Peak resident memory of this process (VmHWM; ru_maxrss would carry the parent's over exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_billing_child(url: str, batch: int) -> dict:
    spawn = multiprocessing.get_context("spawn")
    queue = spawn.Queue()
    child = spawn.Process(target=_bill_child, args=(url, batch, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


# -- the raw insert of the same rows --------------------------------------------------------------------------


def dump_written(db: Database) -> dict[str, tuple[list[str], list[tuple]]]:
    engine = make_engine(db.url)
    dumped = {}
    with engine.connect() as conn:
        for name in (*WRITTEN, "subscriptions"):
            table = tables.metadata.tables[name]
            columns = [c.name for c in table.columns]
            dumped[name] = (columns, [tuple(r) for r in conn.execute(table.select())])
    engine.dispose()
    return dumped


def raw_insert(db: Database, dumped: dict[str, tuple[list[str], list[tuple]]], sqlite_path: Path | None) -> float:
    """Seconds to write the same rows with the database's fastest raw method (no constraints checked twice)."""
    engine = make_engine(db.url)
    migrate.upgrade(engine)
    engine.dispose()
    if db.kind == "sqlite":
        assert sqlite_path is not None
        conn = sqlite3.connect(sqlite_path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=OFF")
        prepared = {name: [tuple(_sqlite_value(v) for v in row) for row in rows_]
                    for name, (_, rows_) in dumped.items()}
        started = time.perf_counter()
        with conn:
            for name, (columns, _) in dumped.items():
                marks = ", ".join("?" for _ in columns)
                conn.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", prepared[name])
        elapsed = time.perf_counter() - started
        conn.close()
        return elapsed
    with psycopg.connect(db.url.replace("postgresql+psycopg", "postgresql")) as conn:
        conn.execute("SET session_replication_role = replica")  # foreign keys are not what is measured
        started = time.perf_counter()
        with conn.transaction():
            for name, (columns, rows_) in dumped.items():
                with conn.cursor().copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows_:
                        copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in row])
        return time.perf_counter() - started


def _sqlite_value(value: object) -> object:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


# -- several processes at once ----------------------------------------------------------------------------------


def concurrent_bill(db: Database, processes: int) -> None:
    env = {**os.environ, "ABOGUARD_DATABASE_URL": db.url}
    code = "import sys; from aboguard.cli import main; sys.exit(main(['bill', '--json']))"
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(processes)]
    reports = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            print(f"  a process failed (exit {proc.returncode}): {err.strip()[-400:]}")
        reports.append(json.loads(out) if out.strip() else {"subscriptions": 0, "invoices": 0})
    elapsed = time.perf_counter() - started
    engine = make_engine(db.url)
    with engine.connect() as conn:
        invoices = conn.execute(text("SELECT count(*) FROM invoices")).scalar_one()
        distinct = conn.execute(text("SELECT count(DISTINCT subscription_id) FROM invoices")).scalar_one()
        doubled = conn.execute(text("SELECT count(*) FROM (SELECT subscription_id FROM invoices "
                                    "GROUP BY subscription_id HAVING count(*) > 1) d")).scalar_one()
        due_left = conn.execute(text("SELECT count(*) FROM subscriptions WHERE due_on <= :d"),
                                {"d": TODAY}).scalar_one()
        numbers = conn.execute(text("SELECT count(DISTINCT number), min(number), max(number) FROM invoices")).one()
    engine.dispose()
    per_process = [r["subscriptions"] for r in reports]
    print(f"  {processes} concurrent `aboguard bill` processes billed {sum(per_process):,} subscriptions "
          f"({' + '.join(f'{p:,}' for p in per_process)}) in {elapsed:.1f} s")
    print(f"  invoices: {invoices:,} for {distinct:,} distinct subscriptions; subscriptions billed twice: {doubled}; "
          f"still due: {due_left}; distinct numbers {numbers[0]:,} from {numbers[1]} to {numbers[2]}")
    verdict = "exactly once" if doubled == 0 and invoices == distinct and due_left == 0 else "NOT exactly once"
    print(f"  => every subscription billed {verdict}")


# -- main -----------------------------------------------------------------------------------------------------


def bench(kind: str, n: int, batch: int, processes: int) -> None:
    tag = f"aboguard_bench_{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        db = Database(kind, tag, workdir)
        try:
            print(f"{kind}: {n:,} due subscriptions")
            populate(db, n)
            if processes > 1:
                concurrent_bill(db, processes)
                return
            result = run_billing_child(db.url, batch)
            rate = result["subscriptions"] / result["seconds"]
            print(f"  billing run: {result['subscriptions']:,} subscriptions, {result['invoices']:,} invoices "
                  f"({result['failures']} set aside) in {result['seconds']:.2f} s = {rate:,.0f} subscriptions/s")
            print(f"  peak memory of the billing process: {result['peak_kb'] / 1024:,.0f} MiB "
                  f"(before the run, after imports and connecting: {result['base_kb'] / 1024:,.0f} MiB)")
            dumped = dump_written(db)
            total_rows = sum(len(r) for _, r in dumped.values())
            raw_db = Database(kind, tag + "_raw", workdir)
            try:
                raw_path = workdir / (tag + "_raw") / "aboguard.db" if kind == "sqlite" else None
                raw = raw_insert(raw_db, dumped, raw_path)
            finally:
                raw_db.drop()
            method = "COPY" if kind == "postgres" else "executemany in one transaction"
            counts = ", ".join(f"{name} {len(written):,}" for name, (_, written) in dumped.items())
            print(f"  raw insert of the same {total_rows:,} rows ({counts}) with {method}: {raw:.2f} s "
                  f"= {total_rows / raw:,.0f} rows/s")
            print(f"  ratio billing-run / raw insert: {result['seconds'] / raw:.1f}x")
        finally:
            db.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--batch", type=int, default=billing.DEFAULT_BATCH)
    parser.add_argument("--processes", type=int, default=1, help="concurrent `aboguard bill` processes")
    parser.add_argument("--memory", type=int, default=0,
                        help="also run with this smaller N first, to compare peak memory")
    args = parser.parse_args()
    if args.memory:
        bench(args.db, args.memory, args.batch, 1)
    bench(args.db, args.subscriptions, args.batch, args.processes)


if __name__ == "__main__":
    main()
