"""Links into the customer portal: signed, expiring tokens scoped to one customer and one purpose.

A token is ``<base64url(payload)>.<base64url(HMAC-SHA256(secret, payload))>`` where the payload is compact
JSON ``{"c": customer id, "p": purpose, "e": expiry (unix seconds)}``. It carries no personal data beyond
the customer id, and it cannot be changed (customer, purpose or expiry) without the secret. Verification
compares signatures in constant time and names what was wrong. The portal pages come later; links are
issued now by the notify dispatcher.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from aboguard.errors import AboguardError, InvalidInput

PURPOSES = frozenset({"update_payment_method", "pay_invoice", "manage_subscription", "authenticate_payment"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidPortalToken(AboguardError):
    """A portal link was changed, is malformed, is for another purpose, or has expired."""

    code, status = "portal.invalid_token", 401


class PortalTokenExpired(InvalidPortalToken):
    code = "portal.token_expired"


@dataclass(frozen=True, slots=True)
class PortalClaim:
    customer_id: str
    purpose: str
    expires_at: datetime


class PortalTokens:
    """Issues and verifies portal tokens with one secret (at least 16 bytes)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise InvalidInput("the portal secret must be at least 16 bytes long")
        self._secret = secret

    def issue_token(self, customer_id: str, purpose: str, expires: datetime) -> str:
        if purpose not in PURPOSES:
            raise InvalidInput(f"unknown portal purpose {purpose!r}: use one of {', '.join(sorted(PURPOSES))}")
        if expires.tzinfo is None:
            raise InvalidInput("a portal token's expiry must be a timezone-aware instant")
        payload = json.dumps({"c": customer_id, "p": purpose, "e": int((expires - _EPOCH).total_seconds())},
                             separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def verify_token(self, token: str, *, now: datetime, purpose: str | None = None) -> PortalClaim:
        """The claim of a genuine, unexpired token (for ``purpose`` when given); raises InvalidPortalToken
        (PortalTokenExpired once it has run out)."""
        try:
            body, signature = token.strip().split(".")
            payload = _unb64(body)
            given = _unb64(signature)
        except ValueError:
            raise InvalidPortalToken("the portal link is malformed: copy the whole link from the email") from None
        if not hmac.compare_digest(given, self._sign(payload)):
            raise InvalidPortalToken("the portal link's signature does not match: it was changed or is not ours")
        data = json.loads(payload)
        claim = PortalClaim(str(data["c"]), str(data["p"]), datetime.fromtimestamp(int(data["e"]), UTC))
        if purpose is not None and claim.purpose != purpose:
            raise InvalidPortalToken(f"this portal link is for {claim.purpose}, not {purpose}")
        if now >= claim.expires_at:
            raise PortalTokenExpired(f"the portal link expired on {claim.expires_at:%Y-%m-%d %H:%M} UTC: ask for a "
                                     "new one")
        return claim

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or not all(c.isalnum() or c in "-_" for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


__all__ = ["PURPOSES", "InvalidPortalToken", "PortalClaim", "PortalTokenExpired", "PortalTokens"]
