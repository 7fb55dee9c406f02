"""Subscriptions, saved with optimistic locking on ``version``."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from aboguard.domain.subscriptions import BILLABLE, Subscription, SubscriptionStatus
from aboguard.errors import ConcurrentUpdate, SubscriptionNotFound
from aboguard.ids import CustomerId, SubscriptionId
from aboguard.store import rows
from aboguard.store.bulk import update_many_versioned
from aboguard.store.tables import subscriptions

from ._base import none_of, one_of, select_where, update_versioned, where

_BILLABLE = sorted(status.value for status in BILLABLE)


class SqlSubscriptionRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, sub: Subscription) -> None:
        self._conn.execute(insert(subscriptions).values(rows.subscription_to_row(sub)))

    def get(self, subscription_id: SubscriptionId) -> Subscription:
        row = self._conn.execute(select_where(subscriptions, "id"), where(id=subscription_id)).mappings().first()
        if row is None:
            raise SubscriptionNotFound(f"no subscription with id {subscription_id!r}")
        return rows.subscription_from_row(row)

    def save(self, sub: Subscription) -> Subscription:
        values = rows.subscription_to_row(sub)
        for fixed in ("id", "created_at", "version"):
            del values[fixed]
        if update_versioned(self._conn, subscriptions, values, sub.id, sub.version) == 0:
            exists = self._conn.execute(
                select(subscriptions.c.version).where(subscriptions.c.id == sub.id)).scalar_one_or_none()
            if exists is None:
                raise SubscriptionNotFound(f"no subscription with id {sub.id!r}")
            raise ConcurrentUpdate(f"subscription {sub.id} was changed by someone else (version {exists}, "
                                   f"expected {sub.version}); reload it and try again")
        return replace(sub, version=sub.version + 1)

    def list(self, *, customer_id: CustomerId | None = None, status: SubscriptionStatus | None = None,
             limit: int = 100, offset: int = 0) -> list[Subscription]:
        query = select(subscriptions)
        if customer_id is not None:
            query = query.where(subscriptions.c.customer_id == customer_id)
        if status is not None:
            query = query.where(subscriptions.c.status == SubscriptionStatus(status).value)
        query = query.order_by(subscriptions.c.created_at, subscriptions.c.id).limit(limit).offset(offset)
        return [rows.subscription_from_row(row) for row in self._conn.execute(query).mappings().all()]

    def claim_due(self, today: date, *, limit: int, exclude: Collection[str] = (),
                  skip_locked: bool = False) -> list[Subscription]:
        """Subscriptions with work due by ``today``, oldest due first, by the ``due_on`` index.

        On PostgreSQL with ``skip_locked`` the rows are locked ``FOR UPDATE SKIP LOCKED`` until the
        caller's transaction ends, so concurrent billing processes each get different subscriptions.
        SQLite serialises writers already (``BEGIN IMMEDIATE``).
        """
        query = (select(subscriptions).where(subscriptions.c.due_on <= today)
                 .order_by(subscriptions.c.due_on, subscriptions.c.id).limit(limit))
        if exclude:
            query = query.where(none_of(self._conn, subscriptions.c.id, sorted(exclude)))
        if skip_locked and self._conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [rows.subscription_from_row(row) for row in self._conn.execute(query).mappings().all()]

    def save_many(self, subs: Sequence[Subscription], *, fields: Sequence[str] | None = None) -> None:
        """Save many changed subscriptions in one statement, each with its optimistic version check.

        ``fields`` limits the update to those columns (``due_on`` is always kept current), for callers
        that know what they changed, such as the billing run; a name that is no column is a ValueError.
        """
        if not subs:
            return
        if fields is None:
            params = [rows.subscription_to_row(sub) for sub in subs]
            for values in params:
                del values["created_at"]
        else:
            names = dict.fromkeys((*fields, "due_on", "id", "version"))  # ordered, once each
            to_row = rows.subscription_columns(names)
            params = [to_row(sub) for sub in subs]
        changed = update_many_versioned(self._conn, subscriptions, params)
        if changed != len(params):
            raise self._why_short(params)

    def _why_short(self, params: Sequence[dict[str, Any]]) -> Exception:
        """After a short bulk update: the subscription whose stored row is not what this batch wrote.

        One query, no per-row round trips. A row this batch updated holds exactly the values written
        and the version read plus one; any other row was changed by someone else (or is missing).
        """
        written: dict[str, dict[str, Any]] = {}
        for values in params:
            if values["id"] in written:
                return ConcurrentUpdate(f"subscription {values['id']} was saved twice in one batch; "
                                        "save each subscription once")
            written[values["id"]] = values
        ids = sorted(written)
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            query = select(subscriptions).where(one_of(self._conn, subscriptions.c.id, chunk))
            for row in self._conn.execute(query).mappings():
                mine = written.pop(row["id"])
                if row["version"] != mine["version"] + 1 or any(
                        row[name] != value for name, value in mine.items() if name not in ("id", "version")):
                    return ConcurrentUpdate(
                        f"subscription {row['id']} was changed by someone else (version {row['version']}, "
                        f"expected {mine['version']}); reload it and try again")
        if written:
            return SubscriptionNotFound(f"no subscription with id {min(written)!r}")
        return ConcurrentUpdate("some subscriptions were changed by someone else; reload them and try again")

    def due_for_billing(self, today: date, *, limit: int = 1000) -> list[SubscriptionId]:
        """Ids of billable subscriptions whose next period starts by ``today``, oldest due first.

        A range scan of the ``due_on`` index: for a billable subscription ``due_on`` is never later than
        ``next_bill_on``, so the first condition only narrows the search.
        """
        query = (select(subscriptions.c.id)
                 .where(subscriptions.c.due_on <= today, subscriptions.c.next_bill_on <= today,
                        subscriptions.c.status.in_(_BILLABLE))
                 .order_by(subscriptions.c.due_on, subscriptions.c.id)
                 .limit(limit))
        return [SubscriptionId(sub_id) for sub_id in self._conn.execute(query).scalars()]
