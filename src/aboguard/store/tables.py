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
    Index("ix_subscriptions_next_bill_on", "next_bill_on"),  # upcoming-charge reminders (notify)
    Index("ix_subscriptions_min_term_end_on", "min_term_end_on"),  # end-of-minimum-term notices (notify)
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
    Column("skonto_percent", String(16), nullable=True),  # early-payment discount offered (pay by invoice)
    Column("skonto_until", Date, nullable=True),
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
    Column("mandate_scheme", String(ENUM), nullable=True),  # core | b2b
    Column("mandate_type", String(ENUM), nullable=True),  # recurrent | one_off
    Column("mandate_status", String(ENUM), nullable=True),  # active | expired | finished
    Column("mandate_last_used_on", Date, nullable=True),
    Column("mandate_original_reference", String(35), nullable=True),  # an amendment not yet reported
    Column("mandate_original_iban_enc", Text, nullable=True),  # Fernet ciphertext
    Column("mandate_new_bank", Boolean, nullable=False, server_default=text("false")),
    Index("ix_payment_methods_customer_id", "customer_id"),
    Index("ix_payment_methods_exp_year_exp_month", "exp_year", "exp_month"),  # card-expiry warnings (notify)
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

# -- incentives ----------------------------------------------------------------------------------------------

coupons = Table(
    "coupons", metadata,
    Column("code", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(ENUM), nullable=False),
    Column("percent", String(16), nullable=True),
    Column("amount_minor", BigInteger, nullable=True),
    Column("currency", CHAR(3), nullable=True),
    Column("duration", String(ENUM), nullable=False),
    Column("periods", Integer, nullable=True),
    Column("plan_codes", JSON, nullable=False),
    Column("max_redemptions", Integer, nullable=True),
    Column("per_customer", Integer, nullable=False),
    Column("redeem_by", Date, nullable=True),
    Column("stackable", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

coupon_redemptions = Table(
    "coupon_redemptions", metadata,
    Column("id", String(ID), primary_key=True),
    Column("coupon_code", String(64), ForeignKey("coupons.code"), nullable=False),
    Column("customer_id", String(ID), ForeignKey("customers.id"), nullable=False),
    Column("subscription_id", String(ID), ForeignKey("subscriptions.id"), nullable=False),
    Column("redeemed_at", UtcDateTime, nullable=False),
    Column("periods_used", Integer, nullable=False),
    Column("status", String(ENUM), nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_coupon_redemptions_subscription_id_status", "subscription_id", "status"),
    Index("ix_coupon_redemptions_coupon_code", "coupon_code"),
    Index("ix_coupon_redemptions_customer_id", "customer_id"),
)

incentive_grants = Table(
    "incentive_grants", metadata,
    Column("id", String(ID), primary_key=True),
    Column("invoice_id", String(ID), ForeignKey("invoices.id"), nullable=False),
    Column("customer_id", String(ID), ForeignKey("customers.id"), nullable=False),
    Column("subscription_id", String(ID), ForeignKey("subscriptions.id"), nullable=True),
    Column("source", String(ENUM), nullable=False),  # coupon, loyalty, skonto
    Column("source_code", String(64), nullable=False),  # the coupon or rule code; "skonto"
    Column("source_id", String(ID), nullable=True),  # the redemption or reward; the Skonto credit note
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_incentive_grants_invoice_id", "invoice_id"),
    Index("ix_incentive_grants_customer_id", "customer_id"),
    Index("ix_incentive_grants_source", "source"),
)

loyalty_rules = Table(
    "loyalty_rules", metadata,
    Column("code", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("criterion", String(ENUM), nullable=False),
    Column("streak", Integer, nullable=False),
    Column("percent", String(16), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

loyalty_streaks = Table(
    "loyalty_streaks", metadata,
    Column("subscription_id", String(ID), ForeignKey("subscriptions.id"), primary_key=True),
    Column("rule_code", String(64), ForeignKey("loyalty_rules.code"), primary_key=True),
    Column("invoice_ids", JSON, nullable=False),
    Column("version", Integer, nullable=False),
)

loyalty_rewards = Table(
    "loyalty_rewards", metadata,
    Column("id", String(ID), primary_key=True),
    Column("rule_code", String(64), ForeignKey("loyalty_rules.code"), nullable=False),
    Column("customer_id", String(ID), ForeignKey("customers.id"), nullable=False),
    Column("subscription_id", String(ID), ForeignKey("subscriptions.id"), nullable=False),
    Column("percent", String(16), nullable=False),
    Column("earned_by", JSON, nullable=False),
    Column("granted_at", UtcDateTime, nullable=False),
    Column("status", String(ENUM), nullable=False),
    Column("applied_invoice_id", String(ID), ForeignKey("invoices.id"), nullable=True),
    Column("version", Integer, nullable=False),
    Index("ix_loyalty_rewards_subscription_id_status", "subscription_id", "status"),
    Index("ix_loyalty_rewards_customer_id", "customer_id"),
)

retention_offers = Table(
    "retention_offers", metadata,
    Column("code", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(ENUM), nullable=False),  # discount, pause, switch_plan
    Column("coupon_code", String(64), ForeignKey("coupons.code"), nullable=True),
    Column("pause_months", Integer, nullable=True),
    Column("plan_code", String(64), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

retention_decisions = Table(
    "retention_decisions", metadata,
    Column("id", String(ID), primary_key=True),
    Column("subscription_id", String(ID), ForeignKey("subscriptions.id"), nullable=False),
    Column("customer_id", String(ID), ForeignKey("customers.id"), nullable=False),
    Column("offer_code", String(64), ForeignKey("retention_offers.code"), nullable=False),
    Column("decision", String(ENUM), nullable=False),  # accepted, declined
    Column("decided_at", UtcDateTime, nullable=False),
    Column("detail", Text, nullable=False),
    Column("resume_on", Date, nullable=True),  # an accepted pause: the day the subscription resumes
    Column("resumed", Boolean, nullable=False),
    Index("ix_retention_decisions_subscription_id", "subscription_id"),
    Index("ix_retention_decisions_resume_on", "resume_on"),
)

# -- customer communication (notify) ---------------------------------------------------------------------

outbox = Table(  # one row per event not yet turned into messages and webhook deliveries
    "outbox", metadata,
    Column("event_id", String(ID), ForeignKey("events.id"), primary_key=True),
    Column("available_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Index("ix_outbox_available_at_event_id", "available_at", "event_id"),
)

messages = Table(
    "messages", metadata,
    Column("id", String(ID), primary_key=True),
    Column("dedupe_key", String(255), nullable=False, unique=True),  # one email per (event or notice, recipient)
    Column("event_id", String(ID), nullable=True),
    Column("template", String(CODE), nullable=False),
    Column("customer_id", String(ID), ForeignKey("customers.id"), nullable=True),
    Column("recipient", Text, nullable=False),
    Column("locale", String(8), nullable=False),
    Column("subject", Text, nullable=False),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=False),
    Column("message_id", String(255), nullable=False),  # the Message-ID header, the same on every attempt
    Column("status", String(ENUM), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),  # NULL once sent or given up
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Index("ix_messages_next_attempt_at_id", "next_attempt_at", "id"),
    Index("ix_messages_customer_id", "customer_id"),
    Index("ix_messages_event_id", "event_id"),
    Index("ix_messages_created_at_id", "created_at", "id"),
)

webhook_endpoints = Table(
    "webhook_endpoints", metadata,
    Column("id", String(ID), primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret_enc", Text, nullable=False),  # Fernet ciphertext of the whsec_... signing secret
    Column("event_types", Text, nullable=False),  # comma-separated filters ("*", "payment.*", "invoice.paid")
    Column("description", Text, nullable=False),
    Column("status", String(ENUM), nullable=False),
    Column("consecutive_failures", Integer, nullable=False),
    Column("failing_since", UtcDateTime, nullable=True),
    Column("disabled_at", UtcDateTime, nullable=True),
    Column("disabled_reason", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("removed_at", UtcDateTime, nullable=True),
)

webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("id", String(ID), primary_key=True),
    Column("endpoint_id", String(ID), ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("event_type", String(128), nullable=False),
    Column("seq", Integer, nullable=False),  # 0: the original; 1, 2, ...: manual replays
    Column("body", Text, nullable=False),
    Column("status", String(ENUM), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    UniqueConstraint("endpoint_id", "event_id", "seq"),
    Index("ix_webhook_deliveries_next_attempt_at_id", "next_attempt_at", "id"),
    Index("ix_webhook_deliveries_event_id", "event_id"),
)

delivery_attempts = Table(  # every send attempt, email or webhook, with its result
    "delivery_attempts", metadata,
    Column("id", String(ID), primary_key=True),
    Column("channel", String(ENUM), nullable=False),  # email | webhook
    Column("message_id", String(ID), ForeignKey("messages.id"), nullable=True),
    Column("delivery_id", String(ID), ForeignKey("webhook_deliveries.id"), nullable=True),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Index("ix_delivery_attempts_message_id", "message_id"),
    Index("ix_delivery_attempts_delivery_id", "delivery_id"),
)

plan_notice_settings = Table(  # per plan: how many days before a charge the payment reminder goes out
    "plan_notice_settings", metadata,
    Column("plan_id", String(ID), ForeignKey("plans.id"), primary_key=True),
    Column("reminder_days", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# -- SEPA bank files (0008) -------------------------------------------------------------------------------

sepa_files = Table(
    "sepa_files", metadata,
    Column("id", String(ID), primary_key=True),
    Column("msg_id", String(35), nullable=False, unique=True),
    Column("format", String(ENUM), nullable=False),  # pain.008.001.08 | pain.008.001.02
    Column("created_at", UtcDateTime, nullable=False),  # CreDtTm: kept so the file can be made again
    Column("collection_on", Date, nullable=False),
    Column("nb_of_txs", Integer, nullable=False),
    Column("ctrl_sum_minor", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("creditor", JSON, nullable=False),  # name, IBAN, BIC, creditor id as written into the file
    Column("sha256", String(64), nullable=False),
)

sepa_file_items = Table(
    "sepa_file_items", metadata,
    Column("file_id", String(ID), ForeignKey("sepa_files.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("attempt_id", String(ID), ForeignKey("payment_attempts.id"), nullable=False, unique=True),
    Column("end_to_end_id", String(35), nullable=False, unique=True),
    Column("collection_on", Date, nullable=False),
    Column("scheme", String(ENUM), nullable=False),
    Column("sequence", String(4), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("mandate_reference", String(35), nullable=False),
    Column("mandate_signed_on", Date, nullable=False),
    Column("debtor_name", Text, nullable=False),
    Column("debtor_iban_enc", Text, nullable=False),  # Fernet ciphertext
    Column("debtor_bic", String(11), nullable=True),
    Column("remittance", String(140), nullable=False),
    Column("original_reference", String(35), nullable=True),
    Column("original_iban_enc", Text, nullable=True),
    Column("new_bank", Boolean, nullable=False),
)

bank_statements = Table(
    "bank_statements", metadata,
    Column("id", String(ID), primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("message", String(ENUM), nullable=False),  # camt.053.001.08, ...
    Column("msg_id", String(64), nullable=True),
    Column("file_name", Text, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
    Column("entries", Integer, nullable=False),
)

bank_lines = Table(
    "bank_lines", metadata,
    Column("id", String(ID), primary_key=True),
    Column("statement_id", String(ID), ForeignKey("bank_statements.id"), nullable=False),
    Column("entry_key", String(200), nullable=False, unique=True),  # the bank's reference: a line applies once
    Column("kind", String(ENUM), nullable=False),  # collection | return | transfer | other
    Column("booked_on", Date, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", CHAR(3), nullable=False),
    Column("fee_minor", BigInteger, nullable=False),
    Column("end_to_end_id", String(35), nullable=True),
    Column("mandate_reference", String(35), nullable=True),
    Column("reason_code", String(8), nullable=True),
    Column("counterparty", Text, nullable=True),
    Column("remittance", Text, nullable=False),
    Column("status", String(ENUM), nullable=False),  # applied | unmatched | ignored
    Column("invoice_id", String(ID), ForeignKey("invoices.id"), nullable=True),
    Column("attempt_id", String(ID), ForeignKey("payment_attempts.id"), nullable=True),
    Column("credit_minor", BigInteger, nullable=False),  # what went to the customer's credit balance
    Column("note", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_bank_lines_status", "status"),
    Index("ix_bank_lines_statement_id", "statement_id"),
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
