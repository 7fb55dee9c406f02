"""``aboguard notify run``, ``aboguard messages ...`` and ``aboguard webhooks ...``."""

from __future__ import annotations

from typing import Any

import typer

from aboguard.domain.notifications import DeliveryAttempt, Message, WebhookDelivery, WebhookEndpoint
from aboguard.services import messages as messages_service
from aboguard.services import notifications as service
from aboguard.services import webhooks as hooks
from aboguard.services.notifications import NotifyReport

from .context import context
from .render import JSON, emit_json, table

app = typer.Typer(help="The notify dispatcher: emails and webhooks from events and due dates.", no_args_is_help=True)
messages_app = typer.Typer(help="Emails to customers and the merchant: what was sent, when, and why.",
                           no_args_is_help=True)
webhooks_app = typer.Typer(help="Outgoing webhooks (Standard Webhooks): endpoints, deliveries, replay.",
                           no_args_is_help=True)


@app.command("run")
def run(json_out: bool = JSON) -> None:
    """Turn new events and due notices into emails and webhook deliveries, and send what is due."""
    report = service.run_notify(context())
    if json_out:
        emit_json(report_dict(report))
    else:
        typer.echo(report_summary(report))


@app.command("reminder-days")
def reminder_days(plan: str = typer.Argument(..., help="Plan code."),
                  days: int = typer.Option(..., "--days", help="Days before each charge; 0: no reminder."),
                  json_out: bool = JSON) -> None:
    """Set how many days before a charge a plan's subscribers get the payment reminder (default 3)."""
    messages_service.set_reminder_days(context(), plan, days)
    if json_out:
        emit_json({"plan": plan, "reminder_days": days})
    else:
        typer.echo(f"Subscribers of {plan} are reminded {days} days before each charge." if days
                   else f"Subscribers of {plan} get no payment reminder.")


def report_dict(report: NotifyReport) -> dict[str, Any]:
    return {"events": report.events, "created": report.created, "sent": report.sent,
            "failed_attempts": report.failed_attempts, "given_up": report.given_up,
            "deliveries_created": report.deliveries_created, "webhooks_sent": report.webhooks_sent,
            "webhook_failures": report.webhook_failures, "endpoints_disabled": report.endpoints_disabled,
            "problems": report.problems}


def report_summary(report: NotifyReport) -> str:
    made = ", ".join(f"{n} {template}" for template, n in sorted(report.created.items())) or "none"
    lines = [f"Notify: {report.events} events; messages made: {made}; {report.sent} sent, "
             f"{report.failed_attempts} to retry, {report.given_up} refused; webhooks: {report.webhooks_sent} "
             f"delivered, {report.webhook_failures} to retry."]
    lines += [f"  endpoint disabled after repeated failures: {url}" for url in report.endpoints_disabled]
    lines += [f"  {problem}" for problem in report.problems]
    return "\n".join(lines)


# -- messages --------------------------------------------------------------------------------------------


@messages_app.command("list")
def messages_list(customer: str | None = typer.Option(None, "--customer"),
                  status: str | None = typer.Option(None, "--status", help="pending, sent, failed"),
                  template: str | None = typer.Option(None, "--template"), limit: int = typer.Option(100, "--limit"),
                  json_out: bool = JSON) -> None:
    """Messages, oldest first."""
    found = messages_service.list_messages(context(), customer_id=customer, status=status, template=template,
                                           limit=limit)
    if json_out:
        emit_json([message_dict(m) for m in found])
        return
    typer.echo(table(["ID", "CREATED", "TEMPLATE", "TO", "STATUS", "TRIES", "SUBJECT"],
                     [[m.id, m.created_at.strftime("%Y-%m-%d %H:%M"), m.template, m.recipient, m.status.value,
                       m.attempts, m.subject] for m in found]) if found else "No messages yet.")


