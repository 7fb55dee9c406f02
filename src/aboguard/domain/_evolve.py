"""A faster ``dataclasses.replace`` for the billing run's hot path."""

from __future__ import annotations

from dataclasses import fields
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


@cache
def _slots(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


def evolve(obj: T, **changes: Any) -> T:
    """A copy of a frozen, slotted dataclass with ``changes``; only for classes without ``__post_init__``.

    ``dataclasses.replace`` re-runs ``__init__`` through a generic path; copying the slots directly is
    about three times faster, which matters a million times per billing run.
    """
    kind = type(obj)
    assert "__post_init__" not in vars(kind), f"{kind.__name__} validates in __post_init__: use replace()"
    new = object.__new__(kind)
    for name in _slots(kind):
        object.__setattr__(new, name, changes.pop(name) if name in changes else getattr(obj, name))
    if changes:
        raise TypeError(f"{kind.__name__} has no fields {sorted(changes)}")
    return new
