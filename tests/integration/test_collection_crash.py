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

import pytest
from sqlalchemy import func, select

from aboguard import bootstrap
from aboguard.config import Settings
from aboguard.domain.catalog import PaymentMethodKind, PlanSpec
from aboguard.domain.customers import CustomerSpec
from aboguard.domain.invoicing import InvoiceStatus
from aboguard.domain.payment_methods import PaymentMethodSpec
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.money import Money
from aboguard.services import billing, customers, installation, invoices, ledger, payment_methods, plans, subscriptions
from aboguard.services.context import ServiceContext
from aboguard.store import seeding, tables
from aboguard.store.engine import make_engine

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


# -- two collectors at once on PostgreSQL, both killed again and again, some cards declining ----------------------

CONCURRENT_INVOICES = 1500  # collection is fast: enough work that kills land mid-run
ROUNDS = 6
GOOD_CARD = "tok_visa"
FAILING_CARDS = ("tok_chargeDeclinedInsufficientFunds", "4000000000009987")  # soft (no funds), hard (lost card)


def _seed_due_subscriptions(ctx: ServiceContext, tokens: list[str]) -> dict[str, str]:
    """One customer, default card and subscription starting today per token, in bulk; customer id -> token."""
    with ctx.uow() as uow:
        plan = uow.plans.get_by_code("basic")
    return seeding.card_subscribers(ctx.uow, plan, tokens, now=ctx.now(), today=ctx.today(),  # type: ignore[arg-type]
                                    new_id=ctx.new_id)


def _reconcile(ctx: ServiceContext, token_of: dict[str, str]) -> list[str]:
    """Everything in which the sandbox's own record, aboguard's attempts, the invoices and the ledger disagree."""
    problems: list[str] = []
    issued = invoices.list_invoices(ctx, limit=10 * len(token_of))
    charges = ctx.gateway.charges()  # type: ignore[union-attr]
    with ctx.uow() as uow:
        attempts = uow.attempts.list(limit=10 * len(token_of))
        clearing = uow.ledger.balance("clearing:sandbox")
    by_key = {c["idempotency_key"]: c for c in charges}
    if len(by_key) != len(charges):
        problems.append(f"the sandbox holds {len(charges) - len(by_key)} charges under a repeated key")
    attempts_of: dict[str, list] = {}
    for attempt in attempts:
        attempts_of.setdefault(attempt.invoice_id, []).append(attempt)
    if len(issued) != len(token_of) or {i.customer_id for i in issued} != set(token_of):
        problems.append(f"{len(issued)} invoices for {len(token_of)} customers")
    paid = 0
    for invoice in issued:
        failing = token_of[invoice.customer_id] in FAILING_CARDS
        tried = attempts_of.get(invoice.id, [])
        statuses = sorted(a.status.value for a in tried)
        if statuses != ["failed" if failing else "succeeded"]:
            problems.append(f"invoice {invoice.number}: attempts {statuses} (card {token_of[invoice.customer_id]})")
        wanted = InvoiceStatus.ISSUED if failing else InvoiceStatus.PAID
        if invoice.status is not wanted:
            problems.append(f"invoice {invoice.number} is {invoice.status.value}, expected {wanted.value}")
        paid += not failing
    for attempt in attempts:
        charge = by_key.get(attempt.idempotency_key)
        if charge is None:
            problems.append(f"attempt {attempt.idempotency_key} ({attempt.status.value}) is unknown to the sandbox")
            continue
        if (charge["amount"], charge["status"]) != (attempt.amount, attempt.status.value):
            problems.append(f"attempt {attempt.idempotency_key}: aboguard {attempt.amount} {attempt.status.value}, "
                            f"sandbox {charge['amount']} {charge['status']}")
    for key in sorted(set(by_key) - {a.idempotency_key for a in attempts}):
        problems.append(f"the sandbox charged {key} ({by_key[key]['status']}) without an attempt in aboguard")
    check = ledger.check_ledger(ctx)
    if not check.ok or check.entries != len(issued) + paid:
        problems.append(f"ledger: {check.entries} entries for {len(issued)} invoices and {paid} payments, "
                        f"unbalanced {check.unbalanced}, mismatches {check.mismatches}")
    if clearing != {"EUR": 9_99 * paid}:
        problems.append(f"clearing:sandbox holds {clearing}, expected {9_99 * paid} EUR cents")
    return problems


