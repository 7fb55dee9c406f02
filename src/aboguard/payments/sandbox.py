"""An offline fake payment provider that keeps its own record, for tests, simulations and sandbox installations.

:class:`SandboxGateway` behaves like a real provider as far as aboguard can tell: charges are idempotent by
key (also across processes), SEPA debits are pending first and settle later, returns and chargebacks
arrive days later as signed webhook deliveries (pulled with :meth:`SandboxGateway.due_events`). It keeps
ITS OWN record in a SQLite file (WAL, one transaction per operation, safe for several processes), so a
test can compare the provider's record of every charge (:meth:`SandboxGateway.charges`) with aboguard's.
Tokens and IBANs are stored only as a fingerprint and their last four characters.

Test card tokens (like Stripe's test cards)
    ``tok_visa``, ``tok_mastercard``, ``pm_card_visa``, ``4242424242424242``, ``5555555555554444``
        succeed.
    ``4000000000009995`` / ``tok_chargeDeclinedInsufficientFunds``   fail: insufficient_funds (soft)
    ``4000000000000002`` / ``tok_chargeDeclined``                     fail: generic_decline (soft)
    ``4000000000000069`` / ``tok_chargeDeclinedExpiredCard``          fail: expired_card (customer action)
    ``4000000000000127`` / ``tok_chargeDeclinedIncorrectCvc``         fail: incorrect_cvc (customer action)
    ``4000000000009987``   fail: lost_card (hard)
    ``4000000000009979``   fail: stolen_card (hard)
    ``4100000000000019``   fail: fraudulent (fraud)
    ``4000000000000119`` / ``tok_chargeDeclinedProcessingError``      fail: processing_error (soft)
    ``4000000000006975``   fail: card_velocity_exceeded (soft)
    ``4000002500003155``   requires_action: authentication_required (3-D Secure)
    ``4000000000000259``   succeeds, then a chargeback (``payment.chargeback``, fraudulent, fee 15.00) 7 days later
    ``tok_mastercard_mac03``  fail: do_not_honor with Mastercard MAC 03 (retry not allowed)
    ``tok_mastercard_mac21``  fail: do_not_honor with Mastercard MAC 21 (stop recurring; retry not allowed)
    ``tok_visa_stop_payment`` fail: Visa response code R1 (category 1: hard, retry not allowed)
    ``4000000000005126`` / ``tok_refund_fails``  succeeds; a refund of it succeeds at first, then fails a
        day later (``refund.failed``, expired_or_canceled_card), as a provider reports when the card is gone
    Any other token succeeds, except an all-digit number that fails the Luhn check: incorrect_number.

Test IBANs (SEPA direct debit; every debit is ``pending`` first; "BD" = TARGET2 banking days after the charge)
    ``DE89370400440532013000``  settles (``payment.succeeded``) at BD+2
    ``DE62370400440532013001``  rejected before settlement: ``payment.failed`` AM04 at BD+1
    ``DE35370400440532013002``  settles at BD+2, returned (``payment.returned``) AM04 at BD+5, fee 3.00
    ``DE08370400440532013003``  settles at BD+2, refund requested by the debtor MD06 at BD+12, fee 3.00
    ``DE78370400440532013004``  settles at BD+2, returned AC04 (account closed) at BD+5, fee 3.00
    ``DE51370400440532013005``  settles at BD+2, returned MD01 (no mandate) at BD+5, fee 3.00
    Any other valid IBAN (or an opaque mandate reference) settles at BD+2; an IBAN with a wrong check
    sum fails at once with AC01. The token may carry more than the IBAN ("IBAN|mandate reference").

PayPal billing agreement tokens
    ``B-SANDBOX-OK`` (and any other token)  succeeds
    ``B-SANDBOX-DECLINED``    fail: INSTRUMENT_DECLINED (classified as generic_decline, soft)
    ``B-SANDBOX-NOFUNDS``     fail: INSUFFICIENT_FUNDS (insufficient_funds, soft)
    ``B-SANDBOX-CANCELLED``   fail: AGREEMENT_ALREADY_CANCELLED (revocation_of_authorization, hard)
    ``B-SANDBOX-ACTION``      requires_action: PAYER_ACTION_REQUIRED (authentication_required)

Simulation tokens: ``tok_sim`` (card), ``sim_iban`` (SEPA), ``pp_sim`` (PayPal), also with a suffix
(``tok_sim_42``); a SEPA debit is simulated too when its mandate reference starts with ``SIM``
(``DE89...|SIM-42``, ``SIMNEW-42`` for a replacement). With ``behaviour_seed`` they follow the customer's
:class:`BehaviourProfile` (:meth:`SandboxGateway.profile_for`), decided only by the seed, the customer (the
token's numeric suffix when it has one, which keeps a customer the same person however the installation
numbers its records, else the customer reference) and the date the sandbox file was created; whether a
short-of-funds customer has the money is decided by those and the day of the charge (every charge that
day sees the same account), so a simulation is reproducible and two runs meet identical customers.
Without a seed they always succeed. A card that expired (``CARD_EXPIRING``) and a customer who
is ``GONE`` keep failing only with their ORIGINAL simulation token: a replacement token, one that starts with
``tok_sim_new`` (card), ``sim_iban_new`` (SEPA) or ``pp_sim_new`` (PayPal) -- what a simulated customer adds
after being asked for a new payment method, e.g. ``tok_sim_new_2`` -- is a fresh, working method. It is
still subject to the ``SHORT_OF_FUNDS`` month-end luck (the customer's money is the same).

Idempotency: the same key returns the stored result of the first call (the original response, like a
real provider) and never creates a second charge; the same key with another amount, currency or payment
method raises :class:`IdempotencyConflict`. :meth:`SandboxGateway.find_by_idempotency_key` returns the
charge as it stands at the clock's now (a settled SEPA debit is ``succeeded``, a rejected one ``failed``;
a returned or charged-back payment stays ``succeeded``, the reversal comes as an event).

Refunds: :meth:`SandboxGateway.refund` refunds (part of) a settled payment once per key and reports
``refund.succeeded`` at once (a ``refund.failed`` later for the card above);
:meth:`SandboxGateway.find_refund_by_idempotency_key` answers for a key after a crash. A refund made
with a key aboguard never used stands for one made in the provider's dashboard.

Webhooks: :meth:`SandboxGateway.due_events` returns the deliveries ``(headers, body)`` whose time has come
and marks them delivered; the header ``sandbox-signature`` is the hex HMAC-SHA256 of the body with
``secret``. :meth:`SandboxGateway.redeliver_all` delivers every event delivered so far once more.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import json
import os
import random
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from aboguard.clock import Clock
from aboguard.domain.banking_calendar import add_banking_days
from aboguard.domain.catalog import PaymentMethodKind
from aboguard.domain.declines import Decline, DeclineClass, classify_card, classify_sepa
from aboguard.errors import InvalidInput
from aboguard.money import Money

from .gateway import (
    ChargeRequest,
    ChargeResult,
    GatewayEvent,
    GatewayEventType,
    IdempotencyConflict,
    InvalidGatewayRequest,
    InvalidSignature,
    MalformedEvent,
    Outcome,
    RefundNotAllowed,
    RefundResult,
)

__all__ = ["SIGNATURE_HEADER", "BehaviourProfile", "ProfileKind", "SandboxGateway", "sign"]

SIGNATURE_HEADER = "sandbox-signature"
SIM_TIMEZONE = "Europe/Berlin"  # the calendar the simulated customers live in (month ends)
RETURN_FEE = Decimal("3.00")
CHARGEBACK_FEE = Decimal("15.00")


def sign(secret: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``body`` under ``secret``: the ``sandbox-signature`` header."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- scripted behaviour --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Later:
    """An event the provider will report some time after the charge."""

    type: GatewayEventType
    banking_days: int = 0
    days: int = 0
    decline: Decline | None = None
    fee: Decimal | None = None


@dataclass(frozen=True, slots=True)
class _Script:
    outcome: Outcome
    decline: Decline | None = None
    later: tuple[_Later, ...] = ()


_SUCCEED = _Script(Outcome.SUCCEEDED)
_SETTLE = _Later(GatewayEventType.PAYMENT_SUCCEEDED, banking_days=2)


def _card_fail(code: str, *, network: str | None = None, advice: str | None = None) -> _Script:
    return _Script(Outcome.FAILED, classify_card(code, network=network, advice_code=advice))


REFUND_FAILS = frozenset({"4000000000005126", "tok_refund_fails"})


def _fingerprint(kind: PaymentMethodKind, token: str) -> str:
    return hashlib.sha256(f"{kind.value}|{token}".encode()).hexdigest()


REFUND_FAILURE = replace(classify_card("expired_card"), raw_code="expired_or_canceled_card",
                         message="The refund could not be paid out: the card is expired or cancelled.")
_REFUND_FAILS_FINGERPRINTS = frozenset(_fingerprint(PaymentMethodKind.CARD, t) for t in REFUND_FAILS)


def _card_scripts() -> dict[str, _Script]:
    scripts: dict[str, _Script] = {}
    for names, script in [
        (("tok_visa", "tok_mastercard", "pm_card_visa", "4242424242424242", "5555555555554444"), _SUCCEED),
        (("4000000000009995", "tok_chargeDeclinedInsufficientFunds"), _card_fail("insufficient_funds")),
        (("4000000000000002", "tok_chargeDeclined"), _card_fail("generic_decline")),
        (("4000000000000069", "tok_chargeDeclinedExpiredCard"), _card_fail("expired_card")),
        (("4000000000000127", "tok_chargeDeclinedIncorrectCvc"), _card_fail("incorrect_cvc")),
        (("4000000000009987",), _card_fail("lost_card")),
        (("4000000000009979",), _card_fail("stolen_card")),
        (("4100000000000019",), _card_fail("fraudulent")),
        (("4000000000000119", "tok_chargeDeclinedProcessingError"), _card_fail("processing_error")),
        (("4000000000006975",), _card_fail("card_velocity_exceeded")),
        (("4000002500003155",), _Script(Outcome.REQUIRES_ACTION, classify_card("authentication_required"))),
        (("4000000000000259",), _Script(Outcome.SUCCEEDED, later=(
            _Later(GatewayEventType.CHARGEBACK, days=7, decline=classify_card("fraudulent"), fee=CHARGEBACK_FEE),))),
        (("tok_mastercard_mac03",), _card_fail("do_not_honor", network="mastercard", advice="03")),
        (("tok_mastercard_mac21",), _card_fail("do_not_honor", network="mastercard", advice="21")),
        (("tok_visa_stop_payment",), _card_fail("R1", network="visa")),
    ]:
        scripts.update(dict.fromkeys(names, script))
    return scripts


def _sepa_return(code: str, banking_days: int) -> _Script:
    return _Script(Outcome.PENDING, later=(
        _SETTLE, _Later(GatewayEventType.PAYMENT_RETURNED, banking_days=banking_days, decline=classify_sepa(code),
                        fee=RETURN_FEE)))


def _paypal(raw: str, card_code: str) -> Decline:
    return replace(classify_card(card_code), raw_code=raw)


CARD_TOKENS: Mapping[str, _Script] = MappingProxyType(_card_scripts())
SEPA_IBANS: Mapping[str, _Script] = MappingProxyType({
    "DE89370400440532013000": _Script(Outcome.PENDING, later=(_SETTLE,)),
    "DE62370400440532013001": _Script(Outcome.PENDING, later=(
        _Later(GatewayEventType.PAYMENT_FAILED, banking_days=1, decline=classify_sepa("AM04")),)),
    "DE35370400440532013002": _sepa_return("AM04", 5),
    "DE08370400440532013003": _sepa_return("MD06", 12),
    "DE78370400440532013004": _sepa_return("AC04", 5),
    "DE51370400440532013005": _sepa_return("MD01", 5),
})
PAYPAL_TOKENS: Mapping[str, _Script] = MappingProxyType({
    "B-SANDBOX-OK": _SUCCEED,
    "B-SANDBOX-DECLINED": _Script(Outcome.FAILED, _paypal("INSTRUMENT_DECLINED", "generic_decline")),
    "B-SANDBOX-NOFUNDS": _Script(Outcome.FAILED, _paypal("INSUFFICIENT_FUNDS", "insufficient_funds")),
    "B-SANDBOX-CANCELLED": _Script(Outcome.FAILED, _paypal("AGREEMENT_ALREADY_CANCELLED",
                                                           "revocation_of_authorization")),
    "B-SANDBOX-ACTION": _Script(Outcome.REQUIRES_ACTION, _paypal("PAYER_ACTION_REQUIRED", "authentication_required")),
})

_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_SIM_PREFIX = {PaymentMethodKind.CARD: "tok_sim", PaymentMethodKind.SEPA_DEBIT: "sim_iban",
               PaymentMethodKind.PAYPAL: "pp_sim"}
# A simulation token the customer adds after being asked for a new payment method: a fresh, working one.
_SIM_NEW_PREFIX = {kind: f"{prefix}_new" for kind, prefix in _SIM_PREFIX.items()}


def _sim_customer(token: str) -> str | None:
    """The simulated customer a token belongs to: its numeric suffix (``tok_sim_new_42``, ``...|SIM-42``)."""
    match = re.search(r"(\d+)$", token)
    return f"sim-{match.group(1)}" if match else None


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _iban_ok(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _iban_in(token: str) -> str | None:
    for part in re.split(r"[|/;:,]", token):
        candidate = re.sub(r"\s", "", part).upper()
        if _IBAN_SHAPE.fullmatch(candidate):
            return candidate
    return None


# -- TARGET2 banking days --------------------------------------------------------------------------------------


def _after_banking_days(instant: datetime, n: int) -> datetime:
    """``instant`` moved to the ``n``-th TARGET2 banking day after its date, same time of day (n <= 0: as is)."""
    if n <= 0:
        return instant
    return instant + (add_banking_days(instant.date(), n) - instant.date())


# -- behaviour profiles ----------------------------------------------------------------------------------------


class ProfileKind(StrEnum):
    RELIABLE = "reliable"
    SHORT_OF_FUNDS = "short_of_funds"  # insufficient funds, with some probability, in the last 5 days of a month
    CARD_EXPIRING = "card_expiring"  # expired_card from ``expires_on`` (cards only)
    GONE = "gone"  # from ``gone_from``: card lost, account closed, PayPal agreement cancelled


@dataclass(frozen=True, slots=True)
class BehaviourProfile:
    kind: ProfileKind
    month_end_failure_rate: float = 0.0
    expires_on: date | None = None
    gone_from: date | None = None


_RELIABLE = BehaviourProfile(ProfileKind.RELIABLE)


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


# -- the gateway -----------------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS charges (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    payment_id TEXT NOT NULL UNIQUE,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    method_kind TEXT NOT NULL,
    token_fingerprint TEXT NOT NULL,
    token_last4 TEXT NOT NULL,
    customer_ref TEXT NOT NULL,
    description TEXT NOT NULL,
    outcome TEXT NOT NULL,
    raw_code TEXT,
    decline TEXT,
    created_at TEXT NOT NULL,
    refunded_minor INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS refunds (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    refund_id TEXT NOT NULL UNIQUE,
    payment_id TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    outcome TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    decline TEXT,
    fee_minor INTEGER,
    refund_id TEXT,
    delivered_at TEXT,
    deliveries INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS events_due ON events (delivered_at, occurred_at);
CREATE INDEX IF NOT EXISTS events_payment ON events (payment_id, occurred_at);
"""

