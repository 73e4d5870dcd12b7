"""TradeGecko in the sync engine: stock master pulls and the exported orders' pushes.

The engine calls :func:`before_drain` during a TradeGecko channel's sync (after the
listings, before the outbox is sent) and hands every outbox row of such a channel to
:func:`send`. Two per-channel choices decide what happens:

* **stock master** (``stock_master``): each variant's ``locations[]`` stock on hand
  becomes the local on-hand of the local warehouse its location is mapped to
  (``location_warehouses``; by default the first location feeds the channel's own
  warehouse). Stock Stockbridge already took off for orders whose shipment has not
  reached TradeGecko yet is subtracted, so nothing is counted twice. Each difference is
  one ledger movement with the reason "TradeGecko count". ``manage_stock`` false
  variants are left alone; ``keep_selling`` variants may go below zero (others are
  never counted below zero); ``max_online`` is kept per listing and caps what the other
  channels are sent (:func:`app.store.exports.online_cap`). Reads are incremental
  (``updated_at_min``), and ``variant.stock_level_update`` webhooks re-read the named
  variants at once.
* **export orders** (``export_orders``): the other channels' orders go to TradeGecko
  as sales orders exactly once (reference search + idempotency key in the client, and
  the reference fixed in ``order_exports`` before the first attempt), then follow the
  local life. An order with a product that has no TradeGecko variant waits, with the
  reason, until it is mapped.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from app.channels.errors import ChannelError, Rejected
from app.channels.tradegecko import mapping
from app.channels.tradegecko.mapping import ExportAddress, ExportLine, ExportOrder, VariantStock
from app.core.models import OrderPush, OrderStatus
from app.store import exports
from app.store.catalog import Catalog
from app.store.channels import Channel
from app.store.db import Database
from app.store.outbox import OutboxRow

log = logging.getLogger(__name__)

STOCK_CURSOR = "stock"
STOCK_REASON = "TradeGecko count"
# How long an order waiting for a product link waits before it is looked at again
# (a sync re-checks it sooner when the links changed).
BLOCKED_RECHECK_SECONDS = 600.0


class ExportBlocked(ChannelError):
    """The order cannot go to TradeGecko yet; the message says what the merchant must do."""

    title = "Waiting for a product link"
    transient = True


# --- settings -----------------------------------------------------------------------


def parse_location_map(pairs: list[str]) -> dict[str, str]:
    """``["12=Main warehouse", "13=Shop"]`` → ``{"12": "Main warehouse", "13": "Shop"}``."""
    found: dict[str, str] = {}
    for pair in pairs:
        location, sep, warehouse = str(pair).partition("=")
        location, warehouse = location.strip(), warehouse.strip()
        if not sep or not location.isdigit() or not warehouse:
            raise ValueError(
                f"'{pair}' is not LOCATION_ID=WAREHOUSE (e.g. 12=Main warehouse): the"
                " TradeGecko location id is a number"
            )
        if location in found and found[location] != warehouse:
            raise ValueError(f"TradeGecko location {location} is mapped twice")
        found[location] = warehouse
    return found


def _warehouse_name(db: Database, warehouse_id: int) -> str:
    return str(db.scalar("SELECT name FROM warehouses WHERE id = ?", (warehouse_id,)) or "")


async def location_map(engine, client, channel: Channel, *, check: bool = False) -> dict[str, int]:
    """TradeGecko location id → local warehouse id, filling in the default once.

    ``check`` reads the account's locations and refuses a map naming one it does not
    have: counting a location that does not exist would set stock to zero.
    """
    db: Database = engine.db
    names = channel.settings.get(exports.LOCATION_WAREHOUSES) or {}
    if isinstance(names, dict) and names and check:
        known = {loc.id: loc.label for loc in await client.fetch_locations()}
        unknown = sorted(set(map(str, names)) - set(known), key=int)
        if unknown:
            have = ", ".join(f"{key} ({label})" for key, label in known.items()) or "none"
            raise Rejected(
                f"TradeGecko has no location {', '.join(unknown)} (its locations: {have});"
                f" fix which location feeds which warehouse for {channel.name}"
            )
    if not isinstance(names, dict) or not names:
        locations = [
            loc
            for loc in await client.fetch_locations()
            if loc.holds_stock and loc.status == "active"
        ]
        if not locations:
            raise Rejected("this TradeGecko account has no active location that holds stock")
        names = {locations[0].id: _warehouse_name(db, channel.warehouse_id)}
        engine.book.channels.update(channel.name, settings={exports.LOCATION_WAREHOUSES: names})
        channel.settings[exports.LOCATION_WAREHOUSES] = names
    catalog = Catalog(db)
    return {
        str(location): catalog.warehouse_id(str(name), create=True)
        for location, name in names.items()
    }


# --- the engine's hooks --------------------------------------------------------------


async def before_drain(engine, client, channel: Channel, report) -> None:
    """A TradeGecko channel's own part of a sync (the engine's lock is held)."""
    if exports.exports_orders(channel) and not channel.settings.get(exports.EXPORT_SINCE):
        engine.book.channels.update(channel.name, settings={exports.EXPORT_SINCE: time.time()})
    if exports.is_stock_master(channel):
        await pull_stock(engine, client, channel, report)
    release_blocked(engine.db, engine.book, channel)


async def pull_stock(engine, client, channel: Channel, report) -> int:
    """Read the variants changed since the last pull (and those linked since) and apply
    their per-location stock. Returns how many products changed."""
    book = engine.book
    locations = await location_map(engine, client, channel, check=True)
    cursor = book.channels.cursor(channel.id, STOCK_CURSOR)
    since = float(cursor) if cursor is not None else None
    started = time.time()
    changed: set[int] = set()
    async for page in client.fetch_stock(since):
        changed |= apply_stock(engine.db, book, channel, page, locations)
    relinked = _linked_without_stock(engine.db, channel.id)
    if relinked:
        page = await client.fetch_variant_stock(relinked)
        changed |= apply_stock(engine.db, book, channel, page, locations)
    book.channels.set_cursor(channel.id, STOCK_CURSOR, repr(started))
    if report is not None and hasattr(report, "stock_counted"):
        report.stock_counted += len(changed)
    return len(changed)


def _linked_without_stock(db: Database, channel_id: int) -> list[str]:
    """Variants linked to a product after their stock was last read (or never read)."""
    return [
        r[0]
        for r in db.all(
            "SELECT l.external_id FROM listings l JOIN product_links pl ON pl.listing_id = l.id"
            " LEFT JOIN listing_stock_rules r ON r.listing_id = l.id"
            " WHERE l.channel_id = ? AND l.ignored = 0"
            " AND (r.listing_id IS NULL OR r.updated_at < pl.created_at)",
            (channel_id,),
        )
        if str(r[0]).isdigit()
    ]


def apply_stock(
    db: Database, book, channel: Channel, variants: list[VariantStock], locations: dict[str, int]
) -> set[int]:
    """Make local on-hand match TradeGecko's count, per mapped location, in one
    transaction; returns the products whose stock (or online cap) changed."""
    if not variants:
        return set()
    changed: set[int] = set()
    labels = channel.settings.get(exports.LOCATION_WAREHOUSES) or {}
    now = time.time()
    with db.transaction() as conn:
        pending = exports.pending_deductions(db, channel.id)
        for variant in variants:
            listing = conn.execute(
                "SELECT l.id, pl.product_id FROM listings l"
                " JOIN product_links pl ON pl.listing_id = l.id"
                " WHERE l.channel_id = ? AND l.external_id = ? AND l.ignored = 0",
                (channel.id, variant.variant_id),
            ).fetchone()
            if listing is None:
                continue  # not linked to a local product (yet): nothing to count
            product_id = int(listing["product_id"])
            before = conn.execute(
                "SELECT manage_stock, keep_selling, max_online FROM listing_stock_rules"
                " WHERE listing_id = ?",
                (listing["id"],),
            ).fetchone()
            rule = (int(variant.manage_stock), int(variant.keep_selling), variant.max_online)
            conn.execute(
                "INSERT INTO listing_stock_rules (listing_id, manage_stock, keep_selling,"
                " max_online, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (listing_id) DO"
                " UPDATE SET manage_stock = excluded.manage_stock, keep_selling ="
                " excluded.keep_selling, max_online = excluded.max_online,"
                " updated_at = excluded.updated_at",
                (listing["id"], *rule, now),
            )
            if before is None or tuple(before) != rule:
                changed.add(product_id)
            if not variant.manage_stock:
                continue  # TradeGecko does not track it: its figures mean nothing
            for location_id, warehouse_id in locations.items():
                at = variant.at(location_id)
                counted = at.stock_on_hand if at is not None else 0.0
                if not variant.keep_selling:
                    counted = max(0.0, counted)
                waiting = pending.get((product_id, warehouse_id), 0.0)
                target = counted - waiting
                delta = target - book.ledger.on_hand(product_id, warehouse_id)
                if abs(delta) < 1e-9:
                    continue
                note = (
                    f"{channel.name} location {location_id}"
                    f" ({labels.get(location_id, '')}): {mapping.format_decimal(counted)} on hand"
                )
                if waiting:
                    note += (
                        f", less {mapping.format_decimal(waiting)} sent from here and not yet"
                        " shipped there"
                    )
                book.ledger.record(
                    product_id, warehouse_id, on_hand=delta, reason=STOCK_REASON, note=note
                )
                changed.add(product_id)
        book.enqueue_stock_pushes(changed)
    return changed


async def apply_hint(engine, client, channel: Channel, body: bytes) -> int | None:
    """A webhook named variants whose stock changed: re-read just those (None: not a
    stock hint, the caller syncs instead)."""
    hint = client.webhook_hint(body)
    if hint is None or hint.resource != "variant" or not exports.is_stock_master(channel):
        return None
    locations = await location_map(engine, client, channel)
    page = await client.fetch_variant_stock([hint.object_id])
    return len(apply_stock(engine.db, engine.book, channel, page, locations))


def release_blocked(db: Database, book, channel: Channel) -> int:
    """Orders waiting for a product link whose products are now linked go out at once."""
    released = 0
    for row in db.all(
        "SELECT order_id FROM order_exports WHERE channel_id = ? AND state = 'blocked'",
        (channel.id,),
    ):
        order = book.get(row["order_id"])
        if _lines(db, channel, order)[1]:
            continue
        with db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE channel_id = ? AND order_id = ?"
                " AND state = 'pending' AND payload LIKE '%\"export_order\"%'",
                (time.time(), channel.id, row["order_id"]),
            )
            conn.execute(
                "UPDATE order_exports SET state = 'queued', reason = '', updated_at = ?"
                " WHERE channel_id = ? AND order_id = ?",
                (time.time(), channel.id, row["order_id"]),
            )
        released += 1
    return released


# --- sending -----------------------------------------------------------------------


async def send(engine, client, channel: Channel, row: OutboxRow) -> str | None:
    """Send one queued step of an exported order; returns the note for the history."""
    payload = dict(row.payload)
    kind = payload.pop("kind", "")
    db: Database = engine.db
    book = engine.book
    if row.order_id is None:
        return "the order is no longer here"
    record = exports.export_row(db, channel.id, row.order_id)
    if record is None:
        raise Rejected(f"order {row.target} was never queued for {channel.name}")
    order = book.get(row.order_id)
    if kind == exports.EXPORT_KIND:
        return await _export(engine, client, channel, order, record)
    remote = record["remote_id"]
    if not remote:
        if record["state"] == "sent":
            return f"Not sent to {channel.name}: the sales order was never created there"
        raise ChannelError(f"order {order['number']} is not in {channel.name} yet")
    target = payload.pop("target", None)
    push = OrderPush(
        kind=kind,
        order_external_id=remote,
        target=OrderStatus(target) if target else None,
        **payload,
    )
    await client.push_order(push)
    if kind == "progress" and target in ("dispatched", "delivered"):
        with db.transaction() as conn:
            conn.execute(
                "UPDATE order_exports SET shipped = 1, updated_at = ? WHERE channel_id = ?"
                " AND order_id = ?",
                (time.time(), channel.id, row.order_id),
            )
    words = {
        "progress": {"confirmed": "invoiced", "dispatched": "packed and shipped"}.get(
            target or "", "delivered"
        ),
        "paid": "paid",
        "cancel": "voided",
        "return": "return recorded",
        "tracking": "tracking added",
    }.get(kind, kind)
    return f"Sent to {channel.name}: sales order {remote} {words}"


async def _export(engine, client, channel: Channel, order: dict, record: dict) -> str:
    db: Database = engine.db
    reference = record["reference"]
    if record["remote_id"]:
        return f"Already in {channel.name} as sales order {record['remote_id']}"
    if order["status"] in ("cancelled", "returned"):
        # Closed before it went out: create nothing, unless an earlier attempt did.
        found = await client.find_order(reference)
        if found is None:
            _set(db, channel.id, order["id"], state="sent", reason="closed before it was sent")
            return f"Not sent to {channel.name}: the order was {order['status']} first"
        _set(db, channel.id, order["id"], state="sent", remote_id=found.id, reason="")
        return f"Found in {channel.name} as sales order {found.id}"
    export, problems = build_export(db, channel, order, reference)
    if problems:
        reason = "; ".join(problems)
        if record["state"] != "blocked" or record["reason"] != reason:
            _set(db, channel.id, order["id"], state="blocked", reason=reason)
            book = engine.book
            book.add_event(order["id"], "export", f"Not sent to {channel.name} yet: {reason}")
        raise ExportBlocked(
            f"order {order['number']} waits: {reason}", retry_after=BLOCKED_RECHECK_SECONDS
        )
    currencies = await client.fetch_currencies()
    if export.currency and currencies and export.currency not in currencies:
        reason = (
            f"TradeGecko has no {export.currency} currency: add it in TradeGecko"
            " (Settings → Currencies) and the order goes out at the next sync"
        )
        if record["state"] != "blocked" or record["reason"] != reason:
            _set(db, channel.id, order["id"], state="blocked", reason=reason)
            engine.book.add_event(
                order["id"], "export", f"Not sent to {channel.name} yet: {reason}"
            )
        raise ExportBlocked(
            f"order {order['number']} waits: {reason}", retry_after=BLOCKED_RECHECK_SECONDS
        )
    remote = await client.export_order(export)
    _set(db, channel.id, order["id"], state="sent", remote_id=remote, reason="")
    return f"Sent to {channel.name} as sales order {remote} ({reference})"


def _set(db: Database, channel_id: int, order_id: int, **fields: Any) -> None:
    sets = ", ".join(f"{key} = ?" for key in fields)
    with db.transaction() as conn:
        conn.execute(
            f"UPDATE order_exports SET {sets}, updated_at = ? WHERE channel_id = ?"
            " AND order_id = ?",
            (*fields.values(), time.time(), channel_id, order_id),
        )


def _lines(db: Database, channel: Channel, order: dict) -> tuple[list[ExportLine], list[str]]:
    """The order's lines as TradeGecko variants, and what stops each one that has none."""
    lines: list[ExportLine] = []
    problems: list[str] = []
    for line in order["lines"]:
        if not line["fulfil"] or line["quantity"] <= 0:
            continue
        what = line["sku"] or line["name"] or line["external_id"]
        if line["product_id"] is None:
            problems.append(f"{what} is not linked to one of your products")
            continue
        variants = [
            r[0]
            for r in db.all(
                "SELECT l.external_id FROM listings l JOIN product_links pl"
                " ON pl.listing_id = l.id WHERE l.channel_id = ? AND pl.product_id = ?"
                " AND l.ignored = 0 ORDER BY l.id",
                (channel.id, line["product_id"]),
            )
        ]
        sku = db.scalar("SELECT sku FROM products WHERE id = ?", (line["product_id"],))
        if not variants:
            problems.append(
                f"your product {sku} has no TradeGecko variant: link it under Products"
                f' (or `stockbridge mapping link --channel "{channel.name}" --listing'
                f" VARIANT_ID --sku {sku}`)"
            )
            continue
        if len(variants) > 1:
            problems.append(
                f"your product {sku} is linked to {len(variants)} TradeGecko variants"
                f" ({', '.join(variants)}): keep one"
            )
            continue
        lines.append(ExportLine(variants[0], float(line["quantity"]), float(line["unit_price"])))
    if not lines and not problems:
        problems.append("the order has no lines to send")
    return lines, problems


