"""Terms documents (AGB) in versions, and the evidence that a customer accepted one.

A terms document is published under a code (``agb``) in a language; every publication is a new version
whose exact bytes are kept with their SHA-256, so what a customer accepted can always be shown unchanged.
A plan names the terms code that applies; which version counts is the one in force on the day of
acceptance: the newest version whose ``valid_from`` is on or before that day. Publishing a new version
never touches an acceptance already recorded, which points at the version accepted and carries its hash.

An acceptance also keeps the contract summary the customer saw (its text and hash). Acceptances and
published versions are never updated or deleted (the database refuses it too).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from aboguard.errors import InvalidInput, NotFound

from . import events as ev

MAX_TERMS_BYTES = 5_000_000  # a PDF of the AGB is fine; a video is not


class InvalidTerms(InvalidInput):
    code = "terms.invalid"


class TermsNotFound(NotFound):
    code = "terms.not_found"


class Language(StrEnum):
    DE = "de"
    EN = "en"


class AcceptanceChannel(StrEnum):
    CLI = "cli"
    API = "api"
    PORTAL = "portal"
    IMPORT = "import"


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def language_for(locale: str) -> Language:
    """The document language for a customer locale (``de``, ``de-AT``, ``en_GB``); German otherwise."""
    return Language.EN if locale.strip().lower()[:2] == "en" else Language.DE


def validate_terms_code(code: str) -> str:
    code = code.strip()
    if not code or len(code) > 64 or not all(c.isalnum() or c in "-_." for c in code):
        raise InvalidTerms(f"terms code {code!r} must be 1-64 letters, digits, '-', '_' or '.'")
    return code


@dataclass(frozen=True, slots=True)
class TermsDocument:
    """One published version of a terms document in one language; ``content`` is the exact bytes."""

    id: str
    code: str
    version: int
    language: Language
    valid_from: date
    content: bytes
    sha256: str
    filename: str
    media_type: str
    published_at: datetime

    def text(self) -> str | None:
        """The content as text when it is UTF-8 text (a PDF is not)."""
        if not self.media_type.startswith("text/"):
            return None
        try:
            return self.content.decode("utf-8")
        except UnicodeDecodeError:
            return None


_MEDIA_TYPES = {".txt": "text/plain", ".md": "text/markdown", ".html": "text/html", ".htm": "text/html",
                ".pdf": "application/pdf"}


def media_type_for(filename: str) -> str:
    suffix = filename[filename.rfind("."):].lower() if "." in filename else ""
    return _MEDIA_TYPES.get(suffix, "application/octet-stream")


def publish(doc_id: str, *, code: str, language: str, content: bytes, filename: str, valid_from: date,
            published_at: datetime, existing: Iterable[TermsDocument]) -> TermsDocument:
    """The next version of ``code`` in ``language``; ``existing`` are the versions published so far (all languages)."""
    code = validate_terms_code(code)
    try:
        lang = Language(language.strip().lower())
    except ValueError:
        raise InvalidTerms(f"unknown terms language {language!r}: use de or en") from None
    if not content.strip():
        raise InvalidTerms("a terms document must not be empty")
    if len(content) > MAX_TERMS_BYTES:
        raise InvalidTerms(f"a terms document may have at most {MAX_TERMS_BYTES} bytes, this one has {len(content)}")
    same = [d for d in existing if d.code == code and d.language is lang]
    if same and valid_from < max(d.valid_from for d in same):
        latest = max(same, key=lambda d: d.version)
        raise InvalidTerms(f"version {latest.version} of {code} ({lang}) is valid from {latest.valid_from}; a new "
                           f"version cannot be valid from an earlier day ({valid_from})")
    version = max((d.version for d in same), default=0) + 1
    name = (filename.strip().replace("\\", "/").rsplit("/", 1)[-1] or f"{code}.txt")[:200]
    return TermsDocument(id=doc_id, code=code, version=version, language=lang, valid_from=valid_from,
                         content=content, sha256=sha256_hex(content), filename=name,
                         media_type=media_type_for(name), published_at=published_at)


def in_force(documents: Iterable[TermsDocument], *, code: str, language: Language, on: date) -> TermsDocument:
    """The version of ``code`` in force on ``on``: in the wanted language if there is one, else in German,
    else in whatever language exists. Raises TermsNotFound when none is valid yet."""
    valid = [d for d in documents if d.code == code and d.valid_from <= on]
    for wanted in (language, Language.DE, *Language):
        candidates = [d for d in valid if d.language is wanted]
        if candidates:
            return max(candidates, key=lambda d: (d.valid_from, d.version))
    raise TermsNotFound(f"no version of terms {code!r} is in force on {on}: publish one with "
                        f"`aboguard terms publish {code} --file ...`")


@dataclass(frozen=True, slots=True)
class AcceptanceSpec:
    """How and where the customer accepted, as the delivery layer knows it."""

    channel: AcceptanceChannel = AcceptanceChannel.CLI
    ip_address: str | None = None
    user_agent: str | None = None
    accepted_by: str | None = None  # who clicked or signed, if not the customer's own name

    @classmethod
    def parse(cls, channel: str = "cli", ip_address: str | None = None, user_agent: str | None = None,
              accepted_by: str | None = None) -> AcceptanceSpec:
        try:
            kind = AcceptanceChannel(channel.strip().lower())
        except ValueError:
            raise InvalidTerms(f"unknown acceptance channel {channel!r}: use cli, api, portal or import") from None
        return cls(kind, _clean(ip_address, 64, "IP address"), _clean(user_agent, 512, "user agent"),
                   _clean(accepted_by, 200, "name"))


def _clean(value: str | None, limit: int, what: str) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > limit:
        raise InvalidTerms(f"the {what} may have at most {limit} characters")
    return value.strip()


@dataclass(frozen=True, slots=True)
class Acceptance:
    """Evidence that a customer accepted a contract: the terms version (if the plan has terms) and the summary."""

    id: str
    subscription_id: str
    customer_id: str
    accepted_at: datetime
    channel: AcceptanceChannel
    accepted_by: str
    summary_text: str
    summary_sha256: str
    summary_locale: str
    reason: str  # "subscription_started" or "terms_changed"
    terms_document_id: str | None = None
    terms_code: str | None = None
    terms_version: int | None = None
    terms_language: str | None = None
    terms_sha256: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None


def record_acceptance(acceptance_id: str, *, subscription_id: str, customer_id: str, customer_name: str,
                      spec: AcceptanceSpec, accepted_at: datetime, summary_text: str, summary_locale: str,
                      terms: TermsDocument | None, reason: str = "subscription_started"
                      ) -> tuple[Acceptance, list[ev.Event]]:
    acceptance = Acceptance(
        id=acceptance_id, subscription_id=subscription_id, customer_id=customer_id, accepted_at=accepted_at,
        channel=spec.channel, accepted_by=spec.accepted_by or customer_name, summary_text=summary_text,
        summary_sha256=sha256_hex(summary_text.encode("utf-8")), summary_locale=summary_locale, reason=reason,
        terms_document_id=terms.id if terms else None, terms_code=terms.code if terms else None,
        terms_version=terms.version if terms else None, terms_language=terms.language.value if terms else None,
        terms_sha256=terms.sha256 if terms else None, ip_address=spec.ip_address, user_agent=spec.user_agent)
    return acceptance, [TermsAccepted(subscription_id, acceptance.id, customer_id, acceptance.terms_code,
                                      acceptance.terms_version, acceptance.terms_sha256, acceptance.summary_sha256,
                                      spec.channel.value, reason)]


@dataclass(frozen=True, slots=True)
class TermsPublished(ev.Event):
    name: ClassVar[str] = "terms.published"
    aggregate: ClassVar[str] = "terms"
    code: str
    version: int
    language: str
    sha256: str
    valid_from: date


@dataclass(frozen=True, slots=True)
class TermsAccepted(ev.Event):
    name: ClassVar[str] = "contract.terms_accepted"
    aggregate: ClassVar[str] = "subscription"
    acceptance_id: str
    customer_id: str
    terms_code: str | None
    terms_version: int | None
    terms_sha256: str | None
    summary_sha256: str
    channel: str
    reason: str
