"""Terms documents, acceptance records, cancellation requests and price-change notices.

Terms documents and acceptances are insert-only: these repositories have no update or delete, and the
database refuses both (migration 0009 adds triggers).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from aboguard.domain.contracts import CancellationIdentity, CancellationKind, CancellationRequest
from aboguard.domain.price_changes import PriceChangeNotice, PriceChangeStatus
from aboguard.domain.terms import Acceptance, AcceptanceChannel, Language, TermsDocument, TermsNotFound
from aboguard.errors import ConcurrentUpdate
from aboguard.money import Money
from aboguard.store.tables import cancellation_requests, contract_acceptances, price_change_notices, terms_documents

_TERMS = ("id", "code", "version", "valid_from", "sha256", "filename", "media_type", "published_at")
_ACCEPTANCE = ("id", "subscription_id", "customer_id", "accepted_at", "accepted_by", "reason", "summary_text",
               "summary_sha256", "summary_locale", "terms_document_id", "terms_code", "terms_version",
               "terms_language", "terms_sha256", "ip_address", "user_agent")


def _terms_from_row(row: Any) -> TermsDocument:
    return TermsDocument(**{name: row[name] for name in _TERMS}, language=Language(row["language"]),
                         content=bytes(row["content"]))


class SqlTermsDocuments:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, document: TermsDocument) -> None:
        row = {name: getattr(document, name) for name in _TERMS}
        row.update(language=document.language.value, content=document.content)
        self._conn.execute(insert(terms_documents).values(row))

    def get(self, document_id: str) -> TermsDocument:
        row = self._conn.execute(select(terms_documents).where(terms_documents.c.id == document_id)).mappings().first()
        if row is None:
            raise TermsNotFound(f"no terms document with id {document_id!r}")
        return _terms_from_row(row)

    def versions(self, code: str | None = None) -> list[TermsDocument]:
        """Every published version (of ``code``), by code, language and version."""
        query = select(terms_documents)
        if code is not None:
            query = query.where(terms_documents.c.code == code)
        query = query.order_by(terms_documents.c.code, terms_documents.c.language, terms_documents.c.version)
        return [_terms_from_row(row) for row in self._conn.execute(query).mappings()]


class SqlAcceptances:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, acceptance: Acceptance) -> None:
        row = {name: getattr(acceptance, name) for name in _ACCEPTANCE}
        row["channel"] = acceptance.channel.value
        self._conn.execute(insert(contract_acceptances).values(row))

    def for_subscription(self, subscription_id: str) -> list[Acceptance]:
        query = (select(contract_acceptances).where(contract_acceptances.c.subscription_id == subscription_id)
                 .order_by(contract_acceptances.c.accepted_at, contract_acceptances.c.id))
        return [Acceptance(**{name: row[name] for name in _ACCEPTANCE}, channel=AcceptanceChannel(row["channel"]))
                for row in self._conn.execute(query).mappings()]


class SqlCancellationRequests:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, request: CancellationRequest) -> None:
        self._conn.execute(insert(cancellation_requests).values(
            id=request.id, subscription_id=request.subscription_id, customer_id=request.customer_id,
            kind=request.kind.value, received_at=request.received_at, received_on=request.received_on,
            identity_name=request.identity.name, identity_email=request.identity.email,
            contract_ref=request.identity.contract_ref, channel=request.channel,
            earliest_possible=request.earliest_possible, requested_too_early=request.requested_too_early,
            ends_on=request.ends_on, reason=request.reason, requested_last_day=request.requested_last_day))

    def for_subscription(self, subscription_id: str) -> list[CancellationRequest]:
        t = cancellation_requests
        query = select(t).where(t.c.subscription_id == subscription_id).order_by(t.c.received_at, t.c.id)
        return [CancellationRequest(
            id=row["id"], subscription_id=row["subscription_id"], customer_id=row["customer_id"],
            kind=CancellationKind(row["kind"]), received_at=row["received_at"], received_on=row["received_on"],
            identity=CancellationIdentity(row["identity_name"], row["identity_email"], row["contract_ref"]),
            channel=row["channel"], earliest_possible=bool(row["earliest_possible"]), ends_on=row["ends_on"],
            reason=row["reason"], requested_last_day=row["requested_last_day"],
            requested_too_early=bool(row["requested_too_early"]))
            for row in self._conn.execute(query).mappings()]


def _notice_from_row(row: Any) -> PriceChangeNotice:
    return PriceChangeNotice(
        id=row["id"], subscription_id=row["subscription_id"], customer_id=row["customer_id"],
        from_version_id=row["from_version_id"], to_version_id=row["to_version_id"],
        old_price=Money(row["old_amount_minor"], row["currency"]), new_price=Money(row["new_amount_minor"],
                                                                                   row["currency"]),
        announced_at=row["announced_at"], effective_on=row["effective_on"], status=PriceChangeStatus(row["status"]),
        decided_at=row["decided_at"], decision_channel=row["decision_channel"], version=row["version"])


class SqlPriceChangeNotices:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, notice: PriceChangeNotice) -> None:
        self._conn.execute(insert(price_change_notices).values(
            id=notice.id, subscription_id=notice.subscription_id, customer_id=notice.customer_id,
            from_version_id=notice.from_version_id, to_version_id=notice.to_version_id,
            old_amount_minor=notice.old_price.minor, new_amount_minor=notice.new_price.minor,
            currency=notice.new_price.currency, announced_at=notice.announced_at, effective_on=notice.effective_on,
            status=notice.status.value, decided_at=notice.decided_at, decision_channel=notice.decision_channel,
            version=notice.version))

    def save(self, notice: PriceChangeNotice) -> PriceChangeNotice:
        t = price_change_notices
        result = self._conn.execute(update(t).where(t.c.id == notice.id, t.c.version == notice.version).values(
            status=notice.status.value, decided_at=notice.decided_at, decision_channel=notice.decision_channel,
            version=t.c.version + 1))
        if result.rowcount == 0:
            raise ConcurrentUpdate(f"price change notice {notice.id} was changed by someone else; try again")
        return replace(notice, version=notice.version + 1)

    def for_subscription(self, subscription_id: str) -> list[PriceChangeNotice]:
        t = price_change_notices
        query = select(t).where(t.c.subscription_id == subscription_id).order_by(t.c.announced_at, t.c.id)
        return [_notice_from_row(row) for row in self._conn.execute(query).mappings()]
