"""Catalog use cases: create plans, change their price (a new version), list and show them."""

from __future__ import annotations

from dataclasses import replace

from aboguard.domain import events as ev
from aboguard.domain.catalog import Plan, PlanSpec, Product, build_version, validate_code
from aboguard.domain.terms import TermsNotFound, validate_terms_code
from aboguard.errors import DuplicatePlanCode, InvalidPlan
from aboguard.ids import PlanId, PlanVersionId, ProductId
from aboguard.money import Money
from aboguard.store.uow import UnitOfWork

from .context import ServiceContext


def create_plan(ctx: ServiceContext, *, code: str, name: str, spec: PlanSpec,
                product_code: str | None = None, terms_code: str | None = None) -> Plan:
    """A new plan with its first price version; the product is created on first use.

    ``terms_code`` names the terms document (AGB) that applies; it must be published already.
    """
    code = validate_code(code)
    if not name.strip():
        raise InvalidPlan("a plan needs a name")
    now = ctx.now()
    with ctx.uow() as uow:
        if uow.plans.find_by_code(code):
            raise DuplicatePlanCode(f"a plan with code {code!r} already exists")
        product_code = validate_code(product_code or code)
        product = uow.products.find_by_code(product_code)
        if product is None:
            product = Product(ProductId(ctx.new_id()), product_code, name.strip(), now)
            uow.products.add(product)
        plan_id = PlanId(ctx.new_id())
        version = build_version(spec, version_id=PlanVersionId(ctx.new_id()), plan_id=plan_id, number=1,
                                created_at=now)
        if terms_code is not None:
            terms_code = validate_terms_code(terms_code)
            if not uow.terms.versions(terms_code):
                raise TermsNotFound(f"no terms {terms_code!r} are published: `aboguard terms publish {terms_code} "
                                    "--file ...` first")
        plan = Plan(plan_id, code, name.strip(), product.id, spec.audience, version, now, versions=(version,),
                    terms_code=terms_code)
        uow.plans.add(plan)
        uow.events.add([ev.PlanCreated(plan.id, code, 1)], now)
        uow.commit()
    return plan


def change_plan_price(ctx: ServiceContext, code: str, price: Money, setup_fee: Money | None = None) -> Plan:
    """A new price version; subscriptions on older versions keep the price they agreed to."""
    now = ctx.now()
    with ctx.uow() as uow:
        plan = uow.plans.get_by_code(code)
        current = plan.current
        if price.currency != current.price.currency:
            raise InvalidPlan(f"plan {code} is priced in {current.price.currency}; a new price must be too")
        spec = PlanSpec(price=price, interval=current.interval, audience=plan.audience,
                        trial_days=current.trial_days,
                        setup_fee=setup_fee if setup_fee is not None else current.setup_fee,
                        tax_category=current.tax_category, tax_inclusive=current.tax_inclusive,
                        terms=current.terms, payment_methods=current.payment_methods)
        number = max(v.number for v in plan.versions) + 1
        version = build_version(spec, version_id=PlanVersionId(ctx.new_id()), plan_id=plan.id, number=number,
                                created_at=now)
        uow.plans.add_version(version)
        uow.events.add([ev.PlanPriceChanged(plan.id, code, number, price)], now)
        uow.commit()
    return replace(plan, current=version, versions=(*plan.versions, version))


def list_plans(ctx: ServiceContext, *, include_archived: bool = False) -> list[Plan]:
    with ctx.uow() as uow:
        return uow.plans.list(include_archived=include_archived)


def get_plan(ctx: ServiceContext, code: str) -> Plan:
    with ctx.uow() as uow:
        return uow.plans.get_by_code(code)


def plan_code_of(uow: UnitOfWork, version_id: str) -> str:
    """The code of the plan a price version belongs to (what segments, coupons and offers are keyed by)."""
    return uow.plans.get(uow.plans.get_version(PlanVersionId(version_id)).plan_id).code
