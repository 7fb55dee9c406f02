"""Standard Webhooks signing (https://www.standardwebhooks.com): secrets ``whsec_<base64>`` and the header
``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``. Stdlib only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from aboguard.errors import InvalidInput

PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret: 24 random bytes, base64, with the ``whsec_`` prefix."""
    return PREFIX + base64.b64encode(os.urandom(24)).decode("ascii")


def secret_key(secret: str) -> bytes:
    raw = secret[len(PREFIX):] if secret.startswith(PREFIX) else secret
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        raise InvalidInput("a webhook secret is whsec_ followed by base64 (as `aboguard webhooks add` prints it)"
                           ) from None
    if len(key) < 16:
        raise InvalidInput("a webhook secret must hold at least 16 bytes")
    return key


def sign(secret: str, webhook_id: str, timestamp: int, body: str) -> str:
    digest = hmac.new(secret_key(secret), f"{webhook_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(secret: str, webhook_id: str, timestamp: int, body: str, header: str) -> bool:
    """Whether one of the space-separated ``v1,`` signatures in ``header`` matches (constant time)."""
    expected = sign(secret, webhook_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split())


__all__ = ["PREFIX", "new_secret", "secret_key", "sign", "verify"]
