"""`aboguard notify|messages|webhooks` end to end, on SQLite and PostgreSQL (emails as .eml files)."""

from __future__ import annotations

from pathlib import Path

from .test_cli import cli, sandbox  # noqa: F401  (fixtures)


def test_messages_and_webhooks_from_the_command_line(sandbox, tmp_path: Path) -> None:  # noqa: F811
    sandbox("plans", "create", "--code", "basic", "--name", "Basic", "--amount", "9,99", "--currency", "EUR",
            "--interval", "month", "--trial-days", "14")
    customer = sandbox("customers", "create", "--email", "anna@example.de", "--name", "Anna Schäfer",
                       "--country", "DE", "--locale", "de", "--json")
    sandbox("payment-methods", "add", "--customer", customer["id"], "--card-token", "tok_visa", "--brand", "visa",
            "--last4", "4242", "--exp", "12/2030")
    sandbox("subscriptions", "create", "--customer", customer["id"], "--plan", "basic")
    endpoint = sandbox("webhooks", "add", "http://127.0.0.1:9/hooks", "--events", "subscription.*", "--json")
    assert endpoint["secret"].startswith("whsec_") and endpoint["event_types"] == ["subscription.*"]
    assert sandbox("webhooks", "list", "--json")[0]["status"] == "enabled"
    assert "unknown template 'nope'" in sandbox("messages", "preview", "nope", expect=2)
    assert "is not an event type" in sandbox("webhooks", "add", "http://x.example/h", "--events", "a*b", expect=2)
    assert "absolute http:// or https:// URL" in sandbox("webhooks", "add", "ftp://x", expect=2)
    preview = sandbox("messages", "preview", "payment_failed", "--locale", "de")
    assert "Jürgen Müller" in preview and "1.234,56\xa0€" in preview
    assert "<a href=" in sandbox("messages", "preview", "payment_failed", "--locale", "en", "--html")

    sandbox("notify", "reminder-days", "basic", "--days", "3")
    sandbox("clock", "advance", "--days", "11")
    ticked = sandbox("tick", "--json")
    assert ticked["notify"]["created"] == {"payment_reminder": 1} and ticked["notify"]["sent"] == 1
    assert ticked["notify"]["webhook_failures"] == 1  # nobody listens on port 9: retried later
    listed = sandbox("messages", "list", "--json")
    assert [(m["template"], m["status"], m["recipient"]) for m in listed] == [
        ("payment_reminder", "sent", "anna@example.de")]
    shown = sandbox("messages", "show", listed[0]["id"][:13], "--json")
    assert shown["subject"] == "Ihre nächste Zahlung für Basic am 14.02.2025" and shown["attempts"][0]["ok"]
    assert "Hallo Anna Schäfer" in sandbox("messages", "show", listed[0]["id"])
    emails = list((tmp_path / "data" / "outbox").rglob("*.eml"))
    assert len(emails) == 1
    assert "no message 'nope'" in sandbox("messages", "show", "nope", expect=2)

    deliveries = sandbox("webhooks", "deliveries", "--json")
    assert {d["event_type"] for d in deliveries} == {"subscription.created"}
    assert deliveries[0]["status"] == "pending" and "Connect" in deliveries[0]["attempts_log"][0]["error"]
    replayed = sandbox("webhooks", "replay", deliveries[0]["event_id"], "--json")
    assert replayed[0]["replay"] == 1
    assert "no webhook delivery or event" in sandbox("webhooks", "replay", "nope", expect=2)
    sandbox("webhooks", "remove", endpoint["id"])
    assert sandbox("webhooks", "list", "--json") == []
    assert "removed already" in sandbox("webhooks", "remove", endpoint["id"], expect=2)
