"""Typed identifiers. Ids are UUIDs (version 7, so they sort by creation time) kept as text."""

from __future__ import annotations

import os
import threading
import uuid
from typing import NewType

PlanId = NewType("PlanId", str)
PlanVersionId = NewType("PlanVersionId", str)
ProductId = NewType("ProductId", str)
CustomerId = NewType("CustomerId", str)
SubscriptionId = NewType("SubscriptionId", str)
EventId = NewType("EventId", str)
InvoiceId = NewType("InvoiceId", str)
JournalEntryId = NewType("JournalEntryId", str)
PaymentMethodId = NewType("PaymentMethodId", str)


_lock = threading.Lock()
_last_ms = -1
_counter = 0
_COUNTER_MAX = 0xFFF


def new_id(unix_ms: int | None = None) -> str:
    """A UUIDv7 string. ``unix_ms`` comes from the clock, so ids made under a test clock sort with it.

    Ids made by one process are strictly increasing (RFC 9562, method 1: the 12 ``rand_a`` bits hold a
    counter within a millisecond), so rows created under a frozen test clock still list in creation order.
    """
    global _last_ms, _counter
    ms = 0 if unix_ms is None else unix_ms
    with _lock:
        if ms > _last_ms:
            _last_ms, _counter = ms, int.from_bytes(os.urandom(1), "big")  # leave room to count
        else:
            _counter += 1
            if _counter > _COUNTER_MAX:
                _last_ms, _counter = _last_ms + 1, 0
        ms, counter = _last_ms, _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | counter << 64 | 0x2 << 62 | rand_b
    return str(uuid.UUID(int=value))
