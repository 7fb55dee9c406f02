"""The `aboguard` command line end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def cli(cli_run: Any) -> Any:
    return cli_run


@pytest.fixture
def sandbox(cli):
    cli("init", "--test-clock", "--at", "2025-01-31")
    return cli


def test_commands_refuse_to_run_before_init(cli) -> None:
    err = cli("plans", "list", expect=2)
    assert err.startswith("error: no aboguard installation") and "aboguard init" in err


def test_init_twice_is_refused(sandbox) -> None:
    assert "already initialised" in sandbox("init", expect=2)


def test_plan_create_prints_the_new_plan_with_its_id(sandbox) -> None:
    plan = sandbox("plans", "create", "--code", "basic", "--name", "Basic", "--amount", "9,99",
                   "--currency", "EUR", "--interval", "month", "--trial-days", "14", "--json")
    assert plan["id"] and plan["code"] == "basic"
    assert plan["current_version"]["price"] == {"amount_minor": 999, "currency": "EUR"}
    assert plan["current_version"]["trial_days"] == 14
    assert plan["current_version"]["tax_inclusive"] is True  # consumer plans are gross
    listed = sandbox("plans", "list", "--json")
    assert [p["code"] for p in listed] == ["basic"]
    assert "9.99" in sandbox("plans", "list")


@pytest.mark.parametrize(("args", "message"), [
    (["--amount", "9.99", "--currency", "EURO"], "unknown currency 'EURO'"),
    (["--amount", "-5", "--currency", "EUR"], "must not be negative"),
    (["--amount", "9.999", "--currency", "EUR"], "decimals"),
    (["--amount", "9.99", "--interval", "fortnight"], "unknown interval"),
    (["--amount", "9.99", "--min-term-months", "36"], "24 months"),
])
def test_bad_plan_input_gives_one_line_and_writes_nothing(sandbox, args: list[str], message: str) -> None:
    err = sandbox("plans", "create", "--code", "x", "--name", "X", *args, expect=2)
    assert message in err
    assert err.count("\n") == 1
    assert sandbox("plans", "list", "--json") == []


def test_customer_with_invalid_vat_id_is_refused(sandbox) -> None:
    err = sandbox("customers", "create", "--email", "a@b.de", "--name", "A", "--country", "DE", "--business",
                  "--vat-id", "DE123456789", expect=2)
    assert "VAT ID 'DE123456789' is not valid" in err
    assert sandbox("customers", "list", "--json") == []


def test_subscription_lifecycle_through_the_cli(sandbox) -> None:
    sandbox("plans", "create", "--code", "basic", "--name", "Basic", "--amount", "10.00", "--interval", "month",
            "--json")
    sandbox("plans", "create", "--code", "plus", "--name", "Plus", "--amount", "20.00", "--interval", "month",
            "--json")
    customer = sandbox("customers", "create", "--email", "anna@example.de", "--name", "Anna", "--country", "DE",
                       "--json")
    sub = sandbox("subscriptions", "create", "--customer", customer["id"], "--plan", "basic", "--json")
    assert sub["status"] == "active" and sub["start_on"] == "2025-01-31" and sub["next_bill_on"] == "2025-01-31"
    shown = sandbox("subscriptions", "show", sub["id"], "--json")
    assert shown["current_period"] == {"start_on": "2025-01-31", "end_on": "2025-02-28"}

    sandbox("clock", "advance", "--days", "10")
    changed = sandbox("subscriptions", "change-plan", sub["id"], "--plan", "plus", "--at", "now", "--json")
    assert changed["plan_code"] == "plus"
    # The period was not billed yet (no billing run), so there is nothing to prorate.
    assert changed["proration"] is None

    cancelled = sandbox("subscriptions", "cancel", sub["id"], "--json")
    assert cancelled["status"] == "canceled" and cancelled["ends_on"] == "2025-02-28"
    assert "already cancelled" in sandbox("subscriptions", "cancel", sub["id"], expect=2)


def test_unknown_plan_and_bad_start_date_are_refused(sandbox) -> None:
    customer = sandbox("customers", "create", "--email", "a@example.de", "--name", "A", "--country", "DE", "--json")
    assert "nope" in sandbox("subscriptions", "create", "--customer", customer["id"], "--plan", "nope", expect=2)
    sandbox("plans", "create", "--code", "basic", "--name", "Basic", "--amount", "1", "--json")
    err = sandbox("subscriptions", "create", "--customer", customer["id"], "--plan", "basic", "--start",
                  "2025-02-30", expect=2)
    assert "'2025-02-30' is not a valid calendar date" in err
    assert sandbox("subscriptions", "list", "--json") == []


def test_sandbox_clock_is_stored_between_commands(sandbox) -> None:
    assert sandbox("clock", "show", "--json")["today"] == "2025-01-31"
    sandbox("clock", "advance", "--days", "1")
    assert sandbox("clock", "show", "--json")["today"] == "2025-02-01"
    assert sandbox("clock", "set", "2025-03-01", "--json")["today"] == "2025-03-01"
    assert "only moves forwards" in sandbox("clock", "set", "2025-02-01", expect=2)


def test_production_installation_refuses_clock_commands(cli) -> None:
    cli("init")
    assert cli("clock", "show", "--json")["mode"] == "system"
    assert "only a sandbox" in cli("clock", "advance", "--days", "1", expect=2)


def test_demo_seeds_once_and_shows_everything(cli) -> None:
    first = cli("demo", "--json")
    assert first["created"] is True
    assert {p["code"] for p in first["plans"]} == {"basic-monthly", "premium-monthly", "pro-yearly", "box-reduced",
                                                   "team-business"}
    assert len(first["customers"]) == 5 and len(first["subscriptions"]) == 5
    assert first["ledger_ok"] is True
    numbers = [i["number"] for i in first["invoices"] if i["kind"] == "invoice"]
    assert numbers == sorted(numbers) and len(numbers) >= 10  # a few months of billing
    assert any(i["kind"] == "credit_note" for i in first["invoices"])
    assert {i["tax_treatment"] for i in first["invoices"]} >= {"domestic", "oss", "reverse_charge"}
    statuses = {s["customer_email"]: s["status"] for s in first["subscriptions"]}
    assert statuses["emma.jones@example.ie"] in {"canceled", "ended"}
    second = cli("demo", "--json")
    assert second["created"] is False and len(second["customers"]) == 5
    assert second["invoices"] == first["invoices"]  # shown again, not billed again
    text = cli("demo")
    assert "Anna Schmidt" in text and "Ledger check OK" in text


def test_billing_invoices_credit_notes_and_ledger_through_the_cli(sandbox) -> None:
    sandbox("plans", "create", "--code", "basic", "--name", "Basic", "--amount", "9,99", "--interval", "month",
            "--json")
    sandbox("plans", "create", "--code", "plus", "--name", "Plus", "--amount", "19.99", "--interval", "month",
            "--json")
    customer = sandbox("customers", "create", "--email", "anna@example.de", "--name", "Anna", "--country", "DE",
                       "--json")
    sub = sandbox("subscriptions", "create", "--customer", customer["id"], "--plan", "basic", "--json")
    run = sandbox("bill", "--json")
    assert (run["subscriptions"], run["invoices"], run["failures"]) == (1, 1, [])
    assert run["totals"] == [{"amount_minor": 999, "currency": "EUR"}]
    assert "nothing was due" in sandbox("bill")

    listed = sandbox("invoices", "list", "--customer", customer["id"], "--json")
    assert [i["number"] for i in listed] == ["RE-2025-000001"]
    invoice = sandbox("invoices", "show", "RE-2025-000001", "--json")
    assert invoice["total"] == {"amount_minor": 999, "currency": "EUR"}
    assert invoice["tax_breakdown"] == [{"category": "standard", "code": "S", "rate": "0.19",
                                         "net": {"amount_minor": 839, "currency": "EUR"},
                                         "tax": {"amount_minor": 160, "currency": "EUR"}}]
    assert invoice["due_on"] == "2025-02-14" and invoice["supply_end"] == "2025-02-28"
    text = sandbox("invoices", "show", invoice["id"])
    assert "Invoice RE-2025-000001" in text and "€8.39" in text

    sandbox("clock", "advance", "--days", "14")  # 14 Feb: half of February is left
    changed = sandbox("subscriptions", "change-plan", sub["id"], "--plan", "plus", "--json")
    assert changed["document"]["number"] == "RE-2025-000002"
    assert changed["document"]["total"] == {"amount_minor": 500, "currency": "EUR"}  # (19.99 - 9.99) x 14/28

    note = sandbox("credit-notes", "create", "RE-2025-000001", "--amount", "2.00", "--reason", "goodwill", "--json")
    assert note["credit_note"]["number"] == "ST-2025-000001" and note["invoice"]["amount_due"]["amount_minor"] == 799
    assert "left to credit" in sandbox("credit-notes", "create", "RE-2025-000001", "--amount", "9.00", expect=2)
    assert "no invoice or credit note" in sandbox("credit-notes", "create", "RE-2099-000001", expect=2)
    assert "not an amount" in sandbox("credit-notes", "create", "RE-2025-000001", "--amount", "zwei", expect=2)
    assert len(sandbox("invoices", "list", "--json")) == 3  # the refused ones wrote nothing

    check = sandbox("ledger", "check", "--json")
    assert check["ok"] is True and check["entries"] == 3 and check["mismatches"] == []
    assert "Ledger check OK" in sandbox("ledger", "check")
    balance = sandbox("ledger", "balance", "--customer", customer["id"], "--json")
    assert balance["receivable"] == {"EUR": {"amount_minor": 1299, "currency": "EUR"}}
    assert [i["number"] for i in balance["open_invoices"]] == ["RE-2025-000001", "RE-2025-000002"]


def test_invoice_filters_are_checked(sandbox) -> None:
    assert "unknown status 'open'" in sandbox("invoices", "list", "--status", "open", expect=2)
    assert "unknown document kind 'bill'" in sandbox("invoices", "list", "--kind", "bill", expect=2)
    assert "no invoice or credit note" in sandbox("invoices", "show", "RE-1", expect=2)
    assert "no customer" in sandbox("ledger", "balance", "--customer", "nobody", expect=2)


def test_payments_through_the_cli_show_reasons_and_never_the_card_token(sandbox) -> None:
    sandbox("plans", "create", "--code", "basic", "--name", "Basic", "--amount", "9,99", "--interval", "month",
            "--json")
    customer = sandbox("customers", "create", "--email", "a@example.de", "--name", "A", "--country", "DE", "--json")
    sandbox("payment-methods", "add", "--customer", customer["id"], "--card-token", "4000000000009995",
            "--brand", "visa", "--last4", "9995", "--exp", "12/2030")
    sandbox("subscriptions", "create", "--customer", customer["id"], "--plan", "basic", "--json")
    ticked = sandbox("tick", "--json")
    assert ticked["billing"]["invoices"] == 1 and ticked["collection"]["failed"] == 1
    assert ticked["collection"]["declines"][0]["code"] == "insufficient_funds"
    listed = sandbox("payments", "list", "--json")
    assert [(p["status"], p["decline"]["code"], p["decline"]["class"]) for p in listed] == [
        ("failed", "insufficient_funds", "soft")]
    shown = sandbox("payments", "show", listed[0]["id"])
    assert "insufficient_funds" in shown and "may be retried" in shown
    text = sandbox("payments", "list") + shown + sandbox("payment-methods", "list", "--customer", customer["id"])
    assert "4000000000009995" not in text
    assert "nothing was due" in sandbox("collect")  # the failed invoice waits for the recovery policy


def test_refunds_through_the_cli_issue_a_credit_note_and_pay_back(sandbox) -> None:
    sandbox("plans", "create", "--code", "basic", "--name", "Basic", "--amount", "9,99", "--interval", "month",
            "--json")
    customer = sandbox("customers", "create", "--email", "r@example.de", "--name", "R", "--country", "DE", "--json")
    sandbox("payment-methods", "add", "--customer", customer["id"], "--card-token", "tok_visa", "--brand", "visa",
            "--last4", "4242", "--exp", "12/2030")
    sandbox("subscriptions", "create", "--customer", customer["id"], "--plan", "basic", "--json")
    sandbox("tick")
    [invoice] = sandbox("invoices", "list", "--json")
    done = sandbox("refund", invoice["number"], "--amount", "4.00", "--reason", "goodwill", "--json")
    assert done["refunded"] == {"amount_minor": 400, "currency": "EUR"} and done["invoice_status"] == "paid"
    assert [(r["status"], r["channel"]) for r in done["refunds"]] == [("succeeded", "gateway")]
    text = sandbox("refund", invoice["number"], "--method", "cash")
    assert "Credit note" in text and "5.99" in text and "by cash" in text
    listed = sandbox("refunds", "list", "--json")
    assert [r["amount"]["amount_minor"] for r in listed] == [400, 599]
    assert "goodwill" in sandbox("refunds", "show", listed[0]["id"])
    err = sandbox("refund", invoice["number"], expect=2)
    assert "nothing paid that could be refunded" in err
    assert len(sandbox("invoices", "list", "--kind", "credit_note", "--json")) == 2