def _first(data: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = data.get(key)
        if value not in (None, ""):
            return str(value).strip()
    return ""


def _address(receiver: dict[str, Any], email: str) -> ExportAddress | None:
    """The delivery address, whatever the order's channel called its fields."""
    line1 = _first(receiver, "address1", "address", "street", "line1", "street_address")
    if not line1:
        return None
    name = _first(receiver, "name")
    first, _, last = name.partition(" ")
    return ExportAddress(
        address1=line1,
        address2=_first(receiver, "address2", "unit", "line2"),
        city=_first(receiver, "city", "town"),
        zip_code=_first(receiver, "zip_code", "postcode", "postal", "postal_code", "zip"),
        country=_first(receiver, "country", "country_code"),
        state=_first(receiver, "state", "region", "province"),
        first_name=_first(receiver, "first_name") or first,
        last_name=_first(receiver, "last_name") or last,
        company_name=_first(receiver, "company", "company_name"),
        phone_number=_first(receiver, "phone", "mobile", "telephone"),
        email=email or _first(receiver, "email"),
    )


def _company_id(db: Database, channel: Channel, order: dict) -> str:
    """The buyer's TradeGecko company, when the buyer's customer is linked to one."""
    ref = order["customer_ref"] or f"order:{order['external_id']}"
    row = db.one(
        "SELECT t.external_ref FROM customer_links a JOIN customer_links t"
        " ON t.customer_id = a.customer_id AND t.channel_id = ?"
        " WHERE a.channel_id = ? AND a.external_ref = ? AND t.external_ref LIKE 'company:%'",
        (channel.id, order["channel_id"], ref),
    )
    if row is None:
        return ""
    company = str(row[0]).partition(":")[2]
    return company if company.isdigit() else ""


def build_export(
    db: Database, channel: Channel, order: dict, reference: str
) -> tuple[ExportOrder | None, list[str]]:
    """The sales order to create for a local order, or the reasons it cannot go yet."""
    lines, problems = _lines(db, channel, order)
    try:
        receiver = json.loads(order["receiver"] or "{}")
    except ValueError:
        receiver = {}
    receiver = receiver if isinstance(receiver, dict) else {}
    email = order["customer_email"] or _first(receiver, "email")
    company_id = _company_id(db, channel, order)
    shipping = _address(receiver, email)
    if not company_id and shipping is None:
        problems.append("the order has no delivery address for a new TradeGecko customer")
    if problems:
        return None, problems
    currency = (order["currency"] or "").strip().upper()
    source = _first(order, "channel")
    export = ExportOrder(
        reference=reference,
        customer_name=order["customer_name"] or _first(receiver, "name") or reference,
        lines=tuple(lines),
        shipping_address=shipping,
        currency=currency if len(currency) == 3 and currency.isalpha() else "",
        customer_email=email,
        customer_phone=_first(receiver, "phone", "mobile", "telephone"),
        company_id=company_id,
        notes=f"Order {order['number']} from {source} (Stockbridge)",
    )
    try:
        mapping.validate_export(export)
    except Rejected as exc:
        return None, [exc.message]
    return export, []


__all__ = [
    "ExportBlocked",
    "STOCK_REASON",
    "apply_hint",
    "apply_stock",
    "before_drain",
    "build_export",
    "location_map",
    "parse_location_map",
    "pull_stock",
    "release_blocked",
    "send",
]
