"""Payments: attempts with idempotency keys, applied gateway events, and the collection date of invoices.

Revision ID: 0004_payments
Revises: 0003_payment_methods
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_payments"
down_revision: str | None = "0003_payment_methods"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
ENUM = sa.String(32)


def _at(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("collect_on", sa.Date(), nullable=True))
    op.create_index("ix_invoices_collect_on_id", "invoices", ["collect_on", "id"])
    op.create_table(
        "payment_attempts",
        sa.Column("id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("method_kind", ENUM, nullable=False),
        sa.Column("payment_method_id", ID, nullable=True),
        sa.Column("gateway", sa.String(64), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.Column("provider_payment_id", sa.String(128), nullable=True),
        sa.Column("raw_code", sa.String(64), nullable=True),
        sa.Column("decline_code", sa.String(64), nullable=True),
        sa.Column("decline_class", ENUM, nullable=True),
        sa.Column("decline_message", sa.Text(), nullable=True),
        sa.Column("retry_allowed", sa.Boolean(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payment_attempts"),
        sa.UniqueConstraint("idempotency_key", name="uq_payment_attempts_idempotency_key"),
        sa.UniqueConstraint("invoice_id", "number", name="uq_payment_attempts_invoice_id_number"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name="fk_payment_attempts_invoice_id_invoices"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_payment_attempts_customer_id_customers"),
    )
    op.create_index("ix_payment_attempts_status_created_at", "payment_attempts", ["status", "created_at"])
    op.create_index("ix_payment_attempts_gateway_provider_payment_id", "payment_attempts",
                    ["gateway", "provider_payment_id"])
    op.create_index("ix_payment_attempts_customer_id", "payment_attempts", ["customer_id"])
    op.create_table(
        "gateway_events",
        sa.Column("gateway", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        _at("received_at"),
        sa.Column("attempt_id", ID, nullable=True),
        sa.PrimaryKeyConstraint("gateway", "event_id", name="pk_gateway_events"),
    )


def downgrade() -> None:
    op.drop_table("gateway_events")
    op.drop_table("payment_attempts")
    op.drop_index("ix_invoices_collect_on_id", table_name="invoices")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("collect_on")
