"""Outgoing webhooks over HTTP (httpx) with Standard Webhooks headers and signature."""

from __future__ import annotations

import time
from datetime import datetime

import httpx

from . import signing
from .ports import SendResult

USER_AGENT = "aboguard-webhooks/1"


class HttpWebhookSender:
    """POSTs the body with ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``. Only a 2xx answer
    counts; redirects are not followed (an endpoint that moved must be updated)."""

    def __init__(self, *, timeout: float = 10.0, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def deliver(self, url: str, secret: str, webhook_id: str, timestamp: datetime, body: str) -> SendResult:
        unix = int(timestamp.timestamp())
        headers = {"content-type": "application/json", "user-agent": USER_AGENT, "webhook-id": webhook_id,
                   "webhook-timestamp": str(unix), "webhook-signature": signing.sign(secret, webhook_id, unix, body)}
        started = time.monotonic()
        try:
            response = self._client.post(url, content=body.encode("utf-8"), headers=headers)
        except httpx.HTTPError as exc:
            return SendResult(False, f"{type(exc).__name__}: {exc or 'no answer'} ({_ms(started)} ms)")
        if 200 <= response.status_code < 300:
            return SendResult(True, status_code=response.status_code)
        return SendResult(False, f"HTTP {response.status_code}: {response.text[:200]}",
                          status_code=response.status_code)

    def close(self) -> None:
        self._client.close()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


__all__ = ["HttpWebhookSender"]
