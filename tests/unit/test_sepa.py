"""Pure SEPA rules: creditor identifier, mandate lapse, sequence types, amendments, dates, remittance matching."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from stdnum.eu import at_02

from aboguard.domain import remittance, sepa
from aboguard.domain.catalog import PaymentMethodKind
from aboguard.domain.payment_methods import PaymentMethodSpec, build_payment_method
from aboguard.errors import InvalidPaymentMethod
from aboguard.ids import CustomerId, PaymentMethodId
from aboguard.money import Money


def a_mandate(**changes: object):  # type: ignore[no-untyped-def]
    method = build_payment_method(
        PaymentMethodSpec(PaymentMethodKind.SEPA_DEBIT, iban="DE89370400440532013000", account_holder="Anna",
                          mandate_reference="AG-1", mandate_signed_on=date(2024, 1, 15)),
        method_id=PaymentMethodId("pm-1"), customer_id=CustomerId("c-1"), created_at=datetime(2026, 3, 2, tzinfo=UTC))
    return replace(method, **changes)


@pytest.mark.parametrize("ci", ["DE98ZZZ09999999999", "de98 zzz 09999999999", "AT61ZZZ01234567890",
                                "NL42ZZZ123456780001"])
def test_valid_creditor_identifiers_pass_and_agree_with_python_stdnum(ci: str) -> None:
    compact = sepa.validate_creditor_id(ci)
    assert compact == "".join(ci.split()).upper() and at_02.is_valid(compact)


@pytest.mark.parametrize("ci, why", [("DE46ZZZ00000012345", "check digits"), ("DE99ZZZ09999999999", "check digits"),
                                     ("DE98ZZZ0999999999", "18 characters"), ("98ZZZ09999999999", "must look like")])
def test_bad_creditor_identifiers_are_refused_with_the_reason(ci: str, why: str) -> None:
    with pytest.raises(sepa.InvalidCreditorId, match=why):
        sepa.validate_creditor_id(ci)


def test_check_digits_ignore_the_business_code() -> None:
    assert sepa.creditor_id_check_digits("DE", "09999999999") == 98
    assert sepa.validate_creditor_id("DE98ABC09999999999") == "DE98ABC09999999999"


def test_first_collection_is_frst_then_rcur_and_one_off_and_final_are_their_own() -> None:
    fresh = a_mandate()
    assert sepa.sequence_type(fresh) is sepa.SequenceType.FRST
    assert sepa.sequence_type(fresh, first_as_rcur=True) is sepa.SequenceType.RCUR  # allowed since the 2016 rulebook
    used = sepa.presented(fresh, date(2026, 3, 4), sepa.SequenceType.FRST)
    assert used.mandate_last_used_on == date(2026, 3, 4) and sepa.sequence_type(used) is sepa.SequenceType.RCUR
    assert sepa.sequence_type(used, final=True) is sepa.SequenceType.FNAL
    once = a_mandate(mandate_type="one_off")
    assert sepa.sequence_type(once) is sepa.SequenceType.OOFF
    spent = sepa.presented(once, date(2026, 3, 4), sepa.SequenceType.OOFF)
    assert sepa.mandate_state(spent, date(2026, 3, 5)) is sepa.MandateStatus.FINISHED


def test_a_debit_that_is_first_and_last_goes_as_frst_unless_first_debits_may_be_rcur() -> None:
    fresh = a_mandate()
    assert sepa.sequence_type(fresh, final=True) is sepa.SequenceType.FRST  # a series cannot end before it began
    assert sepa.sequence_type(fresh, final=True, first_as_rcur=True) is sepa.SequenceType.FNAL
    moved = a_mandate(mandate_last_used_on=date(2026, 1, 5), mandate_new_bank=True)
    assert sepa.sequence_type(moved, final=True) is sepa.SequenceType.FRST


def test_the_last_invoice_of_an_ending_subscription_is_final_unless_the_mandate_is_still_needed() -> None:
    last = sepa.SeriesFacts("s-1", subscription_ends_on=date(2026, 5, 2), next_bill_on=None,
                            period_end=date(2026, 5, 2))
    assert last.last_invoice and sepa.is_final(last)
    assert not sepa.is_final(last, use_fnal=False)  # RCUR instead: allowed since the 2016 rulebook
    assert not sepa.is_final(replace(last, mandate_needed_later=True))  # another subscription or open invoice
    assert not sepa.is_final(replace(last, period_end=date(2026, 4, 2)))  # an earlier period's invoice
    assert not sepa.is_final(replace(last, next_bill_on=date(2026, 5, 2)))  # more to bill
    assert not sepa.is_final(replace(last, subscription_ends_on=None))  # runs on
    assert not sepa.is_final(sepa.SeriesFacts())  # no subscription at all
    again = sepa.SeriesFacts(re_presents_final=True)
    assert sepa.is_final(again) and sepa.is_final(again, use_fnal=False)  # the bank has seen the final one


def test_a_final_debit_finishes_the_mandate_except_for_its_own_re_presentation() -> None:
    used = a_mandate(mandate_last_used_on=date(2026, 3, 4))
    finished = sepa.presented(used, date(2026, 4, 6), sepa.SequenceType.FNAL)
    assert finished.mandate_status == "finished" and finished.mandate_last_used_on == date(2026, 4, 6)
    assert sepa.mandate_state(finished, date(2026, 4, 20)) is sepa.MandateStatus.FINISHED
    assert sepa.mandate_state(finished, date(2026, 4, 20), re_presents_final=True) is sepa.MandateStatus.ACTIVE
    assert sepa.mandate_state(finished, date(2029, 4, 6), re_presents_final=True) is sepa.MandateStatus.EXPIRED
    spent = sepa.presented(a_mandate(mandate_type="one_off"), date(2026, 3, 4), sepa.SequenceType.OOFF)
    assert sepa.mandate_state(spent, date(2026, 3, 5), re_presents_final=True) is sepa.MandateStatus.FINISHED
    use = sepa.mandate_use(used, date(2026, 4, 6), sepa.SequenceType.FNAL)
    assert (use.method_id, use.version, use.last_used_on, use.status) == ("pm-1", used.version, date(2026, 4, 6),
                                                                          "finished")


def test_a_mandate_lapses_36_months_after_its_last_collection_or_its_signature() -> None:
    never_used = a_mandate(mandate_signed_on=date(2023, 3, 31))
    assert sepa.mandate_lapses_on(never_used) == date(2026, 3, 31)
    assert sepa.mandate_state(never_used, date(2026, 3, 30)) is sepa.MandateStatus.ACTIVE
    assert sepa.mandate_state(never_used, date(2026, 3, 31)) is sepa.MandateStatus.EXPIRED
    used = a_mandate(mandate_signed_on=date(2020, 1, 1), mandate_last_used_on=date(2024, 2, 29))
    assert sepa.mandate_lapses_on(used) == date(2027, 2, 28)  # month-end stays in the month
    assert sepa.mandate_state(used, date(2026, 12, 31)) is sepa.MandateStatus.ACTIVE


def test_an_amendment_keeps_the_first_original_until_a_collection_carries_it() -> None:
    method = a_mandate(mandate_last_used_on=date(2026, 1, 5))
    moved = sepa.amend_mandate(method, new_iban="DE02120300000000202051", new_bank=True)
    assert (moved.iban, moved.mandate_original_iban, moved.mandate_new_bank) == (
        "DE02120300000000202051", "DE89370400440532013000", True)
    assert sepa.sequence_type(moved) is sepa.SequenceType.FRST  # a new debtor bank starts a new series
    renamed = sepa.amend_mandate(moved, new_reference="AG-2")
    assert sepa.pending_amendment(renamed) == sepa.Amendment("AG-1", "DE89370400440532013000", True)
    carried = sepa.presented(renamed, date(2026, 3, 4), sepa.SequenceType.FRST)
    assert not sepa.pending_amendment(carried).any and sepa.sequence_type(carried) is sepa.SequenceType.RCUR
    with pytest.raises(InvalidPaymentMethod, match="changes nothing"):
        sepa.amend_mandate(carried, new_reference="AG-2")


def test_collection_dates_are_target_banking_days_after_the_lead_time() -> None:
    assert sepa.earliest_collection_date(date(2026, 4, 2), 1) == date(2026, 4, 7)  # Thu -> Good Friday, Easter Mon
    assert sepa.check_collection_date(date(2026, 3, 4), date(2026, 3, 2), 1) == date(2026, 3, 4)
    with pytest.raises(sepa.CollectionDateNotAllowed, match="banking day"):
        sepa.check_collection_date(date(2026, 12, 26), date(2026, 12, 1), 1)
    with pytest.raises(sepa.CollectionDateNotAllowed, match="or later"):
        sepa.check_collection_date(date(2026, 3, 3), date(2026, 3, 3), 1)


def test_control_sums_are_exact_in_minor_units() -> None:
    totals = sepa.totals([Money(9_99, "EUR")] * 3 + [Money(1, "EUR")])
    assert (totals.count, totals.control_sum) == (4, Money(29_98, "EUR"))


def test_sepa_text_transliterates_umlauts_and_cuts() -> None:
    assert sepa.sepa_text("Jürgen Müller & Söhne GmbH", 70) == "Juergen Mueller + Soehne GmbH"
    assert len(sepa.sepa_text("x" * 200, 140)) == 140


def _items() -> remittance.ReferenceIndex:
    eur = "EUR"
    return remittance.ReferenceIndex.of([
        remittance.OpenItem("i1", "RE-2026-000123", "c1", "Jürgen Müller", Money(11_89, eur)),
        remittance.OpenItem("i2", "RE-2026-000124", "c2", "Grete Groß", Money(11_89, eur), "KD-4711"),
        remittance.OpenItem("i3", "RE-2026-000125", "c3", "Anna Schmidt", Money(23_78, eur)),
        remittance.OpenItem("i4", "RE-2026-000126", "c3", "Anna Schmidt", Money(11_89, eur)),
    ])


@pytest.mark.parametrize("text", ["RE-2026-000123", "re 2026 123", "Rechnung RE2026000123 danke",
                                  "Abo Müller, Rechnungsnr.: RE-2026-  000123", "SVWZ+RE/2026/000123 EREF+NOTPROVIDED"])
def test_invoice_numbers_are_found_in_any_shape(text: str) -> None:
    found = remittance.match_transfer(Money(11_89, "EUR"), text, "", _items())
    assert found is not None and found.rule is remittance.MatchRule.INVOICE_NUMBER
    assert [item.invoice_id for item, _ in found.allocations] == ["i1"]


def test_several_invoices_in_one_transfer_are_paid_in_order_and_the_rest_is_credit() -> None:
    found = remittance.match_transfer(Money(40_00, "EUR"), "RE-2026-000125 und RE-2026-000126", "A. Schmidt",
                                      _items())
    assert found is not None
    assert [(i.invoice_id, m) for i, m in found.allocations] == [("i3", Money(23_78, "EUR")),
                                                                  ("i4", Money(11_89, "EUR"))]
    assert found.credit == Money(4_33, "EUR")


def test_customer_reference_then_amount_and_name_then_review() -> None:
    index = _items()
    by_ref = remittance.match_transfer(Money(5_00, "EUR"), "Kundennr KD 4711", "", index)
    assert by_ref is not None and by_ref.rule is remittance.MatchRule.CUSTOMER_REFERENCE
    assert by_ref.allocations[0][1] == Money(5_00, "EUR") and by_ref.credit.is_zero()
    by_name = remittance.match_transfer(Money(11_89, "EUR"), "Abo", "MUELLER, JUERGEN", index)
    assert by_name is not None and by_name.rule is remittance.MatchRule.AMOUNT_AND_NAME
    assert remittance.match_transfer(Money(11_89, "EUR"), "Abo", "Schmidt Anna", index) is not None
    assert remittance.match_transfer(Money(11_89, "EUR"), "Abo", "Otto Normal", index) is None
    index.paid("i1", Money(11_89, "EUR"))
    assert remittance.match_transfer(Money(11_89, "EUR"), "RE-2026-000123", "Jürgen Müller", index) is None


def test_the_fnal_and_first_as_rcur_settings_reach_the_sepa_set_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from aboguard.bootstrap import sepa_settings
    from aboguard.config import Settings
    from aboguard.errors import InvalidInput

    default = sepa_settings(Settings.from_env({"ABOGUARD_DATA_DIR": str(tmp_path)}))
    assert default.use_fnal and not default.first_as_rcur
    off = sepa_settings(Settings.from_env({"ABOGUARD_DATA_DIR": str(tmp_path), "ABOGUARD_SEPA_USE_FNAL": "0",
                                           "ABOGUARD_SEPA_FIRST_AS_RCUR": "1"}))
    assert not off.use_fnal and off.first_as_rcur
    with pytest.raises(InvalidInput, match="ABOGUARD_SEPA_USE_FNAL"):
        Settings.from_env({"ABOGUARD_DATA_DIR": str(tmp_path), "ABOGUARD_SEPA_USE_FNAL": "maybe"})


def test_a_batch_credit_pays_the_one_block_that_adds_up() -> None:
    from aboguard.domain.payments import AttemptStatus as S
    from aboguard.domain.sepa import BatchCredit, PaymentBlock, Totals, match_batch_credit

    def eur(minor: int) -> Money:
        return Money(minor, "EUR")

    def block(n: int) -> PaymentBlock:
        return PaymentBlock("f", "AGMSG", n, (date(2026, 3, 4), sepa.MandateScheme.CORE, sepa.SequenceType.RCUR),
                            Totals(2, eur(20_00)))

    a, b = block(1), block(2)
    waiting = {S.SUBMITTED: eur(19_98), S.FAILED: eur(9_99)}  # one debit was rejected before settlement
    assert match_batch_credit(eur(19_98), [(a, waiting), (b, {S.SUBMITTED: eur(5_00)})]) == (BatchCredit.SETTLES, a)
    assert match_batch_credit(eur(19_98), [(a, waiting), (b, waiting)]) == (BatchCredit.NO_FIT, None)  # ambiguous
    done = {S.SUCCEEDED: eur(9_99), S.REVERSED: eur(9_99)}
    assert match_batch_credit(eur(19_98), [(a, done)]) == (BatchCredit.ALREADY_SETTLED, a)
    assert match_batch_credit(eur(19_98), [(a, {S.SUBMITTED: eur(9_99)})]) == (BatchCredit.NO_FIT, None)
    assert match_batch_credit(eur(19_98), []) == (BatchCredit.NO_BLOCK, None)
