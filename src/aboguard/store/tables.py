"""The schema as SQLAlchemy Core tables. ``migrations/versions`` must produce exactly this.

Money is ``*_minor BIGINT`` plus ``currency CHAR(3)``; instants are ``*_at`` (aware UTC), calendar
dates ``*_on``; enums are their lower-case text values.
"""

from __future__ import annotations

from sqlalchemy import (
    CHAR,
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from .types import UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

ID = 36  # a UUID as text
ENUM = 32
CODE = 64

products = Table(
    "products", metadata,
    Column("id", String(ID), primary_key=True),
    Column("code", String(CODE), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

plans = Table(
    "plans", metadata,
    Column("id", String(ID), primary_key=True),
    Column("code", String(CODE), nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("product_id", String(ID), ForeignKey("products.id"), nullable=False),
    Column("audience", String(ENUM), nullable=False),
    Column("current_version_id", String(ID), nullable=False),  # no FK: plan_versions points here already
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("terms_code", String(CODE), nullable=True),  # the terms document that applies (terms_documents.code)
)

plan_versions = Table(
    "plan_versions", metadata,
    Column("id", String(ID), primary_key=True),
    Column("plan_id", String(ID), ForeignKey("plans.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("interval_unit", String(ENUM), nullable=False),
    Column("interval_count", Integer, nullable=False),
    Column("trial_days", Integer, nullable=False),
    Column("setup_fee_minor", BigInteger, nullable=True),  # in ``currency``
    Column("tax_category", String(ENUM), nullable=False),
    Column("tax_inclusive", Boolean, nullable=False),
    Column("min_term_months", Integer, nullable=False),
    Column("notice_days", Integer, nullable=False),
    Column("renewal", String(ENUM), nullable=False),
    Column("renewal_term_months", Integer, nullable=False),
    Column("payment_methods", Text, nullable=False),  # comma-separated, sorted
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("plan_id", "number"),
)

customers = Table(
    "customers", metadata,
    Column("id", String(ID), primary_key=True),
    Column("kind", String(ENUM), nullable=False),
    Column("email", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("country", CHAR(2), nullable=False),
    Column("locale", String(8), nullable=False),
    Column("vat_id", String(32), nullable=True),
    Column("company", Text, nullable=True),
    Column("address_line1", Text, nullable=False),
    Column("address_line2", Text, nullable=False),
    Column("address_postal_code", String(32), nullable=False),
    Column("address_city", Text, nullable=False),
    Column("external_ref", String(255), nullable=True, unique=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_customers_email", "email"),
    Index("ix_customers_created_at_id", "created_at", "id"),
)

subscriptions = Table(
    "subscriptions", metadata,
    Column("id", String(ID), primary_key=True),
    Column("customer_id", String(ID), ForeignKey("customers.id"), nullable=False),
    Column("plan_version_id", String(ID), ForeignKey("plan_versions.id"), nullable=False),
    Column("status", String(ENUM), nullable=False),
    Column("consumer", Boolean, nullable=False),
    Column("start_on", Date, nullable=False),
    Column("billing_anchor", Date, nullable=False),
    Column("next_bill_on", Date, nullable=True),
    Column("trial_end_on", Date, nullable=True),
    Column("min_term_end_on", Date, nullable=True),
    Column("canceled_on", Date, nullable=True),
    Column("ends_on", Date, nullable=True),
    Column("cancel_reason", Text, nullable=True),
    Column("paused_on", Date, nullable=True),
    Column("pending_plan_version_id", String(ID), ForeignKey("plan_versions.id"), nullable=True),
    Column("pending_change_on", Date, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("due_on", Date, nullable=True),  # domain.subscriptions.due_on: when a billing run has work here
    Index("ix_subscriptions_customer_id", "customer_id"),
    Index("ix_subscriptions_due_on_id", "due_on", "id"),
)

events = Table(
    "events", metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("aggregate_type", String(ENUM), nullable=False),
    Column("aggregate_id", String(ID), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Index("ix_events_aggregate_id_occurred_at", "aggregate_id", "occurred_at"),
    Index("ix_events_occurred_at_id", "occurred_at", "id"),
)

installation_settings = Table(
    "installation_settings", metadata,
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),
)

invoices = Table(
    "invoices", metadata,
    Column("id", String(ID), primary_key=True),
    Column("kind", String(ENUM), nullable=False),
    Column("status", String(ENUM), nullable=False),
    Column("number", String(CODE), nullable=True, unique=True),
    Column("customer_id", String(ID), ForeignKey("customers.id"), nullable=False),
    Column("subscription_id", String(ID), ForeignKey("subscriptions.id"), nullable=True),
    Column("currency", CHAR(3), nullable=False),
    Column("buyer", JSON, nullable=False),
    Column("tax_treatment", String(ENUM), nullable=False),
    Column("tax_country", CHAR(2), nullable=False),
    Column("tax_note_de", Text, nullable=True),
    Column("tax_note_en", Text, nullable=True),
    Column("prices_include_tax", Boolean, nullable=False),
    Column("net_minor", BigInteger, nullable=False),
    Column("tax_minor", BigInteger, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("paid_minor", BigInteger, nullable=False),
    Column("credited_minor", BigInteger, nullable=False),
    Column("tax_groups", JSON, nullable=False),
    Column("supply_start", Date, nullable=True),
    Column("supply_end", Date, nullable=True),
    Column("payment_method", String(ENUM), nullable=True),
    Column("billing_key", String(128), nullable=True, unique=True),
    Column("corrects_id", String(ID), ForeignKey("invoices.id"), nullable=True),
    Column("issued_on", Date, nullable=True),
    Column("due_on", Date, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Column("collect_on", Date, nullable=True),  # when the collection run charges it (auto-collected methods)
    Index("ix_invoices_collect_on_id", "collect_on", "id"),
    Index("ix_invoices_customer_id_issued_on", "customer_id", "issued_on"),
    Index("ix_invoices_status_due_on", "status", "due_on"),
    Index("ix_invoices_subscription_id", "subscription_id"),
    Index("ix_invoices_corrects_id", "corrects_id"),
    Index("ix_invoices_created_at_id", "created_at", "id"),
)

invoice_lines = Table(
    "invoice_lines", metadata,
    Column("invoice_id", String(ID), ForeignKey("invoices.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("kind", String(ENUM), nullable=False),
    Column("description", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("net_minor", BigInteger, nullable=False),
    Column("tax_category", String(ENUM), nullable=False),
    Column("tax_rate", String(16), nullable=False),  # exact Decimal as text
    Column("period_start", Date, nullable=True),
    Column("period_end", Date, nullable=True),
    Column("plan_version_id", String(ID), nullable=True),
)

number_counters = Table(
    "number_counters", metadata,
    Column("series", String(CODE), primary_key=True),
    Column("scope", String(16), primary_key=True),
    Column("last_value", BigInteger, nullable=False),
)

journal_entries = Table(
    "journal_entries", metadata,
    Column("id", String(ID), primary_key=True),
    Column("kind", String(ENUM), nullable=False),
    Column("booked_on", Date, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("customer_id", String(ID), nullable=True),
    Column("document_id", String(ID), nullable=True),
    Column("description", Text, nullable=False),
    Index("ix_journal_entries_document_id", "document_id"),
    Index("ix_journal_entries_customer_id", "customer_id"),
)

journal_lines = Table(
    "journal_lines", metadata,
    Column("entry_id", String(ID), ForeignKey("journal_entries.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("account", String(128), nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),  # debit positive, credit negative
    Index("ix_journal_lines_account", "account"),
)

payment_methods = Table(
    "payment_methods", metadata,
    Column("id", String(ID), primary_key=True),
    Column("customer_id", String(ID), ForeignKey("customers.id"), nullable=False),
    Column("kind", String(ENUM), nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("status", String(ENUM), nullable=False),
    Column("gateway_token_enc", Text, nullable=True),  # Fernet ciphertext (store.secrets), never plain
    Column("brand", String(ENUM), nullable=True),
    Column("last4", String(4), nullable=True),
    Column("exp_month", Integer, nullable=True),
    Column("exp_year", Integer, nullable=True),
    Column("payer_email", Text, nullable=True),
    Column("iban_enc", Text, nullable=True),  # Fernet ciphertext
    Column("iban_last4", String(4), nullable=True),
    Column("bic", String(11), nullable=True),
    Column("account_holder", Text, nullable=True),
    Column("mandate_reference", String(35), nullable=True, unique=True),
    Column("mandate_signed_on", Date, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_payment_methods_customer_id", "customer_id"),
    # at most one default per customer, enforced by the database (a partial unique index)
    Index("ix_payment_methods_one_default", "customer_id", unique=True,
          sqlite_where=text("is_default"), postgresql_where=text("is_default")),
)

payment_attempts = Table(
    "payment_attempts", metadata,
    Column("id", String(ID), primary_key=True),
    Column("invoice_id", String(ID), ForeignKey("invoices.id"), nullable=False),
    Column("customer_id", String(ID), ForeignKey("customers.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("method_kind", String(ENUM), nullable=False),
    Column("payment_method_id", String(ID), nullable=True),
    Column("gateway", String(64), nullable=False),
    Column("status", String(ENUM), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("provider_payment_id", String(128), nullable=True),
    Column("raw_code", String(64), nullable=True),
    Column("decline_code", String(64), nullable=True),
    Column("decline_class", String(ENUM), nullable=True),
    Column("decline_message", Text, nullable=True),
    Column("retry_allowed", Boolean, nullable=True),
    Column("version", Integer, nullable=False),
    Column("retry_action", String(ENUM), nullable=True),
    Column("retry_on", Date, nullable=True),
    Column("retry_reason", Text, nullable=True),
    Column("network_advice", String(16), nullable=True),
    UniqueConstraint("invoice_id", "number"),
    Index("ix_payment_attempts_status_created_at", "status", "created_at"),
    Index("ix_payment_attempts_gateway_provider_payment_id", "gateway", "provider_payment_id"),
    Index("ix_payment_attempts_customer_id", "customer_id"),
)

gateway_events = Table(
    "gateway_events", metadata,
    Column("gateway", String(64), primary_key=True),
    Column("event_id", String(128), primary_key=True),
    Column("event_type", String(64), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("attempt_id", String(ID), nullable=True),
    # an event for a payment aboguard does not know yet (its charge is still being recorded): kept to apply later
    Column("provider_payment_id", String(128), nullable=True),
    Column("waiting", JSON(none_as_null=True), nullable=True),
    Index("ix_gateway_events_gateway_provider_payment_id", "gateway", "provider_payment_id"),
)

refunds = Table(
    "refunds", metadata,
    Column("id", String(ID), primary_key=True),
    Column("invoice_id", String(ID), ForeignKey("invoices.id"), nullable=False),
    Column("credit_note_id", String(ID), ForeignKey("invoices.id"), nullable=False),
    Column("customer_id", String(ID), ForeignKey("customers.id"), nullable=False),
    Column("channel", String(ENUM), nullable=False),
    Column("number", Integer, nullable=False),
    Column("idempotency_key", String(160), nullable=False, unique=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("status", String(ENUM), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("attempt_id", String(ID), ForeignKey("payment_attempts.id"), nullable=True),
    Column("gateway", String(64), nullable=True),
    Column("provider_payment_id", String(128), nullable=True),
    Column("provider_refund_id", String(128), nullable=True),
    Column("failure_code", String(64), nullable=True),
    Column("failure_message", Text, nullable=True),
    Column("retry_of", String(ID), nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_refunds_invoice_id", "invoice_id"),
    Index("ix_refunds_status_created_at", "status", "created_at"),
    Index("ix_refunds_gateway_provider_refund_id", "gateway", "provider_refund_id"),
)

dunning_policies = Table(
    "dunning_policies", metadata,
    Column("code", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("definition", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

dunning_cases = Table(
    "dunning_cases", metadata,
    Column("id", String(ID), primary_key=True),
    Column("invoice_id", String(ID), ForeignKey("invoices.id"), nullable=False, unique=True),
    Column("customer_id", String(ID), ForeignKey("customers.id"), nullable=False),
    Column("policy_code", String(64), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("status", String(ENUM), nullable=False),
    Column("steps_done", Integer, nullable=False),
    Column("next_step_on", Date, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("default_since", Date, nullable=True),
    Column("paused_until", Date, nullable=True),
    Column("pause_reason", Text, nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_dunning_cases_next_step_on_id", "next_step_on", "id"),
    Index("ix_dunning_cases_customer_id", "customer_id"),
    Index("ix_dunning_cases_status", "status"),
)

dunning_timeline = Table(
    "dunning_timeline", metadata,
    Column("id", String(ID), primary_key=True),
    Column("case_id", String(ID), ForeignKey("dunning_cases.id"), nullable=False),
    Column("invoice_id", String(ID), ForeignKey("invoices.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("action", String(ENUM), nullable=False),
    Column("happened_on", Date, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("detail", Text, nullable=False),
    Column("channel", String(ENUM), nullable=True),
    Column("fee_minor", BigInteger, nullable=False),
    Column("interest_minor", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=True),
    UniqueConstraint("case_id", "seq"),
    Index("ix_dunning_timeline_invoice_id", "invoice_id"),
)

dunning_charges = Table(
    "dunning_charges", metadata,
    Column("id", String(ID), primary_key=True),
    Column("case_id", String(ID), ForeignKey("dunning_cases.id"), nullable=False),
    Column("invoice_id", String(ID), ForeignKey("invoices.id"), nullable=False),
    Column("customer_id", String(ID), ForeignKey("customers.id"), nullable=False),
    Column("kind", String(ENUM), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("paid_minor", BigInteger, nullable=False),
    Column("waived_minor", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("charged_on", Date, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("description", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_dunning_charges_invoice_id", "invoice_id"),
    Index("ix_dunning_charges_customer_id", "customer_id"),
)

# -- contracts: terms, acceptance evidence, cancellation requests (immutable rows: the database refuses
# UPDATE and DELETE on terms_documents and contract_acceptances, see migration 0009) -------------------------

terms_documents = Table(
    "terms_documents", metadata,
    Column("id", String(ID), primary_key=True),
    Column("code", String(CODE), nullable=False),
    Column("version", Integer, nullable=False),
    Column("language", String(8), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("content", LargeBinary, nullable=False),  # the exact bytes published
    Column("sha256", String(64), nullable=False),
    Column("filename", Text, nullable=False),
    Column("media_type", String(128), nullable=False),
    Column("published_at", UtcDateTime, nullable=False),
    UniqueConstraint("code", "language", "version"),
)

contract_acceptances = Table(
    "contract_acceptances", metadata,
    Column("id", String(ID), primary_key=True),
    Column("subscription_id", String(ID), ForeignKey("subscriptions.id"), nullable=False),
    Column("customer_id", String(ID), ForeignKey("customers.id"), nullable=False),
    Column("accepted_at", UtcDateTime, nullable=False),
    Column("channel", String(ENUM), nullable=False),
    Column("accepted_by", Text, nullable=False),
    Column("reason", String(ENUM), nullable=False),
    Column("summary_text", Text, nullable=False),
    Column("summary_sha256", String(64), nullable=False),
    Column("summary_locale", String(8), nullable=False),
    Column("terms_document_id", String(ID), ForeignKey("terms_documents.id"), nullable=True),
    Column("terms_code", String(CODE), nullable=True),
    Column("terms_version", Integer, nullable=True),
    Column("terms_language", String(8), nullable=True),
    Column("terms_sha256", String(64), nullable=True),
    Column("ip_address", String(64), nullable=True),
    Column("user_agent", Text, nullable=True),
    Index("ix_contract_acceptances_subscription_id", "subscription_id"),
)

cancellation_requests = Table(
    "cancellation_requests", metadata,
    Column("id", String(ID), primary_key=True),
    Column("subscription_id", String(ID), ForeignKey("subscriptions.id"), nullable=False),
    Column("customer_id", String(ID), ForeignKey("customers.id"), nullable=False),
    Column("kind", String(ENUM), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("received_on", Date, nullable=False),
    Column("identity_name", Text, nullable=False),
    Column("identity_email", Text, nullable=False),
    Column("contract_ref", Text, nullable=False),
    Column("channel", String(ENUM), nullable=False),
    Column("earliest_possible", Boolean, nullable=False),
    Column("requested_too_early", Boolean, nullable=False),
    Column("ends_on", Date, nullable=False),
    Column("reason", Text, nullable=True),
    Column("requested_last_day", Date, nullable=True),
    Index("ix_cancellation_requests_subscription_id", "subscription_id"),
)

price_change_notices = Table(
    "price_change_notices", metadata,
    Column("id", String(ID), primary_key=True),
    Column("subscription_id", String(ID), ForeignKey("subscriptions.id"), nullable=False),
    Column("customer_id", String(ID), ForeignKey("customers.id"), nullable=False),
    Column("from_version_id", String(ID), ForeignKey("plan_versions.id"), nullable=False),
    Column("to_version_id", String(ID), ForeignKey("plan_versions.id"), nullable=False),
    Column("old_amount_minor", BigInteger, nullable=False),
    Column("new_amount_minor", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("announced_at", UtcDateTime, nullable=False),
    Column("effective_on", Date, nullable=False),
    Column("status", String(ENUM), nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("decision_channel", String(ENUM), nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_price_change_notices_subscription_id", "subscription_id"),
)
