"""Foundation: catalog, customers, subscriptions, events and installation settings.

Revision ID: 0001_foundation
Revises:
Create Date: 2025-01-31
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_foundation"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
ENUM = sa.String(32)
CODE = sa.String(64)


def _at(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", CODE, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_products"),
        sa.UniqueConstraint("code", name="uq_products_code"),
    )
    op.create_table(
        "plans",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", CODE, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("product_id", ID, nullable=False),
        sa.Column("audience", ENUM, nullable=False),
        sa.Column("current_version_id", ID, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_plans"),
        sa.UniqueConstraint("code", name="uq_plans_code"),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name="fk_plans_product_id_products"),
    )
    op.create_table(
        "plan_versions",
        sa.Column("id", ID, nullable=False),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("interval_unit", ENUM, nullable=False),
        sa.Column("interval_count", sa.Integer(), nullable=False),
        sa.Column("trial_days", sa.Integer(), nullable=False),
        sa.Column("setup_fee_minor", sa.BigInteger(), nullable=True),
        sa.Column("tax_category", ENUM, nullable=False),
        sa.Column("tax_inclusive", sa.Boolean(), nullable=False),
        sa.Column("min_term_months", sa.Integer(), nullable=False),
        sa.Column("notice_days", sa.Integer(), nullable=False),
        sa.Column("renewal", ENUM, nullable=False),
        sa.Column("renewal_term_months", sa.Integer(), nullable=False),
        sa.Column("payment_methods", sa.Text(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_plan_versions"),
        sa.UniqueConstraint("plan_id", "number", name="uq_plan_versions_plan_id_number"),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_plan_versions_plan_id_plans"),
    )
    op.create_table(
        "customers",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("country", sa.CHAR(2), nullable=False),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("vat_id", sa.String(32), nullable=True),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("address_line1", sa.Text(), nullable=False),
        sa.Column("address_line2", sa.Text(), nullable=False),
        sa.Column("address_postal_code", sa.String(32), nullable=False),
        sa.Column("address_city", sa.Text(), nullable=False),
        sa.Column("external_ref", sa.String(255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("external_ref", name="uq_customers_external_ref"),
    )
    op.create_index("ix_customers_email", "customers", ["email"])
    op.create_index("ix_customers_created_at_id", "customers", ["created_at", "id"])
    op.create_table(
        "subscriptions",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("plan_version_id", ID, nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("consumer", sa.Boolean(), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("billing_anchor", sa.Date(), nullable=False),
        sa.Column("next_bill_on", sa.Date(), nullable=True),
        sa.Column("trial_end_on", sa.Date(), nullable=True),
        sa.Column("min_term_end_on", sa.Date(), nullable=True),
        sa.Column("canceled_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("paused_on", sa.Date(), nullable=True),
        sa.Column("pending_plan_version_id", ID, nullable=True),
        sa.Column("pending_change_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_subscriptions_customer_id_customers"),
        sa.ForeignKeyConstraint(["plan_version_id"], ["plan_versions.id"],
                                name="fk_subscriptions_plan_version_id_plan_versions"),
        sa.ForeignKeyConstraint(["pending_plan_version_id"], ["plan_versions.id"],
                                name="fk_subscriptions_pending_plan_version_id_plan_versions"),
    )
    op.create_index("ix_subscriptions_next_bill_on_id", "subscriptions", ["next_bill_on", "id"])
    op.create_index("ix_subscriptions_customer_id", "subscriptions", ["customer_id"])
    op.create_table(
        "events",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("aggregate_type", ENUM, nullable=False),
        sa.Column("aggregate_id", ID, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _at("occurred_at"),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_aggregate_id_occurred_at", "events", ["aggregate_id", "occurred_at"])
    op.create_index("ix_events_occurred_at_id", "events", ["occurred_at", "id"])
    op.create_table(
        "installation_settings",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_installation_settings"),
    )


def downgrade() -> None:
    op.drop_table("installation_settings")
    op.drop_table("events")
    op.drop_table("subscriptions")
    op.drop_table("customers")
    op.drop_table("plan_versions")
    op.drop_table("plans")
    op.drop_table("products")
