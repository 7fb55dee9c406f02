"""Bank files: pain.008 direct-debit initiations written and camt.052/053/054 reports read, streamed with lxml
and validated against the official ISO 20022 schemas in ``schemas/``. An adapter: services call it through
:mod:`aboguard.bankfiles.pain008` and :mod:`aboguard.bankfiles.camt`; the rules live in ``aboguard.domain``."""

from .camt import BankFileError, StatementReader, detect_message
from .pain008 import FORMATS, Creditor, FileHeader, write_pain008
from .xsd import schema_for

__all__ = ["FORMATS", "BankFileError", "Creditor", "FileHeader", "StatementReader", "detect_message", "schema_for",
           "write_pain008"]
