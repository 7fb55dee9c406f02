"""Billing: invoices and their lines, gapless number counters, the journal, and due dates for claims.

``subscriptions.due_on`` (``domain.subscriptions.due_on``, backfilled here) replaces ``next_bill_on`` as
the indexed column by which billing work is found.

Revision ID: 0002_billing
Revises: 0001_foundation
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_billing"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
ENUM = sa.String(32)
CODE = sa.String(64)
BILLABLE = ("active", "past_due", "suspended", "canceled")
LIVE = ("trialing", "active", "past_due", "suspended", "paused")


def _at(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("due_on", sa.Date(), nullable=True))
    _backfill_due_on()
    op.create_index("ix_subscriptions_due_on_id", "subscriptions", ["due_on", "id"])
    # Work is found by due_on now; an index on next_bill_on would only slow down every billing update.
    op.drop_index("ix_subscriptions_next_bill_on_id", table_name="subscriptions")
    op.create_table(
        "invoices",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("number", CODE, nullable=True),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("subscription_id", ID, nullable=True),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("buyer", sa.JSON(), nullable=False),
        sa.Column("tax_treatment", ENUM, nullable=False),
        sa.Column("tax_country", sa.CHAR(2), nullable=False),
        sa.Column("tax_note_de", sa.Text(), nullable=True),
        sa.Column("tax_note_en", sa.Text(), nullable=True),
        sa.Column("prices_include_tax", sa.Boolean(), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("credited_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_groups", sa.JSON(), nullable=False),
        sa.Column("supply_start", sa.Date(), nullable=True),
        sa.Column("supply_end", sa.Date(), nullable=True),
        sa.Column("payment_method", ENUM, nullable=True),
        sa.Column("billing_key", sa.String(128), nullable=True),
        sa.Column("corrects_id", ID, nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        _at("created_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_invoices"),
        sa.UniqueConstraint("number", name="uq_invoices_number"),
        sa.UniqueConstraint("billing_key", name="uq_invoices_billing_key"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_invoices_customer_id_customers"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name="fk_invoices_subscription_id_subscriptions"),
        sa.ForeignKeyConstraint(["corrects_id"], ["invoices.id"], name="fk_invoices_corrects_id_invoices"),
    )
    op.create_index("ix_invoices_customer_id_issued_on", "invoices", ["customer_id", "issued_on"])
    op.create_index("ix_invoices_status_due_on", "invoices", ["status", "due_on"])
    op.create_index("ix_invoices_subscription_id", "invoices", ["subscription_id"])
    op.create_index("ix_invoices_corrects_id", "invoices", ["corrects_id"])
    op.create_index("ix_invoices_created_at_id", "invoices", ["created_at", "id"])
    op.create_table(
        "invoice_lines",
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("tax_category", ENUM, nullable=False),
        sa.Column("tax_rate", sa.String(16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("plan_version_id", ID, nullable=True),
        sa.PrimaryKeyConstraint("invoice_id", "position", name="pk_invoice_lines"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name="fk_invoice_lines_invoice_id_invoices"),
    )
    op.create_table(
        "number_counters",
        sa.Column("series", CODE, nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("series", "scope", name="pk_number_counters"),
    )
    op.create_table(
        "journal_entries",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        _at("created_at"),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("document_id", ID, nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_journal_entries"),
    )
    op.create_index("ix_journal_entries_document_id", "journal_entries", ["document_id"])
    op.create_index("ix_journal_entries_customer_id", "journal_entries", ["customer_id"])
    op.create_table(
        "journal_lines",
        sa.Column("entry_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "position", name="pk_journal_lines"),
        sa.ForeignKeyConstraint(["entry_id"], ["journal_entries.id"],
                                name="fk_journal_lines_entry_id_journal_entries"),
    )
    op.create_index("ix_journal_lines_account", "journal_lines", ["account"])


def _backfill_due_on() -> None:
    """The same rule as ``domain.subscriptions.due_on``, in SQL, for rows written before this revision."""
    subs = sa.table("subscriptions", *(sa.column(name) for name in (
        "status", "next_bill_on", "trial_end_on", "pending_change_on", "ends_on", "due_on")))
    candidates = [
        sa.case((subs.c.status.in_(BILLABLE), subs.c.next_bill_on)),
        sa.case((subs.c.status == "trialing", subs.c.trial_end_on)),
        sa.case((subs.c.status.in_(LIVE), subs.c.pending_change_on)),
        sa.case((subs.c.status == "canceled", subs.c.ends_on)),
    ]
    # min() over nullable values: the smallest non-null one, or null when all are null.
    smallest: sa.ColumnElement = candidates[0]
    for candidate in candidates[1:]:
        smallest = sa.case((smallest.is_(None), candidate), (candidate.is_(None), smallest),
                           (candidate < smallest, candidate), else_=smallest)
    op.execute(subs.update().values(due_on=smallest))


def downgrade() -> None:
    op.drop_table("journal_lines")
    op.drop_table("journal_entries")
    op.drop_table("number_counters")
    op.drop_table("invoice_lines")
    op.drop_table("invoices")
    op.create_index("ix_subscriptions_next_bill_on_id", "subscriptions", ["next_bill_on", "id"])
    op.drop_index("ix_subscriptions_due_on_id", table_name="subscriptions")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("due_on")
