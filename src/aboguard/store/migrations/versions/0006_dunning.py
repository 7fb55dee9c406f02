"""Recovery: retry decisions on attempts, dunning policies, cases, their timeline, and fees and interest.

Revision ID: 0006_dunning
Revises: 0005_refunds
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_dunning"
down_revision: str | None = "0005_refunds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
ENUM = sa.String(32)


def _at(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("payment_attempts") as batch:
        batch.add_column(sa.Column("retry_action", ENUM, nullable=True))
        batch.add_column(sa.Column("retry_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("retry_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("network_advice", sa.String(16), nullable=True))
    with op.batch_alter_table("gateway_events") as batch:
        batch.add_column(sa.Column("provider_payment_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("waiting", sa.JSON(), nullable=True))
    op.create_index("ix_gateway_events_gateway_provider_payment_id", "gateway_events",
                    ["gateway", "provider_payment_id"])
    op.create_table(
        "dunning_policies",
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("code", name="pk_dunning_policies"),
    )
    op.create_table(
        "dunning_cases",
        sa.Column("id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("policy_code", sa.String(64), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("steps_done", sa.Integer(), nullable=False),
        sa.Column("next_step_on", sa.Date(), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        sa.Column("default_since", sa.Date(), nullable=True),
        sa.Column("paused_until", sa.Date(), nullable=True),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dunning_cases"),
        sa.UniqueConstraint("invoice_id", name="uq_dunning_cases_invoice_id"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name="fk_dunning_cases_invoice_id_invoices"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_dunning_cases_customer_id_customers"),
    )
    op.create_index("ix_dunning_cases_next_step_on_id", "dunning_cases", ["next_step_on", "id"])
    op.create_index("ix_dunning_cases_customer_id", "dunning_cases", ["customer_id"])
    op.create_index("ix_dunning_cases_status", "dunning_cases", ["status"])
    op.create_table(
        "dunning_timeline",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", ENUM, nullable=False),
        sa.Column("happened_on", sa.Date(), nullable=False),
        _at("created_at"),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("channel", ENUM, nullable=True),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_dunning_timeline"),
        sa.UniqueConstraint("case_id", "seq", name="uq_dunning_timeline_case_id_seq"),
        sa.ForeignKeyConstraint(["case_id"], ["dunning_cases.id"], name="fk_dunning_timeline_case_id_dunning_cases"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name="fk_dunning_timeline_invoice_id_invoices"),
    )
    op.create_index("ix_dunning_timeline_invoice_id", "dunning_timeline", ["invoice_id"])
    op.create_table(
        "dunning_charges",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("waived_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("charged_on", sa.Date(), nullable=False),
        _at("created_at"),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dunning_charges"),
        sa.ForeignKeyConstraint(["case_id"], ["dunning_cases.id"], name="fk_dunning_charges_case_id_dunning_cases"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name="fk_dunning_charges_invoice_id_invoices"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name="fk_dunning_charges_customer_id_customers"),
    )
    op.create_index("ix_dunning_charges_invoice_id", "dunning_charges", ["invoice_id"])
    op.create_index("ix_dunning_charges_customer_id", "dunning_charges", ["customer_id"])


def downgrade() -> None:
    op.drop_table("dunning_charges")
    op.drop_table("dunning_timeline")
    op.drop_table("dunning_cases")
    op.drop_table("dunning_policies")
    op.drop_index("ix_gateway_events_gateway_provider_payment_id", table_name="gateway_events")
    with op.batch_alter_table("gateway_events") as batch:
        batch.drop_column("waiting")
        batch.drop_column("provider_payment_id")
    with op.batch_alter_table("payment_attempts") as batch:
        batch.drop_column("network_advice")
        batch.drop_column("retry_reason")
        batch.drop_column("retry_on")
        batch.drop_column("retry_action")