def _idle_seconds(env: dict[str, str]) -> float:
    """How long a collector takes from its start to its exit when nothing is due (mostly imports): the kills
    are timed from it, so that they fall into the work on a fast machine and on a busy one alike."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", COLLECT], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=120)
    return time.monotonic() - started


def _kill_round(env: dict[str, str], rng: random.Random, window: tuple[float, float], collectors: int = 2) -> None:
    """Start collectors at once and kill each at its own random moment within ``window`` (seconds)."""
    started = time.monotonic()
    processes = [subprocess.Popen([sys.executable, "-c", COLLECT], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(collectors)]
    for at, process in sorted(((rng.uniform(*window), p) for p in processes), key=lambda pair: pair[0]):
        time.sleep(max(0.0, started + at - time.monotonic()))
        process.send_signal(signal.SIGKILL)  # a no-op if it finished already
    for process in processes:
        process.wait()


def _pending_attempts(settings: Settings, *, advance_hours: int = 0) -> set[str]:
    """The ids of the attempts left pending; then the clock moves on (an hour: they count as stale)."""
    ctx = bootstrap.build(settings)
    try:
        with ctx.uow() as uow:
            pending = {a.id for a in uow.attempts.list(status="pending", limit=100_000)}
        if advance_hours:
            installation.advance_clock(ctx, hours=advance_hours)
        return pending
    finally:
        ctx.close()


def _installation(db_url: str, tmp_path: Path, tokens: list[str]
                  ) -> tuple[dict[str, str], Settings, dict[str, str], float]:
    """A sandbox on PostgreSQL with one issued invoice due today per card token: the collectors' environment,
    the settings, customer id -> token, and how long an idle collector runs."""
    if not db_url.startswith("postgresql"):
        pytest.skip("concurrent collectors need PostgreSQL (SQLite runs one worker)")
    env = {**os.environ, "ABOGUARD_DATABASE_URL": db_url, "ABOGUARD_DATA_DIR": str(tmp_path / "data"),
           "ABOGUARD_MERCHANT_TZ": "Europe/Berlin"}
    settings = Settings.from_env(env)
    ctx, _ = bootstrap.initialise(settings, test_clock=True, at=datetime(2026, 3, 2, 7, 0, tzinfo=UTC))
    try:
        plans.create_plan(ctx, code="basic", name="Basic", spec=PlanSpec(Money(9_99, "EUR"),
                                                                         Interval(IntervalUnit.MONTH)))
        idle = _idle_seconds(env)
        token_of = _seed_due_subscriptions(ctx, tokens)
        assert billing.run_billing(ctx).invoices == len(tokens)
    finally:
        ctx.close()
    return env, settings, token_of, idle


def _tokens(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(FAILING_CARDS) if rng.random() < 0.15 else GOOD_CARD for _ in range(n)]


def _collect(env: dict[str, str], collectors: int = 1) -> list[subprocess.CompletedProcess[str]]:
    """Clean collectors started at once, each run to its end."""
    processes = [subprocess.Popen([sys.executable, "-c", COLLECT], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(collectors)]
    outputs = [p.communicate(timeout=300) for p in processes]
    return [subprocess.CompletedProcess(p.args, p.returncode, out, err) for p, (out, err) in zip(processes, outputs,
                                                                                                   strict=True)]


def test_two_collectors_killed_at_random_points_charge_each_invoice_exactly_once(db_url: str, tmp_path: Path) -> None:
    rng = random.Random(11)
    env, settings, token_of, idle = _installation(db_url, tmp_path, _tokens(rng, CONCURRENT_INVOICES))

    interrupted: set[str] = set()
    for _ in range(ROUNDS):  # a few kills land before a collector starts work, most while it resolves or charges
        _kill_round(env, rng, (0.9 * idle, idle + 1.0))
        # An hour later (the same day: no retry is due yet) what the killed collectors left pending is stale,
        # so the next round's two collectors race to resolve it, and are killed while they do.
        interrupted |= _pending_attempts(settings, advance_hours=1)
    assert interrupted, "no collector was killed in the middle of its work: kill earlier"

    [finished] = _collect(env)
    assert finished.returncode == 0, finished.stderr
    assert _pending_attempts(settings) == set()

    ctx = bootstrap.build(settings)
    try:
        assert _reconcile(ctx, token_of) == []
    finally:
        ctx.close()


class CollectorFailed(Exception):
    """A clean collector exited with an error."""


# Both used to fail here: unclaimed stale attempts (ConcurrentUpdate) and event ids taken twice under the
# frozen test clock (IntegrityError on pk_events); resolve_interrupted now claims with SKIP LOCKED.
def test_two_clean_collectors_after_a_crash_both_finish(db_url: str, tmp_path: Path) -> None:
    env, settings, token_of, _ = _installation(db_url, tmp_path, _tokens(random.Random(5), 250))
    engine = make_engine(db_url)
    try:
        for _ in range(2):  # a collector killed as soon as it committed its batch of pending attempts
            process = subprocess.Popen([sys.executable, "-c", COLLECT], env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            with engine.connect() as conn:
                pending = select(func.count()).select_from(tables.payment_attempts).where(
                    tables.payment_attempts.c.status == "pending")
                before, deadline = conn.execute(pending).scalar_one(), time.monotonic() + 60
                while conn.execute(pending).scalar_one() == before and time.monotonic() < deadline:
                    conn.rollback()
                    time.sleep(0.02)
            process.send_signal(signal.SIGKILL)
            process.wait()
    finally:
        engine.dispose()
    interrupted = _pending_attempts(settings, advance_hours=1)
    assert len(interrupted) > 100

    runs = _collect(env, collectors=2)  # two workers start after the crash, as on two hosts
    leftover = _collect(env)  # and one more run finishes whatever a failed one left
    assert leftover[0].returncode == 0, leftover[0].stderr
    ctx = bootstrap.build(settings)
    try:
        assert _reconcile(ctx, token_of) == []  # the money is right either way
    finally:
        ctx.close()
    failed = [run.stderr.strip().splitlines()[-1:] for run in runs if run.returncode != 0]
    if failed:
        raise CollectorFailed(f"{len(failed)} of 2 concurrent collectors failed: {failed}")
