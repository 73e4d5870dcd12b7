"""The order book: importing channel orders once, and the merchant's order actions.

Every change here runs in one transaction with its stock movements and the outbox rows
that tell the channels, so a crash leaves either all of it or none of it.
"""

from __future__ import annotations

import gc
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from app.core import lifecycle
from app.core.lifecycle import Holding, Movement, TransitionError
from app.core.models import ChannelOrder, LinkMethod, OrderStatus, RawPage
from app.core.rules import ChannelRules
from app.store import exports
from app.store import payloads as payload_store
from app.store.channels import Channel, ChannelRepo
from app.store.db import Database
from app.store.ledger import Ledger
from app.store.outbox import Outbox
from app.store.payloads import PayloadEncoder

S = OrderStatus
# SQL condition (order line ``l`` of order ``o``) for a line that waits for a product: a
# line of a listing the merchant ignores and never linked (gift wrapping) holds no stock.
WAITS = (
    " AND NOT EXISTS (SELECT 1 FROM listings li WHERE li.channel_id = o.channel_id"
    " AND li.external_id = l.listing_ref AND li.ignored = 1"
    " AND NOT EXISTS (SELECT 1 FROM product_links pl WHERE pl.listing_id = li.id))"
)
# json.dumps(value, default=str) without building an encoder per call (same output).
_JSON = json.JSONEncoder(default=str)
# The C encoder JSONEncoder.encode would build for each call, built once: the same text
# (a decoded payload holds no cycles, the only thing its markers would catch).
_C_JSON = (
    json.encoder.c_make_encoder(
        None, str, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True
    )
    if json.encoder.c_make_encoder is not None
    else None
)


def _to_json(value: Any) -> str:
    """``json.dumps(value, default=str)`` for a dict or list, as quickly as it goes."""
    if _C_JSON is None:
        return _JSON.encode(value)
    return "".join(_C_JSON(value, 0))


# The columns of a new order's row as _ingest_new builds it (the same values
# _ingest_one inserts for a new order).
_NEW_ORDER_COLUMNS = (
    "id",
    "number",
    "payment_status",
    "total",
    "currency",
    "customer_ref",
    "customer_name",
    "customer_email",
    "receiver",
    "channel_state",
    "channel_updated_at",
    "fingerprint",
    "placed_at",
    "payment_method",
    "updated_at",
    "channel_id",
    "external_id",
    "status",
    "history_only",
    "imported_at",
    "tracking_code",
    "tracking_url",
    "invoice_number",
    "needs_mapping",
)
_INSERT_NEW_ORDER = (
    f"INSERT INTO orders ({', '.join(_NEW_ORDER_COLUMNS)})"
    f" VALUES ({', '.join('?' * len(_NEW_ORDER_COLUMNS))})"
)
_NO_HOLDING = Holding()

ACTIONS: dict[str, OrderStatus] = {
    "confirm": S.CONFIRMED,
    "dispatch": S.DISPATCHED,
    "deliver": S.DELIVERED,
    "cancel": S.CANCELLED,
    "return": S.RETURNED,
}


class OrderNotFound(LookupError):
    pass


class ActionRefused(ValueError):
    """The merchant's action cannot be done; the message says why in merchant words."""


