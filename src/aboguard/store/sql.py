"""The SQLAlchemy unit of work: one connection, one transaction, the repositories on top."""

from __future__ import annotations

from typing import Self

from sqlalchemy.engine import Connection, Engine

from .repositories import (
    SqlAcceptances,
    SqlBankStatements,
    SqlCancellationRequests,
    SqlCustomerRepository,
    SqlDunning,
    SqlEventLog,
    SqlGatewayEventLog,
    SqlIncentives,
    SqlInstallationSettings,
    SqlInvoiceRepository,
    SqlLedger,
    SqlMessages,
    SqlNotices,
    SqlNumberAllocator,
    SqlOutbox,
    SqlPaymentAttempts,
    SqlPaymentMethodRepository,
    SqlPlanRepository,
    SqlPriceChangeNotices,
    SqlProductRepository,
    SqlRefunds,
    SqlSepaFiles,
    SqlSubscriptionRepository,
    SqlTermsDocuments,
    SqlWebhooks,
)
from .repositories.payment_methods import NO_SECRETS
from .secrets import SecretBox


class SqlUnitOfWork:
    """``with uow: ...; uow.commit()`` -- leaving the block without commit rolls everything back."""

    products: SqlProductRepository
    plans: SqlPlanRepository
    customers: SqlCustomerRepository
    subscriptions: SqlSubscriptionRepository
    events: SqlEventLog
    settings: SqlInstallationSettings
    invoices: SqlInvoiceRepository
    numbers: SqlNumberAllocator
    ledger: SqlLedger
    payment_methods: SqlPaymentMethodRepository
    attempts: SqlPaymentAttempts
    gateway_events: SqlGatewayEventLog
    refunds: SqlRefunds
    dunning: SqlDunning
    incentives: SqlIncentives
    outbox: SqlOutbox
    messages: SqlMessages
    webhooks: SqlWebhooks
    notices: SqlNotices
    sepa_files: SqlSepaFiles
    bank: SqlBankStatements
    terms: SqlTermsDocuments
    acceptances: SqlAcceptances
    cancellations: SqlCancellationRequests
    price_changes: SqlPriceChangeNotices

    def __init__(self, engine: Engine, secrets: SecretBox | None = None) -> None:
        self.engine = engine
        self.secrets = secrets  # None: reading or writing an IBAN or token raises SecretsUnavailable
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already open; make a new one per transaction")
        connection = self.engine.connect()
        try:
            connection.begin()
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self.products = SqlProductRepository(connection)
        self.plans = SqlPlanRepository(connection)
        self.customers = SqlCustomerRepository(connection)
        self.subscriptions = SqlSubscriptionRepository(connection)
        self.events = SqlEventLog(connection)
        self.settings = SqlInstallationSettings(connection)
        self.invoices = SqlInvoiceRepository(connection)
        self.numbers = SqlNumberAllocator(connection)
        self.ledger = SqlLedger(connection)
        self.payment_methods = SqlPaymentMethodRepository(connection, self.secrets)
        self.attempts = SqlPaymentAttempts(connection)
        self.gateway_events = SqlGatewayEventLog(connection)
        self.refunds = SqlRefunds(connection)
        self.dunning = SqlDunning(connection)
        self.incentives = SqlIncentives(connection)
        self.outbox = SqlOutbox(connection)
        self.messages = SqlMessages(connection)
        self.webhooks = SqlWebhooks(connection, self.secrets)
        self.notices = SqlNotices(connection)
        self.sepa_files = SqlSepaFiles(connection, self.secrets or NO_SECRETS)
        self.bank = SqlBankStatements(connection)
        self.terms = SqlTermsDocuments(connection)
        self.acceptances = SqlAcceptances(connection)
        self.cancellations = SqlCancellationRequests(connection)
        self.price_changes = SqlPriceChangeNotices(connection)
        return self

    def __exit__(self, *exc_info: object) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if connection.in_transaction():
                connection.rollback()
        finally:
            connection.close()

    def commit(self) -> None:
        """Commit what was done so far. Later statements run in a new transaction (begun on first use)."""
        self._open().commit()

    def rollback(self) -> None:
        """Throw away what was done since the last commit."""
        self._open().rollback()

    def _open(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block")
        return self._connection


class SqlUnitOfWorkFactory:
    """Makes a new :class:`SqlUnitOfWork` per call, all on one engine (and one secret key, if given)."""

    def __init__(self, engine: Engine, secrets: SecretBox | None = None) -> None:
        self.engine = engine
        self.secrets = secrets

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.secrets)

    def close(self) -> None:
        """Close the engine's pooled connections (call when the process is done with the database)."""
        self.engine.dispose()
