"""SEPA end to end: mandate data on payment methods, pain.008 files and their items, imported bank statements
(camt.052/053/054) and their lines.

Revision ID: 0008_sepa
Revises: 0007_communication
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_sepa"
down_revision: str | None = "0007_communication"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(36)
ENUM = sa.String(32)


def _at(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("payment_methods") as batch:
        batch.add_column(sa.Column("mandate_scheme", ENUM, nullable=True))
        batch.add_column(sa.Column("mandate_type", ENUM, nullable=True))
        batch.add_column(sa.Column("mandate_status", ENUM, nullable=True))
        batch.add_column(sa.Column("mandate_last_used_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("mandate_original_reference", sa.String(35), nullable=True))
        batch.add_column(sa.Column("mandate_original_iban_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("mandate_new_bank", sa.Boolean(), nullable=False, server_default=sa.text("false")))
    op.execute("UPDATE payment_methods SET mandate_scheme = 'core', mandate_type = 'recurrent', "
               "mandate_status = 'active' WHERE kind = 'sepa_debit'")
    op.create_table(
        "sepa_files",
        sa.Column("id", ID, nullable=False),
        sa.Column("msg_id", sa.String(35), nullable=False),
        sa.Column("format", ENUM, nullable=False),
        _at("created_at"),
        sa.Column("collection_on", sa.Date(), nullable=False),
        sa.Column("nb_of_txs", sa.Integer(), nullable=False),
        sa.Column("ctrl_sum_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("creditor", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sepa_files"),
        sa.UniqueConstraint("msg_id", name="uq_sepa_files_msg_id"),
    )
    op.create_table(
        "sepa_file_items",
        sa.Column("file_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("attempt_id", ID, nullable=False),
        sa.Column("end_to_end_id", sa.String(35), nullable=False),
        sa.Column("collection_on", sa.Date(), nullable=False),
        sa.Column("scheme", ENUM, nullable=False),
        sa.Column("sequence", sa.String(4), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("mandate_reference", sa.String(35), nullable=False),
        sa.Column("mandate_signed_on", sa.Date(), nullable=False),
        sa.Column("debtor_name", sa.Text(), nullable=False),
        sa.Column("debtor_iban_enc", sa.Text(), nullable=False),
        sa.Column("debtor_bic", sa.String(11), nullable=True),
        sa.Column("remittance", sa.String(140), nullable=False),
        sa.Column("original_reference", sa.String(35), nullable=True),
        sa.Column("original_iban_enc", sa.Text(), nullable=True),
        sa.Column("new_bank", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("file_id", "position", name="pk_sepa_file_items"),
        sa.UniqueConstraint("attempt_id", name="uq_sepa_file_items_attempt_id"),
        sa.UniqueConstraint("end_to_end_id", name="uq_sepa_file_items_end_to_end_id"),
        sa.ForeignKeyConstraint(["file_id"], ["sepa_files.id"], name="fk_sepa_file_items_file_id_sepa_files"),
        sa.ForeignKeyConstraint(["attempt_id"], ["payment_attempts.id"],
                                name="fk_sepa_file_items_attempt_id_payment_attempts"),
    )
    op.create_table(
        "bank_statements",
        sa.Column("id", ID, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("message", ENUM, nullable=False),
        sa.Column("msg_id", sa.String(64), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=False),
        _at("imported_at"),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bank_statements"),
        sa.UniqueConstraint("sha256", name="uq_bank_statements_sha256"),
    )
    op.create_table(
        "bank_lines",
        sa.Column("id", ID, nullable=False),
        sa.Column("statement_id", ID, nullable=False),
        sa.Column("entry_key", sa.String(200), nullable=False),
        sa.Column("kind", ENUM, nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("end_to_end_id", sa.String(35), nullable=True),
        sa.Column("mandate_reference", sa.String(35), nullable=True),
        sa.Column("reason_code", sa.String(8), nullable=True),
        sa.Column("counterparty", sa.Text(), nullable=True),
        sa.Column("remittance", sa.Text(), nullable=False),
        sa.Column("status", ENUM, nullable=False),
        sa.Column("invoice_id", ID, nullable=True),
        sa.Column("attempt_id", ID, nullable=True),
        sa.Column("credit_minor", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _at("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_bank_lines"),
        sa.UniqueConstraint("entry_key", name="uq_bank_lines_entry_key"),
        sa.ForeignKeyConstraint(["statement_id"], ["bank_statements.id"],
                                name="fk_bank_lines_statement_id_bank_statements"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name="fk_bank_lines_invoice_id_invoices"),
        sa.ForeignKeyConstraint(["attempt_id"], ["payment_attempts.id"],
                                name="fk_bank_lines_attempt_id_payment_attempts"),
    )
    op.create_index("ix_bank_lines_status", "bank_lines", ["status"])
    op.create_index("ix_bank_lines_statement_id", "bank_lines", ["statement_id"])


def downgrade() -> None:
    op.drop_table("bank_lines")
    op.drop_table("bank_statements")
    op.drop_table("sepa_file_items")
    op.drop_table("sepa_files")
    with op.batch_alter_table("payment_methods") as batch:
        for column in ("mandate_new_bank", "mandate_original_iban_enc", "mandate_original_reference",
                       "mandate_last_used_on", "mandate_status", "mandate_type", "mandate_scheme"):
            batch.drop_column(column)
