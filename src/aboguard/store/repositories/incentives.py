"""Coupons, loyalty rules/streaks/rewards, retention offers and decisions, and the discounts they granted."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Table, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from aboguard.domain.coupons import Coupon, CouponDuration, DiscountKind, Grant, Redemption, RedemptionStatus
from aboguard.domain.loyalty import Criterion, LoyaltyRule, Reward, RewardStatus, Streak
from aboguard.domain.retention import OfferKind, RetentionDecision, RetentionOffer
from aboguard.errors import ConcurrentUpdate
from aboguard.money import Money
from aboguard.store.bulk import insert_many
from aboguard.store.tables import (
    coupon_redemptions,
    coupons,
    incentive_grants,
    loyalty_rewards,
    loyalty_rules,
    loyalty_streaks,
    retention_decisions,
    retention_offers,
)

from ._base import insert_row, one_of, select_where, update_versioned, where

T = TypeVar("T")


def _coupon(row: Any) -> Coupon:
    currency = row["currency"]
    return Coupon(code=row["code"], name=row["name"], kind=DiscountKind(row["kind"]),
                  duration=CouponDuration(row["duration"]), created_at=row["created_at"],
                  percent=Decimal(row["percent"]) if row["percent"] is not None else None,
                  amount=Money(row["amount_minor"], currency) if row["amount_minor"] is not None else None,
                  periods=row["periods"], plan_codes=frozenset(row["plan_codes"] or ()),
                  max_redemptions=row["max_redemptions"], per_customer=row["per_customer"],
                  redeem_by=row["redeem_by"], stackable=bool(row["stackable"]), active=bool(row["active"]))


def _redemption(row: Any) -> Redemption:
    return Redemption(id=row["id"], coupon_code=row["coupon_code"], customer_id=row["customer_id"],
                      subscription_id=row["subscription_id"], redeemed_at=row["redeemed_at"],
                      periods_used=row["periods_used"], status=RedemptionStatus(row["status"]), version=row["version"])


def _rule(row: Any) -> LoyaltyRule:
    return LoyaltyRule(code=row["code"], name=row["name"], criterion=Criterion(row["criterion"]),
                       streak=row["streak"], percent=Decimal(row["percent"]), created_at=row["created_at"],
                       active=bool(row["active"]))


def _reward(row: Any) -> Reward:
    return Reward(id=row["id"], rule_code=row["rule_code"], customer_id=row["customer_id"],
                  subscription_id=row["subscription_id"], percent=Decimal(row["percent"]),
                  earned_by=tuple(row["earned_by"]), granted_at=row["granted_at"], status=RewardStatus(row["status"]),
                  applied_invoice_id=row["applied_invoice_id"], version=row["version"])


def _offer(row: Any) -> RetentionOffer:
    return RetentionOffer(code=row["code"], name=row["name"], kind=OfferKind(row["kind"]),
                          created_at=row["created_at"], coupon_code=row["coupon_code"],
                          pause_months=row["pause_months"], plan_code=row["plan_code"], active=bool(row["active"]))


def _decision(row: Any) -> RetentionDecision:
    return RetentionDecision(id=row["id"], subscription_id=row["subscription_id"], customer_id=row["customer_id"],
                             offer_code=row["offer_code"], accepted=row["decision"] == "accepted",
                             decided_at=row["decided_at"], detail=row["detail"], resume_on=row["resume_on"],
                             resumed=bool(row["resumed"]))


def _grant(row: Any) -> Grant:
    return Grant(id=row["id"], invoice_id=row["invoice_id"], customer_id=row["customer_id"],
                 subscription_id=row["subscription_id"], source=row["source"], source_code=row["source_code"],
                 source_id=row["source_id"], amount=Money(row["amount_minor"], row["currency"]),
                 created_at=row["created_at"])


class SqlIncentives:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self._rules: list[LoyaltyRule] | None = None  # read once per transaction: every payment asks

    # -- coupons ---------------------------------------------------------------------------------------------

    def add_coupon(self, coupon: Coupon) -> None:
        insert_row(self._conn, coupons, {
            "code": coupon.code, "name": coupon.name, "kind": coupon.kind.value,
            "percent": str(coupon.percent) if coupon.percent is not None else None,
            "amount_minor": coupon.amount.minor if coupon.amount else None,
            "currency": coupon.amount.currency if coupon.amount else None, "duration": coupon.duration.value,
            "periods": coupon.periods, "plan_codes": sorted(coupon.plan_codes),
            "max_redemptions": coupon.max_redemptions, "per_customer": coupon.per_customer,
            "redeem_by": coupon.redeem_by, "stackable": coupon.stackable, "active": coupon.active,
            "created_at": coupon.created_at})

    def coupon(self, code: str) -> Coupon | None:
        row = self._conn.execute(select_where(coupons, "code"), where(code=code.strip().upper())).mappings().first()
        return _coupon(row) if row is not None else None

    def coupons(self, *, include_archived: bool = False) -> list[Coupon]:
        query = select(coupons).order_by(coupons.c.code)
        if not include_archived:
            query = query.where(coupons.c.active.is_(True))
        return [_coupon(row) for row in self._conn.execute(query).mappings()]

    def coupons_by_code(self, codes: Collection[str]) -> dict[str, Coupon]:
        if not codes:
            return {}
        query = select(coupons).where(one_of(self._conn, coupons.c.code, sorted(set(codes))))
        return {row["code"]: _coupon(row) for row in self._conn.execute(query).mappings()}

    def archive_coupon(self, code: str) -> bool:
        return bool(self._conn.execute(update(coupons).where(coupons.c.code == code).values(active=False)).rowcount)

    def redemption_counts(self, code: str, customer_id: str) -> tuple[int, int]:
        """How often the coupon was redeemed in all, and by this customer (removed redemptions count too)."""
        total = self._conn.execute(select(func.count()).select_from(coupon_redemptions)
                                   .where(coupon_redemptions.c.coupon_code == code)).scalar_one()
        mine = self._conn.execute(select(func.count()).select_from(coupon_redemptions).where(
            coupon_redemptions.c.coupon_code == code, coupon_redemptions.c.customer_id == customer_id)).scalar_one()
        return int(total), int(mine)

    def redemption_totals(self) -> dict[str, int]:
        """How often each coupon was redeemed in all, in one query."""
        query = select(coupon_redemptions.c.coupon_code, func.count()).group_by(coupon_redemptions.c.coupon_code)
        return {code: int(n) for code, n in self._conn.execute(query)}

    def add_redemption(self, redemption: Redemption) -> None:
        insert_row(self._conn, coupon_redemptions, {
            "id": redemption.id, "coupon_code": redemption.coupon_code, "customer_id": redemption.customer_id,
            "subscription_id": redemption.subscription_id, "redeemed_at": redemption.redeemed_at,
            "periods_used": redemption.periods_used, "status": redemption.status.value,
            "version": redemption.version})

    def save_redemption(self, redemption: Redemption) -> Redemption:
        changed = update_versioned(self._conn, coupon_redemptions, {
            "periods_used": redemption.periods_used, "status": redemption.status.value},
            redemption.id, redemption.version)
        if changed == 0:
            raise ConcurrentUpdate(f"coupon redemption {redemption.id} was changed by someone else; run again")
        return replace(redemption, version=redemption.version + 1)

    def running_redemptions(self, subscription_ids: Collection[str]) -> dict[str, list[Redemption]]:
        """The active redemptions of these subscriptions, oldest first, in one query."""
        return self._by_subscription(coupon_redemptions, subscription_ids, RedemptionStatus.ACTIVE.value,
                                     coupon_redemptions.c.redeemed_at, _redemption)

    def redemptions(self, *, coupon_code: str | None = None, subscription_id: str | None = None,
                    limit: int = 1000) -> list[Redemption]:
        query = select(coupon_redemptions)
        if coupon_code is not None:
            query = query.where(coupon_redemptions.c.coupon_code == coupon_code)
        if subscription_id is not None:
            query = query.where(coupon_redemptions.c.subscription_id == subscription_id)
        query = query.order_by(coupon_redemptions.c.redeemed_at, coupon_redemptions.c.id).limit(limit)
        return [_redemption(row) for row in self._conn.execute(query).mappings()]

    # -- what was granted ----------------------------------------------------------------------------------

    def add_grants(self, grants: Sequence[Grant]) -> None:
        insert_many(self._conn, incentive_grants, [{
            "id": g.id, "invoice_id": g.invoice_id, "customer_id": g.customer_id, "subscription_id": g.subscription_id,
            "source": g.source, "source_code": g.source_code, "source_id": g.source_id,
            "amount_minor": g.amount.minor, "currency": g.amount.currency, "created_at": g.created_at}
            for g in grants])

    def grants(self, *, invoice_id: str | None = None, customer_id: str | None = None,
               limit: int = 1_000_000) -> list[Grant]:
        query = select(incentive_grants)
        if invoice_id is not None:
            query = query.where(incentive_grants.c.invoice_id == invoice_id)
        if customer_id is not None:
            query = query.where(incentive_grants.c.customer_id == customer_id)
        query = query.order_by(incentive_grants.c.created_at, incentive_grants.c.id).limit(limit)
        return [_grant(row) for row in self._conn.execute(query).mappings()]

    # -- loyalty -------------------------------------------------------------------------------------------

    def add_rule(self, rule: LoyaltyRule) -> None:
        insert_row(self._conn, loyalty_rules, {
            "code": rule.code, "name": rule.name, "criterion": rule.criterion.value, "streak": rule.streak,
            "percent": str(rule.percent), "active": rule.active, "created_at": rule.created_at})
        self._rules = None

    def rule(self, code: str) -> LoyaltyRule | None:
        row = self._conn.execute(select_where(loyalty_rules, "code"), where(code=code.strip().upper())
                                 ).mappings().first()
        return _rule(row) if row is not None else None

    def rules(self, *, include_inactive: bool = False) -> list[LoyaltyRule]:
        if include_inactive:
            query = select(loyalty_rules).order_by(loyalty_rules.c.code)
            return [_rule(row) for row in self._conn.execute(query).mappings()]
        if self._rules is None:
            query = select(loyalty_rules).where(loyalty_rules.c.active.is_(True)).order_by(loyalty_rules.c.code)
            self._rules = [_rule(row) for row in self._conn.execute(query).mappings()]
        return self._rules

    def deactivate_rule(self, code: str) -> bool:
        self._rules = None
        return bool(self._conn.execute(update(loyalty_rules).where(loyalty_rules.c.code == code)
                                       .values(active=False)).rowcount)

    def streak(self, subscription_id: str, rule_code: str) -> Streak:
        row = self._conn.execute(select_where(loyalty_streaks, "subscription_id", "rule_code"),
                                 where(subscription_id=subscription_id, rule_code=rule_code)).mappings().first()
        if row is None:
            return Streak(subscription_id, rule_code)
        return Streak(subscription_id, rule_code, tuple(row["invoice_ids"]), row["version"])

    def save_streak(self, streak: Streak) -> Streak:
        if streak.version == 0:
            insert_row(self._conn, loyalty_streaks, {"subscription_id": streak.subscription_id,
                                                     "rule_code": streak.rule_code,
                                                     "invoice_ids": list(streak.invoice_ids), "version": 1})
            return replace(streak, version=1)
        changed = self._conn.execute(update(loyalty_streaks).where(
            loyalty_streaks.c.subscription_id == streak.subscription_id,
            loyalty_streaks.c.rule_code == streak.rule_code, loyalty_streaks.c.version == streak.version)
            .values(invoice_ids=list(streak.invoice_ids), version=streak.version + 1)).rowcount
        if changed == 0:
            raise ConcurrentUpdate(f"the loyalty streak of subscription {streak.subscription_id} changed meanwhile")
        return replace(streak, version=streak.version + 1)

    def add_reward(self, reward: Reward) -> None:
        insert_row(self._conn, loyalty_rewards, {
            "id": reward.id, "rule_code": reward.rule_code, "customer_id": reward.customer_id,
            "subscription_id": reward.subscription_id, "percent": str(reward.percent),
            "earned_by": list(reward.earned_by), "granted_at": reward.granted_at, "status": reward.status.value,
            "applied_invoice_id": reward.applied_invoice_id, "version": reward.version})

    def save_reward(self, reward: Reward) -> Reward:
        changed = update_versioned(self._conn, loyalty_rewards, {
            "status": reward.status.value, "applied_invoice_id": reward.applied_invoice_id}, reward.id, reward.version)
        if changed == 0:
            raise ConcurrentUpdate(f"loyalty reward {reward.id} was changed by someone else; run again")
        return replace(reward, version=reward.version + 1)

    def pending_rewards(self, subscription_ids: Collection[str]) -> dict[str, list[Reward]]:
        """The pending rewards of these subscriptions, oldest first, in one query."""
        return self._by_subscription(loyalty_rewards, subscription_ids, RewardStatus.PENDING.value,
                                     loyalty_rewards.c.granted_at, _reward)

    def _by_subscription(self, table: Table, subscription_ids: Collection[str], status: str,
                         since: ColumnElement[Any], convert: Callable[[Any], T]) -> dict[str, list[T]]:
        """Rows of ``table`` in ``status`` for these subscriptions, by subscription, oldest (``since``) first."""
        if not subscription_ids:
            return {}
        query = (select(table).where(one_of(self._conn, table.c.subscription_id, sorted(set(subscription_ids))),
                                     table.c.status == status).order_by(since, table.c.id))
        found: dict[str, list[T]] = defaultdict(list)
        for row in self._conn.execute(query).mappings():
            found[row["subscription_id"]].append(convert(row))
        return dict(found)

    def rewards(self, *, customer_id: str | None = None, limit: int = 1_000_000) -> list[Reward]:
        query = select(loyalty_rewards)
        if customer_id is not None:
            query = query.where(loyalty_rewards.c.customer_id == customer_id)
        query = query.order_by(loyalty_rewards.c.granted_at, loyalty_rewards.c.id).limit(limit)
        return [_reward(row) for row in self._conn.execute(query).mappings()]

    # -- retention -----------------------------------------------------------------------------------------

    def add_offer(self, offer: RetentionOffer) -> None:
        insert_row(self._conn, retention_offers, {
            "code": offer.code, "name": offer.name, "kind": offer.kind.value, "coupon_code": offer.coupon_code,
            "pause_months": offer.pause_months, "plan_code": offer.plan_code, "active": offer.active,
            "created_at": offer.created_at})

    def offer(self, code: str) -> RetentionOffer | None:
        row = self._conn.execute(select_where(retention_offers, "code"), where(code=code.strip().upper())
                                 ).mappings().first()
        return _offer(row) if row is not None else None

    def offers(self, *, include_inactive: bool = False) -> list[RetentionOffer]:
        query = select(retention_offers).order_by(retention_offers.c.code)
        if not include_inactive:
            query = query.where(retention_offers.c.active.is_(True))
        return [_offer(row) for row in self._conn.execute(query).mappings()]

    def deactivate_offer(self, code: str) -> bool:
        return bool(self._conn.execute(update(retention_offers).where(retention_offers.c.code == code)
                                       .values(active=False)).rowcount)

    def add_decision(self, decision: RetentionDecision) -> None:
        insert_row(self._conn, retention_decisions, {
            "id": decision.id, "subscription_id": decision.subscription_id, "customer_id": decision.customer_id,
            "offer_code": decision.offer_code, "decision": "accepted" if decision.accepted else "declined",
            "decided_at": decision.decided_at, "detail": decision.detail, "resume_on": decision.resume_on,
            "resumed": decision.resumed})

    def decisions(self, *, subscription_id: str | None = None, limit: int = 1_000_000) -> list[RetentionDecision]:
        query = select(retention_decisions)
        if subscription_id is not None:
            query = query.where(retention_decisions.c.subscription_id == subscription_id)
        query = query.order_by(retention_decisions.c.decided_at, retention_decisions.c.id).limit(limit)
        return [_decision(row) for row in self._conn.execute(query).mappings()]

    def pauses_ending(self, today: date, *, limit: int = 1000) -> list[RetentionDecision]:
        """Accepted pauses whose resume date has come and that were not resumed yet (by the resume_on index)."""
        query = (select(retention_decisions).where(retention_decisions.c.resume_on <= today,
                                                   retention_decisions.c.resumed.is_(False))
                 .order_by(retention_decisions.c.resume_on, retention_decisions.c.id).limit(limit))
        return [_decision(row) for row in self._conn.execute(query).mappings()]

    def mark_resumed(self, decision_id: str) -> None:
        self._conn.execute(update(retention_decisions).where(retention_decisions.c.id == decision_id)
                           .values(resumed=True))
