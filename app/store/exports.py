"""Orders sent to a second system besides their own channel (TradeGecko's export mode).

A channel with ``export_orders`` on (a TradeGecko stock master) receives the orders of
every *other* channel as its own sales orders. Everything here runs inside the order
book's transaction that changed the order, so the export row, the mirrored steps and
the local change are written together or not at all:

* :func:`after_ingest` — orders just imported on channel A get one ``export_order``
  push queued for each exporting channel (once: the ``order_exports`` row is the
  marker), and later changes reported by channel A are mirrored;
* :func:`after_change` — the merchant's own actions (confirm, dispatch with tracking,
  deliver, paid, cancel, return) are mirrored as the destination's steps, in the order
  invoice → pay → pack → fulfil;
* :func:`pending_deductions` — stock Stockbridge took off locally for exported orders
  whose shipment has not reached the stock master yet (so a stock count read from it
  is not counted twice);
* :func:`online_cap` — the stock master's ``max_online`` for a product.

The outbox row of each step names the local order; the destination's own order id is
looked up in ``order_exports`` when the step is sent (it is only known once the export
went through).
"""

from __future__ import annotations

import time
from typing import Any

from app.core.models import OrderStatus
from app.store.channels import Channel
from app.store.db import Database

S = OrderStatus
# Channel settings of an exporting / stock-master channel.
EXPORT_ORDERS = "export_orders"
STOCK_MASTER = "stock_master"
LOCATION_WAREHOUSES = "location_warehouses"  # {location id: local warehouse name}
EXPORT_SINCE = "export_since"  # orders imported before this are not exported
EXPORT_KIND = "export_order"

_RANK = {S.REQUESTED: 0, S.CONFIRMED: 1, S.DISPATCHED: 2, S.DELIVERED: 3}
_SHIPPED = (S.DISPATCHED, S.DELIVERED)


def _on(settings: dict[str, Any], key: str) -> bool:
    value = settings.get(key)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def exports_orders(channel: Channel) -> bool:
    return channel.enabled and _on(channel.settings, EXPORT_ORDERS)


def is_stock_master(channel: Channel) -> bool:
    return _on(channel.settings, STOCK_MASTER)


def reference_for(order: dict[str, Any]) -> str:
    """The order's reference in the destination: unique per order, stable forever."""
    number = str(order.get("number") or order.get("external_id") or "").strip()
    return f"SB-{order['id']}-{number}"[:255].rstrip("-")


def _export_since(book, channel: Channel) -> float:
    """When exporting was switched on: orders imported before are not sent. Unknown (a
    channel card switch) means now, recorded once."""
    since = channel.settings.get(EXPORT_SINCE)
    try:
        return float(since)
    except (TypeError, ValueError):
        now = time.time()
        book.channels.update(channel.name, settings={EXPORT_SINCE: now})
        channel.settings[EXPORT_SINCE] = now
        return now


def after_ingest(book, channel: Channel, external_ids: list[str]) -> None:
    """Queue exports of orders new on ``channel`` and mirror changes of exported ones."""
    if not external_ids:
        return
    targets = [c for c in book.channels.all() if c.id != channel.id and exports_orders(c)]
    if not targets:
        return
    db = book.db
    unique = list(dict.fromkeys(external_ids))
    orders: list[dict[str, Any]] = []
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        orders += [
            dict(r)
            for r in db.all(
                "SELECT id, number, external_id, status, payment_status, history_only,"
                " imported_at, tracking_code, tracking_url FROM orders"
                f" WHERE channel_id = ? AND external_id IN ({','.join('?' * len(chunk))})",
                (channel.id, *chunk),
            )
        ]
    for target in targets:
        since = _export_since(book, target)
        for order in orders:
            sync_order(book, target, order, since=since)


def after_change(book, order_id: int, *, reason: str = "") -> None:
    """Mirror a local change of an already exported order to each destination
    (``reason``: the merchant's words for a cancellation or return)."""
    db = book.db
    rows = db.all("SELECT channel_id FROM order_exports WHERE order_id = ?", (order_id,))
    if not rows:
        return
    order = dict(
        db.one(
            "SELECT id, number, external_id, status, payment_status, history_only,"
            " imported_at, tracking_code, tracking_url FROM orders WHERE id = ?",
            (order_id,),
        )
    )
    for row in rows:
        target = book.channels.by_id(row["channel_id"])
        if target.enabled:
            sync_order(book, target, order, since=None, reason=reason)


