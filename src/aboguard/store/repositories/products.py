"""Products."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from aboguard.domain.catalog import Product
from aboguard.errors import NotFound
from aboguard.ids import ProductId
from aboguard.store import rows
from aboguard.store.tables import products


class SqlProductRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, product: Product) -> None:
        self._conn.execute(insert(products).values(rows.product_to_row(product)))

    def get(self, product_id: ProductId) -> Product:
        row = self._conn.execute(select(products).where(products.c.id == product_id)).mappings().first()
        if row is None:
            raise NotFound(f"no product with id {product_id!r}")
        return rows.product_from_row(row)

    def find_by_code(self, code: str) -> Product | None:
        row = self._conn.execute(select(products).where(products.c.code == code)).mappings().first()
        return rows.product_from_row(row) if row is not None else None
