"""Customer communication: the outbox, messages, webhook endpoints and deliveries, the attempt log, per-plan
reminder lead times, and the indexes that find upcoming charges, minimum-term ends and expiring cards.

Revision ID: 0007_communication
Revises: 0006_dunning
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_communication"
down_revision: str | None = "0006_dunning"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
ENUM = sa.String(32)


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_index("ix_subscriptions_next_bill_on", "subscriptions", ["next_bill_on"])
    op.create_index("ix_subscriptions_min_term_end_on", "subscriptions", ["min_term_end_on"])
    op.create_index("ix_payment_methods_exp_year_exp_month", "payment_methods", ["exp_year", "exp_month"])
    op.create_table(
        "outbox",
        sa.Column("event_id", ID, nullable=False),
        _at("available_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_outbox"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name="fk_outbox_event_id_events"),
    )
    op.create_index("ix_outbox_available_at_event_id", "outbox", ["available_at", "event_id"])
    op.create_table(
        "messages",
        sa.Column("id", ID, nullable=False),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.Column("event_id", ID, nullable=True),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("next_attempt_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _at("created_at"),
        _at("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("dedupe_key", name="uq_messages_dedupe_key"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_messages_customer_id_customers"),
    )
    op.create_index("ix_messages_next_attempt_at_id", "messages", ["next_attempt_at", "id"])
    op.create_index("ix_messages_customer_id", "messages", ["customer_id"])
    op.create_index("ix_messages_event_id", "messages", ["event_id"])
    op.create_index("ix_messages_created_at_id", "messages", ["created_at", "id"])
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", ID, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        _at("failing_since", nullable=True),
        _at("disabled_at", nullable=True),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        _at("created_at"),
        _at("removed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", ID, nullable=False),
        sa.Column("endpoint_id", ID, nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("next_attempt_at", nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _at("created_at"),
        _at("delivered_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("endpoint_id", "event_id", "seq", name="uq_webhook_deliveries_endpoint_id_event_id_seq"),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoints.id"],
                                name="fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
    )
    op.create_index("ix_webhook_deliveries_next_attempt_at_id", "webhook_deliveries", ["next_attempt_at", "id"])
    op.create_index("ix_webhook_deliveries_event_id", "webhook_deliveries", ["event_id"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", ID, nullable=False),
        sa.Column("channel", ENUM, nullable=False),
        sa.Column("message_id", ID, nullable=True),
        sa.Column("delivery_id", ID, nullable=True),
        _at("attempted_at"),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_attempts"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name="fk_delivery_attempts_message_id_messages"),
        sa.ForeignKeyConstraint(["delivery_id"], ["webhook_deliveries.id"],
                                name="fk_delivery_attempts_delivery_id_webhook_deliveries"),
    )
    op.create_index("ix_delivery_attempts_message_id", "delivery_attempts", ["message_id"])
    op.create_index("ix_delivery_attempts_delivery_id", "delivery_attempts", ["delivery_id"])
    op.create_table(
        "plan_notice_settings",
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("reminder_days", sa.Integer(), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("plan_id", name="pk_plan_notice_settings"),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_plan_notice_settings_plan_id_plans"),
    )


def downgrade() -> None:
    op.drop_table("plan_notice_settings")
    op.drop_table("delivery_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
    op.drop_table("messages")
    op.drop_table("outbox")
    op.drop_index("ix_payment_methods_exp_year_exp_month", table_name="payment_methods")
    op.drop_index("ix_subscriptions_min_term_end_on", table_name="subscriptions")
    op.drop_index("ix_subscriptions_next_bill_on", table_name="subscriptions")
