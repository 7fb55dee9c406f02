"""Price changes for running subscriptions: announced in advance, applied only with the customer's consent.

A new price is a new plan version; running subscriptions keep the version they agreed to. To move them, the
merchant announces the change at least :data:`NOTICE_DAYS` ahead. Silence is not consent (REFERENCE 3.4, the
Netflix/Spotify rulings): a subscription moves to the new price only when the customer accepts; a customer who
declines keeps the old price, and may instead end the contract on the day the new price would have applied
(the special right to cancel).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from aboguard.errors import InvalidInput, InvalidTransition
from aboguard.money import Money

from . import events as ev
from .catalog import PlanVersion
from .subscriptions import LIVE, Subscription

NOTICE_DAYS = 30


class InvalidPriceChange(InvalidInput):
    code = "contract.invalid_price_change"


class PriceChangeStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


@dataclass(frozen=True, slots=True)
class PriceChangeNotice:
    id: str
    subscription_id: str
    customer_id: str
    from_version_id: str
    to_version_id: str
    old_price: Money
    new_price: Money
    announced_at: datetime
    effective_on: date
    status: PriceChangeStatus = PriceChangeStatus.PENDING
    decided_at: datetime | None = None
    decision_channel: str | None = None
    version: int = 1


def announce(notice_id: str, sub: Subscription, current: PlanVersion, new: PlanVersion, *, today: date,
             effective_on: date, now: datetime) -> tuple[PriceChangeNotice, list[ev.Event]]:
    if sub.status not in LIVE:
        raise InvalidPriceChange(f"subscription {sub.id} is {sub.status.value}; only running contracts get a notice")
    if current.id == new.id:
        raise InvalidPriceChange(f"subscription {sub.id} already runs on this price")
    if new.price.currency != current.price.currency:
        raise InvalidPriceChange(f"the new price is in {new.price.currency}, the subscription in "
                                 f"{current.price.currency}")
    earliest = today + timedelta(days=NOTICE_DAYS)
    if effective_on < earliest:
        raise InvalidPriceChange(f"a price change must be announced at least {NOTICE_DAYS} days ahead: the "
                                 f"earliest effective date is {earliest}, not {effective_on}")
    notice = PriceChangeNotice(notice_id, sub.id, sub.customer_id, current.id, new.id, current.price, new.price, now,
                               effective_on)
    return notice, [PriceChangeAnnounced(sub.id, notice.id, sub.customer_id, current.price, new.price, effective_on,
                                         True)]


def decide(notice: PriceChangeNotice, *, accept: bool, now: datetime, channel: str
           ) -> tuple[PriceChangeNotice, list[ev.Event]]:
    if notice.status is not PriceChangeStatus.PENDING:
        raise InvalidTransition(f"the price change {notice.id} was already {notice.status.value}")
    status = PriceChangeStatus.ACCEPTED if accept else PriceChangeStatus.DECLINED
    decided = replace(notice, status=status, decided_at=now, decision_channel=channel)
    event: ev.Event = (PriceChangeAccepted if accept else PriceChangeDeclined)(
        notice.subscription_id, notice.id, notice.new_price, notice.effective_on, channel)
    return decided, [event]


@dataclass(frozen=True, slots=True)
class PriceChangeAnnounced(ev.Event):
    name: ClassVar[str] = "contract.price_change_announced"
    aggregate: ClassVar[str] = "subscription"
    notice_id: str
    customer_id: str
    old_price: Money
    new_price: Money
    effective_on: date
    consent_required: bool


@dataclass(frozen=True, slots=True)
class PriceChangeAccepted(ev.Event):
    name: ClassVar[str] = "contract.price_change_accepted"
    aggregate: ClassVar[str] = "subscription"
    notice_id: str
    new_price: Money
    effective_on: date
    channel: str


@dataclass(frozen=True, slots=True)
class PriceChangeDeclined(ev.Event):
    name: ClassVar[str] = "contract.price_change_declined"
    aggregate: ClassVar[str] = "subscription"
    notice_id: str
    new_price: Money
    effective_on: date
    channel: str
