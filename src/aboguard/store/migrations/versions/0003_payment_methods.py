"""Payment methods: cards, PayPal agreements, SEPA mandates and bank transfer, one default per customer.

Gateway tokens and IBANs are stored encrypted (``*_enc``, Fernet, see ``store.secrets``).

Revision ID: 0003_payment_methods
Revises: 0002_billing
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_payment_methods"
down_revision: str | None = "0002_billing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
ENUM = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "payment_methods",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("gateway_token_enc", sa.Text(), nullable=True),
        sa.Column("brand", ENUM, nullable=True),
        sa.Column("last4", sa.String(4), nullable=True),
        sa.Column("exp_month", sa.Integer(), nullable=True),
        sa.Column("exp_year", sa.Integer(), nullable=True),
        sa.Column("payer_email", sa.Text(), nullable=True),
        sa.Column("iban_enc", sa.Text(), nullable=True),
        sa.Column("iban_last4", sa.String(4), nullable=True),
        sa.Column("bic", sa.String(11), nullable=True),
        sa.Column("account_holder", sa.Text(), nullable=True),
        sa.Column("mandate_reference", sa.String(35), nullable=True),
        sa.Column("mandate_signed_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payment_methods"),
        sa.UniqueConstraint("mandate_reference", name="uq_payment_methods_mandate_reference"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name="fk_payment_methods_customer_id_customers"),
    )
    op.create_index("ix_payment_methods_customer_id", "payment_methods", ["customer_id"])
    op.create_index("ix_payment_methods_one_default", "payment_methods", ["customer_id"], unique=True,
                    sqlite_where=sa.text("is_default"), postgresql_where=sa.text("is_default"))


def downgrade() -> None:
    op.drop_index("ix_payment_methods_one_default", table_name="payment_methods")
    op.drop_index("ix_payment_methods_customer_id", table_name="payment_methods")
    op.drop_table("payment_methods")