_STATUS_BY_EVENT = {GatewayEventType.PAYMENT_SUCCEEDED: "succeeded", GatewayEventType.PAYMENT_FAILED: "failed",
                    GatewayEventType.PAYMENT_RETURNED: "returned", GatewayEventType.CHARGEBACK: "charged_back"}


def _ts(instant: datetime) -> str:
    if instant.tzinfo is None:
        raise InvalidGatewayRequest(f"{instant!r} has no time zone: the sandbox needs aware instants")
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def _decline_json(decline: Decline | None) -> str | None:
    if decline is None:
        return None
    return json.dumps({"code": decline.code, "decline_class": decline.decline_class.value,
                       "raw_code": decline.raw_code, "message": decline.message,
                       "network_advice": decline.network_advice, "retry_allowed": decline.retry_allowed},
                      sort_keys=True)


def _decline_from(data: Any) -> Decline | None:
    if data is None:
        return None
    if isinstance(data, str):
        data = json.loads(data)
    return Decline(code=str(data["code"]), decline_class=DeclineClass(data["decline_class"]),
                   raw_code=str(data["raw_code"]), message=str(data["message"]),
                   network_advice=data["network_advice"], retry_allowed=bool(data["retry_allowed"]))


def _hash_id(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


class SandboxGateway:
    """A fully offline fake provider with its own SQLite record at ``path``; see the module docstring."""

    def __init__(self, path: Path, clock: Clock, secret: str = "whsec_sandbox", name: str = "sandbox", *,
                 behaviour_seed: int | None = None) -> None:
        self.name = name
        self.path = Path(path)
        self._clock = clock
        self._secret = secret
        self.behaviour_seed = behaviour_seed
        self._epoch: date | None = None
        self._local = threading.local()
        self._connect().execute("PRAGMA journal_mode = WAL")
        with self._tx() as tx:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    tx.execute(statement)
            columns = {row["name"] for row in tx.execute("PRAGMA table_info(events)")}
            if "refund_id" not in columns:  # a sandbox file from before refunds were reported by id
                tx.execute("ALTER TABLE events ADD COLUMN refund_id TEXT")
            tx.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('sim_epoch', ?)",
                       (clock.now().astimezone(UTC).date().isoformat(),))

    # -- storage ------------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """This thread's connection to the sandbox's record, opened once and kept (opening and closing a WAL
        database per call costs a checkpoint each time); a forked child opens its own."""
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 60000")
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL: safe against corruption, fsync only at checkpoints
            local.conn, local.pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection (the next call opens a new one)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction, taken with the write lock up front so concurrent processes serialize cleanly."""
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- charges ------------------------------------------------------------------------------------------

    def charge(self, request: ChargeRequest) -> ChargeResult:
        """Charge once per idempotency key; a repeated key returns the first call's stored result."""
        key = request.idempotency_key
        if not isinstance(key, str) or not key.strip():
            raise InvalidGatewayRequest("a charge needs a non-empty idempotency key")
        if not request.amount.is_positive():
            raise InvalidGatewayRequest(f"cannot charge {request.amount}: the amount must be positive")
        token = request.method.token
        if not isinstance(token, str) or not token.strip():
            raise InvalidGatewayRequest("a charge needs a payment method token")
        if request.method.kind is PaymentMethodKind.BANK_TRANSFER:
            raise InvalidGatewayRequest("a bank transfer is paid by the customer; the gateway cannot charge it")
        fingerprint = _fingerprint(request.method.kind, token)
        now = self._clock.now()
        with self._tx() as tx:
            row = tx.execute("SELECT * FROM charges WHERE idempotency_key = ?", (key,)).fetchone()
            if row is not None:
                if (row["amount_minor"], row["currency"], row["token_fingerprint"]) != (
                        request.amount.minor, request.amount.currency, fingerprint):
                    raise IdempotencyConflict(
                        f"idempotency key {key!r} was used for another charge ({row['amount_minor']} minor units "
                        f"of {row['currency']}); a new charge needs a new key")
                return self._original(row)
            script = self._script(request, now)
            payment_id = _hash_id("py_sbx_", key)
            tx.execute(
                "INSERT INTO charges (idempotency_key, payment_id, amount_minor, currency, method_kind,"
                " token_fingerprint, token_last4, customer_ref, description, outcome, raw_code, decline, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, payment_id, request.amount.minor, request.amount.currency, request.method.kind.value,
                 fingerprint, token.strip()[-4:], request.customer_ref, request.description, script.outcome.value,
                 script.decline.raw_code if script.decline else None, _decline_json(script.decline), _ts(now)))
            for n, later in enumerate(script.later):
                at = _after_banking_days(now, later.banking_days) + timedelta(days=later.days)
                fee = Money.from_decimal(later.fee, request.amount.currency) if later.fee is not None else None
                self._schedule(tx, _hash_id("evt_sbx_", payment_id, later.type.value, str(n)), later.type,
                               payment_id, request.amount, at, later.decline, fee)
        return ChargeResult(script.outcome, payment_id, request.amount,
                            script.decline.raw_code if script.decline else None, script.decline, now)

    def find_by_idempotency_key(self, key: str) -> ChargeResult | None:
        """The charge made under ``key`` as it stands at the clock's now; None if the key was never seen."""
        conn = self._connect()
        row = conn.execute("SELECT * FROM charges WHERE idempotency_key = ?", (key,)).fetchone()
        if row is None:
            return None
        status, decline = self._status(conn, row, self._clock.now())
        original = self._original(row)
        outcome = {"pending": Outcome.PENDING, "failed": Outcome.FAILED, "requires_action": Outcome.REQUIRES_ACTION
                   }.get(status, Outcome.SUCCEEDED)
        if outcome is original.outcome:
            return original
        return replace(original, outcome=outcome, decline=decline, raw_code=decline.raw_code if decline else None)

    def charges(self) -> list[dict[str, Any]]:
        """The provider's record of every charge, in the order made (status as at the clock's now)."""
        now = self._clock.now()
        conn = self._connect()
        rows = conn.execute("SELECT * FROM charges ORDER BY seq").fetchall()
        record = []
        for row in rows:
            status, _ = self._status(conn, row, now)
            record.append({
                "idempotency_key": row["idempotency_key"], "payment_id": row["payment_id"],
                "amount": Money(row["amount_minor"], row["currency"]), "outcome": row["outcome"],
                "status": status, "refunded": Money(row["refunded_minor"], row["currency"]),
                "raw_code": row["raw_code"], "method_kind": row["method_kind"],
                "token_last4": row["token_last4"], "customer_ref": row["customer_ref"],
                "created_at": datetime.fromisoformat(row["created_at"]),
            })
        return record

    def events(self) -> list[GatewayEvent]:
        """Every event the provider has scheduled, delivered or not, in time order."""
        conn = self._connect()
        rows = conn.execute("SELECT * FROM events ORDER BY occurred_at, seq").fetchall()
        return [self._event(row) for row in rows]

    def _original(self, row: sqlite3.Row) -> ChargeResult:
        return ChargeResult(Outcome(row["outcome"]), row["payment_id"], Money(row["amount_minor"], row["currency"]),
                            row["raw_code"], _decline_from(row["decline"]), datetime.fromisoformat(row["created_at"]))

    def _status(self, conn: sqlite3.Connection, row: sqlite3.Row, now: datetime) -> tuple[str, Decline | None]:
        status, decline = str(row["outcome"]), _decline_from(row["decline"])
        events = conn.execute(
            "SELECT type, decline FROM events WHERE payment_id = ? AND occurred_at <= ? ORDER BY occurred_at, seq",
            (row["payment_id"], _ts(now))).fetchall()
        for event in events:
            kind = GatewayEventType(event["type"])
            if kind in _STATUS_BY_EVENT:
                status = _STATUS_BY_EVENT[kind]
                if kind is GatewayEventType.PAYMENT_FAILED:
                    decline = _decline_from(event["decline"])
        return status, decline

    # -- behaviour ----------------------------------------------------------------------------------------

    def _script(self, request: ChargeRequest, now: datetime) -> _Script:
        kind, token = request.method.kind, request.method.token.strip()
        if token.startswith(_SIM_PREFIX[kind]) or (kind is PaymentMethodKind.SEPA_DEBIT and "|SIM" in token.upper()):
            return self._simulated(request, now)
        if kind is PaymentMethodKind.CARD:
            if token in CARD_TOKENS:
                return CARD_TOKENS[token]
            digits = token.replace(" ", "")
            if digits.isdigit() and not (12 <= len(digits) <= 19 and _luhn_ok(digits)):
                return _card_fail("incorrect_number")
            return _SUCCEED
        if kind is PaymentMethodKind.PAYPAL:
            return PAYPAL_TOKENS.get(token, _SUCCEED)
        iban = _iban_in(token)
        if iban is not None and not _iban_ok(iban):
            return _Script(Outcome.FAILED, classify_sepa("AC01"))
        return SEPA_IBANS.get(iban or "", _Script(Outcome.PENDING, later=(_SETTLE,)))

    def _sim_epoch(self) -> date:
        if self._epoch is None:
            conn = self._connect()
            row = conn.execute("SELECT value FROM meta WHERE key = 'sim_epoch'").fetchone()
            self._epoch = date.fromisoformat(row["value"])
        return self._epoch

    def profile_for(self, customer_ref: str) -> BehaviourProfile:
        """The customer's stable behaviour, decided by the seed, ``customer_ref`` and the file's start date.

        Without a ``behaviour_seed`` every customer is reliable. With one: about 70 % reliable, 15 % short
        of funds near month end (half of their charges in a month's last 5 days fail), 10 % with a card that
        expires 1-12 months after the start, 5 % gone (card lost / account closed) 0-6 months after it.
        """
        if self.behaviour_seed is None:
            return _RELIABLE
        rng = _rng("profile", self.behaviour_seed, customer_ref)
        draw, epoch = rng.random(), self._sim_epoch()
        if draw < 0.70:
            return _RELIABLE
        if draw < 0.85:
            return BehaviourProfile(ProfileKind.SHORT_OF_FUNDS, month_end_failure_rate=0.5)
        if draw < 0.95:
            return BehaviourProfile(ProfileKind.CARD_EXPIRING, expires_on=epoch + timedelta(days=rng.randint(30, 365)))
        return BehaviourProfile(ProfileKind.GONE, gone_from=epoch + timedelta(days=rng.randint(0, 180)))

    def _simulated(self, request: ChargeRequest, now: datetime) -> _Script:
        kind = request.method.kind
        token = request.method.token.strip()
        who = _sim_customer(token) or request.customer_ref
        profile = self.profile_for(who)
        today = now.astimezone(ZoneInfo(SIM_TIMEZONE)).date()
        short = False
        if profile.kind is ProfileKind.SHORT_OF_FUNDS:
            last_day = calendar.monthrange(today.year, today.month)[1]
            luck = _rng("funds", self.behaviour_seed, who, today.isoformat()).random()
            short = today.day > last_day - 5 and luck < profile.month_end_failure_rate
        # A replacement method (added after being asked for a new one) is not lost, closed or expired.
        replacement = token.startswith(_SIM_NEW_PREFIX[kind]) or "|SIMNEW" in token.upper()
        gone = (not replacement and profile.kind is ProfileKind.GONE and profile.gone_from is not None
                and today >= profile.gone_from)
        expired = (not replacement and profile.kind is ProfileKind.CARD_EXPIRING and profile.expires_on is not None
                   and today >= profile.expires_on)
        if kind is PaymentMethodKind.SEPA_DEBIT:
            if gone:
                return _Script(Outcome.PENDING, later=(
                    _Later(GatewayEventType.PAYMENT_FAILED, banking_days=1, decline=classify_sepa("AC04")),))
            if short:
                return _sepa_return("AM04", 5)
            return _Script(Outcome.PENDING, later=(_SETTLE,))  # a SEPA mandate does not expire like a card
        if kind is PaymentMethodKind.PAYPAL:
            if gone:
                return PAYPAL_TOKENS["B-SANDBOX-CANCELLED"]
            return PAYPAL_TOKENS["B-SANDBOX-NOFUNDS"] if short else _SUCCEED
        if gone:
            return _card_fail("lost_card")
        if expired:
            return _card_fail("expired_card")
        return _card_fail("insufficient_funds") if short else _SUCCEED

    # -- refunds ------------------------------------------------------------------------------------------

    def refund(self, provider_payment_id: str, amount: Money, idempotency_key: str) -> RefundResult:
        """Refund (part of) a settled payment once per key; a ``refund.succeeded`` event follows at once."""
        if not isinstance(idempotency_key, str) or not idempotency_key.strip():
            raise InvalidGatewayRequest("a refund needs a non-empty idempotency key")
        if not amount.is_positive():
            raise InvalidGatewayRequest(f"cannot refund {amount}: the amount must be positive")
        now = self._clock.now()
        with self._tx() as tx:
            done = tx.execute("SELECT * FROM refunds WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
            if done is not None:
                if (done["payment_id"], done["amount_minor"], done["currency"]) != (
                        provider_payment_id, amount.minor, amount.currency):
                    raise IdempotencyConflict(f"idempotency key {idempotency_key!r} was used for another refund")
                return RefundResult(Outcome(done["outcome"]), done["refund_id"],
                                    Money(done["amount_minor"], done["currency"]), None)
            row = tx.execute("SELECT * FROM charges WHERE payment_id = ?", (provider_payment_id,)).fetchone()
            if row is None:
                raise InvalidGatewayRequest(f"no payment {provider_payment_id!r} at gateway {self.name!r}")
            if amount.currency != row["currency"]:
                raise InvalidGatewayRequest(f"payment {provider_payment_id} is in {row['currency']}, not "
                                            f"{amount.currency}")
            status, _ = self._status(tx, row, now)
            if status != "succeeded":
                raise RefundNotAllowed(f"payment {provider_payment_id} is {status}; only a settled payment can be "
                                       "refunded")
            left = row["amount_minor"] - row["refunded_minor"]
            if amount.minor > left:
                raise InvalidGatewayRequest(f"cannot refund {amount}: only {Money(left, amount.currency)} of "
                                            f"payment {provider_payment_id} is left to refund")
            refund_id = _hash_id("re_sbx_", idempotency_key)
            tx.execute("INSERT INTO refunds (idempotency_key, refund_id, payment_id, amount_minor, currency, outcome,"
                       " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (idempotency_key, refund_id, provider_payment_id, amount.minor, amount.currency,
                        Outcome.SUCCEEDED.value, _ts(now)))
            tx.execute("UPDATE charges SET refunded_minor = refunded_minor + ? WHERE payment_id = ?",
                       (amount.minor, provider_payment_id))
            self._schedule(tx, _hash_id("evt_sbx_", refund_id, GatewayEventType.REFUND_SUCCEEDED.value),
                           GatewayEventType.REFUND_SUCCEEDED, provider_payment_id, amount, now, None, None,
                           refund_id=refund_id)
            if row["token_fingerprint"] in _REFUND_FAILS_FINGERPRINTS:
                self._schedule(tx, _hash_id("evt_sbx_", refund_id, GatewayEventType.REFUND_FAILED.value),
                               GatewayEventType.REFUND_FAILED, provider_payment_id, amount, now + timedelta(days=1),
                               REFUND_FAILURE, None, refund_id=refund_id)
        return RefundResult(Outcome.SUCCEEDED, refund_id, amount, None)

    def find_refund_by_idempotency_key(self, key: str) -> RefundResult | None:
        """The refund made under ``key``; None if the key was never seen (the request never arrived)."""
        conn = self._connect()
        row = conn.execute("SELECT * FROM refunds WHERE idempotency_key = ?", (key,)).fetchone()
        if row is None:
            return None
        return RefundResult(Outcome(row["outcome"]), row["refund_id"], Money(row["amount_minor"], row["currency"]),
                            None)

    # -- events -------------------------------------------------------------------------------------------

    @staticmethod
    def _schedule(tx: sqlite3.Connection, event_id: str, kind: GatewayEventType, payment_id: str, amount: Money,
                  at: datetime, decline: Decline | None, fee: Money | None, *, refund_id: str | None = None) -> None:
        tx.execute("INSERT INTO events (id, type, payment_id, amount_minor, currency, occurred_at, decline, fee_minor,"
                   " refund_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (event_id, kind.value, payment_id, amount.minor, amount.currency, _ts(at), _decline_json(decline),
                    fee.minor if fee is not None else None, refund_id))

    @staticmethod
    def _event(row: sqlite3.Row) -> GatewayEvent:
        currency = row["currency"]
        fee = Money(row["fee_minor"], currency) if row["fee_minor"] is not None else None
        return GatewayEvent(row["id"], GatewayEventType(row["type"]), row["payment_id"],
                            Money(row["amount_minor"], currency), datetime.fromisoformat(row["occurred_at"]),
                            _decline_from(row["decline"]), fee, row["refund_id"])

    def _delivery(self, row: sqlite3.Row) -> tuple[dict[str, str], bytes]:
        decline = row["decline"]
        body = json.dumps({
            "id": row["id"], "type": row["type"], "payment_id": row["payment_id"],
            "amount_minor": row["amount_minor"], "currency": row["currency"], "occurred_at": row["occurred_at"],
            "decline": json.loads(decline) if decline else None, "fee_minor": row["fee_minor"],
            "refund_id": row["refund_id"],
        }, sort_keys=True, separators=(",", ":")).encode()
        return {"content-type": "application/json", SIGNATURE_HEADER: sign(self._secret, body)}, body

    def due_events(self, until: datetime) -> list[tuple[dict[str, str], bytes]]:
        """The webhook deliveries of events that occurred by ``until`` and were not delivered yet; marks them."""
        with self._tx() as tx:
            rows = tx.execute("SELECT * FROM events WHERE delivered_at IS NULL AND occurred_at <= ?"
                              " ORDER BY occurred_at, seq", (_ts(until),)).fetchall()
            tx.executemany("UPDATE events SET delivered_at = ?, deliveries = deliveries + 1 WHERE seq = ?",
                           [(_ts(self._clock.now()), row["seq"]) for row in rows])
        return [self._delivery(row) for row in rows]

    def redeliver_all(self) -> list[tuple[dict[str, str], bytes]]:
        """Every event delivered so far, delivered once more (same ids): for duplicate-delivery tests."""
        with self._tx() as tx:
            rows = tx.execute("SELECT * FROM events WHERE delivered_at IS NOT NULL ORDER BY occurred_at, seq"
                              ).fetchall()
            tx.executemany("UPDATE events SET deliveries = deliveries + 1 WHERE seq = ?", [(r["seq"],) for r in rows])
        return [self._delivery(row) for row in rows]

    def parse_event(self, headers: Mapping[str, str], body: bytes) -> GatewayEvent:
        """Verify the ``sandbox-signature`` (constant time) and read the event; ``InvalidSignature`` if wrong."""
        given = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
        if not isinstance(body, bytes | bytearray) or not isinstance(given, str):
            raise InvalidSignature("the delivery has no sandbox-signature header or no body")
        expected = sign(self._secret, bytes(body))
        if not hmac.compare_digest(expected.encode(), given.strip().encode("utf-8", "replace")):
            raise InvalidSignature("the sandbox-signature does not match the body")
        try:
            data = json.loads(body)
            currency = data["currency"]
            fee = data["fee_minor"]
            return GatewayEvent(str(data["id"]), GatewayEventType(data["type"]), str(data["payment_id"]),
                                Money(data["amount_minor"], currency), datetime.fromisoformat(data["occurred_at"]),
                                _decline_from(data["decline"]), Money(fee, currency) if fee is not None else None,
                                data.get("refund_id"))
        except (ValueError, KeyError, TypeError, InvalidInput) as exc:
            raise MalformedEvent(f"the delivery is not a sandbox event: {exc}") from None
