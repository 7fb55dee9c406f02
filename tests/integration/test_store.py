"""The SQL store on SQLite and PostgreSQL: what is saved is what is loaded, and the schema is the migrated one."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from aboguard.domain import events as ev
from aboguard.domain.catalog import Audience, PaymentMethodKind, Plan, RenewalMode, TaxCategory, Terms
from aboguard.domain.customers import Address, CustomerKind
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.domain.subscriptions import SubscriptionStatus
from aboguard.errors import (
    ConcurrentUpdate,
    CustomerNotFound,
    DuplicateCustomer,
    DuplicatePlanCode,
    NotFound,
    PlanNotFound,
    SubscriptionNotFound,
)
from aboguard.ids import CustomerId, PlanId, PlanVersionId, ProductId, SubscriptionId
from aboguard.money import Money
from aboguard.store import migrate, tables
from aboguard.store.engine import make_engine, normalise_url, sqlite_url
from aboguard.store.sql import SqlUnitOfWork, SqlUnitOfWorkFactory
from tests.builders import CREATED_AT, a_customer, a_plan, a_product, a_subscription, a_version, stable_id

BERLIN_WINTER = timezone(timedelta(hours=1))


def _setup(uow_factory: SqlUnitOfWorkFactory, *plans, customers=()) -> None:  # type: ignore[no-untyped-def]
    with uow_factory() as uow:
        for plan in plans:
            _add_plan(uow, plan)
        for customer in customers:
            uow.customers.add(customer)
        uow.commit()


def _add_plan(uow: SqlUnitOfWork, plan: Plan) -> None:
    """The plan and (first time) its product, which plans reference."""
    if uow.products.find_by_code(plan.code) is None:
        uow.products.add(a_product(plan.code, id=plan.product_id))
    uow.plans.add(plan)


def _is_utc(instant: datetime) -> bool:
    return instant.tzinfo is not None and instant.utcoffset() == timedelta(0)


# -- plans ----------------------------------------------------------------------------------------------


def test_a_plan_round_trips_with_money_enums_terms_and_payment_methods(uow_factory) -> None:
    plan = a_plan(code="teams", audience=Audience.BUSINESS, price=Money(1_234_567_89, "EUR"),
                  interval=Interval(IntervalUnit.YEAR, 2), trial_days=14, setup_fee=Money(49_00, "EUR"),
                  tax_category=TaxCategory.REDUCED, tax_inclusive=False,
                  terms=Terms(min_term_months=12, notice_days=90, renewal=RenewalMode.FIXED_TERM,
                              renewal_term_months=12),
                  payment_methods=frozenset({PaymentMethodKind.SEPA_DEBIT, PaymentMethodKind.BANK_TRANSFER}),
                  created_at=datetime(2025, 1, 31, 10, 0, 0, 654321, tzinfo=BERLIN_WINTER))
    _setup(uow_factory, plan)
    with uow_factory() as uow:
        by_id, by_code = uow.plans.get(plan.id), uow.plans.get_by_code("teams")
        version = uow.plans.get_version(plan.current.id)
    assert by_id == plan and by_code == plan and version == plan.current
    assert _is_utc(by_id.created_at) and by_id.created_at == datetime(2025, 1, 31, 9, 0, 0, 654321, tzinfo=UTC)
    assert isinstance(by_id.audience, Audience) and isinstance(version.interval.unit, IntervalUnit)


def test_a_plan_in_a_zero_decimal_currency_without_setup_fee(uow_factory) -> None:
    plan = a_plan(code="jp", price=Money(1000, "JPY"), payment_methods=frozenset({PaymentMethodKind.CARD}))
    _setup(uow_factory, plan)
    with uow_factory() as uow:
        loaded = uow.plans.get_by_code("jp")
    assert loaded.current.price == Money(1000, "JPY") and loaded.current.setup_fee is None
    assert loaded.current.payment_methods == frozenset({PaymentMethodKind.CARD})


def test_missing_plans_raise_plan_not_found_naming_what_was_asked(uow_factory) -> None:
    with uow_factory() as uow:
        with pytest.raises(PlanNotFound, match="no plan with code 'nope'"):
            uow.plans.get_by_code("nope")
        with pytest.raises(PlanNotFound, match="no plan with id 'p-1'"):
            uow.plans.get(PlanId("p-1"))
        with pytest.raises(PlanNotFound, match="v-1"):
            uow.plans.get_version(PlanVersionId("v-1"))
        assert uow.plans.find_by_code("nope") is None
        with pytest.raises(NotFound, match="no product with id 'x'"):
            uow.products.get(ProductId("x"))


def test_a_taken_plan_code_is_a_duplicate_and_the_transaction_stays_usable(uow_factory) -> None:
    _setup(uow_factory, a_plan(code="basic"))
    other = a_plan(code="basic", id=PlanId(stable_id("another")))
    with uow_factory() as uow:
        with pytest.raises(DuplicatePlanCode, match="a plan with code 'basic' already exists"):
            uow.plans.add(other)
        _add_plan(uow, a_plan(code="pro"))
        uow.commit()
    with uow_factory() as uow:
        assert [p.code for p in uow.plans.list()] == ["basic", "pro"]


def test_add_version_makes_it_current_and_keeps_the_old_ones(uow_factory) -> None:
    plan = a_plan()
    _setup(uow_factory, plan)
    second = a_version(plan.id, 2, price=Money(12_00, "EUR"), created_at=CREATED_AT + timedelta(days=1))
    with uow_factory() as uow:
        uow.plans.add_version(second)
        uow.commit()
    with uow_factory() as uow:
        loaded = uow.plans.get(plan.id)
        first = uow.plans.get_version(plan.current.id)
    assert loaded.current == second and loaded.versions == (plan.current, second)
    assert first == plan.current and first.price == Money(9_99, "EUR")


def test_plans_list_by_code_and_hides_archived_ones_unless_asked(uow_factory) -> None:
    _setup(uow_factory, a_plan(code="zeta"), a_plan(code="alpha"), a_plan(code="old", active=False))
    with uow_factory() as uow:
        assert [p.code for p in uow.plans.list()] == ["alpha", "zeta"]
        everything = uow.plans.list(include_archived=True)
    assert [p.code for p in everything] == ["alpha", "old", "zeta"]
    assert [len(p.versions) for p in everything] == [1, 1, 1] and everything[1].active is False


def test_products_round_trip(uow_factory) -> None:
    product = a_product("x")
    with uow_factory() as uow:
        uow.products.add(product)
        uow.commit()
    with uow_factory() as uow:
        assert uow.products.get(product.id) == product and uow.products.find_by_code("x") == product
        assert uow.products.find_by_code("y") is None


# -- customers ------------------------------------------------------------------------------------------


def test_a_customer_round_trips(uow_factory) -> None:
    business = a_customer(email="buchhaltung@firma.de", kind=CustomerKind.BUSINESS, vat_id="DE136695976",
                          company="Firma GmbH", address=Address("Allee 2", "Hinterhaus", "80331", "München"),
                          external_ref="crm-42", locale="en", country="AT")
    consumer = a_customer(address=Address())
    _setup(uow_factory, customers=[business, consumer])
    with uow_factory() as uow:
        assert uow.customers.get(business.id) == business
        assert uow.customers.get(consumer.id) == consumer
        assert uow.customers.find_by_external_ref("crm-42") == business
        assert uow.customers.find_by_external_ref("nope") is None
        assert _is_utc(uow.customers.get(consumer.id).created_at)


def test_a_taken_external_ref_is_a_duplicate_but_many_customers_have_none(uow_factory) -> None:
    _setup(uow_factory, customers=[a_customer(email="a@example.de", external_ref="shop-1"),
                                   a_customer(email="b@example.de"), a_customer(email="c@example.de")])
    with uow_factory() as uow:
        with pytest.raises(DuplicateCustomer, match="shop-1"):
            uow.customers.add(a_customer(email="d@example.de", external_ref="shop-1"))
        uow.customers.add(a_customer(email="e@example.de"))
        uow.commit()
    with uow_factory() as uow:
        assert len(uow.customers.list()) == 4


def test_missing_customer(uow_factory) -> None:
    with uow_factory() as uow, pytest.raises(CustomerNotFound, match="no customer with id 'c-1'"):
        uow.customers.get(CustomerId("c-1"))


def test_customers_list_by_creation_then_id_with_limit_and_offset(uow_factory) -> None:
    made = [a_customer(email=f"c{i}@example.de", created_at=CREATED_AT + timedelta(minutes=9 - i))
            for i in range(5)]
    _setup(uow_factory, customers=made)
    with uow_factory() as uow:
        assert uow.customers.list() == sorted(made, key=lambda c: c.created_at)
        assert [c.email for c in uow.customers.list(limit=2, offset=1)] == ["c3@example.de", "c2@example.de"]


# -- subscriptions --------------------------------------------------------------------------------------


def test_a_subscription_round_trips_with_every_date(uow_factory) -> None:
    plan, other, anna = a_plan(trial_days=14), a_plan(code="pro"), a_customer()
    _setup(uow_factory, plan, other, customers=[anna])
    sub = a_subscription(anna, plan, status=SubscriptionStatus.CANCELED, canceled_on=date(2025, 2, 3),
                         ends_on=date(2025, 3, 14), cancel_reason="too expensive", paused_on=date(2025, 2, 1),
                         min_term_end_on=date(2026, 2, 14), pending_plan_version_id=other.current.id,
                         pending_change_on=date(2025, 3, 14))
    plain = a_subscription(a_customer(email="b@example.de"), other)
    _setup(uow_factory, customers=[a_customer(email="b@example.de")])
    with uow_factory() as uow:
        uow.subscriptions.add(sub)
        uow.subscriptions.add(plain)
        uow.commit()
    with uow_factory() as uow:
        assert uow.subscriptions.get(sub.id) == sub
        assert uow.subscriptions.get(plain.id) == plain
    assert sub.trial_end_on == date(2025, 2, 14) and plain.trial_end_on is None


def test_save_bumps_the_version_and_a_stale_save_is_a_concurrent_update(uow_factory) -> None:
    plan, anna = a_plan(), a_customer()
    _setup(uow_factory, plan, customers=[anna])
    sub = a_subscription(anna, plan)
    with uow_factory() as uow:
        uow.subscriptions.add(sub)
        uow.commit()
    with uow_factory() as uow:
        saved = uow.subscriptions.save(replace(sub, status=SubscriptionStatus.PAST_DUE))
        uow.commit()
    assert saved.version == sub.version + 1
    with uow_factory() as uow:
        assert uow.subscriptions.get(sub.id) == saved
        with pytest.raises(ConcurrentUpdate):
            uow.subscriptions.save(replace(sub, status=SubscriptionStatus.PAUSED))  # still version 1
        with pytest.raises(SubscriptionNotFound):
            uow.subscriptions.save(replace(sub, id=SubscriptionId("gone")))
    with uow_factory() as uow:
        assert uow.subscriptions.get(sub.id).status is SubscriptionStatus.PAST_DUE


def test_missing_subscription(uow_factory) -> None:
    with uow_factory() as uow, pytest.raises(SubscriptionNotFound, match="no subscription with id 's-1'"):
        uow.subscriptions.get(SubscriptionId("s-1"))


def test_subscriptions_list_filters_by_customer_and_status(uow_factory) -> None:
    plan, anna, bob = a_plan(), a_customer(), a_customer(email="bob@example.de")
    _setup(uow_factory, plan, customers=[anna, bob])
    subs = [a_subscription(anna, plan, id=stable_id("s", 1)),
            a_subscription(anna, plan, id=stable_id("s", 2), status=SubscriptionStatus.PAUSED,
                           created_at=CREATED_AT + timedelta(seconds=1)),
            a_subscription(bob, plan, id=stable_id("s", 3), created_at=CREATED_AT + timedelta(seconds=2))]
    with uow_factory() as uow:
        for sub in subs:
            uow.subscriptions.add(sub)
        uow.commit()
    with uow_factory() as uow:
        assert uow.subscriptions.list() == subs
        assert uow.subscriptions.list(customer_id=anna.id) == subs[:2]
        assert uow.subscriptions.list(status=SubscriptionStatus.ACTIVE) == [subs[0], subs[2]]
        assert uow.subscriptions.list(customer_id=anna.id, status=SubscriptionStatus.PAUSED) == [subs[1]]
        assert uow.subscriptions.list(limit=1, offset=2) == [subs[2]]


def test_due_for_billing_respects_date_status_limit_and_order(uow_factory) -> None:
    plan, anna = a_plan(), a_customer()
    _setup(uow_factory, plan, customers=[anna])
    today = date(2025, 3, 1)
    cases = {  # name: (status, next_bill_on)
        "late": (SubscriptionStatus.ACTIVE, date(2025, 2, 1)),
        "today": (SubscriptionStatus.ACTIVE, today),
        "tomorrow": (SubscriptionStatus.ACTIVE, today + timedelta(days=1)),
        "past_due": (SubscriptionStatus.PAST_DUE, date(2025, 2, 15)),
        "suspended": (SubscriptionStatus.SUSPENDED, date(2025, 2, 15)),
        "canceled": (SubscriptionStatus.CANCELED, today),
        "trialing": (SubscriptionStatus.TRIALING, date(2025, 1, 1)),
        "paused": (SubscriptionStatus.PAUSED, date(2025, 1, 1)),
        "ended": (SubscriptionStatus.ENDED, None),
    }
    ids = {name: SubscriptionId(stable_id("due", name)) for name in cases}
    with uow_factory() as uow:
        for name, (status, next_bill_on) in cases.items():
            uow.subscriptions.add(a_subscription(anna, plan, id=ids[name], status=status, next_bill_on=next_bill_on))
        uow.commit()
    same_day = sorted([ids["past_due"], ids["suspended"]])
    same_today = sorted([ids["today"], ids["canceled"]])
    with uow_factory() as uow:
        assert uow.subscriptions.due_for_billing(today) == [ids["late"], *same_day, *same_today]
        assert uow.subscriptions.due_for_billing(today, limit=2) == [ids["late"], same_day[0]]
        assert uow.subscriptions.due_for_billing(date(2025, 1, 31)) == []


# -- events and settings --------------------------------------------------------------------------------


def test_events_keep_their_payload_and_list_in_the_order_they_were_added(uow_factory) -> None:
    at = datetime(2025, 1, 31, 0, 30, tzinfo=BERLIN_WINTER)
    changed = ev.SubscriptionPlanChanged("sub-1", "v-1", "v-2", date(2025, 2, 1), Money(3_33, "EUR"), None)
    with uow_factory() as uow:
        uow.events.add([ev.SubscriptionCreated("sub-1", "cus-1", "v-1", "active", date(2025, 1, 31), None)], at)
        uow.commit()
    with uow_factory() as uow:
        uow.events.add([changed, ev.CustomerCreated("cus-1", "anna@example.de", CustomerKind.CONSUMER)], at)
        uow.events.add([], at)
        uow.events.add([ev.SubscriptionEnded("sub-1", date(2025, 3, 1))], at + timedelta(days=29))
        uow.commit()
    with uow_factory() as uow:
        everything = uow.events.list()
        for_sub = uow.events.list(aggregate_id="sub-1")
        assert len(uow.events.list(limit=2)) == 2
    assert [e.name for e in everything] == ["subscription.created", "subscription.plan_changed",
                                            "customer.created", "subscription.ended"]
    assert [e.name for e in for_sub] == ["subscription.created", "subscription.plan_changed", "subscription.ended"]
    stored = everything[1]
    assert stored.aggregate_type == "subscription" and stored.aggregate_id == "sub-1"
    assert stored.payload == {"aggregate_id": "sub-1", "from_plan_version_id": "v-1", "to_plan_version_id": "v-2",
                              "effective_on": "2025-02-01", "credit": {"amount_minor": 333, "currency": "EUR"},
                              "charge": None}
    assert everything[2].payload["kind"] == "consumer"
    assert stored.occurred_at == at and _is_utc(stored.occurred_at)
    assert stored.id[14] == "7" and stored.id < everything[2].id  # UUIDv7, ascending at one instant


def test_settings_get_and_overwrite(uow_factory) -> None:
    with uow_factory() as uow:
        assert uow.settings.get("clock_mode") is None
        uow.settings.set("clock_mode", "test")
        uow.settings.set("clock_mode", "system")
        uow.commit()
    with uow_factory() as uow:
        assert uow.settings.get("clock_mode") == "system"


# -- the unit of work -----------------------------------------------------------------------------------


def test_leaving_the_block_without_commit_writes_nothing(uow_factory) -> None:
    with uow_factory() as uow:
        _add_plan(uow, a_plan())
        uow.customers.add(a_customer())
        uow.settings.set("k", "v")
    with pytest.raises(RuntimeError), uow_factory() as uow:
        uow.customers.add(a_customer())
        raise RuntimeError("boom")
    with uow_factory() as uow:
        assert uow.plans.list(include_archived=True) == [] and uow.customers.list() == []
        assert uow.settings.get("k") is None


def test_rollback_discards_and_later_work_can_still_commit(uow_factory) -> None:
    with uow_factory() as uow:
        uow.customers.add(a_customer())
        uow.rollback()
        _add_plan(uow, a_plan())
        uow.commit()
    with uow_factory() as uow:
        assert uow.customers.list() == [] and [p.code for p in uow.plans.list()] == ["basic"]


def test_the_factory_keeps_its_engine(uow_factory, engine: Engine) -> None:
    assert uow_factory.engine is engine and uow_factory() is not uow_factory()


# -- schema and migrations ------------------------------------------------------------------------------


def test_the_migrated_schema_equals_the_table_definitions(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "compare_server_default": True})
        assert compare_metadata(context, tables.metadata) == []


def test_current_revision_is_none_before_and_head_after_upgrade_and_upgrading_again_changes_nothing(
        db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision() == "0009_contracts"
        before = sorted(inspect(engine).get_table_names())
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == "0009_contracts"
        assert sorted(inspect(engine).get_table_names()) == before
        assert set(tables.metadata.tables) | {"alembic_version"} == set(before)
    finally:
        engine.dispose()


# -- engines --------------------------------------------------------------------------------------------


def test_postgres_urls_are_sent_through_psycopg_3() -> None:
    for url in ("postgres://u@h:5432/db", "postgresql://u@h:5432/db"):
        assert normalise_url(url) == "postgresql+psycopg://u@h:5432/db"
    assert normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_sqlite_url_is_absolute_and_make_engine_creates_the_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = sqlite_url(Path("nested/data"))
    assert url == f"sqlite:///{tmp_path.resolve()}/nested/data/aboguard.db"
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        assert (tmp_path / "nested" / "data" / "aboguard.db").is_file()
    finally:
        engine.dispose()


def test_two_writers_that_read_first_wait_for_each_other_instead_of_failing(uow_factory) -> None:
    """On SQLite a deferred transaction that reads and then writes would fail with 'database is locked'."""
    started = threading.Barrier(2)
    failures: list[BaseException] = []

    def bump(key: str) -> None:
        try:
            started.wait(timeout=5)
            with uow_factory() as uow:
                uow.settings.get("counter")
                time.sleep(0.2)
                uow.settings.set(key, "done")
                uow.commit()
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=bump, args=(key,)) for key in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    with uow_factory() as uow:
        assert (uow.settings.get("a"), uow.settings.get("b")) == ("done", "done")
