"""Portal links: signed, expiring, scoped to one customer and one purpose."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from aboguard.domain.portal import InvalidPortalToken, PortalTokenExpired, PortalTokens
from aboguard.errors import InvalidInput

NOW = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
TOKENS = PortalTokens(b"0123456789abcdef0123456789abcdef")


def test_a_token_verifies_and_names_its_customer_purpose_and_expiry() -> None:
    token = TOKENS.issue_token("cus-1", "update_payment_method", NOW + timedelta(days=14))
    claim = TOKENS.verify_token(token, now=NOW, purpose="update_payment_method")
    assert (claim.customer_id, claim.purpose, claim.expires_at) == ("cus-1", "update_payment_method",
                                                                     NOW + timedelta(days=14))
    assert "=" not in token and token.count(".") == 1  # URL-safe, no padding


def test_an_expired_token_is_refused_with_its_expiry() -> None:
    token = TOKENS.issue_token("cus-1", "pay_invoice", NOW + timedelta(hours=1))
    TOKENS.verify_token(token, now=NOW + timedelta(minutes=59))
    with pytest.raises(PortalTokenExpired, match="expired on 2026-11-29 07:00"):
        TOKENS.verify_token(token, now=NOW + timedelta(hours=1))


def test_a_changed_token_is_refused() -> None:
    token = TOKENS.issue_token("cus-1", "pay_invoice", NOW + timedelta(days=1))
    body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["c"] = "cus-2"  # someone else's account
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidPortalToken, match="signature does not match"):
        TOKENS.verify_token(f"{forged}.{signature}", now=NOW)
    with pytest.raises(InvalidPortalToken, match="signature"):
        PortalTokens(b"another-secret-of-32-bytes-long!").verify_token(token, now=NOW)
    with pytest.raises(InvalidPortalToken, match="malformed"):
        TOKENS.verify_token(token[:-3] + "%%%", now=NOW)
    with pytest.raises(InvalidPortalToken, match="malformed"):
        TOKENS.verify_token("no-dot-here", now=NOW)


def test_a_token_is_only_good_for_its_purpose() -> None:
    token = TOKENS.issue_token("cus-1", "pay_invoice", NOW + timedelta(days=1))
    with pytest.raises(InvalidPortalToken, match="for pay_invoice, not update_payment_method"):
        TOKENS.verify_token(token, now=NOW, purpose="update_payment_method")


def test_bad_secrets_and_purposes_are_refused() -> None:
    with pytest.raises(InvalidInput, match="at least 16 bytes"):
        PortalTokens(b"short")
    with pytest.raises(InvalidInput, match="unknown portal purpose"):
        TOKENS.issue_token("cus-1", "delete_everything", NOW)
