"""SQLAlchemy Core repositories, one per aggregate; each works on the unit of work's connection."""

from .contracts import SqlAcceptances, SqlCancellationRequests, SqlPriceChangeNotices, SqlTermsDocuments
from .customers import SqlCustomerRepository
from .dunning import SqlDunning
from .events import SqlEventLog
from .invoices import SqlInvoiceRepository
from .ledger import SqlLedger
from .numbers import SqlNumberAllocator
from .payment_methods import SqlPaymentMethodRepository
from .payments import SqlGatewayEventLog, SqlPaymentAttempts
from .plans import SqlPlanRepository
from .products import SqlProductRepository
from .refunds import SqlRefunds
from .settings import SqlInstallationSettings
from .subscriptions import SqlSubscriptionRepository

__all__ = [
    "SqlAcceptances",
    "SqlCancellationRequests",
    "SqlCustomerRepository",
    "SqlDunning",
    "SqlEventLog",
    "SqlGatewayEventLog",
    "SqlInstallationSettings",
    "SqlInvoiceRepository",
    "SqlLedger",
    "SqlNumberAllocator",
    "SqlPaymentAttempts",
    "SqlPaymentMethodRepository",
    "SqlPlanRepository",
    "SqlPriceChangeNotices",
    "SqlProductRepository",
    "SqlRefunds",
    "SqlSubscriptionRepository",
    "SqlTermsDocuments",
]
