"""Payment methods against SQLite and PostgreSQL: encryption at rest, one default per customer, the CLI."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from aboguard import bootstrap
from aboguard.cli import main
from aboguard.clock import TestClock
from aboguard.config import Settings
from aboguard.domain.catalog import PaymentMethodKind as Kind
from aboguard.domain.catalog import PlanSpec
from aboguard.domain.customers import CustomerSpec
from aboguard.domain.payment_methods import PaymentMethodSpec, PaymentMethodStatus
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.errors import (
    ConcurrentUpdate,
    CustomerNotFound,
    DuplicateMandateReference,
    InvalidPaymentMethod,
    InvalidSubscription,
    PaymentMethodNotFound,
    SecretsUnavailable,
)
from aboguard.ids import CustomerId
from aboguard.money import Money
from aboguard.services import customers, plans, subscriptions
from aboguard.services import payment_methods as service
from aboguard.services.context import ServiceContext
from aboguard.store.secrets import Secrets
from aboguard.store.sql import SqlUnitOfWorkFactory
from aboguard.store.tables import payment_methods

TEST_SECRET_KEY = "q0eDqcmZ5aXbSP-1kP9ul5E0J8pCZ7H7hZBD9iDU1Yw="  # fixed, for tests only
IBAN = "DE89370400440532013000"
IBAN2 = "AT611904300234573201"
TOKEN = "tok_visa_4242_secret_ABCDEF"
AGREEMENT = "B-5YT46812ABC0123456"
SECRETS = (IBAN, IBAN2, TOKEN, AGREEMENT, "370400440532013000", "1904300234573201")

CARD = PaymentMethodSpec(Kind.CARD, gateway_token=TOKEN, brand="visa", last4="4242", exp_month=12, exp_year=2027)
PAYPAL = PaymentMethodSpec(Kind.PAYPAL, gateway_token=AGREEMENT, payer_email="anna@example.com")
SEPA = PaymentMethodSpec(Kind.SEPA_DEBIT, iban=IBAN, account_holder="Erika Mustermann")


@pytest.fixture
def ctx(engine: Engine) -> ServiceContext:
    clock = TestClock(datetime(2026, 3, 15, 9, 0, tzinfo=UTC))
    return ServiceContext(uow=SqlUnitOfWorkFactory(engine, Secrets(TEST_SECRET_KEY)), clock=clock,
                          merchant_tz=ZoneInfo("Europe/Berlin"))


def _customer(ctx: ServiceContext, email: str = "anna@example.de") -> CustomerId:
    return customers.create_customer(ctx, CustomerSpec(email=email, name="Anna", country="DE")).id


def _advance(ctx: ServiceContext) -> None:
    assert isinstance(ctx.clock, TestClock)
    ctx.clock.advance(timedelta(minutes=1))


def _stored_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(payment_methods)).mappings()]


def test_round_trip_decrypts_and_the_table_holds_only_ciphertext(ctx: ServiceContext, engine: Engine) -> None:
    anna = _customer(ctx)
    sepa = service.add_payment_method(ctx, anna, SEPA)
    card = service.add_payment_method(ctx, anna, CARD)
    paypal = service.add_payment_method(ctx, anna, PAYPAL)
    assert service.get_payment_method(ctx, sepa.id) == sepa
    assert service.get_payment_method(ctx, card.id).gateway_token == TOKEN
    assert service.get_payment_method(ctx, paypal.id).gateway_token == AGREEMENT
    stored = service.get_payment_method(ctx, sepa.id)
    assert stored.iban == IBAN and stored.bic == "COBADEFFXXX"
    assert stored.mandate_reference is not None and stored.mandate_reference.startswith("AG-")
    assert stored.mandate_signed_on == ctx.today()
    rows = _stored_rows(engine)
    assert len(rows) == 3
    dump = json.dumps(rows, default=str)
    for secret in SECRETS:
        assert secret not in dump
    by_id = {row["id"]: row for row in rows}
    assert by_id[sepa.id]["iban_enc"] and by_id[sepa.id]["iban_last4"] == "3000"
    assert by_id[card.id]["gateway_token_enc"] and by_id[card.id]["last4"] == "4242"
    # another key cannot read them: a clear error, not garbage
    other = SqlUnitOfWorkFactory(engine, Secrets(Secrets.generate_key()))
    with other() as uow, pytest.raises(SecretsUnavailable, match="not the key they were encrypted with"):
        uow.payment_methods.get(sepa.id)


def test_without_secrets_encrypted_fields_give_a_clear_error(engine: Engine, ctx: ServiceContext) -> None:
    anna = _customer(ctx)
    bare = ServiceContext(uow=SqlUnitOfWorkFactory(engine), clock=ctx.clock, merchant_tz=ctx.merchant_tz)
    with pytest.raises(SecretsUnavailable, match="no secret key was given"):
        service.add_payment_method(bare, anna, CARD)
    assert service.add_payment_method(bare, anna, PaymentMethodSpec(Kind.BANK_TRANSFER)).is_default
    assert _stored_rows(engine)[0]["kind"] == "bank_transfer"


def test_one_default_per_customer_and_handover_on_remove(ctx: ServiceContext, engine: Engine) -> None:
    anna, ben = _customer(ctx), _customer(ctx, "ben@example.de")
    first = service.add_payment_method(ctx, anna, CARD)
    assert first.is_default  # the first method becomes the default
    _advance(ctx)
    second = service.add_payment_method(ctx, anna, PaymentMethodSpec(Kind.BANK_TRANSFER))
    assert not second.is_default
    _advance(ctx)
    third = service.add_payment_method(ctx, anna, replace(SEPA, make_default=True))
    assert third.is_default
    _advance(ctx)
    fourth = service.add_payment_method(ctx, anna, PAYPAL)
    ben_method = service.add_payment_method(ctx, ben, PaymentMethodSpec(Kind.BANK_TRANSFER))

    def defaults() -> list[str]:
        return [m.id for m in service.list_payment_methods(ctx, anna) if m.is_default]

    assert defaults() == [third.id]
    expected = service.get_payment_method(ctx, third.id)
    with ctx.uow() as uow:
        assert uow.payment_methods.default_for(anna) == expected
        found = uow.payment_methods.defaults_for([anna, ben, CustomerId("nobody")])
    assert {c: m.id for c, m in found.items()} == {anna: third.id, ben: ben_method.id}

    assert service.set_default(ctx, first.id).is_default
    assert defaults() == [first.id]
    removal = service.remove_payment_method(ctx, first.id)
    assert removal.removed.status is PaymentMethodStatus.REMOVED and not removal.removed.is_default
    assert removal.new_default is not None and removal.new_default.id == fourth.id  # the newest remaining
    assert defaults() == [fourth.id]
    assert [m.id for m in service.list_payment_methods(ctx, anna)] == [second.id, third.id, fourth.id]
    assert len(service.list_payment_methods(ctx, anna, include_removed=True)) == 4
    with pytest.raises(InvalidPaymentMethod, match="already removed"):
        service.remove_payment_method(ctx, first.id)
    with pytest.raises(InvalidPaymentMethod, match="cannot become the default"):
        service.set_default(ctx, first.id)
    for method in (second, third):
        service.remove_payment_method(ctx, method.id)
    assert service.remove_payment_method(ctx, fourth.id).new_default is None
    assert defaults() == []

    with ctx.uow() as uow:
        names = [e.name for e in uow.events.list() if e.name.startswith("payment_method.")]
        payloads = json.dumps([e.payload for e in uow.events.list()])
    assert names.count("payment_method.added") == 5
    assert names.count("payment_method.removed") == 4
    assert "payment_method.default_changed" in names
    for secret in SECRETS:
        assert secret not in payloads


def test_the_database_refuses_a_second_default(ctx: ServiceContext) -> None:
    anna = _customer(ctx)
    first = service.add_payment_method(ctx, anna, CARD)
    other = service.add_payment_method(ctx, anna, PaymentMethodSpec(Kind.BANK_TRANSFER))
    with ctx.uow() as uow, pytest.raises(ConcurrentUpdate, match="already has another default"):
        uow.payment_methods.save(replace(other, is_default=True))
    assert service.get_payment_method(ctx, first.id).is_default


def test_a_stale_version_is_refused(ctx: ServiceContext, engine: Engine) -> None:
    method = service.add_payment_method(ctx, _customer(ctx), PaymentMethodSpec(Kind.BANK_TRANSFER))
    with engine.begin() as conn:
        conn.execute(update(payment_methods).values(version=payment_methods.c.version + 1))
    with ctx.uow() as uow, pytest.raises(ConcurrentUpdate, match="changed by someone else"):
        uow.payment_methods.save(replace(method, is_default=False))


def test_mandate_references_are_unique_case_insensitively(ctx: ServiceContext, engine: Engine) -> None:
    anna, ben = _customer(ctx), _customer(ctx, "ben@example.de")
    service.add_payment_method(ctx, anna, replace(SEPA, mandate_reference="ABO-000123"))
    for reference in ("ABO-000123", "abo-000123"):
        with pytest.raises(DuplicateMandateReference, match="already used"):
            service.add_payment_method(ctx, ben, replace(SEPA, iban=IBAN2, mandate_reference=reference))
    generated = {service.add_payment_method(ctx, ben, replace(SEPA, iban=IBAN2)).mandate_reference
                 for _ in range(3)}
    assert len(generated) == 3
    assert len(_stored_rows(engine)) == 4


def test_unknown_ids_and_bad_input_write_nothing(ctx: ServiceContext, engine: Engine) -> None:
    with pytest.raises(CustomerNotFound):
        service.add_payment_method(ctx, "nobody", CARD)
    with pytest.raises(PaymentMethodNotFound):
        service.remove_payment_method(ctx, "nothing")
    with pytest.raises(InvalidPaymentMethod, match="invalid checksum"):
        service.add_payment_method(ctx, _customer(ctx), replace(SEPA, iban="DE89370400440532013001"))
    assert _stored_rows(engine) == []


def test_a_plan_refuses_methods_it_does_not_allow(ctx: ServiceContext) -> None:
    plan = plans.create_plan(ctx, code="sepa-only", name="SEPA only", spec=PlanSpec(
        Money(10_00, "EUR"), Interval(IntervalUnit.MONTH), payment_methods=frozenset({Kind.SEPA_DEBIT})))
    anna = _customer(ctx)
    sepa = service.add_payment_method(ctx, anna, SEPA)
    card = service.add_payment_method(ctx, anna, CARD)
    service.ensure_method_allowed(plan.current, sepa)
    with pytest.raises(InvalidSubscription, match=r"does not accept payment by card \(card\); it allows: sepa"):
        service.ensure_method_allowed(plan.current, card)


def test_a_subscription_is_refused_when_the_plan_does_not_take_the_customers_default_method(
        ctx: ServiceContext) -> None:
    plans.create_plan(ctx, code="sepa-only", name="SEPA only", spec=PlanSpec(
        Money(10_00, "EUR"), Interval(IntervalUnit.MONTH), payment_methods=frozenset({Kind.SEPA_DEBIT})))
    anna = _customer(ctx)
    service.add_payment_method(ctx, anna, CARD)
    with pytest.raises(InvalidSubscription, match=r"does not accept payment by card"):
        subscriptions.create_subscription(ctx, customer_id=anna, plan_code="sepa-only")
    assert subscriptions.list_subscriptions(ctx, customer_id=anna) == []
    sepa = service.add_payment_method(ctx, anna, SEPA)
    service.set_default(ctx, sepa.id)
    assert subscriptions.create_subscription(ctx, customer_id=anna, plan_code="sepa-only").subscription.id


# -- secret key configuration ---------------------------------------------------------------------------


def test_the_key_file_is_made_on_first_use_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings.from_env({"ABOGUARD_DATA_DIR": str(tmp_path / "data")})
    box = bootstrap.secrets_for(settings)
    key_file = tmp_path / "data" / "secret.key"
    assert not key_file.exists()
    ciphertext = box.encrypt(IBAN)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert bootstrap.secrets_for(settings).decrypt(ciphertext) == IBAN  # the same key next time


def test_the_env_key_wins_and_postgres_without_data_dir_needs_it(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/x"
    with_key = Settings.from_env({"ABOGUARD_DATABASE_URL": url, "ABOGUARD_SECRET_KEY": TEST_SECRET_KEY})
    assert Secrets(TEST_SECRET_KEY).decrypt(bootstrap.secrets_for(with_key).encrypt("x")) == "x"
    without = bootstrap.secrets_for(Settings.from_env({"ABOGUARD_DATABASE_URL": url}))
    with pytest.raises(SecretsUnavailable, match="ABOGUARD_SECRET_KEY is not set"):
        without.encrypt("x")
    with pytest.raises(SecretsUnavailable, match="ABOGUARD_SECRET_KEY is not a valid key"):
        bootstrap.secrets_for(Settings.from_env({"ABOGUARD_SECRET_KEY": "short"}))
    data_dir = Settings.from_env({"ABOGUARD_DATABASE_URL": url, "ABOGUARD_DATA_DIR": str(tmp_path)})
    assert data_dir.secret_key_file == tmp_path / "secret.key"


# -- the command line -----------------------------------------------------------------------------------


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    monkeypatch.setenv("ABOGUARD_DATABASE_URL", db_url)
    (tmp_path / "cli-data").mkdir()
    monkeypatch.setenv("ABOGUARD_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("ABOGUARD_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("ABOGUARD_MERCHANT_TZ", "Europe/Berlin")
    seen: list[str] = []

    def run(*args: str, expect: int = 0) -> Any:
        code = main(list(args))
        out, err = capsys.readouterr()
        seen.append(out + err)
        assert code == expect, f"exit {code}, stdout={out!r}, stderr={err!r}"
        if expect != 0:
            return err
        return json.loads(out) if "--json" in args else out

    run("init", "--test-clock", "--at", "2026-03-15")
    run.seen = seen  # type: ignore[attr-defined]
    return run


def test_cli_add_list_remove_never_prints_the_iban_or_token(cli) -> None:
    anna = cli("customers", "create", "--email", "anna@example.de", "--name", "Anna", "--country", "DE",
               "--json")["id"]
    card = cli("payment-methods", "add", "--customer", anna, "--card-token", TOKEN, "--brand", "visa",
               "--last4", "4242", "--exp", "12/2027", "--json")
    assert card["label"] == "Visa •••• 4242, expires 12/2027" and card["last4"] == "4242"
    assert card["is_default"] is True
    out = cli("payment-methods", "add", "--customer", anna, "--iban", "DE89 3704 0044 0532 0130 00",
              "--account-holder", "Erika Mustermann", "--default")
    assert "SEPA DE89 •••• •••• •••• •••• 3000 (Erika Mustermann) (default)" in out
    cli("payment-methods", "add", "--customer", anna, "--paypal-agreement", AGREEMENT, "--payer-email",
        "anna@example.com", "--mandate-reference", "X", expect=2)  # a mandate reference is SEPA only
    listed = cli("payment-methods", "list", "--customer", anna, "--json")
    assert [m["kind"] for m in listed] == ["card", "sepa_debit"]
    sepa = listed[1]
    assert sepa["is_default"] and sepa["last4"] == "3000" and sepa["bic"] == "COBADEFFXXX"
    assert "Visa •••• 4242" in cli("payment-methods", "list", "--customer", anna)
    removed = cli("payment-methods", "remove", sepa["id"], "--json")
    assert removed["new_default"]["id"] == card["id"]
    assert "Default payment method is now" in cli("payment-methods", "set-default", card["id"])
    err = cli("payment-methods", "add", "--customer", anna, "--iban", "DE89370400440532013001",
              "--account-holder", "A", expect=2)
    assert err == "error: the IBAN is not valid: invalid checksum digits\n"
    err = cli("payment-methods", "add", "--customer", anna, "--bank-transfer", "--iban", IBAN, expect=2)
    assert "exactly one of" in err
    assert "expired" in cli("payment-methods", "add", "--customer", anna, "--card-token", "t", "--brand", "visa",
                            "--last4", "1111", "--exp", "01/2026", expect=2)
    everything = "".join(cli.seen)
    for secret in (IBAN, TOKEN, AGREEMENT, "370400440532013000", "3704 0044 0532 0130"):
        assert secret not in everything
