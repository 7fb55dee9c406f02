"""Document number patterns such as ``RE-{year}-{seq:06}``.

A pattern names a series; the counter restarts for each scope the pattern shows (per year when it has
``{year}``, per month with ``{month}``, never otherwise), so numbers stay unique. The counter itself is
allocated gaplessly by the store in the transaction that issues the document.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date

from aboguard.errors import InvalidInput

DEFAULT_INVOICE_PATTERN = "RE-{year}-{seq:06}"
DEFAULT_CREDIT_NOTE_PATTERN = "ST-{year}-{seq:06}"  # Stornorechnung; never the bare word "Gutschrift"
_FIELDS = {"seq", "year", "month"}
_SAFE = re.compile(r"^[A-Za-z0-9/_.\-{}:]+$")


@dataclass(frozen=True, slots=True)
class NumberPattern:
    series: str
    pattern: str

    def __post_init__(self) -> None:
        validate_pattern(self.pattern)

    def scope(self, issued_on: date) -> str:
        """The counter's scope: the counter restarts whenever this changes."""
        fields = _fields(self.pattern)
        if "month" in fields:
            return f"{issued_on.year:04d}-{issued_on.month:02d}"
        if "year" in fields:
            return f"{issued_on.year:04d}"
        return ""

    def format(self, seq: int, issued_on: date) -> str:
        return self.pattern.format(seq=seq, year=issued_on.year, month=f"{issued_on.month:02d}")


def validate_pattern(pattern: str) -> str:
    """Refuse patterns that could repeat a number or that a bank reference line would mangle."""
    if not pattern or not _SAFE.match(pattern):
        raise InvalidInput(f"number pattern {pattern!r} may use only letters, digits, - _ / . and fields "
                           "such as {year} and {seq:06}")
    try:
        fields = _fields(pattern)
    except ValueError as exc:
        raise InvalidInput(f"number pattern {pattern!r} is not valid ({exc}); use fields {{seq}}, {{year}}, "
                           "{month}, e.g. RE-{year}-{seq:06}") from None
    unknown = fields - _FIELDS
    if unknown:
        raise InvalidInput(f"number pattern {pattern!r} has unknown fields {sorted(unknown)}; "
                           "use seq, year, month")
    if "seq" not in fields:
        raise InvalidInput(f"number pattern {pattern!r} needs a {{seq}} field, e.g. RE-{{year}}-{{seq:06}}")
    try:
        pattern.format(seq=1, year=2026, month="01")
    except (ValueError, KeyError, IndexError) as exc:
        raise InvalidInput(f"number pattern {pattern!r} is not valid ({exc}); use fields {{seq}}, {{year}}, "
                           "{month}, e.g. RE-{year}-{seq:06}") from None
    if "month" in fields and "year" not in fields:
        raise InvalidInput(f"number pattern {pattern!r} has {{month}} without {{year}}, so numbers would repeat")
    return pattern


def _fields(pattern: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
