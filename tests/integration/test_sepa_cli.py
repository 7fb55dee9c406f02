"""`aboguard sepa` and `aboguard bank` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.camt_builder import Entry, Tx, write_camt


@pytest.fixture
def cli(cli_run: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ABOGUARD_SEPA_CHANNEL", "file")
    monkeypatch.setenv("ABOGUARD_SEPA_CREDITOR_ID", "DE98ZZZ09999999999")
    monkeypatch.setenv("ABOGUARD_MERCHANT_IBAN", "DE02 1203 0000 0000 2020 51")
    monkeypatch.setenv("ABOGUARD_MERCHANT_NAME", "Händler GmbH")
    run = cli_run
    run("init", "--test-clock", "--at", "2026-03-02")
    run("plans", "create", "--code", "basic", "--name", "Basic", "--amount", "9.99", "--interval", "month")
    return run


def customer(cli: Any, name: str, *method: str) -> str:
    made = cli("customers", "create", "--email", f"{name.split()[0].lower()}@example.de", "--name", name,
               "--country", "DE", "--json")
    cli("payment-methods", "add", "--customer", made["id"], *method)
    cli("subscriptions", "create", "--customer", made["id"], "--plan", "basic")
    return made["id"]


def test_export_import_review_and_match_from_the_command_line(cli: Any, tmp_path: Path) -> None:
    customer(cli, "Anna Müller", "--iban", "DE89370400440532013000", "--account-holder", "Anna Müller")
    bob = customer(cli, "Bob Bauer", "--bank-transfer")
    cli("tick")
    number = cli("invoices", "list", "--customer", bob, "--json")[0]["number"]
    shown = cli("invoices", "show", number, "--json")  # Bob pays by transfer: where and how
    assert shown["pay_by_transfer"]["iban"] == "DE02120300000000202051"
    assert shown["pay_by_transfer"]["reference"] == number
    assert f"Verwendungszweck: {number}" in cli("invoices", "show", number)

    out = tmp_path / "debits.xml"
    report = cli("sepa", "export", "--out", str(out), "--collection-date", "2026-03-04", "--json")
    assert report["transactions"] == 1 and report["blocks"][0]["sequence"] == "FRST"
    assert "Good Friday" not in cli("sepa", "export", "--out", str(tmp_path / "x.xml"), "--collection-date",
                                    "2026-04-03", expect=2)
    copy = cli("sepa", "regenerate", report["file_id"], "--out", str(tmp_path / "copy.xml"), "--json")
    assert copy["identical"] is True
    e2e = cli("payments", "list", "--json")[0]["provider_payment_id"]

    camt = write_camt(tmp_path / "camt.xml", "camt.053.001.08", [
        Entry("A1", True, [Tx(9_99, e2e=e2e)]),
        Entry("A2", True, [Tx(5_00, name="Unbekannt", ustrd=["?"])], family="RCDT", sub_family="ESCT")])
    imported = cli("bank", "import", str(camt), "--json")
    assert (imported["settled"], imported["unmatched"]) == (1, 1)
    assert "imported before" in cli("bank", "import", str(camt))
    review = cli("bank", "unmatched", "--json")
    assert [line["remittance"] for line in review] == ["?"]
    assert f"applied to invoice {number}" in cli("bank", "match", review[0]["id"], number)
    assert cli("bank", "unmatched").strip() == "Nothing to review."

    # a return that names no debit of ours, and a credit that is not ours: both wait for review
    anna_invoice = cli("invoices", "list", "--json")
    anna_number = next(i["number"] for i in anna_invoice if i["customer_id"] != bob)
    odd = write_camt(tmp_path / "odd.xml", "camt.053.001.08", [
        Entry("R1", False, [Tx(9_99, e2e="NOT-OURS-1", reason="AM04", fee_minor=3_00)], sub_family="UPDD"),
        Entry("A3", True, [Tx(50_00, name="Finanzamt", ustrd=["Erstattung"])], family="RCDT", sub_family="ESCT")])
    assert cli("bank", "import", str(odd), "--json")["unmatched"] == 2
    returned, refund = cli("bank", "unmatched", "--json")
    assert returned["kind"] == "return" and "bank match" in returned["note"]
    assert "needs exactly one SEPA debit" in cli("bank", "match", returned["id"], number, expect=2)  # Bob's
    assert "recovery takes over" in cli("bank", "match", returned["id"], anna_number)
    assert cli("payments", "list", "--json")[0]["status"] == "reversed"
    assert "say why" in cli("bank", "dismiss", refund["id"], "--reason", " ", expect=2)
    assert "taken off the review list" in cli("bank", "dismiss", refund["id"], "--reason", "tax refund")
    assert cli("bank", "unmatched").strip() == "Nothing to review."
    assert "not waiting for review" in cli("bank", "dismiss", refund["id"], "--reason", "again", expect=2)
    odd_file, first = cli("bank", "statements", "--json")[:2]
    assert (odd_file["file_name"], odd_file["lines"], odd_file["by_status"]) == ("odd.xml", 2, {"applied": 1,
                                                                                               "ignored": 1})
    assert (first["file_name"], first["by_status"]) == ("camt.xml", {"applied": 2})
    assert "odd.xml" in cli("bank", "statements")
    assert "OK" in cli("ledger", "check")
    broken = tmp_path / "broken.xml"
    broken.write_text(camt.read_text()[:300])
    assert cli("bank", "import", str(broken), expect=2).startswith("error:")
