"""Contracts: versioned terms documents, acceptance evidence, cancellation requests, price-change notices.

Published terms and acceptance records are evidence: the database itself refuses to update or delete them
(a trigger on each table, on SQLite and on PostgreSQL).

Revision ID: 0009_contracts
Revises: 0008_sepa
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_contracts"
down_revision: str | None = "0008_sepa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
ENUM = sa.String(32)
CODE = sa.String(64)
IMMUTABLE = ("terms_documents", "contract_acceptances")


def _at(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(sa.Column("terms_code", CODE, nullable=True))
    op.create_table(
        "terms_documents",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", CODE, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("media_type", sa.String(128), nullable=False),
        _at("published_at"),
        sa.PrimaryKeyConstraint("id", name="pk_terms_documents"),
        sa.UniqueConstraint("code", "language", "version", name="uq_terms_documents_code_language_version"),
    )
    op.create_table(
        "contract_acceptances",
        sa.Column("id", ID, nullable=False),
        sa.Column("subscription_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        _at("accepted_at"),
        sa.Column("channel", ENUM, nullable=False),
        sa.Column("accepted_by", sa.Text(), nullable=False),
        sa.Column("reason", ENUM, nullable=False),
        sa.Column("summary_text", sa.Text(), nullable=False),
        sa.Column("summary_sha256", sa.String(64), nullable=False),
        sa.Column("summary_locale", sa.String(8), nullable=False),
        sa.Column("terms_document_id", ID, nullable=True),
        sa.Column("terms_code", CODE, nullable=True),
        sa.Column("terms_version", sa.Integer(), nullable=True),
        sa.Column("terms_language", sa.String(8), nullable=True),
        sa.Column("terms_sha256", sa.String(64), nullable=True),
        sa.Column("ip_address", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_contract_acceptances"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name="fk_contract_acceptances_subscription_id_subscriptions"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name="fk_contract_acceptances_customer_id_customers"),
        sa.ForeignKeyConstraint(["terms_document_id"], ["terms_documents.id"],
                                name="fk_contract_acceptances_terms_document_id_terms_documents"),
    )
    op.create_index("ix_contract_acceptances_subscription_id", "contract_acceptances", ["subscription_id"])
    op.create_table(
        "cancellation_requests",
        sa.Column("id", ID, nullable=False),
        sa.Column("subscription_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        _at("received_at"),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("identity_name", sa.Text(), nullable=False),
        sa.Column("identity_email", sa.Text(), nullable=False),
        sa.Column("contract_ref", sa.Text(), nullable=False),
        sa.Column("channel", ENUM, nullable=False),
        sa.Column("earliest_possible", sa.Boolean(), nullable=False),
        sa.Column("requested_too_early", sa.Boolean(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_last_day", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cancellation_requests"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name="fk_cancellation_requests_subscription_id_subscriptions"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name="fk_cancellation_requests_customer_id_customers"),
    )
    op.create_index("ix_cancellation_requests_subscription_id", "cancellation_requests", ["subscription_id"])
    op.create_table(
        "price_change_notices",
        sa.Column("id", ID, nullable=False),
        sa.Column("subscription_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("from_version_id", ID, nullable=False),
        sa.Column("to_version_id", ID, nullable=False),
        sa.Column("old_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("new_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        _at("announced_at"),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        _at("decided_at", nullable=True),
        sa.Column("decision_channel", ENUM, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_price_change_notices"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name="fk_price_change_notices_subscription_id_subscriptions"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name="fk_price_change_notices_customer_id_customers"),
        sa.ForeignKeyConstraint(["from_version_id"], ["plan_versions.id"],
                                name="fk_price_change_notices_from_version_id_plan_versions"),
        sa.ForeignKeyConstraint(["to_version_id"], ["plan_versions.id"],
                                name="fk_price_change_notices_to_version_id_plan_versions"),
    )
    op.create_index("ix_price_change_notices_subscription_id", "price_change_notices", ["subscription_id"])
    _create_immutability_triggers()


def _create_immutability_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION aboguard_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION '% rows are evidence and never change', TG_TABLE_NAME; END $$")
        for table in IMMUTABLE:
            op.execute(f"CREATE TRIGGER tr_{table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION aboguard_refuse_change()")
        return
    for table in IMMUTABLE:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER tr_{table}_no_{action.lower()} BEFORE {action} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} rows are evidence and never change'); END")


def _drop_immutability_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in IMMUTABLE:
            op.execute(f"DROP TRIGGER IF EXISTS tr_{table}_immutable ON {table}")
        op.execute("DROP FUNCTION IF EXISTS aboguard_refuse_change()")
        return
    for table in IMMUTABLE:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS tr_{table}_no_{action}")


def downgrade() -> None:
    _drop_immutability_triggers()
    op.drop_table("price_change_notices")
    op.drop_table("cancellation_requests")
    op.drop_table("contract_acceptances")
    op.drop_table("terms_documents")
    # native DROP COLUMN (SQLite >= 3.35): a batch copy would drop ``plans``, which plan_versions references
    op.execute("ALTER TABLE plans DROP COLUMN terms_code")
