"""Outgoing webhooks: endpoints with event filters, signed deliveries with retries, disabling, replay.

Deliveries follow the Standard Webhooks specification: ``webhook-id`` is the event id (the same on every
retry and replay, so receivers deduplicate by it), ``webhook-timestamp`` the attempt's time, and
``webhook-signature`` ``v1,<base64 HMAC-SHA256>`` with the endpoint's ``whsec_`` secret. A failed attempt
is retried on the schedule in :data:`aboguard.domain.notifications.WEBHOOK_SCHEDULE`; an endpoint that keeps
failing is disabled and the merchant is told (a ``webhook_endpoint.disabled`` event, which becomes an email
to ABOGUARD_MERCHANT_EMAIL and a webhook to the other endpoints). Deliveries for a disabled endpoint wait
and go out once it is enabled again.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from aboguard.domain import notifications as rules
from aboguard.domain.notifications import (
    DeliveryAttempt,
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookNotFound,
)
from aboguard.errors import InvalidInput
from aboguard.notify import signing
from aboguard.store.uow import StoredEvent, UnitOfWork

from .context import ServiceContext

if TYPE_CHECKING:
    from .notifications import NotifyReport

LEASE_SECONDS = 300


def add_endpoint(ctx: ServiceContext, url: str, *, events: str | None = None, description: str = ""
                 ) -> WebhookEndpoint:
    """A new endpoint with a fresh signing secret (returned once; it is stored encrypted)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidInput(f"webhook URL {url!r} must be an absolute http:// or https:// URL such as "
                           "https://example.com/hooks/aboguard")
    endpoint = WebhookEndpoint(id=ctx.new_id(), url=url.strip(), secret=signing.new_secret(),
                               event_types=rules.parse_event_filters(events), description=description.strip(),
                               status=EndpointStatus.ENABLED, consecutive_failures=0, created_at=ctx.now())
    with ctx.uow() as uow:
        uow.webhooks.add_endpoint(endpoint)
        uow.commit()
    return endpoint


def list_endpoints(ctx: ServiceContext, *, include_removed: bool = False) -> list[WebhookEndpoint]:
    with ctx.uow() as uow:
        statuses = None if include_removed else {EndpointStatus.ENABLED, EndpointStatus.DISABLED}
        return uow.webhooks.endpoints(statuses=statuses)


def remove_endpoint(ctx: ServiceContext, endpoint_id: str) -> WebhookEndpoint:
    """Stop sending to it (its log stays); waiting deliveries are not sent."""
    with ctx.uow() as uow:
        endpoint = uow.webhooks.get_endpoint(endpoint_id)
        if endpoint.status is EndpointStatus.REMOVED:
            raise WebhookNotFound(f"webhook endpoint {endpoint_id} was removed already")
        removed = replace(endpoint, status=EndpointStatus.REMOVED, removed_at=ctx.now())
        uow.webhooks.save_endpoint(removed)
        uow.commit()
    return removed


def enable_endpoint(ctx: ServiceContext, endpoint_id: str) -> WebhookEndpoint:
    """Turn a disabled endpoint back on; the deliveries that waited go out on the next run."""
    with ctx.uow() as uow:
        endpoint = uow.webhooks.get_endpoint(endpoint_id)
        if endpoint.status is EndpointStatus.REMOVED:
            raise InvalidInput(f"webhook endpoint {endpoint_id} was removed; add it again with `aboguard webhooks add`")
        enabled = replace(endpoint, status=EndpointStatus.ENABLED, consecutive_failures=0, failing_since=None,
                          disabled_at=None, disabled_reason=None)
        uow.webhooks.save_endpoint(enabled)
        uow.commit()
    return enabled


def list_deliveries(ctx: ServiceContext, *, endpoint_id: str | None = None, event_id: str | None = None,
                    status: str | None = None, limit: int = 100
                    ) -> list[tuple[WebhookDelivery, list[DeliveryAttempt]]]:
    """The delivery log: each delivery with its attempts (status code, error, duration)."""
    if status is not None and status not in {s.value for s in DeliveryStatus}:
        raise InvalidInput(f"unknown delivery status {status!r}: use one of "
                           + ", ".join(s.value for s in DeliveryStatus))
    with ctx.uow() as uow:
        found = uow.webhooks.deliveries(endpoint_id=endpoint_id, event_id=event_id, status=status, limit=limit)
        return [(d, uow.messages.attempts(delivery_id=d.id)) for d in found]


def replay(ctx: ServiceContext, ref: str) -> list[WebhookDelivery]:
    """Send again: one delivery (by its id) to its endpoint, or one event (by its id) to every endpoint that
    takes it. A replay is a new delivery with the same ``webhook-id`` (the event id)."""
    with ctx.uow() as uow:
        original = uow.webhooks.get_delivery(ref)
        if original is not None:
            endpoint = uow.webhooks.get_endpoint(original.endpoint_id)
            if endpoint.status is EndpointStatus.REMOVED:
                raise InvalidInput(f"webhook endpoint {endpoint.id} was removed; nothing is sent to it any more")
            made = [_new_delivery(ctx, uow, endpoint.id, original.event_id, original.event_type, original.body)]
        else:
            event = uow.outbox.event(ref)
            if event is None:
                raise WebhookNotFound(f"no webhook delivery or event {ref!r}: see `aboguard webhooks deliveries`")
            endpoints = [e for e in receiving_endpoints(uow) if rules.matches(e.event_types, event.name)]
            if not endpoints:
                raise InvalidInput(f"no webhook endpoint takes {event.name} events; add one with "
                                   "`aboguard webhooks add URL --events ...`")
            body = _body(event)
            made = [_new_delivery(ctx, uow, e.id, event.id, event.name, body) for e in endpoints]
        uow.webhooks.add_deliveries(made)
        uow.commit()
    return made


