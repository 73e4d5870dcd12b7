"""The stock ledger: append-only movements and their running totals."""

from __future__ import annotations

import time

from app.core.stock import StockLevel
from app.store.db import Database

# One movement as ``record_many`` takes it: (product_id, warehouse_id, on_hand_delta,
# committed_delta, reason, note, order_line_id, created_at).
Movement = tuple[int, int, float, float, str, str, int | None, float]


class Ledger:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        product_id: int,
        warehouse_id: int,
        *,
        on_hand: float = 0.0,
        committed: float = 0.0,
        reason: str,
        note: str = "",
        order_line_id: int | None = None,
        at: float | None = None,
    ) -> None:
        """Append one movement and fold it into the running totals (same transaction)."""
        if on_hand == 0 and committed == 0:
            return
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO stock_movements (product_id, warehouse_id, on_hand_delta,"
                " committed_delta, reason, note, order_line_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    product_id,
                    warehouse_id,
                    on_hand,
                    committed,
                    reason,
                    note,
                    order_line_id,
                    at or time.time(),
                ),
            )
            conn.execute(
                "INSERT INTO stock_levels (product_id, warehouse_id, on_hand, committed)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (product_id, warehouse_id) DO UPDATE SET"
                " on_hand = on_hand + excluded.on_hand, committed = committed + excluded.committed",
                (product_id, warehouse_id, on_hand, committed),
            )

    def record_many(self, movements: list[Movement]) -> None:
        """Append many movements at once; the same rows and totals as ``record`` one by one.

        The running totals are folded here, in movement order, onto the stored ones, so
        every sum is added up in exactly the order the one-by-one calls would have used
        (float sums depend on it); each product and warehouse's total is then written
        once instead of once per movement.
        """
        rows = [m for m in movements if m[2] != 0 or m[3] != 0]
        if not rows:
            return
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO stock_movements (product_id, warehouse_id, on_hand_delta,"
                " committed_delta, reason, note, order_line_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            stored: dict[tuple[int, int], list[float]] = {}
            products = list({m[0] for m in rows})
            for start in range(0, len(products), 500):
                chunk = products[start : start + 500]
                for row in conn.execute(
                    "SELECT product_id, warehouse_id, on_hand, committed FROM stock_levels"
                    f" WHERE product_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                ):
                    stored[(row[0], row[1])] = [row[2], row[3]]
            totals: dict[tuple[int, int], list[float]] = {}
            for m in rows:
                key = (m[0], m[1])
                total = totals.get(key)
                if total is None:
                    total = stored.get(key)
                    if total is None:  # the first movement inserts the row with its deltas
                        totals[key] = [m[2], m[3]]
                        continue
                    totals[key] = total
                total[0] += m[2]
                total[1] += m[3]
            conn.executemany(
                "INSERT INTO stock_levels (product_id, warehouse_id, on_hand, committed)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (product_id, warehouse_id) DO UPDATE SET"
                " on_hand = excluded.on_hand, committed = excluded.committed",
                [(key[0], key[1], total[0], total[1]) for key, total in totals.items()],
            )

    def on_hand(self, product_id: int, warehouse_id: int | None = None) -> float:
        if warehouse_id is None:
            sql, args = "SELECT SUM(on_hand) FROM stock_levels WHERE product_id = ?", (product_id,)
        else:
            sql = "SELECT on_hand FROM stock_levels WHERE product_id = ? AND warehouse_id = ?"
            args = (product_id, warehouse_id)
        return float(self.db.scalar(sql, args) or 0.0)

    def set_on_hand(
        self, product_id: int, warehouse_id: int, counted: float, *, reason: str, note: str = ""
    ) -> float:
        """Record a stock count: one movement by the difference. Returns the delta."""
        with self.db.transaction():
            delta = counted - self.on_hand(product_id, warehouse_id)
            self.record(product_id, warehouse_id, on_hand=delta, reason=reason, note=note)
        return delta

    def levels(
        self, product_ids: list[int] | None = None, sku: str | None = None
    ) -> list[StockLevel]:
        """Stock per product, summed over warehouses, with the product's safety buffer."""
        where, args = [], []
        if sku is not None:
            where.append("p.sku = ?")
            args.append(sku)
        if product_ids is not None:
            where.append(f"p.id IN ({','.join('?' * len(product_ids))})")
            args.extend(product_ids)
        sql = (
            "SELECT p.id, p.sku, p.name, p.safety_buffer,"
            " COALESCE(SUM(l.on_hand), 0) AS on_hand, COALESCE(SUM(l.committed), 0) AS committed"
            " FROM products p LEFT JOIN stock_levels l ON l.product_id = p.id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " GROUP BY p.id ORDER BY p.sku"
        )
        return [
            StockLevel(
                r["id"], r["sku"], r["name"], r["on_hand"], r["committed"], r["safety_buffer"]
            )
            for r in self.db.all(sql, tuple(args))
        ]

    def level(self, product_id: int) -> StockLevel:
        found = self.levels([product_id])
        if not found:
            raise KeyError(product_id)
        return found[0]

    def totals_from_movements(self) -> dict[tuple[int, int], tuple[float, float]]:
        """Recompute every total from the raw ledger (for checks and repairs)."""
        rows = self.db.all(
            "SELECT product_id, warehouse_id, SUM(on_hand_delta), SUM(committed_delta)"
            " FROM stock_movements GROUP BY product_id, warehouse_id"
        )
        return {(r[0], r[1]): (r[2], r[3]) for r in rows}

    def verify(self) -> list[str]:
        """Differences between the running totals and the ledger; empty when consistent."""
        ledger = self.totals_from_movements()
        cached = {
            (r[0], r[1]): (r[2], r[3])
            for r in self.db.all(
                "SELECT product_id, warehouse_id, on_hand, committed FROM stock_levels"
            )
        }
        problems = []
        for key in set(ledger) | set(cached):
            a = ledger.get(key, (0.0, 0.0))
            b = cached.get(key, (0.0, 0.0))
            if abs(a[0] - b[0]) > 1e-9 or abs(a[1] - b[1]) > 1e-9:
                problems.append(f"product {key[0]} warehouse {key[1]}: ledger {a}, totals {b}")
        return problems

    def rebuild_totals(self) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM stock_levels")
            conn.execute(
                "INSERT INTO stock_levels (product_id, warehouse_id, on_hand, committed)"
                " SELECT product_id, warehouse_id, SUM(on_hand_delta), SUM(committed_delta)"
                " FROM stock_movements GROUP BY product_id, warehouse_id"
            )
