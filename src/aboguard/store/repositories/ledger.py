"""The journal: entries and their lines, balances derived by summing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from aboguard.domain.ledger import JournalEntry
from aboguard.store import rows
from aboguard.store.bulk import insert_many
from aboguard.store.tables import journal_entries, journal_lines


class SqlLedger:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add_many(self, entries: Sequence[JournalEntry]) -> None:
        if not entries:
            return
        insert_many(self._conn, journal_entries, [rows.entry_to_row(entry) for entry in entries])
        insert_many(self._conn, journal_lines, [line for entry in entries for line in rows.entry_line_rows(entry)])

    def entries_for(self, document_id: str) -> list[JournalEntry]:
        heads = list(self._conn.execute(select(journal_entries).where(journal_entries.c.document_id == document_id)
                                        .order_by(journal_entries.c.created_at, journal_entries.c.id)).mappings())
        if not heads:
            return []
        lines: dict[str, list] = defaultdict(list)
        for line in self._conn.execute(select(journal_lines).where(
                journal_lines.c.entry_id.in_([h["id"] for h in heads]))).mappings():
            lines[line["entry_id"]].append(line)
        return [rows.entry_from_rows(head, lines[head["id"]]) for head in heads]

    def balance(self, account: str) -> dict[str, int]:
        query = (select(journal_lines.c.currency, func.sum(journal_lines.c.amount_minor))
                 .where(journal_lines.c.account == account).group_by(journal_lines.c.currency))
        return {currency: int(total) for currency, total in self._conn.execute(query) if total}

    def balances(self, prefix: str) -> dict[str, dict[str, int]]:
        query = (select(journal_lines.c.account, journal_lines.c.currency, func.sum(journal_lines.c.amount_minor))
                 .where(journal_lines.c.account.startswith(prefix, autoescape=True))
                 .group_by(journal_lines.c.account, journal_lines.c.currency))
        result: dict[str, dict[str, int]] = defaultdict(dict)
        for account, currency, total in self._conn.execute(query):
            result[account][currency] = int(total)
        return dict(result)

    def unbalanced_entries(self) -> list[tuple[str, str, int]]:
        total = func.sum(journal_lines.c.amount_minor)
        query = (select(journal_lines.c.entry_id, journal_lines.c.currency, total)
                 .group_by(journal_lines.c.entry_id, journal_lines.c.currency).having(total != 0))
        return [(entry_id, currency, int(amount)) for entry_id, currency, amount in self._conn.execute(query)]

    def count_entries(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(journal_entries)).scalar_one())
