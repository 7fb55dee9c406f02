"""Collection killed with SIGKILL at random moments, K collectors at once: is every invoice charged exactly once?

Creates N due subscriptions (one customer and card each; a share of the cards decline: insufficient funds
or a lost card), bills them, then runs rounds: K ``aboguard collect --json`` processes start at once and
each is killed with SIGKILL at its own random moment; after each round the test clock moves on an hour
(the same day, so no retry of a declined card is due), which makes what the killed collectors left pending
stale, so the next round's collectors race to resolve it with the gateway, and are killed while they do.
After the rounds one clean ``aboguard collect`` finishes the work (``--final K`` starts K at once).

Then the sandbox gateway's own record is compared with aboguard's: one charge per invoice in the sandbox,
under the key of aboguard's one attempt, same amount and outcome; no invoice with two succeeded attempts;
every good card's invoice paid, every declined one open with exactly one failed attempt; the ledger balanced
and the sandbox clearing account holding exactly what was collected. Prints the figures; exits 1 on any
mismatch. Usage:
    .venv/bin/python bench/collection_crash.py --invoices 3000 --collectors 2 --db postgres
    .venv/bin/python bench/collection_crash.py --invoices 1000 --db sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scratch_db import Database  # bench/ is on the path when a bench script runs

from aboguard import bootstrap
from aboguard.config import Settings
from aboguard.domain.catalog import PlanSpec
from aboguard.domain.invoicing import InvoiceStatus
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.money import Money
from aboguard.services import billing, installation, invoices, ledger, plans
from aboguard.services.context import ServiceContext
from aboguard.store import seeding

START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # 06:00 in Berlin
STEP = timedelta(minutes=30)  # the clock moves on after each round: twice the collectors' 15 minutes to stale
DAY_ENDS = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)  # 22:00 in Berlin: the clock stays on the same day, so no
# retry of a declined card falls due
PRICE = Money(9_99, "EUR")
COLLECT = "import sys; from aboguard.cli import main; sys.exit(main(['collect', '--json']))"
GOOD_CARD = "tok_visa"
FAILING_CARDS = ("tok_chargeDeclinedInsufficientFunds", "4000000000009987")  # soft (no funds), hard (lost card)
WORK_SECONDS = 6.0  # kills fall between 0.8 x the time an idle collector runs (mostly imports) and that + this


# -- set-up -------------------------------------------------------------------------------------------------------


def seed(ctx: ServiceContext, tokens: list[str]) -> dict[str, str]:
    """One customer, default card and subscription starting today per token, in bulk; customer id -> token."""
    plan = plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(PRICE, Interval(IntervalUnit.MONTH)))
    return seeding.card_subscribers(ctx.uow, plan, tokens, now=ctx.now(), today=ctx.today(),  # type: ignore[arg-type]
                                    new_id=ctx.new_id)


# -- the rounds ---------------------------------------------------------------------------------------------------


@dataclass
class Crashes:
    rounds: int = 0
    kills: int = 0  # SIGKILLs that hit a running collector
    finished: int = 0  # collectors that were done before their kill came
    interrupted: dict[str, bool] = field(default_factory=dict)  # attempt id -> the sandbox had charged it
    errors: Counter = field(default_factory=Counter)  # how collectors failed on their own (not by the kill)
    samples: dict[str, str] = field(default_factory=dict)  # the first whole stderr of each kind of failure


def idle_seconds(env: dict[str, str]) -> float:
    """How long a collector runs when nothing is due: the kills are timed from it (fast or busy machine)."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", COLLECT], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=300)
    return time.monotonic() - started


def kill_round(env: dict[str, str], rng: random.Random, collectors: int, window: tuple[float, float],
               crashes: Crashes) -> None:
    started = time.monotonic()
    processes = [subprocess.Popen([sys.executable, "-c", COLLECT], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True) for _ in range(collectors)]
    for at, process in sorted(((rng.uniform(*window), p) for p in processes), key=lambda pair: pair[0]):
        time.sleep(max(0.0, started + at - time.monotonic()))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            crashes.kills += 1
        else:
            crashes.finished += 1
    for process in processes:
        _, err = process.communicate()
        if process.returncode not in (0, -signal.SIGKILL):
            crashes.errors[_error_line(err)] += 1
            crashes.samples.setdefault(_error_line(err), err)
    crashes.rounds += 1


