"""Customer communication storage: the outbox, messages, webhook endpoints and deliveries, the attempt log,
and the indexed look-ups of upcoming charges, minimum-term ends and expiring cards.

Due work is claimed by the indexed ``available_at`` / ``next_attempt_at`` columns; on PostgreSQL with
``FOR UPDATE SKIP LOCKED`` so that several dispatchers share the work. A claimed message or delivery is
leased (its ``next_attempt_at`` moved to the end of the lease) in the claiming transaction, so another
dispatcher takes it only if this one died before recording the outcome.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.engine import Connection

from aboguard.domain.notifications import (
    DeliveryAttempt,
    DeliveryStatus,
    EndpointStatus,
    Message,
    MessageNotFound,
    MessageStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookNotFound,
)
from aboguard.errors import SecretsUnavailable
from aboguard.store import rows
from aboguard.store.secrets import SecretBox
from aboguard.store.tables import (
    delivery_attempts,
    events,
    messages,
    outbox,
    payment_methods,
    plan_notice_settings,
    plan_versions,
    plans,
    subscriptions,
    webhook_deliveries,
    webhook_endpoints,
)
from aboguard.store.uow import ExpiringCard, StoredEvent, UpcomingDate

from ._base import execute_guarded, one_of


def _lock(conn: Connection, query: Any, *of: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=list(of) or None)
    return query


class SqlOutbox:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def claim_due(self, now: datetime, *, limit: int) -> list[tuple[StoredEvent, int]]:
        """Events whose outbox row is due, oldest first, with the attempts made so far; locked on PostgreSQL."""
        query = (select(events, outbox.c.attempts.label("outbox_attempts"))
                 .join(outbox, outbox.c.event_id == events.c.id)
                 .where(outbox.c.available_at <= now)
                 .order_by(outbox.c.available_at, outbox.c.event_id).limit(limit))
        found = self._conn.execute(_lock(self._conn, query, outbox)).mappings().all()
        return [(rows.event_from_row(row), row["outbox_attempts"]) for row in found]

    def done(self, event_ids: Collection[str]) -> None:
        if event_ids:
            self._conn.execute(delete(outbox).where(one_of(self._conn, outbox.c.event_id, event_ids)))

    def postpone(self, event_id: str, until: datetime, error: str) -> None:
        self._conn.execute(update(outbox).where(outbox.c.event_id == event_id).values(
            available_at=until, attempts=outbox.c.attempts + 1, last_error=error[:2000]))

    def pending(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(outbox)).scalar_one())

    def event(self, event_id: str) -> StoredEvent | None:
        row = self._conn.execute(select(events).where(events.c.id == event_id)).mappings().first()
        return rows.event_from_row(row) if row else None


_MESSAGE_FIELDS = [f.name for f in fields(Message)]


def _message(row: Any) -> Message:
    values = {name: row[name] for name in _MESSAGE_FIELDS}
    values["status"] = MessageStatus(values["status"])
    return Message(**values)


class SqlMessages:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, message: Message) -> bool:
        """Insert; False (and nothing written) when a message with its dedupe key exists already."""
        values = {name: getattr(message, name) for name in _MESSAGE_FIELDS}
        values["status"] = message.status.value
        return execute_guarded(self._conn, insert(messages).values(values)) is None

    def existing_keys(self, keys: Collection[str]) -> set[str]:
        if not keys:
            return set()
        query = select(messages.c.dedupe_key).where(one_of(self._conn, messages.c.dedupe_key, keys))
        return set(self._conn.execute(query).scalars())

    def claim_due(self, now: datetime, lease_until: datetime, *, limit: int) -> list[Message]:
        query = (select(messages).where(messages.c.next_attempt_at <= now,
                                        messages.c.status == MessageStatus.PENDING.value)
                 .order_by(messages.c.next_attempt_at, messages.c.id).limit(limit))
        claimed = [_message(row) for row in self._conn.execute(_lock(self._conn, query)).mappings()]
        if claimed:
            self._conn.execute(update(messages).where(one_of(self._conn, messages.c.id, [m.id for m in claimed]))
                               .values(next_attempt_at=lease_until))
        return claimed

    def save(self, message: Message) -> None:
        self._conn.execute(update(messages).where(messages.c.id == message.id).values(
            status=message.status.value, attempts=message.attempts, next_attempt_at=message.next_attempt_at,
            last_error=message.last_error, sent_at=message.sent_at))

    def get(self, ref: str) -> Message:
        """By id, or by a unique prefix of the id of at least 8 characters."""
        row = self._conn.execute(select(messages).where(messages.c.id == ref)).mappings().first()
        if row is None and len(ref) >= 8:
            found = self._conn.execute(select(messages).where(messages.c.id.startswith(ref, autoescape=True))
                                       .limit(2)).mappings().all()
            row = found[0] if len(found) == 1 else None
        if row is None:
            raise MessageNotFound(f"no message {ref!r}: see `aboguard messages list`")
        return _message(row)

    def list(self, *, customer_id: str | None = None, status: str | None = None, template: str | None = None,
             event_id: str | None = None, limit: int = 100, offset: int = 0) -> list[Message]:
        query = select(messages)
        for column, value in ((messages.c.customer_id, customer_id), (messages.c.status, status),
                              (messages.c.template, template), (messages.c.event_id, event_id)):
            if value is not None:
                query = query.where(column == value)
        query = query.order_by(messages.c.created_at, messages.c.id).limit(limit).offset(offset)
        return [_message(row) for row in self._conn.execute(query).mappings()]

    def add_attempt(self, attempt: DeliveryAttempt) -> None:
        self._conn.execute(insert(delivery_attempts).values(
            {f.name: getattr(attempt, f.name) for f in fields(DeliveryAttempt)}))

    def attempts(self, *, message_id: str | None = None, delivery_id: str | None = None) -> list[DeliveryAttempt]:
        query = select(delivery_attempts)
        if message_id is not None:
            query = query.where(delivery_attempts.c.message_id == message_id)
        if delivery_id is not None:
            query = query.where(delivery_attempts.c.delivery_id == delivery_id)
        query = query.order_by(delivery_attempts.c.attempted_at, delivery_attempts.c.id)
        return [DeliveryAttempt(**{f.name: row[f.name] for f in fields(DeliveryAttempt)})
                for row in self._conn.execute(query).mappings()]


_DELIVERY_FIELDS = [f.name for f in fields(WebhookDelivery)]


def _delivery(row: Any) -> WebhookDelivery:
    values = {name: row[name] for name in _DELIVERY_FIELDS}
    values["status"] = DeliveryStatus(values["status"])
    return WebhookDelivery(**values)


class SqlWebhooks:
    def __init__(self, connection: Connection, secrets: SecretBox | None = None) -> None:
        self._conn = connection
        self._secrets = secrets

    def _box(self) -> SecretBox:
        if self._secrets is None:
            raise SecretsUnavailable("no secret key is configured: webhook signing secrets are stored encrypted")
        return self._secrets

    def _endpoint(self, row: Any, *, decrypt: bool) -> WebhookEndpoint:
        return WebhookEndpoint(
            id=row["id"], url=row["url"], secret=self._box().decrypt(row["secret_enc"]) if decrypt else "",
            event_types=tuple(t for t in row["event_types"].split(",") if t), description=row["description"],
            status=EndpointStatus(row["status"]), consecutive_failures=row["consecutive_failures"],
            created_at=row["created_at"], failing_since=row["failing_since"], disabled_at=row["disabled_at"],
            disabled_reason=row["disabled_reason"], removed_at=row["removed_at"])

    def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        self._conn.execute(insert(webhook_endpoints).values(
            id=endpoint.id, url=endpoint.url, secret_enc=self._box().encrypt(endpoint.secret),
            event_types=",".join(endpoint.event_types), description=endpoint.description,
            status=endpoint.status.value, consecutive_failures=endpoint.consecutive_failures,
            failing_since=endpoint.failing_since, disabled_at=endpoint.disabled_at,
            disabled_reason=endpoint.disabled_reason, created_at=endpoint.created_at, removed_at=endpoint.removed_at))

    def save_endpoint(self, endpoint: WebhookEndpoint) -> None:
        self._conn.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint.id).values(
            status=endpoint.status.value, consecutive_failures=endpoint.consecutive_failures,
            failing_since=endpoint.failing_since, disabled_at=endpoint.disabled_at,
            disabled_reason=endpoint.disabled_reason, removed_at=endpoint.removed_at))

    def get_endpoint(self, endpoint_id: str, *, decrypt: bool = False, lock: bool = False) -> WebhookEndpoint:
        query = select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
        if lock and self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self._conn.execute(query).mappings().first()
        if row is None:
            raise WebhookNotFound(f"no webhook endpoint {endpoint_id!r}: see `aboguard webhooks list`")
        return self._endpoint(row, decrypt=decrypt)

    def endpoints(self, *, statuses: Collection[EndpointStatus] | None = None) -> list[WebhookEndpoint]:
        query = select(webhook_endpoints).order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
        if statuses is not None:
            query = query.where(webhook_endpoints.c.status.in_([s.value for s in statuses]))
        return [self._endpoint(row, decrypt=False) for row in self._conn.execute(query).mappings()]

    def add_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> None:
        for delivery in deliveries:
            values = {name: getattr(delivery, name) for name in _DELIVERY_FIELDS}
            values["status"] = delivery.status.value
            execute_guarded(self._conn, insert(webhook_deliveries).values(values))  # a repeat is a no-op

    def next_seq(self, endpoint_id: str, event_id: str) -> int:
        latest = self._conn.execute(select(func.max(webhook_deliveries.c.seq)).where(
            webhook_deliveries.c.endpoint_id == endpoint_id, webhook_deliveries.c.event_id == event_id)).scalar()
        return 0 if latest is None else latest + 1

    def get_delivery(self, delivery_id: str) -> WebhookDelivery | None:
        row = self._conn.execute(select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
                                 ).mappings().first()
        return _delivery(row) if row else None

    def deliveries(self, *, endpoint_id: str | None = None, event_id: str | None = None, status: str | None = None,
                   limit: int = 100) -> list[WebhookDelivery]:
        query = select(webhook_deliveries)
        for column, value in ((webhook_deliveries.c.endpoint_id, endpoint_id),
                              (webhook_deliveries.c.event_id, event_id), (webhook_deliveries.c.status, status)):
            if value is not None:
                query = query.where(column == value)
        query = query.order_by(webhook_deliveries.c.created_at, webhook_deliveries.c.id).limit(limit)
        return [_delivery(row) for row in self._conn.execute(query).mappings()]

    def claim_due(self, now: datetime, lease_until: datetime, *, limit: int) -> list[WebhookDelivery]:
        """Due deliveries to enabled endpoints, oldest first, leased until ``lease_until``."""
        query = (select(webhook_deliveries)
                 .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
                 .where(webhook_deliveries.c.next_attempt_at <= now,
                        webhook_deliveries.c.status == DeliveryStatus.PENDING.value,
                        webhook_endpoints.c.status == EndpointStatus.ENABLED.value)
                 .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id).limit(limit))
        claimed = [_delivery(row) for row in
                   self._conn.execute(_lock(self._conn, query, webhook_deliveries)).mappings()]
        if claimed:
            self._conn.execute(update(webhook_deliveries).where(
                one_of(self._conn, webhook_deliveries.c.id, [d.id for d in claimed])
            ).values(next_attempt_at=lease_until))
        return claimed

    def save_delivery(self, delivery: WebhookDelivery) -> None:
        self._conn.execute(update(webhook_deliveries).where(webhook_deliveries.c.id == delivery.id).values(
            status=delivery.status.value, attempts=delivery.attempts, next_attempt_at=delivery.next_attempt_at,
            last_status_code=delivery.last_status_code, last_error=delivery.last_error,
            delivered_at=delivery.delivered_at))


_LIVE = ("trialing", "active", "past_due", "canceled")


class SqlNotices:
    """Indexed look-ups for notices that no event announces: charges, renewals and term ends coming up,
    cards about to expire; and the per-plan reminder lead time."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def _query(self, column: Any, start: date, end: date, limit: int, after: tuple[date, str] | None) -> Any:
        query = (select(subscriptions.c.id, subscriptions.c.customer_id, subscriptions.c.status,
                        subscriptions.c.billing_anchor, subscriptions.c.next_bill_on, subscriptions.c.ends_on,
                        subscriptions.c.min_term_end_on, plans.c.id.label("plan_id"), plans.c.name.label("plan_name"),
                        plan_versions.c.amount_minor, plan_versions.c.currency, plan_versions.c.tax_inclusive,
                        plan_versions.c.interval_unit, plan_versions.c.interval_count, plan_versions.c.notice_days,
                        plan_versions.c.renewal, plan_versions.c.renewal_term_months,
                        plan_versions.c.min_term_months, column.label("on"))
                 .join(plan_versions, plan_versions.c.id == subscriptions.c.plan_version_id)
                 .join(plans, plans.c.id == plan_versions.c.plan_id)
                 .where(column >= start, column <= end, subscriptions.c.status.in_(_LIVE))
                 .order_by(column, subscriptions.c.id).limit(limit))
        if after is not None:
            query = query.where(tuple_(column, subscriptions.c.id) > tuple_(*after))
        return query

    def upcoming(self, kind: str, start: date, end: date, *, limit: int = 1000,
                 after: tuple[date, str] | None = None) -> list[UpcomingDate]:
        """Subscriptions with their next charge (``kind="charge"``; ``"renewal"``: only yearly plans), by the
        ``next_bill_on`` index, or the end of their minimum term (``"min_term"``) between ``start`` and ``end``,
        in (date, id) order after ``after``."""
        column = subscriptions.c.min_term_end_on if kind == "min_term" else subscriptions.c.next_bill_on
        query = self._query(column, start, end, limit, after)
        if kind == "renewal":
            query = query.where(plan_versions.c.interval_unit == "year")
        return [UpcomingDate(**{k: row[k] for k in UpcomingDate.__dataclass_fields__})
                for row in self._conn.execute(query).mappings()]

    def expiring_cards(self, months: Collection[tuple[int, int]]) -> list[ExpiringCard]:
        """Default, active cards whose expiry (year, month) is one of ``months`` (the exp index)."""
        if not months:
            return []
        query = select(payment_methods.c.id, payment_methods.c.customer_id, payment_methods.c.brand,
                       payment_methods.c.last4, payment_methods.c.exp_year, payment_methods.c.exp_month).where(
            or_(*[and_(payment_methods.c.exp_year == y, payment_methods.c.exp_month == m) for y, m in months]),
            payment_methods.c.kind == "card", payment_methods.c.status == "active",
            payment_methods.c.is_default.is_(True)).order_by(payment_methods.c.id)
        return [ExpiringCard(**dict(row)) for row in self._conn.execute(query).mappings()]

    def reminder_days(self) -> dict[str, int]:
        return {row.plan_id: row.reminder_days for row in self._conn.execute(select(plan_notice_settings))}

    def set_reminder_days(self, plan_id: str, days: int, now: datetime) -> None:
        changed = self._conn.execute(update(plan_notice_settings).where(plan_notice_settings.c.plan_id == plan_id)
                                     .values(reminder_days=days, updated_at=now)).rowcount
        if not changed:
            self._conn.execute(insert(plan_notice_settings).values(plan_id=plan_id, reminder_days=days,
                                                                   updated_at=now))


__all__ = ["SqlMessages", "SqlNotices", "SqlOutbox", "SqlWebhooks"]
