"""Refunds: payouts to customers, each tied to a credit note and (through a gateway) to the payment refunded.

Revision ID: 0005_refunds
Revises: 0004_payments
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_refunds"
down_revision: str | None = "0004_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
ENUM = sa.String(32)


def _at(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "refunds",
        sa.Column("id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("credit_note_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("channel", ENUM, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(160), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.Column("attempt_id", ID, nullable=True),
        sa.Column("gateway", sa.String(64), nullable=True),
        sa.Column("provider_payment_id", sa.String(128), nullable=True),
        sa.Column("provider_refund_id", sa.String(128), nullable=True),
        sa.Column("failure_code", sa.String(64), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("retry_of", ID, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_refunds"),
        sa.UniqueConstraint("idempotency_key", name="uq_refunds_idempotency_key"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name="fk_refunds_invoice_id_invoices"),
        sa.ForeignKeyConstraint(["credit_note_id"], ["invoices.id"], name="fk_refunds_credit_note_id_invoices"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_refunds_customer_id_customers"),
        sa.ForeignKeyConstraint(["attempt_id"], ["payment_attempts.id"],
                                name="fk_refunds_attempt_id_payment_attempts"),
    )
    op.create_index("ix_refunds_invoice_id", "refunds", ["invoice_id"])
    op.create_index("ix_refunds_status_created_at", "refunds", ["status", "created_at"])
    op.create_index("ix_refunds_gateway_provider_refund_id", "refunds", ["gateway", "provider_refund_id"])


def downgrade() -> None:
    op.drop_table("refunds")
