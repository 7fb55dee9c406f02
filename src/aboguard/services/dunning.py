"""The dunning run (Mahnlauf), pausing and resuming, and how money is applied to a claim in dunning.

Each run first opens a case for every open invoice past its due date that has none, then performs the
steps that are due, in batches that are claimed by an index on ``next_step_on`` (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL). A step is performed once: the case's step counter and its timeline entry are
written in the transaction that performs it. A step waits a day while a payment for the invoice is in
flight (a SEPA debit not settled yet). The case ends the moment the claim (principal, fees, interest) is
paid; the subscription's suspension ends with it (:mod:`aboguard.services.collection` reinstates it).

Money that arrives for an invoice in dunning is applied per § 367 (1) BGB: costs, then interest, then
the principal; the ledger receives one entry that credits each receivable with its part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from aboguard.domain import dunning as rules
from aboguard.domain import dunning_charges as charges_
from aboguard.domain import interest, invoicing, ledger
from aboguard.domain import subscriptions as lifecycle
from aboguard.domain.catalog import parse_enum
from aboguard.domain.customers import Customer
from aboguard.domain.dunning import CaseStatus, DunningAction, DunningCase, DunningPolicy, TimelineEntry
from aboguard.domain.dunning_charges import COSTS, ChargeKind, DunningCharge
from aboguard.domain.dunning_charges import pay as pay_charge
from aboguard.domain.dunning_charges import unpay as unpay_charge
from aboguard.domain.events import Event
from aboguard.domain.invoicing import Invoice
from aboguard.domain.payments import IN_FLIGHT
from aboguard.errors import InvalidInput, InvalidInvoice, NotFound
from aboguard.ids import JournalEntryId, SubscriptionId
from aboguard.money import Money
from aboguard.store.uow import UnitOfWork

from . import early_payment, loyalty, plans
from .context import ServiceContext

DEFAULT_BATCH = 200


@dataclass(slots=True)
class DunningReport:
    opened: int = 0
    steps: dict[str, int] = field(default_factory=dict)  # action -> count
    deferred: int = 0  # waited a day for a payment in flight
    resolved: int = 0
    fees: dict[str, int] = field(default_factory=dict)  # currency -> minor units charged in this run
    interest: dict[str, int] = field(default_factory=dict)

    @property
    def performed(self) -> int:
        return sum(self.steps.values())


# -- the run ------------------------------------------------------------------------------------------------


def run_dunning(ctx: ServiceContext, *, batch_size: int = DEFAULT_BATCH,
                on_batch: Callable[[DunningReport], None] | None = None) -> DunningReport:
    report = DunningReport()
    today = ctx.today()
    with ctx.uow() as uow:
        policies = uow.dunning.policies()
    plan_codes: dict[str, str] = {}  # plan version -> plan code
    while True:  # open cases for overdue invoices
        with ctx.uow() as uow:
            overdue = uow.invoices.overdue_without_dunning(today, limit=batch_size)
            customers = uow.customers.get_many([invoice.customer_id for invoice in overdue])
            for invoice in overdue:
                customer = customers[invoice.customer_id]
                policy = rules.choose_policy(policies, customer_kind=customer.kind, method_kind=invoice.payment_method,
                                             plan_code=_plan_code(uow, invoice, plan_codes))
                uow.dunning.add_case(rules.open_case(ctx.new_id(), invoice_id=invoice.id,
                                                     customer_id=invoice.customer_id, due_on=invoice.due_on or today,
                                                     policy=policy, now=ctx.now()))
            uow.commit()
        report.opened += len(overdue)
        if len(overdue) < batch_size:
            break
    by_code = {p.code: p for p in (*rules.DEFAULT_POLICIES, *policies)}
    while True:  # perform the steps that are due
        with ctx.uow() as uow:
            due = uow.dunning.claim_due(today, limit=batch_size, skip_locked=True)
            events: list[Event] = []
            for case in due:
                events += _perform(ctx, uow, case, by_code.get(case.policy_code) or _fallback(uow, case), today,
                                   report)
            uow.events.add(events, ctx.now())
            uow.commit()
        if on_batch is not None:
            on_batch(report)
        if len(due) < batch_size:
            break
    return report


def _fallback(uow: UnitOfWork, case: DunningCase) -> DunningPolicy:
    """A case whose policy was removed since goes on under the default for its customer."""
    customer = uow.customers.get(case.customer_id)
    return rules.choose_policy((), customer_kind=customer.kind, method_kind=None, plan_code=None)


def _plan_code(uow: UnitOfWork, invoice: Invoice, known: dict[str, str] | None = None) -> str | None:
    if not invoice.subscription_id:
        return None
    version = uow.subscriptions.get(SubscriptionId(invoice.subscription_id)).plan_version_id
    known = {} if known is None else known
    if version not in known:
        known[version] = plans.plan_code_of(uow, version)
    return known[version]


def _perform(ctx: ServiceContext, uow: UnitOfWork, case: DunningCase, policy: DunningPolicy, today: date,
             report: DunningReport) -> list[Event]:
    invoice = uow.invoices.get(case.invoice_id)
    charges = uow.dunning.charges_for_invoice(invoice.id)
    if _settled(invoice, charges):
        report.resolved += 1
        return _resolve(ctx, uow, case, "paid" if invoice.status is invoicing.InvoiceStatus.PAID
                        else invoice.status.value)
    if any(a.status in IN_FLIGHT for a in uow.attempts.list(invoice_id=invoice.id, limit=1000)):
        uow.dunning.save_case(replace(case, next_step_on=today + _DAY, updated_at=ctx.now()))
        report.deferred += 1
        return []
    events: list[Event] = []
    if case.status is CaseStatus.PAUSED:  # the promise-to-pay date passed without payment
        case = uow.dunning.save_case(rules.resume(case, today=today, now=ctx.now()))
        _timeline(ctx, uow, case, "resumed", today, "the pause ran out without payment")
        events.append(rules.DunningResumed(invoice.id))
    step = rules.step_due(case, policy, today)
    if step is None:  # nothing due after all (the policy changed): look again tomorrow or when it is due
        following = rules.next_step(case, policy)
        next_on = case.due_on + _days(following.day) if following else None
        uow.dunning.save_case(replace(case, next_step_on=max(next_on, today + _DAY) if next_on else None,
                                      updated_at=ctx.now()))
        return events
    customer = uow.customers.get(invoice.customer_id)
    consumer = not customer.is_business
    default_since = case.default_since
    in_default_before = default_since is not None and default_since <= today
    if step.action in rules.PUTS_IN_DEFAULT and default_since is None:
        default_since = interest.default_starts_on(case.due_on, consumer=consumer, first_dunning_on=today)
    if default_since is None and not consumer:  # § 286 (3): businesses are in default 30 days after due
        thirty = interest.default_starts_on(case.due_on, consumer=False)
        default_since = thirty if thirty is not None and thirty <= today else None
    case = replace(case, default_since=default_since)
    # The letter that puts the customer in default is not a damage of the default: no fee for it (§ 286 BGB).
    fee = Money.from_decimal(step.fee, invoice.currency) if step.fee and in_default_before else None
    if fee is not None:
        charges.append(_add_charge(ctx, uow, case, invoice, ChargeKind.DUNNING_FEE, fee, today,
                                   f"Dunning fee: {step.label}"))
        report.fees[fee.currency] = report.fees.get(fee.currency, 0) + fee.minor
    if (not consumer and policy.business_flat_fee and default_since is not None and default_since <= today
            and invoice.currency == "EUR" and not any(c.kind is ChargeKind.FLAT_FEE for c in charges)):
        flat = interest.business_flat_fee(invoice.currency)
        charges.append(_add_charge(ctx, uow, case, invoice, ChargeKind.FLAT_FEE, flat, today,
                                   "Flat fee for late payment (§ 288 (5) BGB)"))
        report.fees[flat.currency] = report.fees.get(flat.currency, 0) + flat.minor
    accrued = accrue_interest(ctx, uow, case, invoice, consumer=consumer, policy=policy, today=today,
                              charges=charges)
    if accrued is not None:
        report.interest[accrued.currency] = report.interest.get(accrued.currency, 0) + accrued.minor
    events += _act(ctx, uow, step.action, invoice, today)
    interest_total = sum((c.amount for c in charges if c.kind is ChargeKind.INTEREST), Money.zero(invoice.currency))
    open_total = invoice.amount_due + sum((c.open for c in charges), Money.zero(invoice.currency))
    seq_detail = f"{step.label}; open {open_total}" + (f"; fee {fee}" if fee else "") + \
        (f"; in default since {default_since}" if default_since else "")
    _timeline(ctx, uow, case, step.action.value, today, seq_detail, channel=step.channel.value,
              fee=fee, interest_=interest_total)
    case = rules.advance(case, policy, step, today=today, now=ctx.now(), default_since=default_since)
    uow.dunning.save_case(case)
    report.steps[step.action.value] = report.steps.get(step.action.value, 0) + 1
    events.append(rules.DunningStepTaken(invoice.id, invoice.customer_id, step.action.value, case.steps_done,
                                         step.channel.value, fee, interest_total, open_total,
                                         default_since.isoformat() if default_since else None))
    return events


_DAY = timedelta(days=1)


def _days(n: int) -> timedelta:
    return timedelta(days=n)


def _settled(invoice: Invoice, charges: list[DunningCharge]) -> bool:
    if invoice.status not in invoicing.OPEN:
        return True
    return not invoice.amount_due.is_positive() and not any(c.open.is_positive() for c in charges)


def _act(ctx: ServiceContext, uow: UnitOfWork, action: DunningAction, invoice: Invoice, today: date) -> list[Event]:
    if not invoice.subscription_id or action not in {DunningAction.SUSPEND, DunningAction.CANCEL}:
        return []
    sub = uow.subscriptions.get(SubscriptionId(invoice.subscription_id))
    events: list[Event] = []
    if action is DunningAction.SUSPEND:
        if sub.status is lifecycle.SubscriptionStatus.ACTIVE:
            sub, events = lifecycle.mark_past_due(sub, today)
        if sub.status is lifecycle.SubscriptionStatus.PAST_DUE:
            sub, suspended = lifecycle.suspend(sub, today)
            events += suspended
    elif sub.status not in {lifecycle.SubscriptionStatus.CANCELED, lifecycle.SubscriptionStatus.ENDED}:
        version = uow.plans.get_version(sub.plan_version_id)
        sub, events = lifecycle.cancel(sub, version, requested_on=today, reason="non_payment", immediately=True)
    if events:
        uow.subscriptions.save(sub)
    return events


def _add_charge(ctx: ServiceContext, uow: UnitOfWork, case: DunningCase, invoice: Invoice, kind: ChargeKind,
                amount: Money, today: date, description: str) -> DunningCharge:
    charge = DunningCharge(id=ctx.new_id(), case_id=case.id, invoice_id=invoice.id, customer_id=invoice.customer_id,
                           kind=kind, amount=amount, charged_on=today, created_at=ctx.now(),
                           description=f"{description} — invoice {invoice.number}",
                           paid=Money.zero(amount.currency), waived=Money.zero(amount.currency))
    uow.dunning.add_charge(charge)
    uow.ledger.add_many([charges_.charge_entry(charge, JournalEntryId(ctx.new_id()), ctx.now())])
    return charge


def accrue_interest(ctx: ServiceContext, uow: UnitOfWork, case: DunningCase, invoice: Invoice, *, consumer: bool,
                    policy: DunningPolicy | None, today: date, charges: list[DunningCharge]) -> Money | None:
    """Book the default interest accrued on the open principal up to today (no interest on interest or
    costs, § 289 BGB).

    Interest is booked at each step and before each payment is applied. Since the last payment the
    principal has not changed, so the interest since then is computed in one piece, rounded once, and
    only what is not booked yet is added: many small bookings never drift from the exact figure.
    """
    if policy is not None and not policy.interest:
        return None
    unbooked = unbooked_interest(uow, case, invoice, charges, consumer=consumer, today=today)
    if unbooked is None or not unbooked.due.is_positive():
        return None
    calc = unbooked.calculation
    rate = ", ".join(f"{(s.rate * 100).normalize()} %" for s in calc.segments)
    charges.append(_add_charge(ctx, uow, case, invoice, ChargeKind.INTEREST, unbooked.due, today,
                               f"Default interest on {invoice.amount_due} from {unbooked.anchor} to {today} at "
                               f"{rate} (§ 288 BGB; {unbooked.booked} of it booked before)"))
    return unbooked.due


@dataclass(frozen=True, slots=True)
class UnbookedInterest:
    """Interest on the open principal since the last payment (``anchor``), and how much of it is booked."""

    anchor: date
    calculation: interest.InterestCalculation
    booked: Money

    @property
    def due(self) -> Money:
        return max(self.calculation.total - self.booked, Money.zero(self.booked.currency))


def unbooked_interest(uow: UnitOfWork, case: DunningCase, invoice: Invoice, charges: list[DunningCharge], *,
                      consumer: bool, today: date) -> UnbookedInterest | None:
    """None when no interest runs (not in default, nothing open, or nothing since the last payment)."""
    if case.default_since is None or not invoice.amount_due.is_positive():
        return None
    paid_on = [e.happened_on for e in uow.dunning.timeline(case.id) if e.action in {"payment", "reopened"}]
    anchor = max([case.default_since, *paid_on])
    if anchor >= today:
        return None
    calc = interest.default_interest(invoice.amount_due, anchor, today, consumer=consumer)
    booked = sum((c.amount for c in charges if c.kind is ChargeKind.INTEREST and c.charged_on > anchor),
                 Money.zero(invoice.currency))
    return UnbookedInterest(anchor, calc, booked)


def _resolve(ctx: ServiceContext, uow: UnitOfWork, case: DunningCase, reason: str) -> list[Event]:
    if case.status is CaseStatus.RESOLVED:
        return []
    uow.dunning.save_case(rules.resolve(case, ctx.now()))
    _timeline(ctx, uow, case, "resolved", ctx.today(), reason)
    return [rules.DunningResolved(case.invoice_id, reason)]


def _timeline(ctx: ServiceContext, uow: UnitOfWork, case: DunningCase, action: str, on: date, detail: str, *,
              channel: str | None = None, fee: Money | None = None, interest_: Money | None = None) -> None:
    currency = (fee or interest_).currency if (fee or interest_) else None
    uow.dunning.add_entry(TimelineEntry(
        id=ctx.new_id(), case_id=case.id, invoice_id=case.invoice_id, seq=uow.dunning.next_seq(case.id),
        action=action, happened_on=on, created_at=ctx.now(), detail=detail, channel=channel,
        fee_minor=fee.minor if fee else 0, interest_minor=interest_.minor if interest_ else 0, currency=currency))


# -- money in and out ------------------------------------------------------------------------------------------


def amount_to_collect(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice) -> Money:
    """What a charge for ``invoice`` should take: the principal, plus fees and interest when it is in dunning."""
    if invoice.due_on is None or invoice.due_on >= ctx.today():
        return invoice.amount_due  # not overdue: no case yet
    case = uow.dunning.case_for_invoice(invoice.id)
    if case is None or case.status is CaseStatus.RESOLVED:
        return invoice.amount_due
    charges = uow.dunning.charges_for_invoice(invoice.id)
    customer = uow.customers.get(invoice.customer_id)
    accrue_interest(ctx, uow, case, invoice, consumer=not customer.is_business, policy=None, today=ctx.today(),
                    charges=charges)
    return invoice.amount_due + sum((c.open for c in charges), Money.zero(invoice.currency))


def apply_incoming(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, amount: Money, *, into: str,
                   customer: Customer | None = None, accrue: bool = True) -> tuple[Invoice, list[Event]]:
    """Apply money received for ``invoice`` (§ 367 BGB when fees or interest are open) and book it.

    ``accrue``: book the interest accrued up to today first (money received by hand). A gateway charge
    already took the interest up to the day it was started (:func:`amount_to_collect`).
    Raises InvalidInvoice when ``amount`` is more than everything open on the claim.
    Money that arrives in time for the invoice's Skonto settles it with the Skonto granted; an invoice
    paid in full counts for the subscription's loyalty streaks.
    """
    events: list[Event] = []
    if invoice.skonto_percent is not None:
        invoice, events = early_payment.grant_if_due(ctx, uow, invoice, amount)
    was_paid = invoice.status is invoicing.InvoiceStatus.PAID
    paid, more = _apply_incoming(ctx, uow, invoice, amount, into=into, customer=customer, accrue=accrue)
    events += more
    if paid.status is invoicing.InvoiceStatus.PAID and not was_paid:
        events += loyalty.on_invoice_paid(ctx, uow, paid)
    return paid, events


def _apply_incoming(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, amount: Money, *, into: str,
                    customer: Customer | None, accrue: bool) -> tuple[Invoice, list[Event]]:
    case = uow.dunning.case_for_invoice(invoice.id) if invoice.due_on and invoice.due_on < ctx.today() else None
    charges = uow.dunning.charges_for_invoice(invoice.id) if case is not None else []
    if accrue and case is not None and case.status is not CaseStatus.RESOLVED:
        who = customer or uow.customers.get(invoice.customer_id)
        accrue_interest(ctx, uow, case, invoice, consumer=not who.is_business, policy=None, today=ctx.today(),
                        charges=charges)
    open_charges = [c for c in charges if c.open.is_positive()]
    if not open_charges:
        paid, events = invoicing.apply_payment(invoice, amount)
        uow.ledger.add_many([ledger.payment_entry(invoice, amount, into=into, booked_on=ctx.today(),
                                                  entry_id=JournalEntryId(ctx.new_id()), created_at=ctx.now())])
        events += _close_if_settled(ctx, uow, case, paid, [])
        return uow.invoices.save(paid), events
    claims = [interest.Claim(c.id, interest.ClaimKind.COSTS if c.kind in COSTS else interest.ClaimKind.INTEREST,
                             c.open, c.charged_on) for c in open_charges]
    if invoice.amount_due.is_positive():
        claims.append(interest.Claim(invoice.id, interest.ClaimKind.PRINCIPAL, invoice.amount_due,
                                     invoice.due_on or ctx.today()))
    allocations, surplus = interest.allocate_payment(amount, claims)
    if surplus.is_positive():
        total = sum((c.open for c in claims), Money.zero(amount.currency))
        raise InvalidInvoice(f"invoice {invoice.number} has {total} open with fees and interest; {amount} is more")
    by_id = {c.id: c for c in open_charges}
    parts: list[tuple[str, Money]] = []
    events: list[Event] = []
    paid = invoice
    for allocation in allocations:
        if not allocation.amount.is_positive():
            continue
        if allocation.claim_id == invoice.id:
            paid, paid_events = invoicing.apply_payment(invoice, allocation.amount)
            events += paid_events
            parts.append((ledger.receivable(invoice.customer_id), allocation.amount))
        else:
            charge = uow.dunning.save_charge(pay_charge(by_id[allocation.claim_id], allocation.amount))
            by_id[charge.id] = charge
            parts.append((charges_.receivable_account(charge.kind, charge.customer_id), allocation.amount))
    uow.ledger.add_many([charges_.receipt_entry(
        invoice.customer_id, invoice.id, parts, into=into, booked_on=ctx.today(), entry_id=JournalEntryId(ctx.new_id()),
        created_at=ctx.now(), description=f"Payment for invoice {invoice.number} (costs, interest, principal: "
        "§ 367 BGB)")])
    if paid is not invoice:
        paid = uow.invoices.save(paid)
    if case is not None:
        _timeline(ctx, uow, case, "payment", ctx.today(), f"{amount} received: " + ", ".join(
            f"{a.kind.value} {a.amount}" for a in allocations if a.amount.is_positive()))
    events += _close_if_settled(ctx, uow, case, paid, list(by_id.values()))
    return paid, events


def _close_if_settled(ctx: ServiceContext, uow: UnitOfWork, case: DunningCase | None, invoice: Invoice,
                      charges: list[DunningCharge]) -> list[Event]:
    if case is None or case.status is CaseStatus.RESOLVED or not _settled(invoice, charges):
        return []
    return _resolve(ctx, uow, uow.dunning.get_case(case.id), "paid")


def reverse_incoming(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, amount: Money
                     ) -> tuple[Invoice, list[tuple[str, Money]]]:
    """Money that had come in went back (a SEPA return, a chargeback): the principal is owed again first,
    then fees and interest. Returns the invoice and the (receivable account, amount) parts to debit again;
    a case that had been settled by that money is reopened."""
    parts: list[tuple[str, Money]] = []
    principal = min(amount, invoice.paid)
    if principal.is_positive():
        invoice = uow.invoices.save(invoicing.reverse_payment(invoice, principal))
        parts.append((ledger.receivable(invoice.customer_id), principal))
    rest = amount - principal
    if rest.is_positive():
        for charge in reversed(uow.dunning.charges_for_invoice(invoice.id)):
            paid = charge.paid or Money.zero(amount.currency)
            take = min(rest, paid)
            if take.is_positive():
                uow.dunning.save_charge(unpay_charge(charge, take))
                parts.append((charges_.receivable_account(charge.kind, charge.customer_id), take))
                rest -= take
    case = uow.dunning.case_for_invoice(invoice.id)
    if case is not None and case.status is CaseStatus.RESOLVED and invoice.status in invoicing.OPEN:
        reopened = uow.dunning.save_case(replace(case, status=CaseStatus.ACTIVE,
                                                 next_step_on=max(ctx.today(), case.due_on), updated_at=ctx.now()))
        _timeline(ctx, uow, reopened, "reopened", ctx.today(), f"{amount} came back (payment returned)")
    return invoice, parts


# -- pausing, inspecting -----------------------------------------------------------------------------------------


def pause(ctx: ServiceContext, invoice_ref: str | None = None, *, customer_id: str | None = None,
          until: date | None = None, reason: str, dispute: bool = False) -> list[DunningCase]:
    """Pause the dunning of one invoice, or of all a customer's invoices (a dispute, a promise to pay).

    A disputed claim (``dispute``) is never handed over to collections while the dispute stands.
    """
    if dispute and reason.strip():
        reason = f"dispute: {reason.strip()}"
    if (invoice_ref is None) == (customer_id is None):
        raise InvalidInput("pause the dunning of an invoice or of a customer, one of the two")
    if until is not None and until <= ctx.today():
        raise InvalidInput(f"a pause until {until} would already be over; give a later date or none")
    with ctx.uow() as uow:
        cases = _cases_of(uow, invoice_ref, customer_id, {CaseStatus.ACTIVE, CaseStatus.PAUSED})
        paused = []
        for case in cases:
            updated = uow.dunning.save_case(rules.pause(case, until=until, reason=reason, now=ctx.now()))
            _timeline(ctx, uow, updated, "paused", ctx.today(),
                      reason.strip() + (f" (until {until})" if until else ""))
            paused.append(updated)
        uow.events.add([rules.DunningPaused(c.invoice_id, until.isoformat() if until else None, reason.strip())
                        for c in paused], ctx.now())
        uow.commit()
        return paused


def resume(ctx: ServiceContext, invoice_ref: str | None = None, *, customer_id: str | None = None
           ) -> list[DunningCase]:
    if (invoice_ref is None) == (customer_id is None):
        raise InvalidInput("resume the dunning of an invoice or of a customer, one of the two")
    with ctx.uow() as uow:
        cases = _cases_of(uow, invoice_ref, customer_id, {CaseStatus.PAUSED})
        resumed = []
        for case in cases:
            updated = uow.dunning.save_case(rules.resume(case, today=ctx.today(), now=ctx.now()))
            _timeline(ctx, uow, updated, "resumed", ctx.today(), "resumed by the merchant")
            resumed.append(updated)
        uow.events.add([rules.DunningResumed(c.invoice_id) for c in resumed], ctx.now())
        uow.commit()
        return resumed


def _cases_of(uow: UnitOfWork, invoice_ref: str | None, customer_id: str | None, wanted: set[CaseStatus]
              ) -> list[DunningCase]:
    if invoice_ref is not None:
        invoice = uow.invoices.find(invoice_ref)
        case = uow.dunning.case_for_invoice(invoice.id)
        if case is None:
            raise DunningNotStarted(f"invoice {invoice.number} is not in dunning")
        if case.status not in wanted:
            raise InvalidInput(f"the dunning of invoice {invoice.number} is {case.status.value}")
        return [case]
    uow.customers.get(customer_id)  # type: ignore[arg-type]
    cases = [c for c in uow.dunning.cases(customer_id=customer_id) if c.status in wanted]
    if not cases:
        raise DunningNotStarted(f"customer {customer_id} has no dunning to change")
    return cases


class DunningNotStarted(NotFound):
    code = "dunning.not_found"


@dataclass(frozen=True, slots=True)
class CaseView:
    case: DunningCase
    invoice: Invoice
    policy: DunningPolicy
    timeline: list[TimelineEntry]
    charges: list[DunningCharge]
    interest_to_date: Money  # accrued since the last booking, not booked yet

    @property
    def charges_open(self) -> Money:
        """Fees and booked interest still open."""
        return sum((c.open for c in self.charges), Money.zero(self.invoice.currency))

    @property
    def open_total(self) -> Money:
        return self.invoice.amount_due + self.charges_open + self.interest_to_date


def get_case(ctx: ServiceContext, invoice_ref: str) -> CaseView:
    with ctx.uow() as uow:
        invoice = uow.invoices.find(invoice_ref)
        case = uow.dunning.case_for_invoice(invoice.id)
        if case is None:
            raise DunningNotStarted(f"invoice {invoice.number} is not in dunning")
        return _view(ctx, uow, case, invoice)


def list_cases(ctx: ServiceContext, *, status: str | None = None, customer_id: str | None = None,
               limit: int = 100) -> list[CaseView]:
    wanted = parse_enum(CaseStatus, status, "dunning status", InvalidInput) if status else None
    with ctx.uow() as uow:
        return [_view(ctx, uow, case, uow.invoices.get(case.invoice_id))
                for case in uow.dunning.cases(customer_id=customer_id, status=wanted, limit=limit)]


def _view(ctx: ServiceContext, uow: UnitOfWork, case: DunningCase, invoice: Invoice) -> CaseView:
    policies = {p.code: p for p in (*rules.DEFAULT_POLICIES, *uow.dunning.policies())}
    policy = policies.get(case.policy_code) or _fallback(uow, case)
    charges = uow.dunning.charges_for_invoice(invoice.id)
    pending = Money.zero(invoice.currency)
    if case.status is not CaseStatus.RESOLVED:
        customer = uow.customers.get(invoice.customer_id)
        unbooked = unbooked_interest(uow, case, invoice, charges, consumer=not customer.is_business,
                                     today=ctx.today())
        pending = unbooked.due if unbooked else pending
    return CaseView(case, invoice, policy, uow.dunning.timeline(case.id), charges, pending)


# -- policies ---------------------------------------------------------------------------------------------------


def list_policies(ctx: ServiceContext) -> tuple[list[DunningPolicy], list[DunningPolicy]]:
    """(the merchant's stored policies, the built-in defaults used where none of them matches)."""
    with ctx.uow() as uow:
        return uow.dunning.policies(), list(rules.DEFAULT_POLICIES)


def load_policies(ctx: ServiceContext, text: str) -> tuple[list[DunningPolicy], int]:
    """Store every policy of a TOML file (all or nothing); returns them and how many were new."""
    policies = rules.policies_from_toml(text)
    with ctx.uow() as uow:
        new = sum(uow.dunning.save_policy(p, ctx.now()) for p in policies)
        uow.commit()
    return policies, new


def remove_policy(ctx: ServiceContext, code: str) -> None:
    with ctx.uow() as uow:
        if not uow.dunning.remove_policy(code):
            raise DunningNotStarted(f"no stored dunning policy {code!r}")
        uow.commit()


__all__ = ["CaseView", "DunningReport", "amount_to_collect", "apply_incoming", "get_case",
           "list_cases", "load_policies", "pause", "resume", "reverse_incoming", "run_dunning"]
