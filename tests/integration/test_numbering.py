"""Gapless document numbers and work claims under concurrency, on a real database."""

from __future__ import annotations

import multiprocessing
import random
import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.engine import Engine

from aboguard.domain.subscriptions import Subscription, SubscriptionStatus
from aboguard.store.engine import make_engine
from aboguard.store.sql import SqlUnitOfWorkFactory
from tests.builders import a_customer, a_plan, a_product

WORKERS = 4
ROUNDS = 60


def test_numbers_start_at_one_per_series_and_scope_and_continue(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert uow.numbers.allocate("invoice", "2026", 3) == [1, 2, 3]
        assert uow.numbers.allocate("invoice", "2027") == [1]
        assert uow.numbers.allocate("credit_note", "2026", 2) == [1, 2]
        uow.commit()
    with uow_factory() as uow:
        assert uow.numbers.allocate("invoice", "2026", 2) == [4, 5]
        assert uow.numbers.current("invoice", "2026") == 5
        assert uow.numbers.allocate("invoice", "2026", 0) == []


def test_a_rolled_back_allocation_leaves_no_gap(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert uow.numbers.allocate("invoice", "2026", 2) == [1, 2]
        uow.commit()
    with uow_factory() as uow:
        assert uow.numbers.allocate("invoice", "2026", 5) == [3, 4, 5, 6, 7]
        # leaving without commit: the issuing transaction failed
    with uow_factory() as uow:
        assert uow.numbers.allocate("invoice", "2026") == [3]
        uow.commit()


def _allocate_many(url: str, seed: int) -> list[int]:
    """A worker process: allocate in many short transactions, rolling a third of them back."""
    engine = make_engine(url)
    factory = SqlUnitOfWorkFactory(engine)
    rng = random.Random(seed)
    kept: list[int] = []
    try:
        for _ in range(ROUNDS):
            with factory() as uow:
                numbers = uow.numbers.allocate("invoice", "2026", rng.randint(1, 3))
                if rng.random() < 1 / 3:
                    uow.rollback()
                    continue
                uow.commit()
                kept += numbers
    finally:
        factory.close()
    return kept


@pytest.mark.postgres
def test_concurrent_processes_get_gapless_unique_numbers(db_url: str, engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several processes writing at once is what PostgreSQL is for")
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(WORKERS) as pool:
        results = pool.starmap(_allocate_many, [(db_url, seed) for seed in range(WORKERS)])
    committed = sorted(n for result in results for n in result)
    assert all(results), "every worker committed something"
    assert committed == list(range(1, len(committed) + 1))  # no gap, no duplicate


def _subscriptions(uow_factory: SqlUnitOfWorkFactory, count: int) -> list[Subscription]:
    customer, plan = a_customer(), a_plan()
    created = datetime(2026, 1, 1, tzinfo=UTC)
    subs = [Subscription(id=f"00000000-0000-7000-8000-{i:012d}", customer_id=customer.id,  # type: ignore[arg-type]
                         plan_version_id=plan.current.id, status=SubscriptionStatus.ACTIVE,
                         start_on=date(2026, 1, 1), billing_anchor=date(2026, 1, 1),
                         next_bill_on=date(2026, 1, 1 + i % 20), created_at=created) for i in range(count)]
    with uow_factory() as uow:
        uow.customers.add(customer)
        uow.products.add(a_product(plan.code, id=plan.product_id))
        uow.plans.add(plan)
        for sub in subs:
            uow.subscriptions.add(sub)
        uow.commit()
    return subs


def test_claims_are_ordered_by_due_date_limited_and_skip_set_aside_ones(uow_factory: SqlUnitOfWorkFactory) -> None:
    subs = _subscriptions(uow_factory, 30)
    with uow_factory() as uow:
        claimed = uow.subscriptions.claim_due(date(2026, 1, 5), limit=100)
        assert [s.next_bill_on for s in claimed] == sorted(s.next_bill_on for s in claimed)  # type: ignore[type-var]
        assert len(claimed) == len([s for s in subs if s.next_bill_on <= date(2026, 1, 5)])  # type: ignore[operator]
        first = uow.subscriptions.claim_due(date(2026, 1, 5), limit=3)
        assert [s.id for s in first] == [s.id for s in claimed[:3]]
        rest = uow.subscriptions.claim_due(date(2026, 1, 5), limit=100, exclude={s.id for s in first})
        assert [s.id for s in rest] == [s.id for s in claimed[3:]]


def test_concurrent_claims_with_skip_locked_never_overlap(uow_factory: SqlUnitOfWorkFactory,
                                                           engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is a PostgreSQL feature; SQLite runs one writer at a time")
    _subscriptions(uow_factory, 40)
    first_claimed = threading.Event()
    release = threading.Event()
    got: dict[str, set[str]] = {}

    def worker(name: str) -> None:
        with uow_factory() as uow:
            got[name] = {s.id for s in uow.subscriptions.claim_due(date(2026, 1, 31), limit=25, skip_locked=True)}
            first_claimed.set()
            release.wait(timeout=10)

    one = threading.Thread(target=worker, args=("one",))
    one.start()
    assert first_claimed.wait(timeout=10)
    worker("two")  # while the first transaction still holds its rows
    release.set()
    one.join()
    assert len(got["one"]) == 25 and len(got["two"]) == 15
    assert not got["one"] & got["two"]
