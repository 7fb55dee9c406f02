"""Terms documents: versions, hashes of the exact bytes, the version in force, and the contract summary text."""

from __future__ import annotations

import hashlib
from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime

import pytest

from aboguard.domain import terms as rules
from aboguard.domain.catalog import PaymentMethodKind, RenewalMode
from aboguard.domain.contract_summary import ContractSummary, format_date, method_label, render
from aboguard.domain.contracts import CancellationWindow
from aboguard.domain.payment_methods import PaymentMethod, PaymentMethodStatus
from aboguard.domain.periods import Interval, IntervalUnit
from aboguard.domain.terms import AcceptanceSpec, InvalidTerms, Language, TermsNotFound
from aboguard.ids import CustomerId, PaymentMethodId
from aboguard.money import Money

NOW = datetime(2025, 1, 31, 9, tzinfo=UTC)


def _publish(existing, content=b"AGB", language="de", valid_from=date(2025, 1, 1), code="agb"):
    return rules.publish(f"id-{len(existing)}", code=code, language=language, content=content, filename="agb.txt",
                         valid_from=valid_from, published_at=NOW, existing=existing)


def test_each_publication_is_the_next_version_per_language_with_the_hash_of_the_exact_bytes() -> None:
    content = "Allgemeine Geschäftsbedingungen\r\n".encode()
    v1 = _publish([], content)
    v2 = _publish([v1], b"AGB 2", valid_from=date(2025, 3, 1))
    en = _publish([v1, v2], b"Terms", language="EN")
    assert (v1.version, v2.version, en.version, en.language) == (1, 2, 1, Language.EN)
    assert v1.sha256 == hashlib.sha256(content).hexdigest() and v1.content == content
    assert v1.media_type == "text/plain" and v1.text() == content.decode()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"content": b"  \n"}, "must not be empty"),
    ({"language": "fr"}, "use de or en"),
    ({"code": "agb 2025"}, "must be 1-64 letters"),
    ({"valid_from": date(2024, 12, 31)}, "cannot be valid from an earlier day"),
])
def test_bad_publications_are_refused(kwargs, message) -> None:
    v1 = _publish([])
    with pytest.raises(InvalidTerms, match=message):
        _publish([v1], **kwargs)


def test_the_version_in_force_is_the_newest_valid_on_the_day_in_the_wanted_language_else_german() -> None:
    v1 = _publish([])
    v2 = _publish([v1], b"AGB 2", valid_from=date(2025, 3, 1))
    en1 = _publish([v1, v2], b"Terms", language="en", valid_from=date(2025, 2, 1))
    docs = [v1, v2, en1]
    assert rules.in_force(docs, code="agb", language=Language.DE, on=date(2025, 2, 28)) is v1
    assert rules.in_force(docs, code="agb", language=Language.DE, on=date(2025, 3, 1)) is v2
    assert rules.in_force(docs, code="agb", language=Language.EN, on=date(2025, 1, 15)) is v1  # no English yet
    assert rules.in_force(docs, code="agb", language=Language.EN, on=date(2025, 3, 15)) is en1
    with pytest.raises(TermsNotFound, match="no version of terms 'agb' is in force on 2024-12-31"):
        rules.in_force(docs, code="agb", language=Language.DE, on=date(2024, 12, 31))


def test_an_acceptance_keeps_the_version_and_hashes_and_cannot_be_changed() -> None:
    doc = _publish([])
    acceptance, events = rules.record_acceptance(
        "acc-1", subscription_id="sub-1", customer_id="c-1", customer_name="Anna",
        spec=AcceptanceSpec.parse("portal", "203.0.113.7", "Mozilla/5.0"), accepted_at=NOW, summary_text="Summary\n",
        summary_locale="de", terms=doc)
    assert (acceptance.terms_version, acceptance.terms_sha256, acceptance.accepted_by) == (1, doc.sha256, "Anna")
    assert acceptance.summary_sha256 == hashlib.sha256(b"Summary\n").hexdigest()
    assert [e.name for e in events] == ["contract.terms_accepted"]
    with pytest.raises(FrozenInstanceError):
        acceptance.terms_version = 2  # type: ignore[misc]
    with pytest.raises(InvalidTerms, match="unknown acceptance channel"):
        AcceptanceSpec.parse("fax")


