"""SQLAlchemy Core repositories, one per aggregate; each works on the unit of work's connection."""

from .contracts import SqlAcceptances, SqlCancellationRequests, SqlPriceChangeNotices, SqlTermsDocuments
from .customers import SqlCustomerRepository
from .dunning import SqlDunning
from .events import SqlEventLog
from .incentives import SqlIncentives
from .invoices import SqlInvoiceRepository
from .ledger import SqlLedger
from .notify import SqlMessages, SqlNotices, SqlOutbox, SqlWebhooks
from .numbers import SqlNumberAllocator
from .payment_methods import SqlPaymentMethodRepository
from .payments import SqlGatewayEventLog, SqlPaymentAttempts
from .plans import SqlPlanRepository
from .products import SqlProductRepository
from .refunds import SqlRefunds
from .sepa import SqlBankStatements, SqlSepaFiles
from .settings import SqlInstallationSettings
from .subscriptions import SqlSubscriptionRepository

__all__ = [
    "SqlAcceptances",
    "SqlBankStatements",
    "SqlCancellationRequests",
    "SqlCustomerRepository",
    "SqlDunning",
    "SqlEventLog",
    "SqlGatewayEventLog",
    "SqlIncentives",
    "SqlInstallationSettings",
    "SqlInvoiceRepository",
    "SqlLedger",
    "SqlMessages",
    "SqlNotices",
    "SqlNumberAllocator",
    "SqlOutbox",
    "SqlPaymentAttempts",
    "SqlPaymentMethodRepository",
    "SqlPlanRepository",
    "SqlPriceChangeNotices",
    "SqlProductRepository",
    "SqlRefunds",
    "SqlSepaFiles",
    "SqlSubscriptionRepository",
    "SqlTermsDocuments",
    "SqlWebhooks",
]