@messages_app.command("show")
def messages_show(message: str = typer.Argument(..., help="Message id (or its first 8+ characters)."),
                  html: bool = typer.Option(False, "--html", help="Print the HTML part instead of the text."),
                  json_out: bool = JSON) -> None:
    """One message with its text and every send attempt."""
    found, attempts = messages_service.get_message(context(), message)
    if json_out:
        emit_json({**message_dict(found), "text": found.text_body, "html": found.html_body,
                   "attempts": [attempt_dict(a) for a in attempts]})
        return
    lines = [f"Message {found.id}   {found.status.value} ({found.template}, {found.locale})",
             f"  To: {found.recipient}", f"  Subject: {found.subject}", f"  Message-ID: {found.message_id}"]
    if found.event_id:
        lines.append(f"  Event: {found.event_id}")
    lines += [f"  attempt {a.attempted_at:%Y-%m-%d %H:%M:%S}: {'ok' if a.ok else 'failed'}"
              + (f" ({a.error})" if a.error else "") + f", {a.duration_ms} ms" for a in attempts]
    if found.last_error and found.status.value == "pending":
        lines.append(f"  next attempt {found.next_attempt_at:%Y-%m-%d %H:%M}; last error: {found.last_error}")
    typer.echo("\n".join(lines) + "\n\n" + (found.html_body if html else found.text_body))


@messages_app.command("preview")
def messages_preview(template: str = typer.Argument(..., help="Template name, e.g. payment_failed."),
                     locale: str = typer.Option("de", "--locale", help="de or en"),
                     html: bool = typer.Option(False, "--html", help="Print the HTML part instead of the text."),
                     json_out: bool = JSON) -> None:
    """Render a template with sample data (nothing is stored or sent)."""
    rendered = messages_service.preview(context(), template, locale)
    if json_out:
        emit_json({"template": template, "locale": locale, "subject": rendered.subject, "text": rendered.text,
                   "html": rendered.html})
        return
    typer.echo(f"Subject: {rendered.subject}\n\n{rendered.html if html else rendered.text}")


def message_dict(m: Message) -> dict[str, Any]:
    return {"id": m.id, "template": m.template, "event_id": m.event_id, "customer_id": m.customer_id,
            "recipient": m.recipient, "locale": m.locale, "subject": m.subject, "status": m.status.value,
            "attempts": m.attempts, "next_attempt_at": m.next_attempt_at, "last_error": m.last_error,
            "message_id": m.message_id, "created_at": m.created_at, "sent_at": m.sent_at}


def attempt_dict(a: DeliveryAttempt) -> dict[str, Any]:
    return {"attempted_at": a.attempted_at, "ok": a.ok, "status_code": a.status_code, "error": a.error,
            "duration_ms": a.duration_ms}


# -- webhooks --------------------------------------------------------------------------------------------


@webhooks_app.command("add")
def webhooks_add(url: str = typer.Argument(..., help="https://... URL that receives POSTs."),
                 events: str | None = typer.Option(None, "--events",
                                                   help="Comma-separated event types or groups (payment.*); "
                                                        "default: all. See docs/webhooks.md."),
                 description: str = typer.Option("", "--description"), json_out: bool = JSON) -> None:
    """Add an endpoint. Its signing secret is printed once: keep it to verify deliveries."""
    endpoint = hooks.add_endpoint(context(), url, events=events, description=description)
    if json_out:
        emit_json({**endpoint_dict(endpoint), "secret": endpoint.secret})
        return
    typer.echo(f"Webhook endpoint {endpoint.id} added for {endpoint.url} ({', '.join(endpoint.event_types)}).\n"
               f"Signing secret (shown once): {endpoint.secret}")


