"""`aboguard terms`, `contracts` and `evidence` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from aboguard.documents.evidence_pack import verify_pack


@pytest.fixture
def cli(cli_run: Any) -> Any:
    run = cli_run
    run("init", "--test-clock", "--at", "2025-01-31")
    return run


def test_terms_contract_cancellation_withdrawal_and_evidence_through_the_cli(cli, tmp_path: Path) -> None:
    agb = tmp_path / "agb.md"
    agb.write_bytes("# AGB\n\nWiderrufsbelehrung …\n".encode())
    published = cli("terms", "publish", "agb", "--file", str(agb), "--language", "de", "--json")
    assert published["version"] == 1 and published["sha256"] == hashlib.sha256(agb.read_bytes()).hexdigest()
    cli("terms", "publish", "agb", "--file", str(agb), "--language", "en", "--valid-from", "2025-03-01")
    assert [(t["language"], t["version"]) for t in cli("terms", "list", "--json")] == [("de", 1), ("en", 1)]
    assert cli("terms", "show", "agb", "--json")["text"].startswith("# AGB")
    assert "have no version 7" in cli("terms", "show", "agb", "--version", "7", expect=2)
    err = cli("plans", "create", "--code", "long", "--name", "Long", "--amount", "9.99", "--min-term-months", "25",
              expect=2)
    assert "24 months" in err and "309 Nr. 9" in err
    cli("plans", "create", "--code", "pro", "--name", "Pro", "--amount", "9.99", "--min-term-months", "12",
        "--notice-days", "30", "--terms", "agb")
    customer = cli("customers", "create", "--email", "anna@example.de", "--name", "Anna", "--country", "DE",
                   "--locale", "en", "--json")
    sub = cli("subscriptions", "create", "--customer", customer["id"], "--plan", "pro", "--channel", "portal",
              "--ip", "203.0.113.7", "--json")["id"]
    summary = cli("contracts", "show", sub, "--json")
    assert summary["language"] == "en" and summary["cancel_by"] == "2026-01-01"
    assert summary["contract_would_end_after"] == "2026-01-30" and summary["withdrawal_deadline"] == "2025-02-14"
    assert "Vertragszusammenfassung" in cli("contracts", "show", sub, "--locale", "de")
    [acceptance] = cli("contracts", "acceptances", sub, "--json")
    assert acceptance["terms"]["sha256"] == published["sha256"] and acceptance["ip_address"] == "203.0.113.7"

    cancelled = cli("contracts", "cancel", sub, "--earliest", "--json")
    assert cancelled["last_day"] == "2026-01-30" and cancelled["confirmation"]["received_at_local"].startswith(
        "2025-01-31T00:00:00+01:00")
    cli("clock", "advance", "--days", "15")  # 15 February: the withdrawal period ended on the 14th
    assert "withdrawal period" in cli("contracts", "withdraw", sub, expect=2)

    pack = tmp_path / "pack.zip"
    listing = cli("evidence", sub, "--out", str(pack), "--json")
    assert "manifest.json" in listing["files"] and verify_pack(pack.read_bytes()) == []
    with zipfile.ZipFile(io.BytesIO(pack.read_bytes())) as archive:
        assert archive.read("terms/agb-v1-de-agb.md") == agb.read_bytes()


def test_withdrawal_through_the_cli_within_14_days(cli) -> None:
    cli("plans", "create", "--code", "basic", "--name", "Basic", "--amount", "10.00")
    customer = cli("customers", "create", "--email", "b@example.de", "--name", "B", "--country", "DE", "--json")
    cli("payment-methods", "add", "--customer", customer["id"], "--card-token", "tok_visa", "--brand", "visa",
        "--last4", "4242", "--exp", "12/2030")
    sub = cli("subscriptions", "create", "--customer", customer["id"], "--plan", "basic", "--json")["id"]
    cli("bill")
    cli("collect")
    cli("clock", "advance", "--days", "14")  # 14 February: the last day (31 Jan + 14)
    withdrawn = cli("contracts", "withdraw", sub, "--json")
    # 14 of 28 days unused (14 .. 27 February): 10.00 * 14 / 28 = 5.00
    assert withdrawn["kind"] == "withdrawal" and list(withdrawn["refunded"].values()) == [
        {"amount_minor": 500, "currency": "EUR"}]
    assert "already withdrawn" in cli("contracts", "withdraw", sub, expect=2)
    assert "OK" in cli("ledger", "check")
