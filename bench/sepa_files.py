"""How fast SEPA bank files go out and come back, and how much memory that takes.

Sets up N subscriptions paying by SEPA direct debit on the bank-file rail (ABOGUARD_SEPA_CHANNEL=file), runs
billing and the collection run (set-up, not measured), then measures, each in its own child process so that
its peak memory (``ru_maxrss``) is its own:

1. ``export``: all N debits into one pain.008.001.08 file -- stored items, streamed XML, XSD validation of the
   written file, attempts marked submitted;
2. ``parse``: reading and schema-validating a camt.054.001.08 notification with N entries (one per debit, the
   first 2 % of them returns with a fee), which the bank would send back;
3. ``import``: the same file imported: every debit settled or returned, ledger booked, in one transaction
   (the file streams: applied chunk by chunk while a child process parses the next).

Prints figures; asserts nothing. Usage:
    .venv/bin/python bench/sepa_files.py --collections 100000
    .venv/bin/python bench/sepa_files.py --collections 10000      # compare peak memory: it should stay flat
    .venv/bin/python bench/sepa_files.py --collections 100000 --db postgres
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from lxml import etree
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.camt_builder writes the bank's file

from scratch_db import Database  # bench/ is on the path when a bench script runs

from aboguard import bootstrap
from aboguard.config import Settings
from aboguard.domain.catalog import PaymentMethodKind, PlanSpec
from aboguard.domain.customers import CustomerKind, CustomerSpec, build_customer
from aboguard.domain.payment_methods import PaymentMethod, PaymentMethodStatus
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.domain.subscriptions import Subscription, SubscriptionStatus
from aboguard.ids import CustomerId, PaymentMethodId, SubscriptionId, new_id
from aboguard.money import Money
from aboguard.services import bank_import, billing, collection, plans, sepa
from aboguard.store import rows, tables
from aboguard.store.secrets import Secrets
from tests.camt_builder import Entry, Tx, write_camt

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
TODAY = date(2026, 3, 2)
KEY = "q0eDqcmZ5aXbSP-1kP9ul5E0J8pCZ7H7hZBD9iDU1Yw="


DATABASE_URL: str | None = None  # None: SQLite in the work directory; set by --db postgres (children inherit it)


def settings_for(workdir: Path) -> Settings:
    return Settings(data_dir=workdir, database_url=DATABASE_URL, merchant_tz=ZoneInfo("Europe/Berlin"), secret_key=KEY,
                    sepa_channel="file", sepa_creditor_id="DE98ZZZ09999999999",
                    merchant_iban="DE02120300000000202051", merchant_bic="BYLADEM1001", durable=False,
                    merchant_name="Bench Händler GmbH")


def populate(workdir: Path, n: int) -> None:
    ctx, _ = bootstrap.initialise(settings_for(workdir), test_clock=True, at=START)
    try:
        version = plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(
            Money(9_99, "EUR"), Interval(IntervalUnit.MONTH))).current
        box = Secrets(KEY)
        started = time.perf_counter()
        with ctx.uow.engine.begin() as conn:  # type: ignore[attr-defined]
            for offset in range(0, n, 10_000):
                customers, methods, subs = [], [], []
                for i in range(offset, min(n, offset + 10_000)):
                    customer = build_customer(CustomerSpec(email=f"c{i}@example.de", name=f"Kundin {i} Müller",
                                                           country="DE"),
                                              customer_id=CustomerId(new_id()), created_at=START)
                    method = PaymentMethod(
                        id=PaymentMethodId(new_id()), customer_id=customer.id, kind=PaymentMethodKind.SEPA_DEBIT,
                        is_default=True, status=PaymentMethodStatus.ACTIVE, created_at=START,
                        iban="DE89370400440532013000", bic="COBADEFFXXX", account_holder=f"Kundin {i} Müller",
                        mandate_reference=f"AG-BENCH-{i:07d}", mandate_signed_on=date(2025, 1, 1),
                        mandate_scheme="core", mandate_type="recurrent", mandate_status="active",
                        mandate_last_used_on=date(2026, 2, 2) if i % 3 else None)
                    start = date(2025, 6, 1)
                    sub = Subscription(id=SubscriptionId(new_id()), customer_id=customer.id,
                                       plan_version_id=version.id, status=SubscriptionStatus.ACTIVE, start_on=start,
                                       billing_anchor=date(2025, 6, 2), next_bill_on=TODAY, created_at=START,
                                       consumer=customer.kind is CustomerKind.CONSUMER)
                    customers.append(rows.customer_to_row(customer))
                    methods.append(rows.payment_method_to_row(method, box))
                    subs.append(rows.subscription_to_row(sub))
                conn.execute(insert(tables.customers), customers)
                conn.execute(insert(tables.payment_methods), methods)
                conn.execute(insert(tables.subscriptions), subs)
        print(f"  set-up: {n:,} customers with SEPA mandates in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        billed = billing.run_billing(ctx)
        print(f"  set-up: billing run, {billed.invoices:,} invoices in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        report = collection.run_collection(ctx, batch_size=2000)
        print(f"  set-up: collection run, {report.awaiting_export:,} debits awaiting export in "
              f"{time.perf_counter() - started:.1f} s")
    finally:
        ctx.close()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _export(workdir: str, out: str, queue: multiprocessing.Queue) -> None:
    ctx = bootstrap.build(settings_for(Path(workdir)))
    base = _peak_mb()
    started = time.perf_counter()
    report = sepa.export_collections(ctx, Path(out), collection_on=date(2026, 3, 4))
    queue.put({"seconds": time.perf_counter() - started, "transactions": report.transactions,
               "blocks": len(report.blocks), "bytes": Path(out).stat().st_size, "peak_mb": _peak_mb(),
               "base_mb": base})
    ctx.close()


def _parse(path: str, queue: multiprocessing.Queue) -> None:
    from aboguard.bankfiles.camt import StatementReader

    base = _peak_mb()
    started = time.perf_counter()
    lines = sum(1 for _ in StatementReader(Path(path)).lines())  # streamed, as the import reads it
    queue.put({"seconds": time.perf_counter() - started, "lines": lines, "peak_mb": _peak_mb(), "base_mb": base})


def _import(workdir: str, path: str, queue: multiprocessing.Queue) -> None:
    ctx = bootstrap.build(settings_for(Path(workdir)))
    ctx.clock.advance(days=3)  # type: ignore[attr-defined]
    base = _peak_mb()
    started = time.perf_counter()
    report = bank_import.import_statement(ctx, Path(path))
    queue.put({"seconds": time.perf_counter() - started, "settled": report.settled, "returned": report.returned,
               "unmatched": report.unmatched, "peak_mb": _peak_mb(), "base_mb": base})
    ctx.close()


def in_child(target, *args) -> dict:  # type: ignore[no-untyped-def]
    queue: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.get_context("fork").Process(target=target, args=(*args, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def bank_reply(pain: Path, camt: Path) -> int:
    """A camt.054.001.08 with one entry per debit of ``pain``: settled, or (first 2 %) returned with AM04."""
    ns = "{urn:iso:std:iso:20022:tech:xsd:pain.008.001.08}"
    ids = []
    for _, tx in etree.iterparse(str(pain), tag=f"{ns}DrctDbtTxInf"):
        ids.append((tx.findtext(f"{ns}PmtId/{ns}EndToEndId"), tx.findtext(f"{ns}InstdAmt")))
        tx.clear()
    returns = len(ids) // 50

    def entries():  # type: ignore[no-untyped-def]
        for n, (e2e, amount) in enumerate(ids):
            minor = int(amount.replace(".", ""))
            if n < returns:
                yield Entry(f"R{n}", False, [Tx(minor, e2e=e2e, reason="AM04", fee_minor=3_00)], sub_family="UPDD")
            else:
                yield Entry(f"C{n}", True, [Tx(minor, e2e=e2e)])

    write_camt(camt, "camt.054.001.08", entries(), msg_id="BENCH-054")
    return len(ids)


def main() -> None:
    global DATABASE_URL
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collections", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    scratch = Database("postgres", "aboguard_bench_sepa", Path(tempfile.gettempdir())) \
        if args.db == "postgres" else None
    DATABASE_URL = scratch.url if scratch else None
    try:
        run(args.collections, "PostgreSQL" if scratch else "SQLite")
    finally:
        if scratch:
            scratch.drop()


def run(n: int, label: str) -> None:
    with tempfile.TemporaryDirectory(prefix="aboguard-sepa-bench-") as tmp:
        workdir = Path(tmp)
        print(f"SEPA bank files, {n:,} collections, {label}")
        populate(workdir, n)
        pain = workdir / "debits.xml"
        export = in_child(_export, str(workdir), str(pain))
        print(f"export  pain.008.001.08: {export['transactions']:,} debits in {export['blocks']} payment blocks, "
              f"{export['bytes'] / 1e6:.1f} MB, {export['seconds']:.1f} s "
              f"({export['transactions'] / export['seconds']:,.0f}/s), peak RSS {export['peak_mb']:.0f} MB "
              f"(at start {export['base_mb']:.0f} MB)")
        camt = workdir / "camt054.xml"
        started = time.perf_counter()
        entries = bank_reply(pain, camt)
        print(f"  set-up: camt.054.001.08 with {entries:,} entries, {camt.stat().st_size / 1e6:.1f} MB, in "
              f"{time.perf_counter() - started:.1f} s")
        parsed = in_child(_parse, str(camt))
        print(f"parse   camt.054 (streamed, iterparse + XSD): {parsed['lines']:,} lines in {parsed['seconds']:.1f} s "
              f"({parsed['lines'] / parsed['seconds']:,.0f}/s), peak RSS {parsed['peak_mb']:.0f} MB "
              f"(at start {parsed['base_mb']:.0f} MB)")
        imported = in_child(_import, str(workdir), str(camt))
        print(f"import  camt.054 (parse + apply, one transaction): {imported['settled']:,} settled, "
              f"{imported['returned']:,} returned, {imported['unmatched']} unmatched in {imported['seconds']:.1f} s "
              f"({entries / imported['seconds']:,.0f}/s), peak RSS {imported['peak_mb']:.0f} MB "
              f"(at start {imported['base_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
