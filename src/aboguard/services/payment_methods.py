"""Payment method use cases: add, list, choose the default, remove; and the plan's allowed kinds."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from aboguard.domain.catalog import PaymentMethodKind, PlanVersion
from aboguard.domain.dunning import CaseStatus
from aboguard.domain.invoicing import AUTO_COLLECTED, OPEN, DocumentKind
from aboguard.domain.payment_methods import (
    KIND_LABELS,
    PaymentMethod,
    PaymentMethodAdded,
    PaymentMethodDefaultChanged,
    PaymentMethodRemoved,
    PaymentMethodSpec,
    PaymentMethodStatus,
    build_payment_method,
    mandate_reference_candidate,
)
from aboguard.domain.payments import IN_FLIGHT
from aboguard.errors import DuplicateMandateReference, InvalidPaymentMethod, InvalidSubscription
from aboguard.ids import CustomerId, PaymentMethodId
from aboguard.store.uow import UnitOfWork

from .context import ServiceContext

_MAX_REFERENCE_TRIES = 1000


@dataclass(frozen=True, slots=True)
class Removal:
    removed: PaymentMethod
    new_default: PaymentMethod | None  # the method that took over as default, if the removed one was it


def add_payment_method(ctx: ServiceContext, customer_id: str, spec: PaymentMethodSpec) -> PaymentMethod:
    """Validate and store a method. A SEPA method without a mandate reference gets ``AG-<customer>-<n>``.
    The customer's first method becomes the default, and any method added with ``make_default``."""
    now, today = ctx.now(), ctx.today()
    with ctx.uow() as uow:
        customer = uow.customers.get(CustomerId(customer_id))
        if spec.kind is PaymentMethodKind.SEPA_DEBIT and (spec.mandate_scheme or "").strip().lower() == "b2b" \
                and not customer.is_business:
            raise InvalidPaymentMethod("a SEPA B2B mandate is only for business customers; consumers sign a CORE "
                                       "mandate (a B2B debit on a consumer account is rejected with AC13)")
        if spec.kind is PaymentMethodKind.SEPA_DEBIT and not (spec.mandate_reference or "").strip():
            spec = replace(spec, mandate_reference=_new_mandate_reference(uow, customer.id))
        method = build_payment_method(spec, method_id=PaymentMethodId(ctx.new_id()), customer_id=customer.id,
                                      created_at=now, today=today)
        previous = uow.payment_methods.default_for(customer.id)
        method = uow.payment_methods.add(method)
        events = [PaymentMethodAdded(method.id, customer.id, method.kind.value, method.label(), method.is_default)]
        if method.is_default:
            events.append(PaymentMethodDefaultChanged(method.id, customer.id, previous.id if previous else None))
            _collect_overdue_with(uow, method, today)
        uow.events.add(events, now)
        uow.commit()
    return method


def get_payment_method(ctx: ServiceContext, method_id: str) -> PaymentMethod:
    with ctx.uow() as uow:
        return uow.payment_methods.get(PaymentMethodId(method_id))


def list_payment_methods(ctx: ServiceContext, customer_id: str, *, include_removed: bool = False
                         ) -> list[PaymentMethod]:
    """The customer's methods, oldest first. Raises CustomerNotFound for an unknown customer."""
    with ctx.uow() as uow:
        customer = uow.customers.get(CustomerId(customer_id))
        return uow.payment_methods.list_for_customer(customer.id, include_removed=include_removed)


def set_default(ctx: ServiceContext, method_id: str) -> PaymentMethod:
    """Make an active method its customer's default (the previous default is unset in the same transaction)."""
    now = ctx.now()
    with ctx.uow() as uow:
        method = uow.payment_methods.get(PaymentMethodId(method_id))
        if not method.is_active:
            raise InvalidPaymentMethod(f"payment method {method.id} was removed and cannot become the default")
        if method.is_default:
            return method
        previous = uow.payment_methods.default_for(method.customer_id)
        if previous is not None:
            uow.payment_methods.save(replace(previous, is_default=False))
        method = uow.payment_methods.save(replace(method, is_default=True))
        _collect_overdue_with(uow, method, ctx.today())
        uow.events.add([PaymentMethodDefaultChanged(method.id, method.customer_id,
                                                    previous.id if previous else None)], now)
        uow.commit()
    return method


def remove_payment_method(ctx: ServiceContext, method_id: str) -> Removal:
    """Mark a method removed. If it was the default, the newest remaining active method takes over."""
    now = ctx.now()
    with ctx.uow() as uow:
        method = uow.payment_methods.get(PaymentMethodId(method_id))
        if not method.is_active:
            raise InvalidPaymentMethod(f"payment method {method.id} is already removed")
        removed = uow.payment_methods.save(replace(method, status=PaymentMethodStatus.REMOVED, is_default=False))
        successor = None
        if method.is_default:
            remaining = uow.payment_methods.list_for_customer(method.customer_id)
            if remaining:
                successor = uow.payment_methods.save(replace(remaining[-1], is_default=True))
        events = [PaymentMethodRemoved(removed.id, removed.customer_id, removed.kind.value,
                                       successor.id if successor else None)]
        if successor is not None:
            events.append(PaymentMethodDefaultChanged(successor.id, successor.customer_id, removed.id))
        uow.events.add(events, now)
        uow.commit()
    return Removal(removed, successor)


def _collect_overdue_with(uow: UnitOfWork, method: PaymentMethod, today: date) -> int:
    """A customer asked for a new payment method gave one: charge what is overdue with it today.

    Not invoices handed over to collections, nor ones with a charge still in flight.
    """
    if method.kind not in AUTO_COLLECTED:
        return 0
    queued = 0
    for status in OPEN:
        for invoice in uow.invoices.list(customer_id=method.customer_id, status=status, kind=DocumentKind.INVOICE,
                                         limit=1000):
            if invoice.due_on is None or invoice.due_on > today or (invoice.collect_on and invoice.collect_on <= today):
                continue
            case = uow.dunning.case_for_invoice(invoice.id)
            if case is not None and case.status is CaseStatus.COLLECTIONS:
                continue
            if any(a.status in IN_FLIGHT for a in uow.attempts.list(invoice_id=invoice.id, limit=1000)):
                continue
            uow.invoices.save(replace(invoice, collect_on=today))
            queued += 1
    return queued


def ensure_method_allowed(plan_version: PlanVersion, method: PaymentMethod) -> None:
    """Raise InvalidSubscription when the plan's terms do not accept this kind of payment method."""
    if method.kind not in plan_version.payment_methods:
        allowed = ", ".join(sorted(kind.value for kind in plan_version.payment_methods))
        raise InvalidSubscription(f"the plan does not accept payment by {KIND_LABELS[method.kind]} "
                                  f"({method.kind.value}); it allows: {allowed}")


def _new_mandate_reference(uow: UnitOfWork, customer_id: CustomerId) -> str:
    counter = uow.payment_methods.count_for_customer(customer_id) + 1
    for attempt in range(_MAX_REFERENCE_TRIES):
        reference = mandate_reference_candidate(customer_id, counter + attempt)
        if not uow.payment_methods.mandate_reference_taken(reference):
            return reference
    raise DuplicateMandateReference(f"no free mandate reference for customer {customer_id}; give one explicitly")
