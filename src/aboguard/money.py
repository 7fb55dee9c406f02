"""Money: an integer number of minor units plus an ISO 4217 currency code. Never a float.

Why integers of minor units: an invoice line, a payment and a ledger entry are always a whole number of
cents (yen, fils, ...). Integers add, subtract and compare exactly, so 0.10 + 0.20 is exactly 30 cents
and totals never drift. Arithmetic is allowed only within one currency (else ``CurrencyMismatch``).

Where rounding happens: only where a rate turns into money, and only in these named places, each of
which takes an explicit ``rounding`` mode (half-up unless told otherwise):
:func:`round_to_minor` / :meth:`Money.from_decimal` (a major-unit ``Decimal`` to minor units) and
:meth:`Money.multiply` (a ``Decimal`` rate such as 19 % VAT). Each rounds exactly once: the arithmetic
before it runs in a ``decimal`` context wide enough to be exact, never the ambient 28-digit one.
:meth:`Money.parse` never rounds; it refuses text with more decimals than the currency has.
:meth:`Money.allocate` does not round either: it splits by largest remainder so the parts always sum
to the whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_05UP,
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from fractions import Fraction

from aboguard.currencies import CURRENCY_EXPONENTS
from aboguard.errors import CurrencyMismatch, InvalidMoney, UnknownCurrency

__all__ = ["CURRENCY_EXPONENTS", "Money", "check_currency", "exponent", "round_to_minor"]

_ROUNDINGS = frozenset({ROUND_05UP, ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_DOWN, ROUND_HALF_EVEN,
                        ROUND_HALF_UP, ROUND_UP})
_ONE = Decimal(1)
# Optional sign, then digits with '.', ',' and spaces (incl. the no-break spaces babel emits) in between.
_AMOUNT = re.compile(r"([+-]?)([0-9](?:[0-9., \u00a0\u202f]*[0-9])?)")
_NOT_AN_AMOUNT = "{text!r} is not an amount: write it like 9.99, 9,99, 1.234,56 or 1,234.56"


def check_currency(currency: str) -> str:
    """The upper-case code of an active ISO 4217 currency ("eur" -> "EUR"), or ``UnknownCurrency``."""
    code = currency.strip().upper() if isinstance(currency, str) else ""
    if code not in CURRENCY_EXPONENTS:
        raise UnknownCurrency(f"unknown currency {currency!r}: use a three-letter ISO 4217 code such as EUR")
    return code


def exponent(currency: str) -> int:
    """Number of minor-unit digits per ISO 4217: EUR 2, JPY 0, BHD 3, CLF 4."""
    return CURRENCY_EXPONENTS[check_currency(currency)]


def round_to_minor(amount: Decimal, currency: str, rounding: str = ROUND_HALF_UP) -> int:
    """A major-unit ``Decimal`` (12.345 EUR) as whole minor units of ``currency`` (1235), rounded once.

    Only ``Decimal`` is accepted: a float is inexact, and an int would be too easy to confuse with minor
    units (``Money.from_decimal(999, "EUR")`` would be 999.00 EUR, not 9.99).
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"round_to_minor takes a Decimal, not {type(amount).__name__}")
    _check_rounding(rounding)
    if not amount.is_finite():
        raise InvalidMoney(f"{amount} is not an amount: money must be a finite number")
    places = exponent(currency)
    ctx = _exact_context(amount, extra_digits=places)
    return int(amount.scaleb(places, context=ctx).quantize(_ONE, rounding=rounding, context=ctx))


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An exact amount: ``minor`` whole minor units (cents for EUR, yen for JPY) of ``currency``.

    Equality and hashing come from the dataclass, so ``Money(100, "EUR") != Money(100, "USD")`` is simply
    False. Ordering (<, <=, >, >=) and arithmetic refuse to mix currencies. Truthiness is not defined
    (every Money is truthy); ask :meth:`is_zero`, :meth:`is_positive` or :meth:`is_negative` instead.
    """

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.minor) is not int:  # exact type: bool is an int subclass and must be refused
            raise InvalidMoney(
                f"money needs a whole number of minor units (an int such as 999 for 9.99), not {self.minor!r}"
            )
        if self.currency not in CURRENCY_EXPONENTS:  # fast path: already a valid upper-case code
            object.__setattr__(self, "currency", check_currency(self.currency))

    # -- construction -----------------------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Read an amount a person typed: "9.99", "9,99", "-9.99", "1000", "1.234,56", "1,234.56", "1 234,56".

        Which separator is the decimal one: if both '.' and ',' occur, the last one; if one of them occurs
        once, that one (so "1.234" is one point two three four, which EUR refuses as too many decimals);
        if one occurs several times, it groups thousands ("1.234.567"). Grouped digits must come in threes.
        Spaces (also no-break spaces) group thousands. Never rounds: more decimals than the currency has
        is ``InvalidMoney``.
        """
        code = check_currency(currency)
        places = CURRENCY_EXPONENTS[code]
        shown = text.strip() if isinstance(text, str) else text
        match = _AMOUNT.fullmatch(shown) if isinstance(shown, str) else None
        if match is None:
            raise InvalidMoney(_NOT_AN_AMOUNT.format(text=shown))
        sign, body = match.groups()
        body = body.replace("\u00a0", " ").replace("\u202f", " ")
        integer, fraction, lone_separator = _split_amount(body, shown)
        if len(fraction) > places:
            hint = ""
            if lone_separator and len(fraction) == 3 and len(integer) <= 3 and not integer.startswith("0"):
                hint = f"; a single {lone_separator!r} is read as the decimal separator"
            raise InvalidMoney(f"{shown!r} has more decimals than {code} allows ({places}){hint}")
        try:
            minor = int(integer + fraction.ljust(places, "0"))
        except ValueError:  # more digits than int() converts from text
            raise InvalidMoney(f"{shown!r} is not an amount: it has far too many digits") from None
        return cls(-minor if sign == "-" else minor, code)

    @classmethod
    def from_decimal(cls, amount: Decimal, currency: str, rounding: str = ROUND_HALF_UP) -> Money:
        """A major-unit ``Decimal`` rounded to the minor unit (see :func:`round_to_minor`)."""
        return cls(round_to_minor(amount, currency, rounding), currency)

    # -- conversion -------------------------------------------------------------------------------------

    def to_decimal(self) -> Decimal:
        """The amount in major units with exactly ``exponent`` places: Decimal("9.99"), Decimal("1000")."""
        return Decimal(f"{self.minor}E-{exponent(self.currency)}")  # built from text: exact at any size

    def to_dict(self) -> dict[str, int | str]:
        return {"amount_minor": self.minor, "currency": self.currency}

    def __str__(self) -> str:
        """Plain, locale-free text for logs: "9.99 EUR", "1000 JPY", "-0.05 EUR"."""
        return f"{self.to_decimal():f} {self.currency}"

    def format(self, locale: str = "de") -> str:
        """Localised text via babel, e.g. "9,99\xa0€" (de), "€9.99" (en), "¥1,000" (en, JPY).

        babel's output is returned as is: German puts a no-break space (U+00A0) between amount and
        symbol, French groups with U+202F. ``locale`` is "de", "en", "de_DE", "en_GB" (or "de-DE").
        The number of decimals is always the ISO 4217 exponent (babel's CLDR digits differ for some
        currencies, e.g. IQD or HUF), so the text shows exactly the stored amount, never a rounded one.
        An unknown locale raises babel's ``UnknownLocaleError`` (a ``ValueError`` for malformed names).
        """
        from babel import Locale
        from babel.numbers import format_currency, parse_pattern

        places = exponent(self.currency)
        where = Locale.parse(locale.replace("-", "_"))
        # A fresh pattern from the locale's text: the NumberPattern objects babel caches per locale are
        # shared process-wide and must not be modified.
        pattern = parse_pattern(where.currency_formats["standard"].pattern)
        pattern.frac_prec = (places, places)
        return format_currency(self.to_decimal(), self.currency, format=pattern, locale=where,
                               currency_digits=False, decimal_quantization=True)

    # -- arithmetic and comparison (one currency only) -------------------------------------------------

    def _same_currency(self, other: Money, message: str) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(message.format(mine=self.currency, theirs=other.currency))

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "cannot add {theirs} to {mine}")
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "cannot subtract {theirs} from {mine}")
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "cannot compare {mine} with {theirs}")
        return self.minor < other.minor

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "cannot compare {mine} with {theirs}")
        return self.minor <= other.minor

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "cannot compare {mine} with {theirs}")
        return self.minor > other.minor

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "cannot compare {mine} with {theirs}")
        return self.minor >= other.minor

    def is_zero(self) -> bool:
        return self.minor == 0

    def is_positive(self) -> bool:
        return self.minor > 0

    def is_negative(self) -> bool:
        return self.minor < 0

    def multiply(self, factor: Decimal | int, rounding: str = ROUND_HALF_UP) -> Money:
        """``self * factor`` rounded once to the minor unit (half-up unless told otherwise).

        ``factor`` is a ``Decimal`` rate or an int; a float is refused with ``TypeError``.
        """
        if isinstance(factor, bool) or not isinstance(factor, Decimal | int):
            raise TypeError(f"multiply money by a Decimal or an int, not {type(factor).__name__}")
        _check_rounding(rounding)
        rate = Decimal(factor)
        if not rate.is_finite():
            raise InvalidMoney(f"cannot multiply money by {rate}: the factor must be a finite number")
        minor = Decimal(self.minor)
        ctx = _exact_context(minor, rate)
        product = ctx.multiply(minor, rate)
        return Money(int(product.quantize(_ONE, rounding=rounding, context=ctx)), self.currency)

    def allocate(self, ratios: Sequence[int | Decimal]) -> list[Money]:
        """Split in proportion to ``ratios``; the parts always sum exactly to the whole.

        Largest remainder: each part first gets its exact share rounded towards zero; the minor units
        left over go, one each, to the parts whose share lost the most, ties to the earlier part. So
        equal ratios give the first parts the extra units (10.00 over [1, 1, 1] is 3.34, 3.33, 3.33),
        every part is less than one minor unit from its exact share, and a zero ratio gets zero.
        Negative amounts split symmetrically (-10.00 -> -3.34, -3.33, -3.33). Ratios are ints or
        ``Decimal`` s, non-negative, with a positive sum; anything else is ``InvalidMoney``.
        """
        weights = _weights(ratios)
        total = sum(weights, Fraction(0))
        whole = abs(self.minor)
        shares = [whole * w // total for w in weights]
        left = whole - sum(shares)
        by_loss = sorted(range(len(weights)), key=lambda i: (-((whole * weights[i]) % total), i))
        for i in by_loss[:left]:
            shares[i] += 1
        sign = -1 if self.minor < 0 else 1
        return [Money(sign * share, self.currency) for share in shares]

    def split(self, n: int) -> list[Money]:
        """``n`` parts as equal as possible (they differ by at most one minor unit, larger first)."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise InvalidMoney(f"cannot split money into {n!r} parts: give a whole number of at least 1")
        return self.allocate([1] * n)


# -- helpers ---------------------------------------------------------------------------------------------


def _check_rounding(rounding: str) -> None:
    if rounding not in _ROUNDINGS:
        raise ValueError(f"unknown rounding mode {rounding!r}: use one of the decimal.ROUND_* constants")


def _exact_context(*numbers: Decimal, extra_digits: int = 0) -> Context:
    """A context wide enough that products and scalings of ``numbers`` are exact (no hidden rounding)."""
    digits = sum(len(n.as_tuple().digits) + max(int(n.as_tuple().exponent), 0) for n in numbers)
    return Context(prec=max(28, digits + extra_digits + 2), rounding=ROUND_HALF_EVEN, Emax=MAX_EMAX,
                   Emin=MIN_EMIN, traps=[InvalidOperation, DivisionByZero, Overflow])


def _weights(ratios: Sequence[int | Decimal]) -> list[Fraction]:
    bad = InvalidMoney(
        f"allocation ratios must be ints or Decimals, none negative, with a positive sum, not {ratios!r}"
    )
    if isinstance(ratios, str | bytes) or not isinstance(ratios, Sequence):
        raise bad
    weights: list[Fraction] = []
    for ratio in ratios:
        if isinstance(ratio, bool) or not isinstance(ratio, int | Decimal):
            raise bad
        if isinstance(ratio, Decimal) and not ratio.is_finite():
            raise bad
        weight = Fraction(ratio)
        if weight < 0:
            raise bad
        weights.append(weight)
    if sum(weights, Fraction(0)) <= 0:
        raise bad
    return weights


def _split_amount(body: str, shown: str) -> tuple[str, str, str]:
    """Split "1.234,56" into ("1234", "56", "") -- integer digits, fraction digits, lone separator.

    The third item is the separator when a single '.' or ',' was read as the decimal one, else "".
    """
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        decimal_sep = "." if body.rfind(".") > body.rfind(",") else ","
        group_sep = "," if decimal_sep == "." else "."
        lone = ""
    elif dots == 1 or commas == 1:
        decimal_sep, group_sep = ("." if dots else ","), ""
        lone = decimal_sep
    else:  # no separator, or one kind repeated: that kind groups thousands
        decimal_sep, group_sep, lone = "", ("." if dots else "," if commas else ""), ""
    integer, _, fraction = body.rpartition(decimal_sep) if decimal_sep else (body, "", "")
    if not fraction.isdigit() and decimal_sep:  # "1.234,5 6", "1,2.3,4"
        raise InvalidMoney(_NOT_AN_AMOUNT.format(text=shown))
    groupers = {c for c in integer if not c.isdigit()}
    if groupers - {group_sep, " "} or len(groupers) > 1:  # a stray separator, or '.' and ' ' mixed
        raise InvalidMoney(_NOT_AN_AMOUNT.format(text=shown))
    if groupers:
        groups = re.split(r"[., ]", integer)
        if not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:]):
            raise InvalidMoney(f"{shown!r} is not an amount: digits between group separators come in threes, "
                               "like 1.234.567 or 1 234 567")
    return integer.replace(group_sep or " ", "").replace(" ", ""), fraction, lone
