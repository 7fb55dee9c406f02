"""IBANs, card tokens and PayPal billing agreement ids never show in CLI output, logs, events or repr (DESIGN rule 9).

SEPA, card and PayPal methods (succeeding and declining ones) go through the CLI -- adding methods, billing,
collection, gateway events, refunds and every listing, as text and as JSON -- with every logger at DEBUG
(``aboguard`` and SQLAlchemy's statement log included). None of the full secrets may appear anywhere, while the
masked forms (the last four characters) do. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from aboguard import bootstrap
from aboguard.cli import app
from aboguard.cli.context import close_all
from aboguard.config import Settings
from aboguard.domain.catalog import PaymentMethodKind as Kind
from aboguard.domain.payment_methods import PaymentMethodSpec, build_payment_method
from aboguard.errors import AboguardError
from aboguard.ids import CustomerId, PaymentMethodId
from aboguard.money import Money
from aboguard.payments.gateway import ChargeRequest, MethodRef
from aboguard.store.engine import make_engine
from aboguard.store.tables import payment_methods as payment_methods_table

SEPA_OK = "DE89370400440532013000"  # settles
SEPA_OK_SPACED = "DE89 3704 0044 0532 0130 00"
SEPA_REJECTED = "DE62370400440532013001"  # rejected AM04 before settlement
CARD_OK = "tok_maskSecretVisa9d8e7f"  # any unknown token succeeds
CARD_DECLINED = "4000000000009995"  # insufficient_funds
PAYPAL_OK = "B-5YX08162MASKTEST"  # any unknown agreement succeeds
PAYPAL_DECLINED = "B-SANDBOX-NOFUNDS"
BAD_IBAN = "DE89370400440532013001"  # wrong check digits

SECRETS = [SEPA_OK, SEPA_OK_SPACED, SEPA_OK[4:], SEPA_REJECTED, SEPA_REJECTED[4:], CARD_OK, CARD_DECLINED,
           PAYPAL_OK, PAYPAL_DECLINED]


def leaks(text: str) -> list[str]:
    """The secrets found in ``text``, also with spaces or the upper/lower case changed."""
    squashed = "".join(text.split()).lower()
    return [s for s in SECRETS if s in text or "".join(s.split()).lower() in squashed]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[_Collect]:
    """Every log record at DEBUG: the root logger (caplog), ``aboguard`` directly, SQL statements with parameters."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="aboguard")
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # INFO: statements and their parameters
    handler = _Collect()
    package = logging.getLogger("aboguard")
    package.addHandler(handler)
    try:
        yield handler
    finally:
        package.removeHandler(handler)


