"""Migration 0009 on a database that already holds plans: up, down and up again, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from aboguard.store import migrate
from aboguard.store.engine import make_engine

AT = "2025-01-01 00:00:00+00:00"


def test_contracts_migration_keeps_existing_plans_and_can_be_undone(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0006_dunning")
        with engine.begin() as c:
            c.execute(text("INSERT INTO products VALUES ('p1', 'basic', 'Basic', :at)"), {"at": AT})
            c.execute(text("INSERT INTO plans (id, code, name, product_id, audience, current_version_id, active, "
                           "created_at) VALUES ('pl1', 'basic', 'Basic', 'p1', 'consumer', 'v1', true, :at)"),
                      {"at": AT})
            c.execute(text("INSERT INTO plan_versions (id, plan_id, number, amount_minor, currency, interval_unit, "
                           "interval_count, trial_days, tax_category, tax_inclusive, min_term_months, notice_days, "
                           "renewal, renewal_term_months, payment_methods, created_at) VALUES ('v1', 'pl1', 1, 999, "
                           "'EUR', 'month', 1, 0, 'standard', true, 0, 0, 'indefinite', 0, 'card', :at)"), {"at": AT})
        migrate.upgrade(engine)
        with engine.begin() as c:
            assert c.execute(text("SELECT code, terms_code FROM plans")).all() == [("basic", None)]
        with engine.begin() as c:
            command.downgrade(migrate.alembic_config(c), "0006_dunning")
        assert migrate.current_revision(engine) == "0006_dunning"
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        with engine.begin() as c:
            assert c.execute(text("SELECT count(*) FROM plans")).scalar_one() == 1
    finally:
        engine.dispose()
