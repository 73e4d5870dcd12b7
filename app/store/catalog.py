"""Local products and warehouses."""

from __future__ import annotations

import time
from dataclasses import dataclass

from app.core.stock import normalise_sku
from app.store.db import Database


@dataclass(frozen=True, slots=True)
class Product:
    id: int
    sku: str
    name: str
    barcode: str
    cost_price: float | None
    safety_buffer: float


def _product(row) -> Product:
    return Product(
        row["id"], row["sku"], row["name"], row["barcode"], row["cost_price"], row["safety_buffer"]
    )


class Catalog:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- warehouses -------------------------------------------------------------------
    def default_warehouse_id(self) -> int:
        return int(
            self.db.scalar("SELECT id FROM warehouses WHERE is_default = 1 ORDER BY id LIMIT 1")
        )

    def warehouse_id(self, name: str | None, *, create: bool = False) -> int:
        if not name:
            return self.default_warehouse_id()
        found = self.db.scalar("SELECT id FROM warehouses WHERE name = ?", (name.strip(),))
        if found is not None:
            return int(found)
        if not create:
            raise KeyError(name)
        with self.db.transaction() as conn:
            return int(
                conn.execute("INSERT INTO warehouses (name) VALUES (?)", (name.strip(),)).lastrowid
            )

    def warehouses(self) -> list[dict]:
        return [
            dict(r) for r in self.db.all("SELECT id, name, is_default FROM warehouses ORDER BY id")
        ]

    # -- products ---------------------------------------------------------------------
    def add_product(
        self,
        sku: str,
        name: str,
        *,
        barcode: str = "",
        cost_price: float | None = None,
        safety_buffer: float = 0.0,
    ) -> Product:
        sku = normalise_sku(sku)
        if not sku:
            raise ValueError("A product needs a SKU.")
        now = time.time()
        with self.db.transaction() as conn:
            pid = conn.execute(
                "INSERT INTO products (sku, name, barcode, cost_price, safety_buffer, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (sku, name or sku, barcode or "", cost_price, safety_buffer, now, now),
            ).lastrowid
        return self.get(int(pid))

    def update_product(self, product_id: int, **fields) -> Product:
        allowed = {"name", "barcode", "cost_price", "safety_buffer"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"cannot update {', '.join(sorted(unknown))}")
        if fields:
            sets = ", ".join(f"{k} = ?" for k in fields)
            with self.db.transaction() as conn:
                conn.execute(
                    f"UPDATE products SET {sets}, updated_at = ? WHERE id = ?",
                    (*fields.values(), time.time(), product_id),
                )
        return self.get(product_id)

    def get(self, product_id: int) -> Product:
        row = self.db.one("SELECT * FROM products WHERE id = ?", (product_id,))
        if row is None:
            raise KeyError(product_id)
        return _product(row)

    def by_sku(self, sku: str) -> Product | None:
        row = self.db.one("SELECT * FROM products WHERE sku = ?", (normalise_sku(sku),))
        return None if row is None else _product(row)

    def all(self) -> list[Product]:
        return [_product(r) for r in self.db.all("SELECT * FROM products ORDER BY sku")]

    def count(self) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM products"))