def receiving_endpoints(uow: UnitOfWork) -> list[WebhookEndpoint]:
    """Endpoints that get deliveries: enabled ones, and disabled ones (sent once they are enabled again)."""
    return uow.webhooks.endpoints(statuses={EndpointStatus.ENABLED, EndpointStatus.DISABLED})


def deliveries_for(ctx: ServiceContext, endpoints: list[WebhookEndpoint], event: StoredEvent) -> list[WebhookDelivery]:
    wanted = [e for e in endpoints if rules.matches(e.event_types, event.name)]
    if not wanted:
        return []
    body = _body(event)
    return [WebhookDelivery(id=ctx.new_id(), endpoint_id=e.id, event_id=event.id, event_type=event.name, seq=0,
                            body=body, status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=ctx.now(),
                            created_at=ctx.now()) for e in wanted]


def _body(event: StoredEvent) -> str:
    return rules.webhook_body(event_id=event.id, name=event.name, occurred_at=event.occurred_at,
                              aggregate_type=event.aggregate_type, aggregate_id=event.aggregate_id,
                              payload=event.payload)


def _new_delivery(ctx: ServiceContext, uow: UnitOfWork, endpoint_id: str, event_id: str, event_type: str,
                  body: str) -> WebhookDelivery:
    return WebhookDelivery(id=ctx.new_id(), endpoint_id=endpoint_id, event_id=event_id, event_type=event_type,
                           seq=uow.webhooks.next_seq(endpoint_id, event_id), body=body, status=DeliveryStatus.PENDING,
                           attempts=0, next_attempt_at=ctx.now(), created_at=ctx.now())


# -- sending ---------------------------------------------------------------------------------------------


def send_due(ctx: ServiceContext, report: NotifyReport, *, batch_size: int = 100) -> None:
    notifier = ctx.require_notifier()
    while True:
        now = ctx.now()
        with ctx.uow() as uow:
            claimed = uow.webhooks.claim_due(now, now + timedelta(seconds=LEASE_SECONDS), limit=batch_size)
            endpoints = {i: uow.webhooks.get_endpoint(i, decrypt=True) for i in {d.endpoint_id for d in claimed}}
            uow.commit()
        for delivery in claimed:
            endpoint = endpoints[delivery.endpoint_id]
            if endpoint.url in report.endpoints_disabled:
                continue  # disabled during this run: the rest waits (its lease runs out, then it is due again)
            started = time.monotonic()
            result = notifier.webhooks.deliver(endpoint.url, endpoint.secret, delivery.event_id, ctx.now(),
                                               delivery.body)
            duration = int((time.monotonic() - started) * 1000)
            _record(ctx, delivery, result.ok, result.status_code, result.error, duration, report)
        if len(claimed) < batch_size:
            return


def _record(ctx: ServiceContext, delivery: WebhookDelivery, ok: bool, status_code: int | None, error: str | None,
            duration: int, report: NotifyReport) -> None:
    notifier = ctx.require_notifier()
    now = ctx.now()
    with ctx.uow() as uow:
        endpoint = uow.webhooks.get_endpoint(delivery.endpoint_id, lock=True)
        attempts = delivery.attempts + 1
        uow.messages.add_attempt(DeliveryAttempt(id=ctx.new_id(), channel="webhook", attempted_at=now, ok=ok,
                                                 duration_ms=duration, delivery_id=delivery.id,
                                                 status_code=status_code, error=error))
        if ok:
            uow.webhooks.save_delivery(replace(delivery, status=DeliveryStatus.SUCCEEDED, attempts=attempts,
                                               next_attempt_at=None, delivered_at=now, last_status_code=status_code,
                                               last_error=None))
            if endpoint.consecutive_failures:
                uow.webhooks.save_endpoint(replace(endpoint, consecutive_failures=0, failing_since=None))
            report.webhooks_sent += 1
        else:
            wait = rules.webhook_backoff(attempts)
            uow.webhooks.save_delivery(replace(
                delivery, status=DeliveryStatus.PENDING if wait else DeliveryStatus.FAILED, attempts=attempts,
                next_attempt_at=now + wait if wait else None, last_status_code=status_code, last_error=error))
            report.webhook_failures += 1
            endpoint = replace(endpoint, consecutive_failures=endpoint.consecutive_failures + 1,
                               failing_since=endpoint.failing_since or now)
            s = notifier.settings
            if endpoint.status is EndpointStatus.ENABLED and rules.should_disable(
                    endpoint.consecutive_failures, endpoint.failing_since, now,
                    after_failures=s.webhook_disable_after, after_days=s.webhook_disable_days):
                reason = f"{endpoint.consecutive_failures} failed attempts in a row; last: {error}"
                endpoint = replace(endpoint, status=EndpointStatus.DISABLED, disabled_at=now, disabled_reason=reason)
                uow.events.add([rules.WebhookEndpointDisabled(
                    endpoint.id, endpoint.url, endpoint.consecutive_failures,
                    endpoint.failing_since.isoformat() if endpoint.failing_since else None, error or "")], now)
                report.endpoints_disabled.append(endpoint.url)
            uow.webhooks.save_endpoint(endpoint)
        uow.commit()


__all__ = ["add_endpoint", "deliveries_for", "enable_endpoint", "list_deliveries", "list_endpoints",
           "receiving_endpoints", "remove_endpoint", "replay", "send_due"]
