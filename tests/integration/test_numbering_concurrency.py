"""Gapless numbers and disjoint claims with real concurrency: several OS processes on one PostgreSQL.

SQLite runs one writer at a time (``BEGIN IMMEDIATE``), so these tests need the PostgreSQL server; they
skip cleanly without it (or fail under ``ABOGUARD_REQUIRE_POSTGRES=1``).
"""

from __future__ import annotations

import multiprocessing
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from aboguard.domain.subscriptions import Subscription
from aboguard.ids import SubscriptionId
from aboguard.store import migrate
from aboguard.store.engine import make_engine
from aboguard.store.sql import SqlUnitOfWorkFactory
from tests.builders import a_customer, a_plan, a_product, a_subscription, stable_id

pytestmark = pytest.mark.postgres

PROCESSES = 4
ROUNDS = 200
TODAY = date(2025, 3, 1)
TIMEOUT = 120  # seconds a worker may take before the test gives up on it


@pytest.fixture
def pg_url(postgres_server: Any) -> str:
    """The session's PostgreSQL test database, emptied and migrated (skips when there is no server)."""
    url: str = postgres_server.database_url()
    postgres_server.reset()
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def _run_workers(target: Any, args: list[tuple[Any, ...]]) -> list[Any]:
    """Start one spawned process per ``args`` (all begin together), return what each put on the queue."""
    spawn = multiprocessing.get_context("spawn")
    queue = spawn.Queue()
    start = spawn.Barrier(len(args))
    processes = [spawn.Process(target=target, args=(queue, start, *a)) for a in args]
    for process in processes:
        process.start()
    try:
        results = [queue.get(timeout=TIMEOUT) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=TIMEOUT)
            if process.is_alive():
                process.kill()
    failures = [r for r in results if isinstance(r, str)]
    assert not failures, failures
    assert all(p.exitcode == 0 for p in processes)
    return results


# -- gapless numbers ------------------------------------------------------------------------------------


def _allocate(queue: Any, start: Any, url: str, seed: int) -> None:
    """A worker: ROUNDS transactions that each take 1-3 numbers; about a third roll back at random."""
    try:
        factory = SqlUnitOfWorkFactory(make_engine(url))
        rng = random.Random(seed)
        committed: list[int] = []
        rolled_back = 0
        start.wait(timeout=TIMEOUT)
        try:
            for _ in range(ROUNDS):
                with factory() as uow:
                    numbers = uow.numbers.allocate("invoice", "2025", rng.randint(1, 3))
                    if rng.random() < 0.2:
                        time.sleep(0.001)  # hold the counter a moment: the others queue behind it
                    if rng.random() < 1 / 3:
                        rolled_back += 1
                        if rng.random() < 0.5:
                            uow.rollback()
                        continue  # leaving the block without commit rolls back too
                    uow.commit()
                    committed += numbers
        finally:
            factory.close()
        queue.put((committed, rolled_back))
    except BaseException as exc:  # reported by the test, not lost in the child
        queue.put(f"worker {seed}: {exc!r}")


def test_concurrent_processes_commit_exactly_one_to_n(pg_url: str, pg_engine: Engine) -> None:
    results = _run_workers(_allocate, [(pg_url, seed) for seed in range(PROCESSES)])
    committed = [n for numbers, _ in results for n in numbers]
    assert sorted(committed) == list(range(1, len(committed) + 1)), "a gap or a duplicate"
    assert all(numbers == sorted(numbers) for numbers, _ in results)  # each worker's numbers only go up
    assert all(numbers and rolled_back for numbers, rolled_back in results)  # both happened in every worker
    with SqlUnitOfWorkFactory(pg_engine)() as uow:
        assert uow.numbers.current("invoice", "2025") == len(committed)


# -- disjoint claims ------------------------------------------------------------------------------------


def _due_subscriptions(engine: Engine, count: int) -> list[Subscription]:
    plan, anna = a_plan(), a_customer()
    subs = [a_subscription(anna, plan, id=stable_id("claim", n), next_bill_on=TODAY - timedelta(days=n % 30))
            for n in range(count)]
    with SqlUnitOfWorkFactory(engine)() as uow:
        uow.products.add(a_product(plan.code, id=plan.product_id))
        uow.plans.add(plan)
        uow.customers.add(anna)
        for sub in subs:
            uow.subscriptions.add(sub)
        uow.commit()
    return subs


def test_two_open_claims_with_skip_locked_get_disjoint_subscriptions(pg_engine: Engine) -> None:
    subs = _due_subscriptions(pg_engine, 40)
    factory = SqlUnitOfWorkFactory(pg_engine)
    with factory() as first, factory() as second:
        mine = first.subscriptions.claim_due(TODAY, limit=25, skip_locked=True)
        theirs = second.subscriptions.claim_due(TODAY, limit=100, skip_locked=True)  # does not wait for `first`
        assert len(mine) == 25 and len(theirs) == 15
        assert not {s.id for s in mine} & {s.id for s in theirs}
        assert {s.id for s in mine} | {s.id for s in theirs} == {s.id for s in subs}
        assert mine == sorted(mine, key=lambda s: (s.next_bill_on, s.id))  # the oldest due went first
        first.rollback()  # released: the next claim gets them, and still sees the rows it holds itself
        again = second.subscriptions.claim_due(TODAY, limit=100, skip_locked=True)
        assert {s.id for s in again} == {s.id for s in subs}


def _bill(queue: Any, start: Any, url: str, worker: int) -> None:
    """A worker of a billing run: claim 7 at a time, move each to its next period, commit; until none is left."""
    try:
        factory = SqlUnitOfWorkFactory(make_engine(url))
        claimed: list[str] = []
        start.wait(timeout=TIMEOUT)
        try:
            while True:
                with factory() as uow:
                    batch = uow.subscriptions.claim_due(TODAY, limit=7, skip_locked=True)
                    if not batch:
                        break
                    time.sleep(0.002)  # the work of billing them, while the rows stay locked
                    uow.subscriptions.save_many([replace(s, next_bill_on=TODAY + timedelta(days=31)) for s in batch],
                                                fields=("next_bill_on",))
                    uow.commit()
                    claimed += [s.id for s in batch]
        finally:
            factory.close()
        queue.put(claimed)
    except BaseException as exc:
        queue.put(f"worker {worker}: {exc!r}")


def test_concurrent_billing_processes_claim_every_subscription_exactly_once(pg_url: str, pg_engine: Engine) -> None:
    subs = _due_subscriptions(pg_engine, 300)
    results = _run_workers(_bill, [(pg_url, worker) for worker in range(PROCESSES)])
    claims = Counter(sub_id for claimed in results for sub_id in claimed)
    assert set(claims) == {s.id for s in subs} and set(claims.values()) == {1}
    assert sum(1 for claimed in results if claimed) >= 2, "the work was shared"
    with SqlUnitOfWorkFactory(pg_engine)() as uow:
        assert uow.subscriptions.claim_due(TODAY, limit=10) == []
        assert {uow.subscriptions.get(SubscriptionId(s.id)).version for s in subs} == {2}
