"""Plans with their price versions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from aboguard.domain.catalog import Plan, PlanVersion
from aboguard.errors import DuplicatePlanCode, PlanNotFound
from aboguard.ids import PlanId, PlanVersionId
from aboguard.store import rows
from aboguard.store.tables import plan_versions, plans

from ._base import execute_guarded, select_where, where


class SqlPlanRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, plan: Plan) -> None:
        if self.find_by_code(plan.code) is not None:
            raise DuplicatePlanCode(f"a plan with code {plan.code!r} already exists")
        error = execute_guarded(self._conn, insert(plans).values(rows.plan_to_row(plan)))
        if error is not None:
            if self.find_by_code(plan.code) is not None:
                raise DuplicatePlanCode(f"a plan with code {plan.code!r} already exists") from None
            raise error
        versions = list(plan.versions)
        if plan.current.id not in {v.id for v in versions}:
            versions.append(plan.current)
        self._conn.execute(insert(plan_versions), [rows.version_to_row(v) for v in versions])

    def add_version(self, version: PlanVersion) -> None:
        self._conn.execute(insert(plan_versions).values(rows.version_to_row(version)))
        result = self._conn.execute(
            update(plans).where(plans.c.id == version.plan_id).values(current_version_id=version.id))
        if result.rowcount == 0:
            raise PlanNotFound(f"no plan with id {version.plan_id!r}")

    def set_terms_code(self, plan_id: PlanId, terms_code: str | None) -> None:
        result = self._conn.execute(update(plans).where(plans.c.id == plan_id).values(terms_code=terms_code))
        if result.rowcount == 0:
            raise PlanNotFound(f"no plan with id {plan_id!r}")

    def get(self, plan_id: PlanId) -> Plan:
        found = self._load(select_where(plans, "id"), where(id=plan_id))
        if not found:
            raise PlanNotFound(f"no plan with id {plan_id!r}")
        return found[0]

    def get_by_code(self, code: str) -> Plan:
        plan = self.find_by_code(code)
        if plan is None:
            raise PlanNotFound(f"no plan with code {code!r}")
        return plan

    def find_by_code(self, code: str) -> Plan | None:
        found = self._load(select_where(plans, "code"), where(code=code))
        return found[0] if found else None

    def get_version(self, version_id: PlanVersionId) -> PlanVersion:
        row = self._conn.execute(select_where(plan_versions, "id"), where(id=version_id)).mappings().first()
        if row is None:
            raise PlanNotFound(f"no plan version with id {version_id!r}")
        return rows.version_from_row(row)

    def list(self, *, include_archived: bool = False) -> list[Plan]:
        query = select(plans).order_by(plans.c.code)
        if not include_archived:
            query = query.where(plans.c.active.is_(True))
        return self._load(query)

    def _load(self, query: Select[Any], params: dict[str, Any] | None = None) -> list[Plan]:
        plan_rows: Sequence[RowMapping] = self._conn.execute(query, params).mappings().all()
        if not plan_rows:
            return []
        if len(plan_rows) == 1:
            versions = self._conn.execute(select_where(plan_versions, "plan_id", order_by=("number",)),
                                          where(plan_id=plan_rows[0]["id"])).mappings()
            return [rows.plan_from_row(plan_rows[0], [rows.version_from_row(v) for v in versions])]
        version_rows = self._conn.execute(
            select(plan_versions).where(plan_versions.c.plan_id.in_([r["id"] for r in plan_rows]))
            .order_by(plan_versions.c.plan_id, plan_versions.c.number)).mappings()
        by_plan: dict[str, list[PlanVersion]] = defaultdict(list)
        for row in version_rows:
            by_plan[row["plan_id"]].append(rows.version_from_row(row))
        return [rows.plan_from_row(row, by_plan[row["id"]]) for row in plan_rows]
