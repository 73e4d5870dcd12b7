"""The durable outbox: every push to a channel is a row written with the local change."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from app.store.db import Database

STOCK = "stock"
ORDER = "order"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    channel_id: int
    kind: str
    target: str
    payload: dict[str, Any]
    order_id: int | None
    attempts: int
    updated_at: float
    last_error: str


def _row(r) -> OutboxRow:
    return OutboxRow(
        r["id"],
        r["channel_id"],
        r["kind"],
        r["target"],
        json.loads(r["payload"]),
        r["order_id"],
        r["attempts"],
        r["updated_at"],
        r["last_error"],
    )


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    def enqueue_stock(self, channel_id: int, listing_id: int, *, now: float | None = None) -> None:
        """Ask for the listing's stock to be pushed. Coalesces: one pending row per listing.

        The quantity is read when the push is sent, so a burst of orders becomes one push
        carrying the latest value.
        """
        now = now or time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO outbox (channel_id, kind, target, dedupe_key, next_attempt_at,"
                " created_at, updated_at) VALUES (?, 'stock', ?, ?, ?, ?, ?)"
                " ON CONFLICT (channel_id, dedupe_key) WHERE state = 'pending' AND dedupe_key IS NOT NULL"
                " DO UPDATE SET updated_at = excluded.updated_at,"
                " next_attempt_at = MIN(next_attempt_at, excluded.next_attempt_at)",
                (channel_id, str(listing_id), f"stock:{listing_id}", now, now, now),
            )

    def enqueue_stock_many(self, targets: list[tuple[int, int]]) -> None:
        """``enqueue_stock`` for many (channel_id, listing_id) pairs in one statement.

        Each row keeps its own request time, as one call per listing would give it.
        """
        if not targets:
            return
        rows = []
        for channel_id, listing_id in targets:
            now = time.time()
            rows.append((channel_id, str(listing_id), f"stock:{listing_id}", now, now, now))
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO outbox (channel_id, kind, target, dedupe_key, next_attempt_at,"
                " created_at, updated_at) VALUES (?, 'stock', ?, ?, ?, ?, ?)"
                " ON CONFLICT (channel_id, dedupe_key) WHERE state = 'pending' AND dedupe_key IS NOT NULL"
                " DO UPDATE SET updated_at = excluded.updated_at,"
                " next_attempt_at = MIN(next_attempt_at, excluded.next_attempt_at)",
                rows,
            )

    def enqueue_order(
        self, channel_id: int, order_id: int, external_id: str, payload: dict[str, Any]
    ) -> int:
        """Queue an order change; order changes are sent one after another, in order."""
        now = time.time()
        with self.db.transaction() as conn:
            return int(
                conn.execute(
                    "INSERT INTO outbox (channel_id, kind, target, payload, order_id,"
                    " next_attempt_at, created_at, updated_at) VALUES (?, 'order', ?, ?, ?, ?, ?, ?)",
                    (channel_id, external_id, json.dumps(payload), order_id, now, now, now),
                ).lastrowid
            )

    def due(
        self, channel_id: int, *, now: float | None = None, limit: int = 500
    ) -> list[OutboxRow]:
        """Pending rows whose time has come. An order's later change waits for its earlier one
        on the same channel (an order exported elsewhere does not hold up its own channel)."""
        now = now or time.time()
        rows = self.db.all(
            "SELECT * FROM outbox o WHERE channel_id = ? AND state = 'pending'"
            " AND next_attempt_at <= ?"
            " AND NOT (o.order_id IS NOT NULL AND EXISTS (SELECT 1 FROM outbox e WHERE"
            "   e.order_id = o.order_id AND e.channel_id = o.channel_id AND e.id < o.id"
            "   AND e.state != 'done'))"
            " ORDER BY CASE kind WHEN 'order' THEN 0 ELSE 1 END, id LIMIT ?",
            (channel_id, now, limit),
        )
        return [_row(r) for r in rows]

    def mark_done(self, row: OutboxRow, *, note: str = "") -> bool:
        """Finish a row, unless it was re-requested while in flight (then it stays due).

        Returns True when the row is finished.
        """
        now = time.time()
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE outbox SET state = 'done', done_at = ?, last_error = ?, attempts = attempts + 1"
                " WHERE id = ? AND updated_at = ?",
                (now, note, row.id, row.updated_at),
            )
            if cur.rowcount == 0:
                conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?",
                    (now, row.id),
                )
                return False
        return True

    def mark_retry(self, row: OutboxRow, *, error: str, delay: float) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
                " WHERE id = ?",
                (error, time.time() + delay, row.id),
            )

    def postpone(self, row: OutboxRow, *, delay: float) -> None:
        """Send later on purpose (spreading a big push over a rate limit): not a failure,
        so attempts and the last error stay as they are."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE id = ?", (time.time() + delay, row.id)
            )

    def mark_failed(self, row: OutboxRow, *, error: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?,"
                " updated_at = ? WHERE id = ?",
                (error, time.time(), row.id),
            )

    def retry_failed(self, channel_id: int | None = None, row_id: int | None = None) -> int:
        """Put failed rows back in the queue (the merchant fixed the cause). Returns how many."""
        sql = "UPDATE outbox SET state = 'pending', next_attempt_at = ?, attempts = 0 WHERE state = 'failed'"
        args: list = [time.time()]
        if channel_id is not None:
            sql += " AND channel_id = ?"
            args.append(channel_id)
        if row_id is not None:
            sql += " AND id = ?"
            args.append(row_id)
        with self.db.transaction() as conn:
            # A failed stock row may collide with a newer pending one for the same listing;
            # the newer one already carries the latest value, so the old one is closed.
            conn.execute(
                "UPDATE outbox SET state = 'done', done_at = ? WHERE state = 'failed'"
                " AND dedupe_key IS NOT NULL AND EXISTS (SELECT 1 FROM outbox p WHERE"
                " p.state = 'pending' AND p.channel_id = outbox.channel_id"
                " AND p.dedupe_key = outbox.dedupe_key)",
                (time.time(),),
            )
            requeued = conn.execute(sql, tuple(args)).rowcount
            # Rows still waiting for their next try are brought forward as well.
            forward = (
                "UPDATE outbox SET next_attempt_at = ? WHERE state = 'pending' AND attempts > 0"
            )
            fargs: list = [time.time()]
            if channel_id is not None:
                forward += " AND channel_id = ?"
                fargs.append(channel_id)
            if row_id is not None:
                forward += " AND id = ?"
                fargs.append(row_id)
            return requeued + conn.execute(forward, tuple(fargs)).rowcount

    def counts(self, channel_id: int) -> dict[str, int]:
        rows = self.db.all(
            "SELECT state, COUNT(*) FROM outbox WHERE channel_id = ? AND state != 'done' GROUP BY state",
            (channel_id,),
        )
        found = {r[0]: r[1] for r in rows}
        return {"pending": found.get("pending", 0), "failed": found.get("failed", 0)}

    def rows(
        self,
        *,
        channel_id: int | None = None,
        states: tuple[str, ...] = ("pending", "failed"),
        order_id: int | None = None,
    ) -> list[dict]:
        sql = f"SELECT * FROM outbox WHERE state IN ({','.join('?' * len(states))})"
        args: list = list(states)
        if channel_id is not None:
            sql += " AND channel_id = ?"
            args.append(channel_id)
        if order_id is not None:
            sql += " AND order_id = ?"
            args.append(order_id)
        return [dict(r) for r in self.db.all(sql + " ORDER BY id", tuple(args))]