def _summary(language: Language, **overrides) -> ContractSummary:
    values = dict(
        subscription_id="sub-1", language=language, as_of=date(2024, 2, 29), merchant_name="Shop GmbH",
        customer_name="Anna Schmidt", consumer=True, plan_name="Pro", plan_code="pro", plan_version=1,
        price=Money(9_99, "EUR"), interval=Interval(IntervalUnit.MONTH), tax_inclusive=True, setup_fee=None,
        start_on=date(2024, 2, 29), trial_end_on=None, payment_method="Visa •••• 4242, expires 12/2030",
        min_term_months=12, min_term_last_day=date(2025, 2, 27), notice_days=30, renewal=RenewalMode.INDEFINITE,
        renewal_term_months=0, status="active", window=CancellationWindow(date(2025, 1, 29), date(2025, 2, 28)),
        ends_on=None, withdrawal_deadline=date(2024, 3, 14), terms_code="agb", terms_version=2, terms_sha256="ab")
    values.update(overrides)
    return ContractSummary(**values)


def test_the_summary_names_price_terms_cancellation_deadline_and_withdrawal_in_german_and_english() -> None:
    de = render(_summary(Language.DE))
    assert "Preis: 9,99\xa0€ inkl. USt., monatlich" in de
    assert "Mindestlaufzeit: 12 Monate, bis einschließlich 27.02.2025" in de
    assert "Kündigung bis einschließlich 29.01.2025, der Vertrag endet dann mit Ablauf des 27.02.2025" in de
    assert "binnen 14 Tagen" in de and "bis einschließlich 14.03.2024" in de and "AGB agb Version 2" in de
    en = render(_summary(Language.EN))
    assert "cancel by 29 January 2025 and the contract ends after 27 February 2025" in en
    assert "every month" in en and "within 14 days" in en and "Minimum term: 12 months" in en
    assert render(_summary(Language.DE)) == de  # deterministic
    business = render(_summary(Language.EN, consumer=False, withdrawal_deadline=None))
    assert "withdraw" not in business


def test_dates_are_written_as_each_language_expects() -> None:
    assert format_date(date(2024, 2, 29), Language.DE) == "29.02.2024"
    assert format_date(date(2024, 2, 29), Language.EN) == "29 February 2024"


def test_the_payment_method_is_named_in_the_summary_language_and_masked() -> None:
    def method(kind: PaymentMethodKind, **fields) -> PaymentMethod:
        return PaymentMethod(PaymentMethodId("m"), CustomerId("c"), kind, True, PaymentMethodStatus.ACTIVE, NOW,
                             **fields)

    visa = method(PaymentMethodKind.CARD, brand="visa", last4="4242", exp_month=3, exp_year=2030)
    sepa = method(PaymentMethodKind.SEPA_DEBIT, iban="DE89370400440532013000", account_holder="Anna",
                  mandate_reference="AG-1")
    transfer = method(PaymentMethodKind.BANK_TRANSFER)
    assert method_label(visa, Language.DE) == "Visa •••• 4242, gültig bis 03/2030"
    assert method_label(visa, Language.EN) == "Visa •••• 4242, expires 03/2030"
    assert method_label(sepa, Language.DE) == ("SEPA-Lastschrift DE89 •••• •••• •••• •••• 3000 (Anna), "
                                               "Mandatsreferenz AG-1")
    assert "0532013000" not in method_label(sepa, Language.EN)
    assert (method_label(transfer, Language.DE), method_label(transfer, Language.EN)) == ("Überweisung",
                                                                                        "Bank transfer")