def _error_line(stderr: str) -> str:
    """The line that names the error (``error: ...`` or an exception), ids and quoted values masked, so that
    alike failures count together."""
    lines = [line.strip() for line in stderr.strip().splitlines()]
    named = [line for line in lines
             if line.startswith("error:") or re.match(r"^[\w.]+(Error|Exception|Update)\b", line)]
    line = (named or lines or ["(no message)"])[-1]
    return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|'[^']*'", "<...>", line)[:300]


def work_left(settings: Settings, crashes: Crashes) -> tuple[int, int]:
    """(invoices still due for collection, attempts left pending); notes each pending attempt once, with
    whether the sandbox holds a charge for it (killed after the gateway call) or not (killed before)."""
    ctx = bootstrap.build(settings)
    try:
        charged = {c["idempotency_key"] for c in ctx.gateway.charges()}  # type: ignore[union-attr]
        with ctx.uow() as uow:
            pending = uow.attempts.list(status="pending", limit=1_000_000)
            due = len(uow.invoices.claim_collectable(ctx.today(), limit=1_000_000))
        for attempt in pending:
            crashes.interrupted.setdefault(attempt.id, attempt.idempotency_key in charged)
        return due, len(pending)
    finally:
        ctx.close()


def advance_clock(settings: Settings, step: timedelta, *, until: datetime = DAY_ENDS) -> bool:
    """Move the test clock on by ``step`` unless that would pass ``until``; whether it moved."""
    ctx = bootstrap.build(settings)
    try:
        if ctx.now() + step > until:
            return False
        installation.set_clock(ctx, ctx.now() + step)
        return True
    finally:
        ctx.close()


def final_run(env: dict[str, str], collectors: int) -> list[tuple[int, dict | None, str]]:
    processes = [subprocess.Popen([sys.executable, "-c", COLLECT], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(collectors)]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=1800)
        results.append((process.returncode, json.loads(out) if out.strip() else None, err.strip()))
    return results


# -- the comparison -----------------------------------------------------------------------------------------------


@dataclass
class Reconciliation:
    invoices: int = 0
    paid: int = 0
    declined: int = 0
    charges: Counter = field(default_factory=Counter)  # sandbox: status -> count
    attempts: Counter = field(default_factory=Counter)  # aboguard: status -> count
    duplicates: int = 0  # invoices charged (or succeeded) more than once, keys charged twice
    lost: int = 0  # invoices never charged, attempts the sandbox never saw, charges aboguard never recorded
    mismatched: int = 0  # amount or outcome differ between the sandbox and aboguard, or wrong invoice status
    ledger_ok: bool = False
    ledger_entries: int = 0
    clearing: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def reconcile(ctx: ServiceContext, token_of: dict[str, str]) -> Reconciliation:
    r = Reconciliation()
    issued = invoices.list_invoices(ctx, limit=10 * len(token_of) + 10)
    charges = ctx.gateway.charges()  # type: ignore[union-attr]
    with ctx.uow() as uow:
        attempts = uow.attempts.list(limit=10 * len(token_of) + 10)
        r.clearing = uow.ledger.balance("clearing:sandbox")
    r.invoices = len(issued)
    r.charges = Counter(c["status"] for c in charges)
    r.attempts = Counter(a.status.value for a in attempts)

    by_key = {c["idempotency_key"]: c for c in charges}
    if len(by_key) != len(charges):
        r.duplicates += len(charges) - len(by_key)
        r.problems.append(f"the sandbox holds {len(charges) - len(by_key)} charges under a repeated key")
    charges_per_invoice = Counter(key.split("/attempt-")[0] for key in by_key)
    attempts_of: dict[str, list] = {}
    for attempt in attempts:
        attempts_of.setdefault(attempt.invoice_id, []).append(attempt)
    if len(issued) != len(token_of) or {i.customer_id for i in issued} != set(token_of):
        r.lost += abs(len(token_of) - len(issued))
        r.problems.append(f"{len(issued)} invoices for {len(token_of)} customers")
    for invoice in issued:
        failing = token_of.get(invoice.customer_id) in FAILING_CARDS
        r.declined += failing
        tried = attempts_of.get(invoice.id, [])
        succeeded = sum(a.status.value == "succeeded" for a in tried)
        if succeeded > 1 or charges_per_invoice[invoice.id] > 1 or len(tried) > 1:
            r.duplicates += 1
            r.problems.append(f"invoice {invoice.number}: {len(tried)} attempts ({succeeded} succeeded), "
                              f"{charges_per_invoice[invoice.id]} sandbox charges")
        elif not tried or charges_per_invoice[invoice.id] == 0:
            r.lost += 1
            r.problems.append(f"invoice {invoice.number}: {len(tried)} attempts, "
                              f"{charges_per_invoice[invoice.id]} sandbox charges")
        elif [a.status.value for a in tried] != ["failed" if failing else "succeeded"]:
            r.mismatched += 1
            r.problems.append(f"invoice {invoice.number}: attempt {tried[0].status.value} with card "
                              f"{token_of[invoice.customer_id]}")
        wanted = InvoiceStatus.ISSUED if failing else InvoiceStatus.PAID
        if invoice.status is not wanted:
            r.mismatched += 1
            r.problems.append(f"invoice {invoice.number} is {invoice.status.value}, expected {wanted.value}")
        r.paid += invoice.status is InvoiceStatus.PAID
    for attempt in attempts:
        charge = by_key.get(attempt.idempotency_key)
        if charge is None:
            r.lost += 1
            r.problems.append(f"attempt {attempt.idempotency_key} ({attempt.status.value}) unknown to the sandbox")
        elif (charge["amount"], charge["status"]) != (attempt.amount, attempt.status.value):
            r.mismatched += 1
            r.problems.append(f"attempt {attempt.idempotency_key}: aboguard {attempt.amount} "
                              f"{attempt.status.value}, sandbox {charge['amount']} {charge['status']}")
    for key in sorted(set(by_key) - {a.idempotency_key for a in attempts}):
        r.lost += 1
        r.problems.append(f"the sandbox charged {key} ({by_key[key]['status']}) without an attempt in aboguard")
    check = ledger.check_ledger(ctx)
    succeeded = r.charges.get("succeeded", 0)
    r.ledger_entries = check.entries
    r.ledger_ok = check.ok and check.entries == len(issued) + succeeded and r.clearing == (
        {PRICE.currency: PRICE.minor * succeeded} if succeeded else {})
    if not r.ledger_ok:
        r.problems.append(f"ledger: {check.entries} entries for {len(issued)} invoices and {succeeded} payments, "
                          f"clearing:sandbox {r.clearing}, unbalanced {check.unbalanced[:5]}, "
                          f"mismatches {check.mismatches[:5]}")
    return r


