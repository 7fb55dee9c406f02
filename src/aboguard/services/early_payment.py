"""Skonto at the moment money arrives (see :mod:`aboguard.domain.early_payment`)."""

from __future__ import annotations

import logging
from decimal import Decimal

from aboguard.domain.coupons import Grant
from aboguard.domain.early_payment import SkontoGranted, skonto_due
from aboguard.domain.events import Event
from aboguard.domain.invoicing import Invoice
from aboguard.errors import InvalidInvoice
from aboguard.money import Money
from aboguard.store.uow import UnitOfWork

from .context import ServiceContext
from .invoices import issue_credit_note

log = logging.getLogger(__name__)


def grant_if_due(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, amount: Money
                 ) -> tuple[Invoice, list[Event]]:
    """If ``amount`` pays ``invoice`` within its Skonto terms, grant the Skonto by a credit note (VAT corrected
    at the invoice's rates) so that ``amount`` settles the rest; otherwise change nothing."""
    skonto = skonto_due(total=invoice.total, paid=invoice.paid, credited=invoice.credited,
                        percent=invoice.skonto_percent, until=invoice.skonto_until, amount=amount,
                        paid_on=ctx.today())
    if skonto is None:
        return invoice, []
    percent = invoice.skonto_percent or Decimal(0)
    try:
        credit_note, invoice, events = issue_credit_note(ctx, uow, invoice, skonto,
                                                         f"Skonto {percent.normalize():f} %")
    except InvalidInvoice as exc:  # a net-priced invoice whose VAT split cannot carry this amount to the cent
        log.warning("Skonto of %s on %s not granted automatically: %s", skonto, invoice.number, exc.message)
        return invoice, []
    uow.incentives.add_grants([Grant(ctx.new_id(), invoice.id, invoice.customer_id, invoice.subscription_id,
                                     "skonto", "SKONTO", credit_note.id, skonto, ctx.now())])
    return invoice, [*events, SkontoGranted(invoice.id, invoice.number or "", credit_note.id, skonto)]