def sync_order(
    book, target: Channel, order: dict[str, Any], *, since: float | None, reason: str = ""
) -> None:
    """Bring ``target``'s copy of ``order`` in step: create it once, then queue what
    changed since the last mirrored state (each step exactly once, in lifecycle order).

    ``since`` None: only orders already exported are considered.
    """
    db = book.db
    conn = db.conn
    order_id = int(order["id"])
    status = S(order["status"])
    row = conn.execute(
        "SELECT * FROM order_exports WHERE channel_id = ? AND order_id = ?", (target.id, order_id)
    ).fetchone()
    now = time.time()
    if row is None:
        if since is None or order["history_only"] or status in (S.CANCELLED, S.RETURNED):
            return
        if float(order["imported_at"] or 0) < since:
            return
        reference = reference_for(order)
        conn.execute(
            "INSERT INTO order_exports (channel_id, order_id, reference, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (target.id, order_id, reference, now, now),
        )
        book.outbox.enqueue_order(target.id, order_id, reference, {"kind": EXPORT_KIND})
        book._event(order_id, "export", f"Queued for {target.name} as a sales order ({reference})")
        mirrored, paid, tracking = S.REQUESTED, False, ""
    else:
        reference = row["reference"]
        mirrored = S(row["mirrored_status"])
        paid, tracking = bool(row["mirrored_paid"]), row["mirrored_tracking"]
    steps: list[dict[str, Any]] = []
    code, url = order["tracking_code"] or "", order["tracking_url"] or ""
    now_tracking = f"{code}\n{url}".strip()
    is_paid = order["payment_status"] == "paid"
    if mirrored in (S.CANCELLED, S.RETURNED):
        pass  # closed there: nothing more to mirror
    elif status is S.CANCELLED:
        steps.append({"kind": "cancel", "reason": reason})
        mirrored = status
    elif status is S.RETURNED:
        steps.append({"kind": "return", "reason": reason})
        mirrored = status
    else:
        # invoice → pay → pack → fulfil: a paid order is invoiced before it is paid
        # (a card-paid order is invoiced and paid at once, before it is confirmed here).
        if is_paid and not paid:
            if _RANK[mirrored] < _RANK[S.CONFIRMED]:
                steps.append({"kind": "progress", "target": str(S.CONFIRMED)})
                mirrored = S.CONFIRMED
            steps.append({"kind": "paid"})
            paid = True
        if _RANK.get(status, 0) > _RANK[mirrored]:
            step: dict[str, Any] = {"kind": "progress", "target": str(status)}
            if status in _SHIPPED:
                step.update(tracking_code=code, tracking_url=url)
                tracking = now_tracking
            steps.append(step)
            mirrored = status
        if status in _SHIPPED and now_tracking and now_tracking != tracking:
            steps.append({"kind": "tracking", "tracking_code": code, "tracking_url": url})
            tracking = now_tracking
    for step in steps:
        book.outbox.enqueue_order(target.id, order_id, reference, step)
    if steps or row is None:
        conn.execute(
            "UPDATE order_exports SET mirrored_status = ?, mirrored_paid = ?,"
            " mirrored_tracking = ?, updated_at = ? WHERE channel_id = ? AND order_id = ?",
            (str(mirrored), int(paid), tracking, now, target.id, order_id),
        )
    if steps and row is not None:
        words = ", ".join(_step_words(s) for s in steps)
        book._event(order_id, "export", f"{words}: queued for {target.name}")


def _step_words(step: dict[str, Any]) -> str:
    if step["kind"] == "progress":
        return {"confirmed": "invoice", "dispatched": "pack and ship", "delivered": "delivery"}.get(
            step["target"], step["target"]
        )
    return {"paid": "payment", "cancel": "void", "return": "return", "tracking": "tracking"}.get(
        step["kind"], step["kind"]
    )


def export_row(db: Database, channel_id: int, order_id: int) -> dict[str, Any] | None:
    row = db.one(
        "SELECT * FROM order_exports WHERE channel_id = ? AND order_id = ?", (channel_id, order_id)
    )
    return dict(row) if row is not None else None


def pending_deductions(db: Database, channel_id: int) -> dict[tuple[int, int], float]:
    """Stock taken off locally for orders exported to ``channel_id`` whose shipment has
    not been confirmed there yet, per (product, warehouse)."""
    rows = db.all(
        "SELECT ln.product_id, ln.warehouse_id, SUM(ln.deducted) FROM order_exports e"
        " JOIN order_lines ln ON ln.order_id = e.order_id"
        " WHERE e.channel_id = ? AND e.shipped = 0 AND ln.deducted > 0"
        " AND ln.product_id IS NOT NULL GROUP BY ln.product_id, ln.warehouse_id",
        (channel_id,),
    )
    return {(int(r[0]), int(r[1])): float(r[2] or 0.0) for r in rows}


def online_cap(db: Database, product_id: int) -> float | None:
    """The smallest ``max_online`` a stock master sets for this product (None: no cap)."""
    value = db.scalar(
        "SELECT MIN(r.max_online) FROM listing_stock_rules r"
        " JOIN product_links pl ON pl.listing_id = r.listing_id"
        " JOIN listings l ON l.id = r.listing_id JOIN channels c ON c.id = l.channel_id"
        " WHERE pl.product_id = ? AND r.max_online IS NOT NULL AND r.manage_stock = 1"
        " AND c.enabled = 1",
        (product_id,),
    )
    return None if value is None else max(0.0, float(value))
