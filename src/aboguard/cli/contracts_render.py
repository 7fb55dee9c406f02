"""JSON documents for terms, acceptances, cancellation requests and price-change notices."""

from __future__ import annotations

from typing import Any

from aboguard.domain.contracts import CancellationRequest
from aboguard.domain.price_changes import PriceChangeNotice
from aboguard.domain.terms import Acceptance, TermsDocument


def terms_dict(d: TermsDocument, *, with_text: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {
        "id": d.id, "code": d.code, "version": d.version, "language": d.language.value, "valid_from": d.valid_from,
        "sha256": d.sha256, "filename": d.filename, "media_type": d.media_type, "bytes": len(d.content),
        "published_at": d.published_at}
    if with_text:
        result["text"] = d.text()
    return result


def acceptance_dict(a: Acceptance) -> dict[str, Any]:
    return {"id": a.id, "subscription_id": a.subscription_id, "customer_id": a.customer_id,
            "accepted_at": a.accepted_at, "channel": a.channel.value, "accepted_by": a.accepted_by,
            "reason": a.reason, "ip_address": a.ip_address, "user_agent": a.user_agent,
            "terms": {"code": a.terms_code, "version": a.terms_version, "language": a.terms_language,
                      "sha256": a.terms_sha256, "document_id": a.terms_document_id} if a.terms_code else None,
            "summary_sha256": a.summary_sha256, "summary_locale": a.summary_locale}


def cancellation_dict(r: CancellationRequest) -> dict[str, Any]:
    return {"id": r.id, "subscription_id": r.subscription_id, "customer_id": r.customer_id, "kind": r.kind.value,
            "received_at": r.received_at, "received_on": r.received_on, "name": r.identity.name,
            "email": r.identity.email, "contract_ref": r.identity.contract_ref, "channel": r.channel,
            "reason": r.reason, "requested_last_day": r.requested_last_day, "earliest_possible": r.earliest_possible,
            "requested_too_early": r.requested_too_early, "ends_on": r.ends_on, "last_day": r.last_day}


def price_notice_dict(n: PriceChangeNotice) -> dict[str, Any]:
    return {"id": n.id, "subscription_id": n.subscription_id, "old_price": n.old_price, "new_price": n.new_price,
            "announced_at": n.announced_at, "effective_on": n.effective_on, "status": n.status.value,
            "decided_at": n.decided_at, "channel": n.decision_channel}