def log_text(handler: _Collect, caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in [*handler.records, *caplog.records]:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(repr(record.exc_info[1]))
    return "\n".join(parts)


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[Any]:
    monkeypatch.setenv("ABOGUARD_DATABASE_URL", db_url)
    monkeypatch.setenv("ABOGUARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ABOGUARD_MERCHANT_TZ", "Europe/Berlin")
    runner = CliRunner()
    outputs: list[str] = []

    def run(*args: str, expect: int = 0) -> Any:
        """Run one command; ``expect=1``: it must fail with an aboguard error (returns the error text)."""
        try:
            result = runner.invoke(app, list(args))
        finally:
            close_all()
        text = result.stdout + (result.stderr if result.stderr else "")
        if isinstance(result.exception, AboguardError):  # what `aboguard` (cli.main) prints for it
            text += f"error: {result.exception.message}\n{result.exception!r}"
        outputs.append(text)
        if expect == 0:
            assert result.exit_code == 0, (args, text, result.exception)
            return json.loads(result.stdout) if "--json" in args else result.stdout
        assert isinstance(result.exception, AboguardError), (args, text, result.exception)
        return text

    run.outputs = outputs  # type: ignore[attr-defined]
    yield run
    close_all()


def test_cli_output_and_logs_show_only_masked_payment_details(cli: Any, logs: _Collect,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    cli("init", "--test-clock", "--at", "2026-03-02")
    cli("plans", "create", "--code", "basic", "--name", "Basic", "--amount", "9,99", "--interval", "month", "--json")
    people: dict[str, dict[str, Any]] = {}
    methods: dict[str, Any] = {}

    def customer(name: str) -> str:
        people[name] = cli("customers", "create", "--email", f"{name}@example.de", "--name", name.title(),
                           "--country", "DE", "--json")
        return people[name]["id"]

    # Added with text output ...
    added = cli("payment-methods", "add", "--customer", customer("sepa"), "--iban", SEPA_OK_SPACED,
                "--account-holder", "Erika Mustermann")
    assert "3000" in added and "••••" in added
    added = cli("payment-methods", "add", "--customer", customer("card"), "--card-token", CARD_OK, "--brand", "visa",
                "--last4", "4242", "--exp", "12/2030")
    assert "•••• 4242" in added
    added = cli("payment-methods", "add", "--customer", customer("paypal"), "--paypal-agreement", PAYPAL_OK,
                "--payer-email", "paula@example.de")
    assert "PayPal (p***@example.de)" in added
    # ... and with JSON.
    methods["sepa_rejected"] = cli("payment-methods", "add", "--customer", customer("separeject"), "--iban",
                                   SEPA_REJECTED, "--account-holder", "Max Mustermann", "--json")
    methods["card_declined"] = cli("payment-methods", "add", "--customer", customer("carddecline"), "--card-token",
                                   CARD_DECLINED, "--brand", "mastercard", "--last4", "9995", "--exp", "11/2029",
                                   "--json")
    methods["paypal_declined"] = cli("payment-methods", "add", "--customer", customer("paypaldecline"),
                                     "--paypal-agreement", PAYPAL_DECLINED, "--payer-email", "nora@example.de",
                                     "--json")
    assert methods["sepa_rejected"]["last4"] == "3001" and methods["card_declined"]["last4"] == "9995"
    for person in people.values():
        cli("subscriptions", "create", "--customer", person["id"], "--plan", "basic", "--json")

    billed = cli("bill", "--json")
    assert billed["invoices"] == 6
    collected = cli("collect")
    assert "2 succeeded" in collected and "declined: insufficient_funds" in collected
    cli("clock", "advance", "--days", "3")  # the SEPA debits settle or are rejected
    news = cli("collect", "--json")
    assert news["events_applied"] == 2
    cli("tick")
    cli("tick", "--json")

    payments = cli("payments", "list", "--json")
    assert len(payments) >= 6  # soft declines may have been retried by the ticks
    assert {(p["method"], p["status"]) for p in payments} >= {
        ("sepa_debit", "succeeded"), ("sepa_debit", "failed"), ("card", "succeeded"), ("card", "failed"),
        ("paypal", "succeeded"), ("paypal", "failed")}
    assert "insufficient_funds" in cli("payments", "list")
    for payment in payments:
        shown = cli("payments", "show", payment["id"])
        assert payment["id"] in shown
        cli("payments", "show", payment["id"], "--json")
        cli("payments", "show", payment["provider_payment_id"], "--json")
        cli("payments", "list", "--customer", payment["customer_id"])
    for invoice in cli("invoices", "list", "--json"):
        cli("invoices", "show", invoice["number"])
        cli("invoices", "show", invoice["number"], "--json")

    card_invoice = cli("invoices", "list", "--customer", people["card"]["id"], "--json")[0]["number"]
    cli("refund", card_invoice, "--amount", "1.00", "--reason", "goodwill", "--json")
    cli("refunds", "list")
    refunds = cli("refunds", "list", "--json")
    cli("refunds", "show", refunds[0]["id"])

    for name, person in people.items():
        text = cli("payment-methods", "list", "--customer", person["id"])
        listed = cli("payment-methods", "list", "--customer", person["id"], "--json")
        cli("customers", "show", person["id"])
        cli("customers", "show", person["id"], "--json")
        cli("ledger", "balance", "--customer", person["id"], "--json")
        [method] = listed
        methods[name] = method
        assert method["last4"] is None or method["last4"] in text, name
    assert methods["sepa"]["last4"] == "3000" and methods["card"]["last4"] == "4242"
    assert methods["sepa"]["label"] == "SEPA DE89 •••• •••• •••• •••• 3000 (Erika Mustermann)"
    assert methods["separeject"]["label"].endswith("3001 (Max Mustermann)")
    assert methods["card"]["label"].startswith("Visa •••• 4242")
    assert methods["carddecline"]["label"].startswith("Mastercard •••• 9995")
    assert methods["paypal"]["label"] == "PayPal (p***@example.de)"
    assert methods["paypal"]["payer_email"] == "p***@example.de"
    sepa_text = cli("payment-methods", "list", "--customer", people["sepa"]["id"])
    assert "DE89 •••• •••• •••• •••• 3000" in sepa_text

    removed = cli("payment-methods", "remove", methods["paypaldecline"]["id"])
    assert "PayPal" in removed
    cli("payment-methods", "list", "--customer", people["paypaldecline"]["id"], "--include-removed", "--json")
    cli("payment-methods", "list", "--customer", people["paypaldecline"]["id"], "--include-removed")

    everything = "\n".join(cli.outputs)
    assert leaks(everything) == []
    logged = log_text(logs, caplog)
    assert "INSERT INTO payment_methods" in logged  # the capture sees what is written, with its parameters
    assert leaks(logged) == []
    assert any("9995" in out for out in cli.outputs) and any("3001" in out for out in cli.outputs)


def test_events_and_stored_rows_hold_no_plain_iban_or_token(cli: Any, db_url: str) -> None:
    cli("init", "--test-clock", "--at", "2026-03-02")
    cli("plans", "create", "--code", "basic", "--name", "Basic", "--amount", "5", "--interval", "month", "--json")
    for n, extra in enumerate([["--iban", SEPA_OK, "--account-holder", "Erika Mustermann"],
                               ["--card-token", CARD_DECLINED, "--brand", "visa", "--last4", "9995", "--exp",
                                "12/2030"],
                               ["--paypal-agreement", PAYPAL_OK]]):
        person = cli("customers", "create", "--email", f"p{n}@example.de", "--name", f"P{n}", "--country", "DE",
                     "--json")
        cli("payment-methods", "add", "--customer", person["id"], *extra, "--json")
        cli("subscriptions", "create", "--customer", person["id"], "--plan", "basic", "--json")
    cli("tick")
    ctx = bootstrap.build(Settings.from_env())
    try:
        with ctx.uow() as uow:
            payloads = [json.dumps(e.payload, ensure_ascii=False) for e in uow.events.list(limit=10_000)]
    finally:
        ctx.close()
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = [dict(row) for row in conn.execute(select(payment_methods_table)).mappings()]
    finally:
        engine.dispose()
    assert any("payment_method" in p or "••••" in p for p in payloads)
    assert leaks("\n".join(payloads)) == []  # events go out as webhooks: masked labels only
    assert len(rows) == 3
    assert leaks(repr(rows)) == []  # encrypted at rest


def test_an_invalid_iban_is_refused_without_repeating_it(cli: Any, logs: _Collect,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    cli("init", "--test-clock", "--at", "2026-03-02")
    person = cli("customers", "create", "--email", "x@example.de", "--name", "X", "--country", "DE", "--json")
    err = cli("payment-methods", "add", "--customer", person["id"], "--iban", BAD_IBAN, "--account-holder", "X",
              expect=1)
    assert "IBAN" in err
    assert BAD_IBAN not in err and BAD_IBAN[4:] not in err
    assert BAD_IBAN not in log_text(logs, caplog)


# -- repr() of the domain objects ----------------------------------------------------------------------------

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SPECS = {
    "sepa": PaymentMethodSpec(Kind.SEPA_DEBIT, iban=SEPA_OK_SPACED, account_holder="Erika Mustermann",
                              mandate_reference="AG-TEST-0001"),
    "card": PaymentMethodSpec(Kind.CARD, gateway_token=CARD_OK, brand="visa", last4="4242", exp_month=12,
                              exp_year=2030),
    "card_pan_token": PaymentMethodSpec(Kind.CARD, gateway_token=CARD_DECLINED, brand="visa", last4="9995",
                                        exp_month=12, exp_year=2030),
    "paypal": PaymentMethodSpec(Kind.PAYPAL, gateway_token=PAYPAL_OK, payer_email="paula@example.de"),
}


@pytest.mark.parametrize("spec", list(SPECS.values()), ids=list(SPECS))
def test_repr_and_str_of_payment_methods_reveal_no_secret(spec: PaymentMethodSpec) -> None:
    method = build_payment_method(spec, method_id=PaymentMethodId("pm_1"), customer_id=CustomerId("cus_1"),
                                  created_at=NOW)
    secret = method.iban or method.gateway_token or ""
    assert secret and leaks(secret)  # the object does hold it
    shown = [repr(method), str(method), f"{method}", f"{method!r}", method.label(), method.masked(), repr(spec),
             str(spec), repr([method]), repr({"m": method})]
    assert [leaks(s) for s in shown] == [[] for _ in shown]
    if method.kind is Kind.SEPA_DEBIT:
        assert "3000" in repr(method)
    elif method.kind is Kind.CARD:
        assert (method.last4 or "") in repr(method)


@pytest.mark.parametrize(("kind", "token"), [(Kind.SEPA_DEBIT, SEPA_OK), (Kind.SEPA_DEBIT, f"{SEPA_OK}|AG-TEST-1"),
                                             (Kind.CARD, CARD_OK), (Kind.CARD, CARD_DECLINED),
                                             (Kind.PAYPAL, PAYPAL_OK), (Kind.PAYPAL, PAYPAL_DECLINED)])
def test_repr_of_method_refs_and_charge_requests_shows_only_the_last_four(kind: Kind, token: str) -> None:
    ref = MethodRef(kind, token)
    request = ChargeRequest(idempotency_key="inv_1/attempt-1", amount=Money(9_99, "EUR"), method=ref,
                            customer_ref="cus_1", description="Invoice inv_1")
    shown = [repr(ref), str(ref), f"{ref}", repr(request), str(request), repr([ref])]
    assert [leaks(s) for s in shown] == [[] for _ in shown]
    assert f"...{token[-4:]}" in repr(ref) and f"...{token[-4:]}" in repr(request)


def test_a_short_token_is_not_shown_at_all() -> None:
    assert "abcd" not in repr(MethodRef(Kind.CARD, "abcd"))
    assert "****" in repr(MethodRef(Kind.CARD, "abcd"))
