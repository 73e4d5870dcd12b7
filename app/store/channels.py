"""Channel accounts, their listings, product links, cursors, sync log and quarantine."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from app.core.addresses import check_base_url
from app.core.models import ChannelListing, LinkMethod, QuarantinedItem
from app.core.stock import normalise_sku
from app.store.db import Database


@dataclass(slots=True)
class Channel:
    id: int
    name: str
    platform: str
    base_url: str
    account: str
    warehouse_id: int
    mapping_mode: str
    enabled: bool
    first_import_done: bool
    settings: dict[str, Any] = field(default_factory=dict)


def _channel(row) -> Channel:
    return Channel(
        id=row["id"],
        name=row["name"],
        platform=row["platform"],
        base_url=row["base_url"],
        account=row["account"],
        warehouse_id=row["warehouse_id"],
        mapping_mode=row["mapping_mode"],
        enabled=bool(row["enabled"]),
        first_import_done=bool(row["first_import_done"]),
        settings=json.loads(row["settings"] or "{}"),
    )


class UnknownChannel(KeyError):
    def __str__(self) -> str:
        return f"No channel named '{self.args[0]}'. See `stockbridge channel list`."


class ChannelRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- accounts ---------------------------------------------------------------------
    def add(
        self,
        name: str,
        platform: str,
        base_url: str,
        *,
        account: str = "",
        warehouse_id: int,
        mapping_mode: str = "sku",
        settings: dict[str, Any] | None = None,
    ) -> Channel:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO channels (name, platform, base_url, account, settings, warehouse_id,"
                " mapping_mode, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    platform,
                    base_url.rstrip("/"),
                    account,
                    json.dumps(settings or {}),
                    warehouse_id,
                    mapping_mode,
                    time.time(),
                ),
            )
        return self.get(name)

    def get(self, name: str) -> Channel:
        row = self.db.one("SELECT * FROM channels WHERE name = ?", (name,))
        if row is None:
            raise UnknownChannel(name)
        return _channel(row)

    def by_id(self, channel_id: int) -> Channel:
        row = self.db.one("SELECT * FROM channels WHERE id = ?", (channel_id,))
        if row is None:
            raise UnknownChannel(str(channel_id))
        return _channel(row)

    def all(self) -> list[Channel]:
        return [_channel(r) for r in self.db.all("SELECT * FROM channels ORDER BY name")]

    def exists(self, name: str) -> bool:
        return self.db.scalar("SELECT 1 FROM channels WHERE name = ?", (name,)) is not None

    def remove(self, name: str) -> None:
        """Forget a channel's account, listings, links and queue. Its orders stay as history."""
        channel = self.get(name)
        with self.db.transaction() as conn:
            conn.execute("UPDATE outbox SET order_id = NULL WHERE channel_id = ?", (channel.id,))
            conn.execute("DELETE FROM outbox WHERE channel_id = ?", (channel.id,))
            if self.db.scalar("SELECT 1 FROM orders WHERE channel_id = ? LIMIT 1", (channel.id,)):
                # Keep the orders (and the stock they moved) readable; the channel row
                # stays, disabled, so the history still says where they came from.
                conn.execute(
                    "UPDATE channels SET enabled = 0, name = name || ' (removed ' || ? || ')'"
                    " WHERE id = ?",
                    (time.strftime("%Y-%m-%d %H:%M"), channel.id),
                )
                conn.execute("DELETE FROM listings WHERE channel_id = ?", (channel.id,))
                conn.execute("DELETE FROM sync_cursors WHERE channel_id = ?", (channel.id,))
            else:
                conn.execute("DELETE FROM channels WHERE id = ?", (channel.id,))

    def update(
        self,
        name: str,
        *,
        enabled: bool | None = None,
        base_url: str | None = None,
        mapping_mode: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Channel:
        """Change a channel's switches; ``settings`` are merged into the stored ones."""
        channel = self.get(name)
        if base_url is not None:
            base_url = check_base_url(base_url)
        merged = dict(channel.settings)
        if settings:
            merged.update(settings)
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE channels SET enabled = ?, base_url = ?, mapping_mode = ?, settings = ?"
                " WHERE id = ?",
                (
                    int(channel.enabled if enabled is None else enabled),
                    (base_url or channel.base_url).rstrip("/"),
                    mapping_mode or channel.mapping_mode,
                    json.dumps(merged),
                    channel.id,
                ),
            )
        return self.by_id(channel.id)

    def mark_first_import_done(self, channel_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE channels SET first_import_done = 1 WHERE id = ?", (channel_id,))

    # -- cursors ----------------------------------------------------------------------
    def cursor(self, channel_id: int, resource: str) -> str | None:
        return self.db.scalar(
            "SELECT value FROM sync_cursors WHERE channel_id = ? AND resource = ?",
            (channel_id, resource),
        )

    def set_cursor(self, channel_id: int, resource: str, value: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO sync_cursors (channel_id, resource, value, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (channel_id, resource) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (channel_id, resource, value, time.time()),
            )

    # -- listings ---------------------------------------------------------------------
    def upsert_listings(self, channel_id: int, listings: list[ChannelListing]) -> list[int]:
        """Insert or refresh listings; returns the ids of listings seen for the first time."""
        now = time.time()
        new_ids = []
        with self.db.transaction() as conn:
            for item in listings:
                row = conn.execute(
                    "SELECT id FROM listings WHERE channel_id = ? AND external_id = ?",
                    (channel_id, item.external_id),
                ).fetchone()
                values = (
                    item.product_id,
                    item.variant_id,
                    normalise_sku(item.sku),
                    item.mpn or "",
                    item.barcode or "",
                    item.name or "",
                    item.quantity,
                )
                if row is None:
                    cur = conn.execute(
                        "INSERT INTO listings (channel_id, external_id, product_ref, variant_ref, sku,"
                        " mpn, barcode, name, quantity, first_seen, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (channel_id, item.external_id, *values, now, now),
                    )
                    new_ids.append(int(cur.lastrowid))
                else:
                    conn.execute(
                        "UPDATE listings SET product_ref = ?, variant_ref = ?, sku = ?, mpn = ?,"
                        " barcode = ?, name = ?, quantity = ?, updated_at = ? WHERE id = ?",
                        (*values, now, row["id"]),
                    )
        return new_ids

    def listing(self, channel_id: int, external_id: str) -> dict | None:
        row = self.db.one(
            "SELECT l.*, pl.product_id, pl.method, p.sku AS product_sku FROM listings l"
            " LEFT JOIN product_links pl ON pl.listing_id = l.id"
            " LEFT JOIN products p ON p.id = pl.product_id"
            " WHERE l.channel_id = ? AND l.external_id = ?",
            (channel_id, external_id),
        )
        return None if row is None else dict(row)

    def listings(self, channel_id: int) -> list[dict]:
        return [
            dict(r)
            for r in self.db.all(
                "SELECT l.*, pl.product_id, pl.method, p.sku AS product_sku FROM listings l"
                " LEFT JOIN product_links pl ON pl.listing_id = l.id"
                " LEFT JOIN products p ON p.id = pl.product_id"
                " WHERE l.channel_id = ? ORDER BY l.sku, l.external_id",
                (channel_id,),
            )
        ]

    def listing_as_record(self, row: dict) -> ChannelListing:
        return ChannelListing(
            external_id=row["external_id"],
            product_id=row["product_ref"],
            variant_id=row["variant_ref"],
            sku=row["sku"],
            name=row["name"],
            quantity=row["quantity"],
            mpn=row["mpn"],
            barcode=row["barcode"],
        )

    def set_listing_quantity(self, listing_id: int, quantity: float) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE listings SET quantity = ? WHERE id = ?", (quantity, listing_id))

    # -- product links ----------------------------------------------------------------
    def link(self, listing_id: int, product_id: int, method: LinkMethod) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO product_links (listing_id, product_id, method, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (listing_id) DO UPDATE SET"
                " product_id = excluded.product_id, method = excluded.method,"
                " created_at = excluded.created_at",
                (listing_id, product_id, str(method), time.time()),
            )
            conn.execute("UPDATE listings SET is_new = 0 WHERE id = ?", (listing_id,))

    def unlink(self, listing_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM product_links WHERE listing_id = ?", (listing_id,))

    def linked_listings_of(self, product_ids: list[int]) -> list[dict]:
        """Every enabled channel's non-ignored listings linked to these products."""
        if not product_ids:
            return []
        marks = ",".join("?" * len(product_ids))
        return [
            dict(r)
            for r in self.db.all(
                "SELECT l.id AS listing_id, l.channel_id, pl.product_id FROM product_links pl"
                " JOIN listings l ON l.id = pl.listing_id JOIN channels c ON c.id = l.channel_id"
                f" WHERE pl.product_id IN ({marks}) AND l.ignored = 0 AND c.enabled = 1",
                tuple(product_ids),
            )
        ]

    # -- quarantine -------------------------------------------------------------------
    def quarantine(self, channel_id: int, item: QuarantinedItem) -> None:
        now = time.time()
        raw = item.raw if isinstance(item.raw, str) else json.dumps(item.raw, default=str)
        external_id = str(item.external_id or "").strip()
        if external_id in ("", "?"):
            # Records without an id must not overwrite each other: key them by content.
            external_id = "?" + hashlib.sha1(raw.encode("utf-8", "replace")).hexdigest()[:12]
            item = QuarantinedItem(item.kind, external_id, item.reason, item.raw)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO quarantine (channel_id, kind, external_id, reason, raw, first_seen,"
                " last_seen) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (channel_id, kind, external_id)"
                " DO UPDATE SET reason = excluded.reason, raw = excluded.raw,"
                " last_seen = excluded.last_seen, resolved = 0",
                (channel_id, item.kind, item.external_id, item.reason, raw, now, now),
            )

    def resolve_quarantined(self, channel_id: int, kind: str, external_ids: list[str]) -> int:
        """Mark these items' quarantine entries resolved (they imported after all).

        One statement per 500 ids, and none when the channel has nothing set aside (the
        usual case: a page of orders costs one read, not a write per order).
        """
        if not external_ids or not self.db.scalar(
            "SELECT 1 FROM quarantine WHERE channel_id = ? AND kind = ? AND resolved = 0 LIMIT 1",
            (channel_id, kind),
        ):
            return 0
        resolved = 0
        with self.db.transaction() as conn:
            for start in range(0, len(external_ids), 500):
                chunk = external_ids[start : start + 500]
                resolved += conn.execute(
                    "UPDATE quarantine SET resolved = 1 WHERE channel_id = ? AND kind = ?"
                    f" AND resolved = 0 AND external_id IN ({','.join('?' * len(chunk))})",
                    (channel_id, kind, *chunk),
                ).rowcount
        return resolved

    def quarantined(self, channel_id: int | None = None) -> list[dict]:
        sql = "SELECT * FROM quarantine WHERE resolved = 0"
        args: tuple = ()
        if channel_id is not None:
            sql += " AND channel_id = ?"
            args = (channel_id,)
        return [dict(r) for r in self.db.all(sql + " ORDER BY last_seen DESC", args)]

    # -- sync log ---------------------------------------------------------------------
    def log_start(self, channel_id: int) -> int:
        with self.db.transaction() as conn:
            return int(
                conn.execute(
                    "INSERT INTO sync_log (channel_id, started_at) VALUES (?, ?)",
                    (channel_id, time.time()),
                ).lastrowid
            )

    def log_finish(
        self, log_id: int, *, ok: bool, summary: str, error: str = "", counts: dict | None = None
    ) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE sync_log SET finished_at = ?, ok = ?, summary = ?, error = ?, counts = ?"
                " WHERE id = ?",
                (time.time(), int(ok), summary, error, json.dumps(counts or {}), log_id),
            )

    def last_sync(self, channel_id: int, *, ok_only: bool = False) -> dict | None:
        sql = "SELECT * FROM sync_log WHERE channel_id = ? AND finished_at IS NOT NULL"
        if ok_only:
            sql += " AND ok = 1"
        row = self.db.one(sql + " ORDER BY id DESC LIMIT 1", (channel_id,))
        return None if row is None else dict(row)
