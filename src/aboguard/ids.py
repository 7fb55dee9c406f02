"""Typed identifiers. Ids are UUIDs (version 7, so they sort by creation time) kept as text."""

from __future__ import annotations

import os
import uuid
from typing import NewType

PlanId = NewType("PlanId", str)
PlanVersionId = NewType("PlanVersionId", str)
ProductId = NewType("ProductId", str)
CustomerId = NewType("CustomerId", str)
SubscriptionId = NewType("SubscriptionId", str)
EventId = NewType("EventId", str)


def new_id(unix_ms: int | None = None) -> str:
    """A UUIDv7 string. ``unix_ms`` comes from the clock, so ids made under a test clock sort with it."""
    ms = 0 if unix_ms is None else unix_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | rand & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))