# -- main ---------------------------------------------------------------------------------------------------------


def bench(kind: str, n: int, collectors: int, rounds: int, final: int, seed: int, fail_share: float,
          verbose: bool) -> int:
    tag = f"aboguard_bench_crash_{os.getpid()}"
    rng = random.Random(seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(kind, tag, Path(tmp))
        try:
            env = {**os.environ, "ABOGUARD_DATABASE_URL": db.url, "ABOGUARD_DATA_DIR": str(Path(tmp) / "data"),
                   "ABOGUARD_MERCHANT_TZ": "Europe/Berlin"}
            settings = Settings.from_env(env)
            tokens = [rng.choice(FAILING_CARDS) if rng.random() < fail_share else GOOD_CARD for _ in range(n)]
            print(f"{kind}: {n:,} due invoices ({sum(t != GOOD_CARD for t in tokens):,} on declining cards), "
                  f"{collectors} collector(s) at once, up to {rounds} kill rounds, seed {seed}")
            ctx, _ = bootstrap.initialise(settings, test_clock=True, at=START)
            try:
                idle = idle_seconds(env)
                token_of = seed_all(ctx, tokens, n)
            finally:
                ctx.close()
            window = (0.8 * idle, idle + WORK_SECONDS)
            print(f"  an idle collector runs {idle:.1f} s: each is killed at a random moment "
                  f"{window[0]:.1f}-{window[1]:.1f} s after its start")

            crashes = Crashes()
            phase = time.perf_counter()
            for number in range(1, rounds + 1):
                kill_round(env, rng, collectors, window, crashes)
                due, pending = work_left(settings, crashes)
                moved = advance_clock(settings, STEP)  # what is pending now is stale for the next round
                print(f"  round {number:>2}: {due:>5,} invoices still due, {pending:>4,} attempts left pending"
                      + ("" if moved else " (the clock stays: the day is nearly over)"))
                if due == 0 and pending == 0:
                    break
            advance_clock(settings, timedelta(hours=1), until=DAY_ENDS + timedelta(hours=1))
            kill_seconds = time.perf_counter() - phase
            charged_first = sum(crashes.interrupted.values())
            errors = sum(crashes.errors.values())
            print(f"  kills: {crashes.kills} SIGKILLs to running collectors in {crashes.rounds} rounds "
                  f"({crashes.finished} collectors had exited before their kill came, {errors} of them with an "
                  f"error) in {kill_seconds:.1f} s")
            for error, count in crashes.errors.most_common():
                print(f"  a collector failed on its own before its kill, {count}x: {error}")
                if verbose:
                    print("    " + "\n    ".join(crashes.samples[error].strip().splitlines()[-25:]))
            print(f"  interrupted attempts: {len(crashes.interrupted):,} left pending by a kill "
                  f"({charged_first:,} after the sandbox charged them, "
                  f"{len(crashes.interrupted) - charged_first:,} before the gateway call)")

            phase = time.perf_counter()
            failed_runs = 0
            for number in range(1, 11):  # clean runs until nothing is left to do
                for code, report, err in final_run(env, final):
                    failed_runs += code != 0
                    summary = (f"attempted {report['attempted']:,}, resolved {report['resolved']:,}, succeeded "
                               f"{report['succeeded']:,}, failed {report['failed']:,}") if report else "no report"
                    print(f"  clean collect {number}: exit {code}, {summary}"
                          + (f"; stderr: ...{err[-400:]}" if code else ""))
                due, pending = work_left(settings, Crashes())
                if due == 0 and pending == 0:
                    break
                print(f"    after it: {due:,} invoices still due, {pending:,} attempts still pending")
            final_seconds = time.perf_counter() - phase

            ctx = bootstrap.build(settings)
            try:
                r = reconcile(ctx, token_of)
            finally:
                ctx.close()
            elapsed = time.perf_counter() - started
            print(f"  invoices: {r.invoices:,} ({r.paid:,} paid, {r.declined:,} on declining cards)")
            print(f"  charges in sandbox: {sum(r.charges.values()):,} ({_counts(r.charges)})")
            print(f"  attempts in aboguard: {sum(r.attempts.values()):,} ({_counts(r.attempts)})")
            print(f"  duplicates found: {r.duplicates}; lost: {r.lost}; mismatched: {r.mismatched}")
            print(f"  ledger balanced: {'yes' if r.ledger_ok else 'NO'} ({r.ledger_entries:,} entries; "
                  f"clearing:sandbox {_money(r.clearing)})")
            print(f"  elapsed: {elapsed:.1f} s (kill rounds {kill_seconds:.1f} s, clean runs {final_seconds:.1f} s)")
            for problem in r.problems[:20]:
                print(f"  ! {problem}")
            if len(r.problems) > 20:
                print(f"  ! ... and {len(r.problems) - 20} more")
            ok = not r.problems and not failed_runs
            print(f"  => {'every invoice charged exactly once' if ok else 'MISMATCH'}")
            return 0 if ok else 1
        finally:
            db.drop()


def seed_all(ctx: ServiceContext, tokens: list[str], n: int) -> dict[str, str]:
    phase = time.perf_counter()
    token_of = seed(ctx, tokens)
    report = billing.run_billing(ctx)
    print(f"  set-up: {n:,} customers, cards and subscriptions, {report.invoices:,} invoices issued "
          f"in {time.perf_counter() - phase:.1f} s")
    return token_of


def _counts(counter: Counter) -> str:
    return ", ".join(f"{status} {count:,}" for status, count in sorted(counter.items())) or "none"


def _money(sums: dict[str, int]) -> str:
    return ", ".join(f"{Money(minor, currency)}" for currency, minor in sorted(sums.items())) or "0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=3000)
    parser.add_argument("--collectors", type=int, default=None,
                        help="collectors killed at once per round (default 2 on PostgreSQL, 1 on SQLite)")
    parser.add_argument("--kills", type=int, default=30,
                        help="kill rounds at most (they stop early once nothing is left to collect)")
    parser.add_argument("--final", type=int, default=1, help="clean collectors started at once after the kills")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fail-share", type=float, default=0.15, help="share of cards that decline")
    parser.add_argument("--verbose", action="store_true", help="print the traceback of each kind of failure")
    args = parser.parse_args()
    collectors = args.collectors or (2 if args.db == "postgres" else 1)
    if args.db == "sqlite" and max(collectors, args.final) > 1:
        parser.error("SQLite runs one collector at a time (DESIGN rule 7): use --db postgres for more")
    if args.invoices < 1 or collectors < 1 or args.kills < 0 or args.final < 1:
        parser.error("--invoices, --collectors and --final must be positive, --kills not negative")
    sys.exit(bench(args.db, args.invoices, collectors, args.kills, args.final, args.seed, args.fail_share,
                   args.verbose))


if __name__ == "__main__":
    main()