@webhooks_app.command("list")
def webhooks_list(all_: bool = typer.Option(False, "--all", help="Include removed endpoints."),
                  json_out: bool = JSON) -> None:
    """Endpoints with their filters and health."""
    found = hooks.list_endpoints(context(), include_removed=all_)
    if json_out:
        emit_json([endpoint_dict(e) for e in found])
        return
    typer.echo(table(["ID", "URL", "EVENTS", "STATUS", "FAILURES IN A ROW"],
                     [[e.id, e.url, ",".join(e.event_types), e.status.value, e.consecutive_failures] for e in found])
               if found else "No webhook endpoints yet: add one with `aboguard webhooks add URL`.")


@webhooks_app.command("remove")
def webhooks_remove(endpoint: str = typer.Argument(..., help="Endpoint id."), json_out: bool = JSON) -> None:
    """Stop sending to an endpoint (its delivery log stays)."""
    removed = hooks.remove_endpoint(context(), endpoint)
    if json_out:
        emit_json(endpoint_dict(removed))
    else:
        typer.echo(f"Webhook endpoint {removed.id} ({removed.url}) removed.")


@webhooks_app.command("enable")
def webhooks_enable(endpoint: str = typer.Argument(..., help="Endpoint id."), json_out: bool = JSON) -> None:
    """Turn a disabled endpoint back on; deliveries that waited go out on the next `notify run`."""
    enabled = hooks.enable_endpoint(context(), endpoint)
    if json_out:
        emit_json(endpoint_dict(enabled))
    else:
        typer.echo(f"Webhook endpoint {enabled.id} ({enabled.url}) enabled.")


@webhooks_app.command("deliveries")
def webhooks_deliveries(endpoint: str | None = typer.Option(None, "--endpoint"),
                        event: str | None = typer.Option(None, "--event"),
                        status: str | None = typer.Option(None, "--status", help="pending, succeeded, failed"),
                        limit: int = typer.Option(100, "--limit"), json_out: bool = JSON) -> None:
    """The delivery log: every delivery with its attempts (status code, error, duration)."""
    found = hooks.list_deliveries(context(), endpoint_id=endpoint, event_id=event, status=status, limit=limit)
    if json_out:
        emit_json([{**delivery_dict(d), "attempts_log": [attempt_dict(a) for a in attempts]}
                   for d, attempts in found])
        return
    typer.echo(table(["ID", "EVENT", "TYPE", "ENDPOINT", "STATUS", "TRIES", "LAST"],
                     [[d.id, d.event_id, d.event_type, d.endpoint_id, d.status.value + (f" (replay {d.seq})"
                                                                                       if d.seq else ""),
                       d.attempts, d.last_error or (d.last_status_code or "")] for d, _ in found])
               if found else "No webhook deliveries yet.")


@webhooks_app.command("replay")
def webhooks_replay(ref: str = typer.Argument(..., help="A delivery id, or an event id (to every endpoint)."),
                    json_out: bool = JSON) -> None:
    """Send a delivery, or an event, again (same webhook-id, so receivers can tell)."""
    made = hooks.replay(context(), ref)
    if json_out:
        emit_json([delivery_dict(d) for d in made])
    else:
        typer.echo(f"{len(made)} deliveries queued; they go out with the next `aboguard notify run` (or tick).")


def endpoint_dict(e: WebhookEndpoint) -> dict[str, Any]:
    return {"id": e.id, "url": e.url, "event_types": list(e.event_types), "description": e.description,
            "status": e.status.value, "consecutive_failures": e.consecutive_failures,
            "failing_since": e.failing_since, "disabled_at": e.disabled_at, "disabled_reason": e.disabled_reason,
            "created_at": e.created_at}


def delivery_dict(d: WebhookDelivery) -> dict[str, Any]:
    return {"id": d.id, "endpoint_id": d.endpoint_id, "event_id": d.event_id, "event_type": d.event_type,
            "replay": d.seq, "status": d.status.value, "attempts": d.attempts, "next_attempt_at": d.next_attempt_at,
            "last_status_code": d.last_status_code, "last_error": d.last_error, "created_at": d.created_at,
            "delivered_at": d.delivered_at}
