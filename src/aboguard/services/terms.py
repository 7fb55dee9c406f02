"""Terms documents: publish a new version, list and show them, and name the terms a plan runs on."""

from __future__ import annotations

from datetime import date

from aboguard.domain import terms as rules
from aboguard.domain.catalog import Plan
from aboguard.domain.terms import Language, TermsDocument, TermsNotFound
from aboguard.store.uow import UnitOfWork

from .context import ServiceContext


def publish_terms(ctx: ServiceContext, code: str, *, content: bytes, filename: str, language: str,
                  valid_from: date | None = None) -> TermsDocument:
    """A new version of ``code`` in ``language``, valid from ``valid_from`` (default today).

    Earlier versions and every acceptance of them stay exactly as they were.
    """
    if valid_from is not None and valid_from < ctx.today():
        raise rules.InvalidTerms(f"a terms version cannot take effect in the past ({valid_from}); publish it valid "
                                 f"from today ({ctx.today()}) or later")
    with ctx.uow() as uow:
        document = rules.publish(ctx.new_id(), code=code, language=language, content=content, filename=filename,
                                 valid_from=valid_from or ctx.today(), published_at=ctx.now(),
                                 existing=uow.terms.versions(code.strip()))
        uow.terms.add(document)
        uow.events.add([rules.TermsPublished(document.id, document.code, document.version, document.language.value,
                                             document.sha256, document.valid_from)], ctx.now())
        uow.commit()
    return document


def list_terms(ctx: ServiceContext, code: str | None = None) -> list[TermsDocument]:
    with ctx.uow() as uow:
        return uow.terms.versions(code)


def get_terms(ctx: ServiceContext, code: str, *, version: int | None = None, language: str | None = None
              ) -> TermsDocument:
    """One version (default: the one in force today, in ``language`` or German)."""
    lang = rules.language_for(language or "de")
    with ctx.uow() as uow:
        documents = uow.terms.versions(code)
    if version is None:
        return rules.in_force(documents, code=code, language=lang, on=ctx.today())
    for document in documents:
        if document.version == version and (language is None or document.language is lang):
            return document
    raise TermsNotFound(f"terms {code!r} have no version {version}" + (f" in {lang}" if language else ""))


def terms_in_force(uow: UnitOfWork, plan: Plan, language: Language, on: date) -> TermsDocument | None:
    """The version of the plan's terms in force on ``on`` (None for a plan without terms)."""
    if plan.terms_code is None:
        return None
    return rules.in_force(uow.terms.versions(plan.terms_code), code=plan.terms_code, language=language, on=on)


def set_plan_terms(ctx: ServiceContext, plan_code: str, terms_code: str | None) -> Plan:
    """Name the terms document for new subscriptions to ``plan_code`` (None: no terms document)."""
    with ctx.uow() as uow:
        plan = uow.plans.get_by_code(plan_code)
        if terms_code is not None:
            terms_code = rules.validate_terms_code(terms_code)
            if not uow.terms.versions(terms_code):
                raise TermsNotFound(f"no terms {terms_code!r} are published: `aboguard terms publish {terms_code} "
                                    "--file ...` first")
        uow.plans.set_terms_code(plan.id, terms_code)
        uow.commit()
        return uow.plans.get(plan.id)
