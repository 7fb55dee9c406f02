"""The evidence pack of a subscription in dunning, read back from the zip and checked file by file."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from aboguard.documents.evidence_pack import verify_pack
from aboguard.domain.catalog import PaymentMethodKind as Kind
from aboguard.domain.catalog import PlanSpec, Terms
from aboguard.domain.customers import CustomerSpec
from aboguard.domain.payment_methods import PaymentMethodSpec
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.domain.terms import AcceptanceSpec
from aboguard.money import Money
from aboguard.services import (
    billing,
    collection,
    contracts,
    customers,
    dunning,
    evidence,
    invoices,
    payment_methods,
    plans,
    subscriptions,
    terms,
)
from aboguard.services.context import ServiceContext

from .test_collection import card, collection_context

AGB = "Allgemeine Geschäftsbedingungen\r\n§ 1 Geltung …\n".encode()


@pytest.fixture
def ctx(engine: Engine, tmp_path: Path) -> ServiceContext:
    return collection_context(engine, tmp_path)


def _live(ctx: ServiceContext, days: int) -> None:
    for _ in range(days):
        ctx.clock.advance(days=1)  # type: ignore[attr-defined]
        billing.run_billing(ctx)
        collection.run_collection(ctx)
        dunning.run_dunning(ctx)


def _subscription_in_dunning(ctx: ServiceContext) -> str:
    terms.publish_terms(ctx, "agb", content=AGB, filename="agb-2026.txt", language="de")
    plans.create_plan(ctx, code="pro", name="Pro", terms_code="agb", spec=PlanSpec(
        Money(9_99, "EUR"), Interval(IntervalUnit.MONTH), terms=Terms(min_term_months=12, notice_days=30)))
    customer = customers.create_customer(ctx, CustomerSpec(email="late@example.de", name="Lena Late", country="DE"))
    payment_methods.add_payment_method(ctx, customer.id, card("4000000000009995"))  # declined: insufficient funds
    payment_methods.add_payment_method(ctx, customer.id, PaymentMethodSpec(  # a mandate on file, not the default
        Kind.SEPA_DEBIT, iban="DE89370400440532013000", account_holder="Lena Late"))
    sub = subscriptions.create_subscription(ctx, customer_id=customer.id, plan_code="pro",
                                            acceptance=AcceptanceSpec.parse("portal", "198.51.100.4", "Firefox/130"))
    billing.run_billing(ctx)
    collection.run_collection(ctx)
    _live(ctx, 32)  # reminders, dunning letters, fee and interest
    [invoice] = invoices.list_invoices(ctx, subscription_id=sub.subscription.id, kind="invoice")[:1]
    collection.record_manual_payment(ctx, invoice.id, amount="3.00", method="transfer")  # § 367: fee first
    return sub.subscription.id


def _read(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_pack_holds_contract_terms_invoices_payments_mandate_dunning_and_statement_each_hashed(
        ctx: ServiceContext) -> None:
    sub_id = _subscription_in_dunning(ctx)
    pack = evidence.build_evidence_pack(ctx, sub_id)
    files = _read(pack.data)
    with zipfile.ZipFile(io.BytesIO(pack.data)) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(files)  # fixed order
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}  # fixed timestamps
    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == "aboguard-evidence-pack/1" and manifest["subscription_id"] == sub_id
    assert {e["path"] for e in manifest["files"]} == set(files) - {"manifest.json"}
    for entry in manifest["files"]:  # every hash verified by reading the file back
        assert hashlib.sha256(files[entry["path"]]).hexdigest() == entry["sha256"]
        assert len(files[entry["path"]]) == entry["bytes"]
    assert verify_pack(pack.data) == []

    invoice_numbers = [i.number for i in invoices.list_invoices(ctx, subscription_id=sub_id, kind="invoice")]
    assert len(invoice_numbers) == 2  # March and April
    for number in invoice_numbers:
        assert json.loads(files[f"invoices/{number}.json"])["number"] == number
        assert f"{number}".encode() in files[f"invoices/{number}.html"]

    [acceptance] = json.loads(files["contract/acceptances.json"])
    assert acceptance["terms"]["hash_verified"] and acceptance["summary_hash_verified"]
    assert files[acceptance["terms"]["file"]] == AGB  # the exact bytes published
    assert acceptance["terms"]["sha256"] == hashlib.sha256(AGB).hexdigest()
    assert (acceptance["channel"], acceptance["ip_address"], acceptance["user_agent"]) == (
        "portal", "198.51.100.4", "Firefox/130")
    accepted = files[acceptance["summary_file"]]
    assert hashlib.sha256(accepted).hexdigest() == acceptance["summary_sha256"]
    assert contracts.list_acceptances(ctx, sub_id)[0].summary_text.encode() == accepted
    assert "Kündigungsfrist: 30 Tage" in files["contract/summary.de.txt"].decode()
    assert "Notice period: 30 days" in files["contract/summary.en.txt"].decode()

    attempts = json.loads(files["payments/attempts.json"])
    assert attempts and all(a["status"] == "failed" for a in attempts)
    assert {a["decline_code"] for a in attempts} == {"insufficient_funds"}
    cases = json.loads(files["dunning/cases.json"])
    actions = [e["action"] for e in cases[0]["timeline"]]
    assert "reminder" in actions and "payment" in actions
    [mandate] = json.loads(files["payments/mandates.json"])
    assert mandate["iban_masked"].startswith("SEPA DE89") and "0532013000" not in mandate["iban_masked"]
    assert mandate["mandate_reference"] and mandate["signed_on"] == "2026-03-02"
    assert b"DE89370400440532013000" not in b"".join(files.values())  # the IBAN appears nowhere in full
    events = json.loads(files["events/events.json"])
    names = {e["name"] for e in events}
    assert {"subscription.created", "contract.terms_accepted", "invoice.issued", "dunning.step"} <= names

    statement = json.loads(files["statement/statement.json"])
    first = statement["invoices"][0]
    [payment] = first["payments"]
    fee_paid = payment["applied"]["costs"]["amount_minor"]
    interest_paid = payment["applied"]["interest"]["amount_minor"]
    principal_paid = payment["applied"]["principal"]["amount_minor"]
    assert fee_paid + interest_paid + principal_paid == 300 and fee_paid > 0  # costs first (§ 367 BGB)
    assert first["paid"]["amount_minor"] == principal_paid
    assert first["principal_open"]["amount_minor"] == 999 - principal_paid
    assert first["open_total"]["amount_minor"] == sum(first[k]["amount_minor"] for k in (
        "principal_open", "fees_open", "interest_open", "interest_accrued"))
    assert [d["action"] for d in first["dunning"]] == actions
    html = files["statement/statement.html"].decode()
    assert html.startswith("<!DOCTYPE html>") and "§ 367" in html and "<script" not in html and "http" not in html

    again = evidence.build_evidence_pack(ctx, sub_id)
    assert again.data == pack.data  # same moment, same pack, byte for byte


def test_a_changed_file_is_found_by_the_manifest(ctx: ServiceContext) -> None:
    sub = subscriptions.create_subscription(
        ctx, customer_id=customers.create_customer(ctx, CustomerSpec(email="a@example.de", name="A", country="DE")).id,
        plan_code="basic", acceptance=AcceptanceSpec())
    files = _read(evidence.build_evidence_pack(ctx, sub.subscription.id).data)
    files["contract/summary.de.txt"] = b"forged"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    assert verify_pack(buffer.getvalue()) == ["contract/summary.de.txt does not match its hash in the manifest"]
