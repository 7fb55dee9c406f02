"""Typed identifiers. Ids are UUIDs (version 7, so they sort by creation time) kept as text."""

from __future__ import annotations

import os
import threading
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
_POOL_SIZE = 8 * 512
_pool = b""  # random bytes fetched from the OS in blocks: one system call per 512 ids, not two per id
_taken = _POOL_SIZE


def _forget_pool() -> None:
    """A forked child must not hand out its parent's random bytes again (both would make the same ids)."""
    global _pool, _taken
    _pool, _taken = b"", _POOL_SIZE


os.register_at_fork(after_in_child=_forget_pool)


def _random_bytes(count: int) -> bytes:
    """``count`` bytes from the OS's random source (call with ``_lock`` held)."""
    global _pool, _taken
    if _taken + count > len(_pool):
        _pool, _taken = os.urandom(_POOL_SIZE), 0
    start, _taken = _taken, _taken + count
    return _pool[start:_taken]


def new_id(unix_ms: int | None = None) -> str:
    """A UUIDv7 string. ``unix_ms`` comes from the clock, so ids made under a test clock sort with it.

    Ids made by one process are strictly increasing (RFC 9562, method 1: the 12 ``rand_a`` bits hold a
    counter within a millisecond), so rows created under a frozen test clock still list in creation order.
    """
    global _last_ms, _counter
    ms = 0 if unix_ms is None else unix_ms
    with _lock:
        if ms > _last_ms:
            _last_ms, _counter = ms, _random_bytes(1)[0]  # leave room to count
        else:
            _counter += 1
            if _counter > _COUNTER_MAX:
                _last_ms, _counter = _last_ms + 1, 0
        ms, counter = _last_ms, _counter
        rand_b = int.from_bytes(_random_bytes(8), "big") & ((1 << 62) - 1)
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | counter << 64 | 0x2 << 62 | rand_b
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
