"""Incentives: coupons and their redemptions, loyalty rules, streaks and rewards, what each discount granted,
retention offers and decisions, and the Skonto terms printed on invoices.

Revision ID: 0010_incentives
Revises: 0009_contracts
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_incentives"
down_revision: str | None = "0009_contracts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
ENUM = sa.String(32)
CODE = sa.String(64)


def _at(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("skonto_percent", sa.String(16), nullable=True))
        batch.add_column(sa.Column("skonto_until", sa.Date(), nullable=True))
    op.create_table(
        "coupons",
        sa.Column("code", CODE, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("percent", sa.String(16), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.CHAR(3), nullable=True),
        sa.Column("duration", ENUM, nullable=False),
        sa.Column("periods", sa.Integer(), nullable=True),
        sa.Column("plan_codes", sa.JSON(), nullable=False),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        sa.Column("per_customer", sa.Integer(), nullable=False),
        sa.Column("redeem_by", sa.Date(), nullable=True),
        sa.Column("stackable", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("code", name="pk_coupons"),
    )
    op.create_table(
        "coupon_redemptions",
        sa.Column("id", ID, nullable=False),
        sa.Column("coupon_code", CODE, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("subscription_id", ID, nullable=False),
        _at("redeemed_at"),
        sa.Column("periods_used", sa.Integer(), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_coupon_redemptions"),
        sa.ForeignKeyConstraint(["coupon_code"], ["coupons.code"], name="fk_coupon_redemptions_coupon_code_coupons"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name="fk_coupon_redemptions_customer_id_customers"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name="fk_coupon_redemptions_subscription_id_subscriptions"),
    )
    op.create_index("ix_coupon_redemptions_subscription_id_status", "coupon_redemptions",
                    ["subscription_id", "status"])
    op.create_index("ix_coupon_redemptions_coupon_code", "coupon_redemptions", ["coupon_code"])
    op.create_index("ix_coupon_redemptions_customer_id", "coupon_redemptions", ["customer_id"])
    op.create_table(
        "incentive_grants",
        sa.Column("id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("subscription_id", ID, nullable=True),
        sa.Column("source", ENUM, nullable=False),
        sa.Column("source_code", CODE, nullable=False),
        sa.Column("source_id", ID, nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_incentive_grants"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name="fk_incentive_grants_invoice_id_invoices"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_incentive_grants_customer_id_customers"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name="fk_incentive_grants_subscription_id_subscriptions"),
    )
    op.create_index("ix_incentive_grants_invoice_id", "incentive_grants", ["invoice_id"])
    op.create_index("ix_incentive_grants_customer_id", "incentive_grants", ["customer_id"])
    op.create_index("ix_incentive_grants_source", "incentive_grants", ["source"])
    op.create_table(
        "loyalty_rules",
        sa.Column("code", CODE, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("criterion", ENUM, nullable=False),
        sa.Column("streak", sa.Integer(), nullable=False),
        sa.Column("percent", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("code", name="pk_loyalty_rules"),
    )
    op.create_table(
        "loyalty_streaks",
        sa.Column("subscription_id", ID, nullable=False),
        sa.Column("rule_code", CODE, nullable=False),
        sa.Column("invoice_ids", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", "rule_code", name="pk_loyalty_streaks"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name="fk_loyalty_streaks_subscription_id_subscriptions"),
        sa.ForeignKeyConstraint(["rule_code"], ["loyalty_rules.code"],
                                name="fk_loyalty_streaks_rule_code_loyalty_rules"),
    )
    op.create_table(
        "loyalty_rewards",
        sa.Column("id", ID, nullable=False),
        sa.Column("rule_code", CODE, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("subscription_id", ID, nullable=False),
        sa.Column("percent", sa.String(16), nullable=False),
        sa.Column("earned_by", sa.JSON(), nullable=False),
        _at("granted_at"),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("applied_invoice_id", ID, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_loyalty_rewards"),
        sa.ForeignKeyConstraint(["rule_code"], ["loyalty_rules.code"],
                                name="fk_loyalty_rewards_rule_code_loyalty_rules"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_loyalty_rewards_customer_id_customers"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name="fk_loyalty_rewards_subscription_id_subscriptions"),
        sa.ForeignKeyConstraint(["applied_invoice_id"], ["invoices.id"],
                                name="fk_loyalty_rewards_applied_invoice_id_invoices"),
    )
    op.create_index("ix_loyalty_rewards_subscription_id_status", "loyalty_rewards", ["subscription_id", "status"])
    op.create_index("ix_loyalty_rewards_customer_id", "loyalty_rewards", ["customer_id"])
    op.create_table(
        "retention_offers",
        sa.Column("code", CODE, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("coupon_code", CODE, nullable=True),
        sa.Column("pause_months", sa.Integer(), nullable=True),
        sa.Column("plan_code", CODE, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("code", name="pk_retention_offers"),
        sa.ForeignKeyConstraint(["coupon_code"], ["coupons.code"], name="fk_retention_offers_coupon_code_coupons"),
    )
    op.create_table(
        "retention_decisions",
        sa.Column("id", ID, nullable=False),
        sa.Column("subscription_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("offer_code", CODE, nullable=False),
        sa.Column("decision", ENUM, nullable=False),
        _at("decided_at"),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("resume_on", sa.Date(), nullable=True),
        sa.Column("resumed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_retention_decisions"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name="fk_retention_decisions_subscription_id_subscriptions"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name="fk_retention_decisions_customer_id_customers"),
        sa.ForeignKeyConstraint(["offer_code"], ["retention_offers.code"],
                                name="fk_retention_decisions_offer_code_retention_offers"),
    )
    op.create_index("ix_retention_decisions_subscription_id", "retention_decisions", ["subscription_id"])
    op.create_index("ix_retention_decisions_resume_on", "retention_decisions", ["resume_on"])


def downgrade() -> None:
    for index, table in (("ix_retention_decisions_resume_on", "retention_decisions"),
                         ("ix_retention_decisions_subscription_id", "retention_decisions")):
        op.drop_index(index, table_name=table)
    op.drop_table("retention_decisions")
    op.drop_table("retention_offers")
    op.drop_index("ix_loyalty_rewards_customer_id", table_name="loyalty_rewards")
    op.drop_index("ix_loyalty_rewards_subscription_id_status", table_name="loyalty_rewards")
    op.drop_table("loyalty_rewards")
    op.drop_table("loyalty_streaks")
    op.drop_table("loyalty_rules")
    for index in ("ix_incentive_grants_source", "ix_incentive_grants_customer_id", "ix_incentive_grants_invoice_id"):
        op.drop_index(index, table_name="incentive_grants")
    op.drop_table("incentive_grants")
    for index in ("ix_coupon_redemptions_customer_id", "ix_coupon_redemptions_coupon_code",
                  "ix_coupon_redemptions_subscription_id_status"):
        op.drop_index(index, table_name="coupon_redemptions")
    op.drop_table("coupon_redemptions")
    op.drop_table("coupons")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("skonto_until")
        batch.drop_column("skonto_percent")