@dataclass(slots=True)
class IngestResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    needs_mapping: int = 0
    committed_products: set[int] = field(default_factory=set)
    latest_update: float | None = None

    def add(self, other: IngestResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.needs_mapping += other.needs_mapping
        self.committed_products |= other.committed_products
        if other.latest_update is not None:
            self.latest_update = max(self.latest_update or 0.0, other.latest_update)


def fingerprint(order: ChannelOrder) -> str:
    """What about an order matters locally; an unchanged fingerprint means nothing to do."""
    parts = [
        order.status,
        order.payment_status,
        f"{order.total:.4f}",
        order.currency,
        order.tracking_code,
        order.tracking_url,
        order.invoice_number,
        order.channel_state,
        [(ln.external_id, ln.listing_id, ln.sku, ln.quantity) for ln in order.lines],
        order.customer.ref if order.customer else "",
    ]
    return hashlib.sha1(_to_json(parts).encode()).hexdigest()


def merged_status(local: OrderStatus, channel: OrderStatus) -> OrderStatus:
    """Which status wins when a channel reports an order we already hold.

    The merchant's own progress is ahead of the channel until the push lands, so a
    channel never moves an order backwards; a cancellation or return on the channel
    always counts; a closed order stays closed.
    """
    if local in lifecycle.CLOSED:
        return local
    if channel in lifecycle.CLOSED:
        return channel
    return channel if lifecycle.is_forward(local, channel) else local


class OrderBook:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.ledger = Ledger(db)
        self.channels = ChannelRepo(db)
        self.outbox = Outbox(db)
        # Set while ``ingest`` runs: the rows it writes in bulk (see _IngestBatch).
        self._batch: _IngestBatch | None = None

    # -- import ---------------------------------------------------------------------
    def ingest(
        self,
        channel: Channel,
        orders: list[ChannelOrder],
        *,
        first_import: bool,
        rules: ChannelRules | None = None,
    ) -> IngestResult:
        """Import a page of channel orders in one transaction; idempotent.

        With ``rules`` of a channel that takes invoice numbers, every open order without
        one gets the next number from the local sequence, queued for the channel in the
        same transaction (Sellar locks the field once an order is confirmed).

        New orders are written in bulk: rows are collected in an :class:`_IngestBatch`
        and sent with one ``executemany`` per table, flushed before anything reads them.
        The rows, ids and totals are the same as writing them one by one.
        """
        result = IngestResult()
        resolver = _Resolver(self.db, self.channels, channel)
        with _collector_paused(), self.db.transaction():
            batch = self._batch = _IngestBatch(self.db.conn)
            try:
                stored = batch.stored_orders(channel.id, [o.external_id for o in orders])
                # Pages as sent that bring a new order: compressed on the worker thread
                # while the rows are worked out here.
                batch.encode_pages_soon(o for o in orders if o.external_id not in stored)
                for order in orders:
                    order_id = self._ingest_order(
                        channel, order, first_import, resolver, result, batch, stored
                    )
                    if rules is not None and rules.invoices and order_id is not None:
                        batch.flush_rows()  # the invoice step reads the order row
                        self._assign_invoice(channel, order_id)
                    result.latest_update = max(result.latest_update or 0.0, order.updated_at)
                batch.flush(self.ledger)
            finally:
                self._batch = None
            resolver.record_links()
            # Another channel (TradeGecko) may take these orders too: same transaction.
            exports.after_ingest(self, channel, [o.external_id for o in orders])
            self.enqueue_stock_pushes(result.committed_products)
        return result

    def _ingest_order(
        self,
        channel: Channel,
        co: ChannelOrder,
        first_import: bool,
        resolver: _Resolver,
        result: IngestResult,
        batch: _IngestBatch,
        stored: dict[str, sqlite3.Row],
    ) -> int | None:
        """Route one order: the bulk path for a plain new order, the general one otherwise."""
        fp = fingerprint(co)
        ext = co.external_id
        if ext in batch.seen:
            # The same order twice in one page: its first copy may already be written.
            batch.flush_rows()
            return self._ingest_one(channel, co, first_import, resolver, result, fp=fp)
        batch.seen.add(ext)
        row = stored.get(ext)
        if row is None and len({ln.external_id for ln in co.lines}) == len(co.lines):
            return self._ingest_new(channel, co, first_import, resolver, result, batch, fp)
        if row is not None and row["fingerprint"] == fp:
            result.unchanged += 1
            return None
        batch.flush_rows()
        return self._ingest_one(
            channel, co, first_import, resolver, result, fp=fp, row=row, looked_up=True
        )

    def _order_fields(self, co: ChannelOrder, fp: str, now: float) -> dict[str, Any]:
        """The order columns the channel's copy decides (shared by insert and update)."""
        customer = co.customer
        return dict(
            number=co.number,
            payment_status=str(co.payment_status),
            total=co.total,
            currency=co.currency,
            customer_ref=customer.ref if customer else "",
            customer_name=customer.name if customer else str(co.receiver.get("name", "")),
            customer_email=customer.email if customer else "",
            receiver=_JSON.encode(co.receiver),
            channel_state=co.channel_state,
            channel_updated_at=co.updated_at,
            fingerprint=fp,
            placed_at=co.created_at,
            payment_method=co.payment_method,
            updated_at=now,
        )

    def _ingest_new(
        self,
        channel: Channel,
        co: ChannelOrder,
        first_import: bool,
        resolver: _Resolver,
        result: IngestResult,
        batch: _IngestBatch,
        fp: str,
    ) -> int:
        """A new order whose line ids are distinct: rows built in memory, written in bulk.

        Does what ``_ingest_one`` then ``_settle`` do for such an order, in the same
        order (lines resolved as listed, settled in line-id order as SQLite reads them),
        so product links, holdings, movements and the needs-mapping flag come out alike.
        The order row is built as a tuple in ``_NEW_ORDER_COLUMNS`` order (the columns
        ``_order_fields`` and the insert in ``_ingest_one`` write), and what only depends
        on the status (event text, movement reason, a fresh line's target) is worked
        out once per batch.
        """
        now = time.time()
        status = co.status
        history = first_import and status in lifecycle.HISTORY_ON_FIRST_IMPORT
        order_id = batch.new_order_id()
        result.created += 1
        per_status = batch.per_status(channel, status, history)
        batch.events.append((order_id, "imported", per_status.event, now))
        warehouse_id = channel.warehouse_id
        product_for = resolver.product_for
        lines: list[list[Any]] = []
        for line in co.lines:
            product_id = product_for(line.listing_id, line.sku)
            holding = (
                lifecycle.opening_holding(status, line.quantity)
                if history and product_id is not None
                else _NO_HOLDING
            )
            lines.append([batch.new_line_id(), line, product_id, holding])
        moved: set[int] = set()
        closed = per_status.closed
        settle = sorted(lines, key=_line_external_id) if len(lines) > 1 else lines
        movements = batch.movements
        for entry in settle:
            line_id, line, product_id, holding = entry
            if product_id is None and not closed:
                product_id = product_for(line.listing_id, line.sku)
                if product_id is not None:
                    entry[2] = product_id
                    if history:
                        entry[3] = lifecycle.opening_holding(status, line.quantity)
                        continue
            if product_id is None:
                continue
            if holding is _NO_HOLDING:
                target, move = per_status.fresh(line.quantity)
            else:
                target = lifecycle.target_holding(status, line.quantity)
                move = lifecycle.movement_between(holding, target)
            if move.is_zero:
                continue
            # What _move queues while a batch is open (its created_at read per movement).
            movements.append(
                (
                    product_id,
                    warehouse_id,
                    move.on_hand,
                    move.committed,
                    per_status.reason,
                    "",
                    line_id,
                    time.time(),
                )
            )
            entry[3] = target
            moved.add(product_id)
        held = per_status.may_hold and any(
            product_id is None and line.quantity > 0 and not resolver.ignored(line.listing_id)
            for _, line, product_id, _ in lines
        )
        customer = co.customer
        batch.orders.append(
            (
                order_id,
                co.number,
                str(co.payment_status),
                co.total,
                co.currency,
                customer.ref if customer else "",
                customer.name if customer else str(co.receiver.get("name", "")),
                customer.email if customer else "",
                _to_json(co.receiver),
                co.channel_state,
                co.updated_at,
                fp,
                co.created_at,
                co.payment_method,
                now,
                channel.id,
                co.external_id,
                per_status.status_text,
                int(history),
                now,
                co.tracking_code,
                co.tracking_url,
                co.invoice_number,
                int(held),
            )
        )
        if co.source is not None:
            batch.sourced[order_id] = co.source
        else:
            batch.payloads[order_id] = co.raw
        lines_out = batch.lines
        for line_id, line, product_id, holding in lines:
            lines_out.append(
                (
                    line_id,
                    order_id,
                    line.external_id,
                    line.listing_id,
                    line.sku,
                    line.name,
                    line.quantity,
                    line.unit_price,
                    product_id,
                    warehouse_id,
                    holding.committed,
                    holding.deducted,
                )
            )
        if moved:
            result.committed_products |= moved
        if held:
            result.needs_mapping += 1
        return order_id

    def _ingest_one(
        self,
        channel: Channel,
        co: ChannelOrder,
        first_import: bool,
        resolver: _Resolver,
        result: IngestResult,
        *,
        fp: str | None = None,
        row: sqlite3.Row | None = None,
        looked_up: bool = False,
    ) -> int | None:
        """Insert or update one order; returns its id, or None when nothing changed.

        ``row`` is the stored order when the caller already ``looked_up`` (None: new).
        """
        conn = self.db.conn
        fp = fp if fp is not None else fingerprint(co)
        if not looked_up:
            row = conn.execute(
                "SELECT id, status, fingerprint, history_only FROM orders WHERE channel_id = ? AND external_id = ?",
                (channel.id, co.external_id),
            ).fetchone()
        if row is not None and row["fingerprint"] == fp:
            result.unchanged += 1
            return None
        now = time.time()
        # Built only for orders that changed: the raw payload is the costly part.
        common = self._order_fields(co, fp, now)
        if row is None:
            history = first_import and co.status in lifecycle.HISTORY_ON_FIRST_IMPORT
            cols = dict(
                common,
                channel_id=channel.id,
                external_id=co.external_id,
                status=str(co.status),
                history_only=int(history),
                imported_at=now,
                tracking_code=co.tracking_code,
                tracking_url=co.tracking_url,
                invoice_number=co.invoice_number,
            )
            if self._batch is not None:
                cols = dict(id=self._batch.new_order_id(), **cols)
            order_id = conn.execute(
                f"INSERT INTO orders ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                tuple(cols.values()),
            ).lastrowid
            status = co.status
            result.created += 1
            self._event(
                order_id,
                "imported",
                f"Imported from {channel.name} as {lifecycle.LABELS[status].lower()}"
                + (" (history: stock not moved)" if history else ""),
            )
        else:
            order_id = row["id"]
            history = bool(row["history_only"])
            local = S(row["status"])
            status = merged_status(local, co.status)
            sets = dict(common, status=str(status))
            # The channel's tracking/invoice only fill blanks: the merchant's own values
            # may not have reached the channel yet.
            sets_sql = ", ".join(f"{k} = ?" for k in sets)
            conn.execute(
                f"UPDATE orders SET {sets_sql},"
                " tracking_code = CASE WHEN tracking_code = '' THEN ? ELSE tracking_code END,"
                " tracking_url = CASE WHEN tracking_url = '' THEN ? ELSE tracking_url END,"
                " invoice_number = CASE WHEN invoice_number = '' THEN ? ELSE invoice_number END"
                " WHERE id = ?",
                (*sets.values(), co.tracking_code, co.tracking_url, co.invoice_number, order_id),
            )
            result.updated += 1
            if status != local:
                self._event(
                    order_id,
                    "channel",
                    f"{channel.name} reports the order {lifecycle.LABELS[status].lower()}",
                )
        self._store_payload(order_id, co.raw, inserted=row is None)
        for line in co.lines:
            existing = conn.execute(
                "SELECT id FROM order_lines WHERE order_id = ? AND external_id = ?",
                (order_id, line.external_id),
            ).fetchone()
            if existing is None:
                product_id = resolver.product_for(line.listing_id, line.sku)
                line_id = conn.execute(
                    "INSERT INTO order_lines (id, order_id, external_id, listing_ref, sku, name,"
                    " quantity, unit_price, product_id, warehouse_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        self._batch.new_line_id() if self._batch is not None else None,
                        order_id,
                        line.external_id,
                        line.listing_id,
                        line.sku,
                        line.name,
                        line.quantity,
                        line.unit_price,
                        product_id,
                        channel.warehouse_id,
                    ),
                ).lastrowid
                if history and product_id is not None:
                    opening = lifecycle.opening_holding(status, line.quantity)
                    conn.execute(
                        "UPDATE order_lines SET committed = ?, deducted = ? WHERE id = ?",
                        (opening.committed, opening.deducted, line_id),
                    )
            else:
                conn.execute(
                    "UPDATE order_lines SET listing_ref = ?, sku = ?, name = ?, quantity = ?,"
                    " unit_price = ? WHERE id = ?",
                    (
                        line.listing_id,
                        line.sku,
                        line.name,
                        line.quantity,
                        line.unit_price,
                        existing["id"],
                    ),
                )
        moved = self._settle(order_id, status, resolver, history=history)
        result.committed_products |= moved
        if self._refresh_needs_mapping(order_id):
            result.needs_mapping += 1
        return order_id

    def _store_payload(self, order_id: int, raw: Any, *, inserted: bool) -> None:
        """Keep what the channel sent for the order (its latest copy) in order_payloads."""
        batch = self._batch
        assert batch is not None, "orders are only written by an ingest, which opens a batch"
        batch.payloads[order_id] = raw  # the latest copy wins when an order comes twice
        batch.sourced.pop(order_id, None)
        batch.replacing = batch.replacing or not inserted

    def payload(self, order_id: int) -> Any:
        """The order as the channel last sent it (decoded JSON), or None if none is kept."""
        return payload_store.read(self.db.conn, order_id)

    def _assign_invoice(self, channel: Channel, order_id: int) -> None:
        row = self.db.conn.execute(
            "SELECT external_id, status, invoice_number, history_only FROM orders WHERE id = ?",
            (order_id,),
        ).fetchone()
        if row["invoice_number"] or row["history_only"] or S(row["status"]) in lifecycle.CLOSED:
            return
        number = next_invoice_number(self.db)
        self.db.conn.execute(
            "UPDATE orders SET invoice_number = ? WHERE id = ?", (number, order_id)
        )
        self.outbox.enqueue_order(
            channel.id, order_id, row["external_id"], {"kind": "invoice", "invoice_number": number}
        )
        self._event(
            order_id, "invoice", f"Invoice number {number} given; queued for {channel.name}"
        )

    # -- stock effects ----------------------------------------------------------------
    def _settle(
        self,
        order_id: int,
        status: OrderStatus,
        resolver: _Resolver | None = None,
        *,
        history: bool = False,
    ) -> set[int]:
        """Bring every line's holding to what ``status`` asks; returns the products moved.

        For a history order (first import), a line mapped late gets its opening holding
        without a movement, exactly as if it had been mapped at import.
        """
        conn = self.db.conn
        moved: set[int] = set()
        lines = conn.execute(
            "SELECT id, listing_ref, sku, quantity, product_id, warehouse_id, fulfil, committed, deducted"
            " FROM order_lines WHERE order_id = ?",
            (order_id,),
        ).fetchall()
        for ln in lines:
            product_id = ln["product_id"]
            if product_id is None and resolver is not None and status not in lifecycle.CLOSED:
                product_id = resolver.product_for(ln["listing_ref"], ln["sku"])
                if product_id is not None:
                    conn.execute(
                        "UPDATE order_lines SET product_id = ? WHERE id = ?", (product_id, ln["id"])
                    )
                    if history:
                        opening = lifecycle.opening_holding(
                            status, ln["quantity"], bool(ln["fulfil"])
                        )
                        conn.execute(
                            "UPDATE order_lines SET committed = ?, deducted = ? WHERE id = ?",
                            (opening.committed, opening.deducted, ln["id"]),
                        )
                        continue
            if product_id is None:
                continue
            current = Holding(ln["committed"], ln["deducted"])
            target = lifecycle.target_holding(status, ln["quantity"], bool(ln["fulfil"]))
            move = lifecycle.movement_between(current, target)
            if move.is_zero:
                continue
            self._move(product_id, ln["warehouse_id"], move, f"order {status}", ln["id"])
            conn.execute(
                "UPDATE order_lines SET committed = ?, deducted = ? WHERE id = ?",
                (target.committed, target.deducted, ln["id"]),
            )
            moved.add(product_id)
        return moved

    def _refresh_needs_mapping(self, order_id: int) -> bool:
        conn = self.db.conn
        flag = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM order_lines l JOIN orders o ON o.id = l.order_id"
            " WHERE l.order_id = ? AND l.product_id IS NULL AND l.fulfil = 1 AND l.quantity > 0"
            f" AND o.status NOT IN ('cancelled', 'returned') AND o.history_only = 0{WAITS})",
            (order_id,),
        ).fetchone()[0]
        conn.execute("UPDATE orders SET needs_mapping = ? WHERE id = ?", (flag, order_id))
        return bool(flag)

    def _move(
        self, product_id: int, warehouse_id: int, move: Movement, reason: str, line_id: int
    ) -> None:
        """Record a line's stock movement: at once, or with the ingest batch's others."""
        if self._batch is not None:
            self._batch.movements.append(
                (
                    product_id,
                    warehouse_id,
                    move.on_hand,
                    move.committed,
                    reason,
                    "",
                    line_id,
                    time.time(),
                )
            )
            return
        self.ledger.record(
            product_id,
            warehouse_id,
            on_hand=move.on_hand,
            committed=move.committed,
            reason=reason,
            order_line_id=line_id,
        )

    def enqueue_stock_pushes(self, product_ids: set[int] | list[int]) -> int:
        listings = self.channels.linked_listings_of(sorted(product_ids))
        self.outbox.enqueue_stock_many(
            [(item["channel_id"], item["listing_id"]) for item in listings]
        )
        return len(listings)

    def release_held(self, channel: Channel, *, batch_id: int | None = None) -> int:
        """Process orders waiting for mapping now that products may be linked. Returns how many.

        Listings linked by exact SKU on the way are recorded in mapping batch ``batch_id``
        (or an automatic one), so the merchant can see and undo them.
        """
        resolver = _Resolver(self.db, self.channels, channel)
        released = 0
        with self.db.transaction():
            held = self.db.all(
                "SELECT id, status FROM orders WHERE channel_id = ? AND needs_mapping = 1",
                (channel.id,),
            )
            moved: set[int] = set()
            for row in held:
                moved |= self._settle(row["id"], S(row["status"]), resolver)
                if not self._refresh_needs_mapping(row["id"]):
                    released += 1
                    self._event(row["id"], "mapping", "All products mapped; stock committed")
            resolver.record_links(batch_id)
            self.enqueue_stock_pushes(moved)
        return released

    # -- merchant actions -------------------------------------------------------------
    def act(
        self,
        order_id: int,
        action: str,
        *,
        items: list[str] | None = None,
        tracking_code: str = "",
        tracking_url: str = "",
        reason: str = "",
        rules: ChannelRules | None = None,
    ) -> dict[str, Any]:
        """Apply a merchant action and queue what the channel must be told, atomically.

        ``rules`` say what the order's channel accepts; an action it cannot take from
        here is refused with the reason instead of queueing a push that can only fail.
        """
        if action not in ACTIONS:
            raise ActionRefused(f"Unknown action '{action}'. Use one of: {', '.join(ACTIONS)}.")
        target = ACTIONS[action]
        rules = rules or ChannelRules()
        with self.db.transaction() as conn:
            order = self.get(order_id)
            current = S(order["status"])
            try:
                lifecycle.check_transition(current, target)
            except TransitionError as exc:
                raise ActionRefused(f"Order {order['number']}: {exc}") from None
            lines = order["lines"]
            fulfil_ids: list[str] | None = None
            if items:
                known = {ln["external_id"] for ln in lines}
                unknown = [i for i in items if i not in known]
                if unknown:
                    raise ActionRefused(
                        f"Order {order['number']} has no line {', '.join(unknown)}; "
                        f"its lines are {', '.join(sorted(known))}."
                    )
                if current is not S.REQUESTED:
                    raise ActionRefused("Lines can only be chosen when confirming a new order.")
                fulfil_ids = list(dict.fromkeys(items))
                conn.execute(
                    f"UPDATE order_lines SET fulfil = CASE WHEN external_id IN"
                    f" ({','.join('?' * len(fulfil_ids))}) THEN 1 ELSE 0 END WHERE order_id = ?",
                    (*fulfil_ids, order_id),
                )
            self._check_rules(rules, order, current, target, fulfil_ids)
            if target not in lifecycle.CLOSED:
                ignored = ignored_listing_refs(self.db, channel_id=order["channel_id"])
                unmapped = [
                    ln["sku"] or ln["external_id"]
                    for ln in lines
                    if ln["product_id"] is None
                    and ln["listing_ref"] not in ignored
                    and (fulfil_ids is None or ln["external_id"] in fulfil_ids)
                ]
                if unmapped:
                    raise ActionRefused(
                        f"Order {order['number']} has products that are not mapped yet "
                        f"({', '.join(unmapped)}). Map them first."
                    )
            if tracking_url and not tracking_url.lower().startswith(("http://", "https://")):
                raise ActionRefused("The tracking link must start with http:// or https://.")
            now = time.time()
            conn.execute(
                "UPDATE orders SET status = ?, updated_at = ?,"
                " tracking_code = CASE WHEN ? != '' THEN ? ELSE tracking_code END,"
                " tracking_url = CASE WHEN ? != '' THEN ? ELSE tracking_url END WHERE id = ?",
                (
                    str(target),
                    now,
                    tracking_code,
                    tracking_code,
                    tracking_url,
                    tracking_url,
                    order_id,
                ),
            )
            moved = self._settle(order_id, target)
            self._refresh_needs_mapping(order_id)
            channel_id = order["channel_id"]
            ext = order["external_id"]
            told = False
            if target in (S.CONFIRMED, S.DISPATCHED, S.DELIVERED) and rules.can_push_progress(
                target
            ):
                if fulfil_ids is None and any(not ln["fulfil"] for ln in lines):
                    fulfil_ids = [ln["external_id"] for ln in lines if ln["fulfil"]]
                payload = {"kind": "progress", "target": str(target), "fulfil_line_ids": fulfil_ids}
                self.outbox.enqueue_order(channel_id, order_id, ext, payload)
                told = True
            if (tracking_code or tracking_url) and rules.tracking:
                payload = {
                    "kind": "tracking",
                    "tracking_code": tracking_code,
                    "tracking_url": tracking_url,
                }
                self.outbox.enqueue_order(channel_id, order_id, ext, payload)
                told = True
            if target is S.CANCELLED and rules.cancel:
                self.outbox.enqueue_order(
                    channel_id, order_id, ext, {"kind": "cancel", "reason": reason}
                )
                told = True
            if target is S.RETURNED and rules.returns:
                self.outbox.enqueue_order(
                    channel_id, order_id, ext, {"kind": "return", "reason": reason}
                )
                told = True
            words = lifecycle.LABELS[target].lower()
            detail = (
                f" (lines {', '.join(fulfil_ids)})" if fulfil_ids and action == "confirm" else ""
            )
            outcome = (
                "queued for the channel" if told else f"recorded here ({rules.label} is not told)"
            )
            self._event(order_id, "action", f"Marked {words}{detail}; {outcome}")
            self.enqueue_stock_pushes(moved)
            exports.after_change(self, order_id, reason=reason)
        return self.get(order_id)

    @staticmethod
    def _check_rules(
        rules: ChannelRules,
        order: dict,
        current: OrderStatus,
        target: OrderStatus,
        fulfil_ids: list[str] | None,
    ) -> None:
        label = rules.label
        if rules.confirms_itself and current is S.REQUESTED and target is not S.CANCELLED:
            raise ActionRefused(
                f"{label} orders are confirmed in {label} itself. Confirm {order['number']} there;"
                " Stockbridge picks the confirmation up at the next sync."
            )
        if target is S.CANCELLED and not rules.cancel:
            raise ActionRefused(
                f"{label} orders are cancelled in {label} itself. Cancel {order['number']} there;"
                " Stockbridge frees the stock at the next sync."
            )
        if fulfil_ids is not None and not rules.can_push_progress(S.CONFIRMED):
            raise ActionRefused(f"{label} does not take a choice of lines.")

    def mark_paid(self, order_id: int, rules: ChannelRules | None = None) -> dict[str, Any]:
        """The merchant received the money for a manual-payment order; tell the channel."""
        with self.db.transaction() as conn:
            order = self.get(order_id)
            if rules is not None and not rules.can_mark_paid(order["payment_method"]):
                if rules.manual_payment_methods:
                    raise ActionRefused(
                        f"{rules.label} collects {order['payment_method'] or 'this'} payments itself;"
                        f" order {order['number']} cannot be marked paid here."
                    )
                raise ActionRefused(f"{rules.label} has no way to record a payment from here.")
            if order["payment_status"] == "paid":
                raise ActionRefused(f"Order {order['number']} is already paid.")
            if order["status"] in ("cancelled",):
                raise ActionRefused(f"Order {order['number']} is cancelled.")
            conn.execute(
                "UPDATE orders SET payment_status = 'paid', updated_at = ? WHERE id = ?",
                (time.time(), order_id),
            )
            self.outbox.enqueue_order(
                order["channel_id"], order_id, order["external_id"], {"kind": "paid"}
            )
            self._event(order_id, "action", "Marked paid; queued for the channel")
            exports.after_change(self, order_id)
        return self.get(order_id)

    def _event(self, order_id: int, kind: str, message: str) -> None:
        if self._batch is not None:  # written with the ingest's other rows, in this order
            self._batch.events.append((order_id, kind, message, time.time()))
            return
        self.db.conn.execute(
            "INSERT INTO order_events (order_id, kind, message, created_at) VALUES (?, ?, ?, ?)",
            (order_id, kind, message, time.time()),
        )

    def add_event(self, order_id: int, kind: str, message: str) -> None:
        with self.db.transaction():
            self._event(order_id, kind, message)

    # -- reading ----------------------------------------------------------------------
    def find(self, ref: str) -> int:
        """An order by local id, '<channel>:<external id>', number (SM-48215) or external id."""
        ref = ref.strip()
        if ":" in ref:
            name, _, ext = ref.rpartition(":")
            rows = self.db.all(
                "SELECT o.id FROM orders o JOIN channels c ON c.id = o.channel_id"
                " WHERE c.name = ? AND o.external_id = ?",
                (name, ext),
            )
        else:
            rows = self.db.all("SELECT id FROM orders WHERE number = ?", (ref,))
            if not rows:
                rows = self.db.all("SELECT id FROM orders WHERE external_id = ?", (ref,))
            if not rows and ref.isdigit():
                rows = self.db.all("SELECT id FROM orders WHERE id = ?", (int(ref),))
        if not rows:
            raise OrderNotFound(f"No order '{ref}'. See `stockbridge orders`.")
        if len(rows) > 1:
            raise OrderNotFound(
                f"'{ref}' matches {len(rows)} orders on different channels; "
                "write it as CHANNEL:EXTERNAL_ID."
            )
        return int(rows[0][0])

    def get(self, order_id: int) -> dict[str, Any]:
        row = self.db.one(
            "SELECT o.*, c.name AS channel FROM orders o JOIN channels c ON c.id = o.channel_id"
            " WHERE o.id = ?",
            (order_id,),
        )
        if row is None:
            raise OrderNotFound(f"No order with id {order_id}.")
        order = dict(row)
        try:
            order["raw"] = payload_store.read_text(self.db.conn, order_id)
        except ValueError as exc:  # a damaged payload must not hide the order itself
            order["raw"], order["raw_error"] = "{}", str(exc)
        order["lines"] = [
            dict(r)
            for r in self.db.all(
                "SELECT * FROM order_lines WHERE order_id = ? ORDER BY id", (order_id,)
            )
        ]
        order["events"] = [
            dict(r)
            for r in self.db.all(
                "SELECT kind, message, created_at FROM order_events WHERE order_id = ? ORDER BY id",
                (order_id,),
            )
        ]
        return order

    def list(
        self,
        *,
        status: str | None = None,
        channel_id: int | None = None,
        needs_mapping: bool | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        where, args = [], []
        if status:
            if status == "needs_mapping":
                needs_mapping = True
            else:
                where.append("o.status = ?")
                args.append(status)
        if channel_id is not None:
            where.append("o.channel_id = ?")
            args.append(channel_id)
        if needs_mapping is not None:
            where.append("o.needs_mapping = ?")
            args.append(int(needs_mapping))
        sql = (
            "SELECT o.*, c.name AS channel FROM orders o JOIN channels c ON c.id = o.channel_id"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY COALESCE(o.placed_at, o.imported_at) DESC, o.id DESC"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        orders = [dict(r) for r in self.db.all(sql, tuple(args))]
        if orders:
            ids = [o["id"] for o in orders]
            by_order: dict[int, list] = {}
            for chunk_start in range(0, len(ids), 900):
                chunk = ids[chunk_start : chunk_start + 900]
                for ln in self.db.all(
                    f"SELECT * FROM order_lines WHERE order_id IN ({','.join('?' * len(chunk))}) ORDER BY id",
                    tuple(chunk),
                ):
                    by_order.setdefault(ln["order_id"], []).append(dict(ln))
            for o in orders:
                o["lines"] = by_order.get(o["id"], [])
        return orders


def next_invoice_number(db: Database, now: float | None = None) -> str:
    """The next number of the local invoice sequence, formatted with the merchant's pattern.

    Runs inside the caller's transaction, so a number is used once even after a crash.
    """
    from app.settings import Settings

    pattern = Settings(db).get("invoice_pattern")
    seq = int(db.scalar("SELECT value FROM settings WHERE key = 'invoice_seq'") or 0) + 1
    db.conn.execute(
        "INSERT INTO settings (key, value) VALUES ('invoice_seq', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(seq),),
    )
    year = time.localtime(now or time.time()).tm_year
    return format_invoice_number(pattern, seq, year)


def ignored_listing_refs(db: Database, *, channel_id: int) -> set[str]:
    """The channel's listings the merchant ignores and never linked: no order waits for them."""
    return {
        r[0]
        for r in db.all(
            "SELECT l.external_id FROM listings l LEFT JOIN product_links pl"
            " ON pl.listing_id = l.id WHERE l.channel_id = ? AND l.ignored = 1"
            " AND pl.listing_id IS NULL",
            (channel_id,),
        )
    }


def format_invoice_number(pattern: str, seq: int, year: int) -> str:
    try:
        return pattern.format(year=year, seq=seq)
    except (KeyError, IndexError, ValueError):
        return f"INV-{year}-{seq:05d}"


class _Resolver:
    """Finds the local product for an order line: product link first, else an exact SKU.

    SKU matching links only when the SKU is exact, non-empty, names exactly one local
    product and is not shared by several of the channel's listings; everything else is
    left for the merchant. Results are cached for one import batch. The links it makes
    are kept in ``linked`` so the caller records them as an undoable mapping batch.
    """

    def __init__(self, db: Database, channels: ChannelRepo, channel: Channel) -> None:
        self.db = db
        self.channels = channels
        self.channel = channel
        self._cache: dict[tuple[str, str], int | None] = {}
        self._ignored: set[str] = set()
        self.linked: list[tuple[int, int, int]] = []  # listing id, product id, was new

    def ignored(self, listing_ref: str) -> bool:
        """Whether an unlinked listing looked up here is one the merchant ignores."""
        return listing_ref in self._ignored

    def record_links(self, batch_id: int | None = None) -> None:
        """Record the links made so far as a mapping batch (``batch_id``'s, or an automatic one)."""
        if self.linked:
            from app.store.mapping import record_automatic_links

            record_automatic_links(self.db, self.channel.id, self.linked, batch_id=batch_id)
            self.linked = []

    def product_for(self, listing_ref: str, sku: str) -> int | None:
        key = (listing_ref, sku)
        if key in self._cache:
            return self._cache[key]
        found = self._lookup(listing_ref, sku.strip())
        # Unresolved answers are kept too: within a batch only a link made by _lookup
        # can change one, and making a link forgets them all.
        self._cache[key] = found
        return found

    def _lookup(self, listing_ref: str, sku: str) -> int | None:
        conn = self.db.conn
        listing = conn.execute(
            "SELECT l.id, l.ignored, l.is_new, pl.product_id FROM listings l"
            " LEFT JOIN product_links pl ON pl.listing_id = l.id"
            " WHERE l.channel_id = ? AND l.external_id = ?",
            (self.channel.id, listing_ref),
        ).fetchone()
        if listing is not None and listing["product_id"] is not None:
            return int(listing["product_id"])
        if listing is not None and listing["ignored"]:
            self._ignored.add(listing_ref)
        if self.channel.mapping_mode != "sku" or not sku:
            return None
        if listing is not None and listing["ignored"]:
            return None
        shared = conn.execute(
            "SELECT COUNT(*) FROM listings WHERE channel_id = ? AND sku = ? AND external_id != ?",
            (self.channel.id, sku, listing_ref),
        ).fetchone()[0]
        if shared:
            return None
        product = conn.execute("SELECT id FROM products WHERE sku = ?", (sku,)).fetchone()
        if product is None:
            return None
        if listing is not None:
            self.channels.link(listing["id"], product["id"], LinkMethod.SKU)
            self.linked.append((int(listing["id"]), int(product["id"]), int(listing["is_new"])))
            self._cache = {key: found for key, found in self._cache.items() if found is not None}
        return int(product["id"])


class _IngestBatch:
    """The rows one ``ingest`` call writes in bulk, and the ids it hands out.

    New orders and their lines get their ids here, as SQLite would give them (the
    next after the largest; the ingest holds the write lock, so nobody else inserts),
    which lets movements and events name them before the rows are written. Events and
    movements are kept in the order they happen. ``flush_rows`` must run before
    anything reads orders or lines; ``flush`` writes everything (orders before the
    lines, events, movements and payloads that refer to them).
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.seen: set[str] = set()  # external ids handled by this ingest
        self.orders: list[tuple] = []  # new orders, in _NEW_ORDER_COLUMNS order
        self.lines: list[tuple] = []
        # Order id → the payload to keep, written as one page when the batch ends.
        self.payloads: dict[int, Any] = {}
        self.replacing = False  # whether one of them replaces a payload kept before
        # Order id → (page as sent, index there), and those pages' stored forms under way.
        self.sourced: dict[int, tuple[RawPage, int]] = {}
        self.encoded: dict[int, Future[bytes]] = {}
        self.encoder = PayloadEncoder()
        self.events: list[tuple] = []
        self.movements: list[tuple] = []
        self._next_order_id: int | None = None
        self._next_line_id: int | None = None
        self._per_status: dict[tuple[int, OrderStatus, bool], _StatusWork] = {}

    def stored_orders(self, channel_id: int, external_ids: list[str]) -> dict[str, sqlite3.Row]:
        """The stored copies of these orders, read in a few queries instead of one each."""
        found: dict[str, sqlite3.Row] = {}
        unique = list(dict.fromkeys(external_ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            for row in self.conn.execute(
                "SELECT external_id, id, status, fingerprint, history_only FROM orders"
                f" WHERE channel_id = ? AND external_id IN ({','.join('?' * len(chunk))})",
                (channel_id, *chunk),
            ):
                found[row["external_id"]] = row
        return found

    def encode_pages_soon(self, orders: Iterable[ChannelOrder]) -> None:
        """Start encoding the pages as sent that these orders came in."""
        pages = {id(o.source[0]): o.source[0] for o in orders if o.source is not None}
        if pages:
            self.encoded = payload_store.encode_raw_pages_soon(pages.values())

    def new_order_id(self) -> int:
        if self._next_order_id is None:
            self._next_order_id = self._max_id("orders") + 1
        self._next_order_id += 1
        return self._next_order_id - 1

    def new_line_id(self) -> int:
        if self._next_line_id is None:
            self._next_line_id = self._max_id("order_lines") + 1
        self._next_line_id += 1
        return self._next_line_id - 1

    def _max_id(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT MAX(id) FROM {table}").fetchone()[0] or 0)

    def per_status(self, channel: Channel, status: OrderStatus, history: bool) -> _StatusWork:
        """What a new order in ``status`` on ``channel`` writes regardless of its lines."""
        key = (channel.id, status, history)
        work = self._per_status.get(key)
        if work is None:
            work = self._per_status[key] = _StatusWork(channel, status, history)
        return work

    def flush_rows(self) -> None:
        """Write the pending orders and lines, so SQL sees them."""
        if self.orders:
            self.conn.executemany(_INSERT_NEW_ORDER, self.orders)
            self.orders.clear()
        if self.lines:
            self.conn.executemany(
                "INSERT INTO order_lines (id, order_id, external_id, listing_ref, sku, name,"
                " quantity, unit_price, product_id, warehouse_id, committed, deducted)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self.lines,
            )
            self.lines.clear()

    def flush(self, ledger: Ledger) -> None:
        """Write everything still pending, rows first (events and movements refer to them)."""
        self.flush_rows()
        if self.events:
            self.conn.executemany(
                "INSERT INTO order_events (order_id, kind, message, created_at) VALUES (?, ?, ?, ?)",
                self.events,
            )
            self.events.clear()
        if self.movements:
            ledger.record_many(self.movements)
            self.movements.clear()
        if self.payloads or self.sourced:
            payload_store.store_many(
                self.conn,
                self.payloads,
                self.encoder,
                replacing=self.replacing,
                sourced=self.sourced,
                encoded=self.encoded,
            )
            self.payloads, self.sourced = {}, {}
            self.replacing = False


class _StatusWork:
    """The parts of a new order's rows that depend on its status alone (see _ingest_new)."""

    def __init__(self, channel: Channel, status: OrderStatus, history: bool) -> None:
        self.status = status
        self.status_text = str(status)
        self.closed = status in lifecycle.CLOSED
        self.may_hold = not history and status not in (S.CANCELLED, S.RETURNED)
        self.reason = f"order {status}"
        self.event = f"Imported from {channel.name} as {lifecycle.LABELS[status].lower()}" + (
            " (history: stock not moved)" if history else ""
        )
        self._fresh: dict[float, tuple[Holding, Movement]] = {}

    def fresh(self, quantity: float) -> tuple[Holding, Movement]:
        """The target holding of a line of ``quantity`` holding nothing yet, and the move there."""
        found = self._fresh.get(quantity)
        if found is None:
            target = lifecycle.target_holding(self.status, quantity)
            found = self._fresh[quantity] = (
                target,
                lifecycle.movement_between(_NO_HOLDING, target),
            )
        return found


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector held off while an import builds its rows.

    An import keeps thousands of row tuples alive until it writes them, and each young
    collection would walk them all again (and promote them, so the old generations come
    round too): a tenth of an import's time. Nothing it builds is cyclic, so reference
    counting frees all of it; the collector resumes as soon as the import ends.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _line_external_id(entry: list[Any]) -> str:
    return entry[1].external_id
