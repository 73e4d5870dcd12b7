"""Read-only figures for the dashboard: what needs doing, recent orders, stock, sync health.

Every function takes the shared ``Database`` and returns plain dataclasses, so the GUI
can call them on its own thread and tests can check them without Qt. The queries are
written to walk existing indexes (orders_status, orders_placed, outbox_due,
sync_log_channel, order_lines_unmapped) because the dashboard refreshes on the GUI
thread and must stay quick on a ledger of 100,000 orders and products.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from app.store.db import Database

# A sync_log row with no finish time is either running now or was cut short (the app
# quit or crashed mid-sync). Past this age we stop calling it "running".
RUNNING_SYNC_MAX_AGE = 15 * 60

# Merchant words for a channel's state, shared with the GUI.
STATE_OK = "OK"
STATE_NEVER = "Never synced"
STATE_PROBLEM = "Problem"
STATE_PAUSED = "Paused"


# -- order counts ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrderCounts:
    """The three numbers at the top of the dashboard, with what makes up "attention"."""

    new: int
    needs_mapping: int
    failed_updates: int
    unreadable: int
    to_dispatch: int

    @property
    def needs_attention(self) -> int:
        """Orders waiting for a product link, refused updates and unreadable channel data."""
        return self.needs_mapping + self.failed_updates + self.unreadable


def order_counts(db: Database) -> OrderCounts:
    """Count new orders, things needing attention and orders ready to dispatch."""
    new = db.scalar("SELECT COUNT(*) FROM orders WHERE status = 'requested' AND needs_mapping = 0")
    # An order needs mapping only while one of its lines has no product, so walking the
    # small partial index of unmapped lines avoids scanning every order.
    needs_mapping = db.scalar(
        "SELECT COUNT(*) FROM orders WHERE needs_mapping = 1 AND id IN"
        " (SELECT order_id FROM order_lines WHERE product_id IS NULL)"
    )
    # outbox_due leads with channel_id; naming the channels lets SQLite seek straight to
    # each channel's failed rows instead of reading the whole (mostly 'done') queue.
    failed = db.scalar(
        "SELECT COUNT(*) FROM outbox WHERE channel_id IN (SELECT id FROM channels)"
        " AND state = 'failed'"
    )
    unreadable = db.scalar("SELECT COUNT(*) FROM quarantine WHERE resolved = 0")
    to_dispatch = db.scalar("SELECT COUNT(*) FROM orders WHERE status = 'confirmed'")
    return OrderCounts(
        new=int(new or 0),
        needs_mapping=int(needs_mapping or 0),
        failed_updates=int(failed or 0),
        unreadable=int(unreadable or 0),
        to_dispatch=int(to_dispatch or 0),
    )


# -- orders per day -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DailyOrders:
    """Orders per local calendar day, oldest day first, one count list per channel."""

    days: list[date]
    series: list[tuple[str, list[int]]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(sum(counts) for _, counts in self.series)


def _local_midnight(day: date) -> float:
    """Unix time of local midnight starting ``day`` (DST-aware through mktime)."""
    return time.mktime((day.year, day.month, day.day, 0, 0, 0, 0, 0, -1))


def orders_per_day(db: Database, days: int = 30, now: float | None = None) -> DailyOrders:
    """Orders placed on each of the last ``days`` local days (today included), per channel.

    An order counts on the day it was placed, or the day it was imported when the
    channel gave no placing time. Every enabled channel gets a series, even with no
    orders, so the legend stays the same from day to day.
    """
    days = max(1, int(days))
    now = time.time() if now is None else now
    today = datetime.fromtimestamp(now).date()
    day_list = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    start = _local_midnight(day_list[0])
    end = _local_midnight(today + timedelta(days=1))
    index = {d.isoformat(): i for i, d in enumerate(day_list)}

    # Two index range scans (orders_placed holds NULLs too) instead of one scan over
    # COALESCE(placed_at, imported_at), which no index can serve. SQLite's 'localtime'
    # uses the same C library time zone as Python's fromtimestamp/mktime.
    rows = db.all(
        "SELECT channel_id, day, COUNT(*) AS n FROM ("
        "  SELECT channel_id, date(placed_at, 'unixepoch', 'localtime') AS day FROM orders"
        "   WHERE placed_at >= :start AND placed_at < :end"
        "  UNION ALL"
        "  SELECT channel_id, date(imported_at, 'unixepoch', 'localtime') FROM orders"
        "   WHERE placed_at IS NULL AND imported_at >= :start AND imported_at < :end"
        ") GROUP BY channel_id, day",
        {"start": start, "end": end},
    )
    channels = db.all("SELECT id, name, enabled FROM channels ORDER BY name COLLATE NOCASE, id")
    counts: dict[int, list[int]] = {}
    for row in rows:
        slot = index.get(row["day"])
        if slot is None:  # a DST edge can put an order a whisker outside the window
            continue
        counts.setdefault(row["channel_id"], [0] * days)[slot] += int(row["n"])
    series = [
        (ch["name"], counts.get(ch["id"], [0] * days))
        for ch in channels
        if ch["enabled"] or ch["id"] in counts
    ]
    return DailyOrders(days=day_list, series=series)


# -- low stock ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LowStockItem:
    """A product whose free stock is below its safety buffer (or gone)."""

    sku: str
    name: str
    on_hand: float
    committed: float
    available: float
    buffer: float


def low_stock(db: Database, limit: int = 10) -> list[LowStockItem]:
    """Products running low, most urgent first: oversold, then out of stock, then short.

    Available here is on hand minus committed over all warehouses; the safety buffer is
    the line it should stay above. A product with no buffer is low once nothing is left.
    """
    # A full pass is unavoidable (the test compares a sum with a per-product buffer), so
    # keep it to one scan of products with a primary-key probe into stock_levels. With a
    # single warehouse (the usual case) that probe already is the total and the GROUP BY,
    # which costs more than the scan itself on a large catalogue, can be skipped.
    single = db.scalar("SELECT COUNT(*) FROM warehouses") == 1
    if single:
        on_hand, committed, group, test = (
            "IFNULL(s.on_hand, 0)",
            "IFNULL(s.committed, 0)",
            "",
            "WHERE",
        )
    else:
        on_hand, committed, group, test = (
            "TOTAL(s.on_hand)",
            "TOTAL(s.committed)",
            "GROUP BY p.id",
            "HAVING",
        )
    free = f"({on_hand} - {committed})"
    rows = db.all(
        f"SELECT p.sku, p.name, p.safety_buffer AS buffer, {on_hand} AS on_hand,"
        f" {committed} AS committed, {free} AS available"
        f" FROM products p LEFT JOIN stock_levels s ON s.product_id = p.id {group}"
        f" {test} {free} <= 0 OR {free} < p.safety_buffer"
        f" ORDER BY {free}, p.safety_buffer - {free} DESC, p.sku LIMIT ?",
        (max(0, int(limit)),),
    )
    return [
        LowStockItem(
            sku=r["sku"],
            name=r["name"],
            on_hand=float(r["on_hand"]),
            committed=float(r["committed"]),
            available=float(r["available"]),
            buffer=float(r["buffer"]),
        )
        for r in rows
    ]


# -- sync health ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """How one channel's syncing is going, in the words the dashboard shows."""

    name: str
    platform: str
    enabled: bool
    state: str
    last_success: float | None
    last_attempt: float | None
    last_error: str | None
    queued: int
    failed: int
    syncing: bool = False

    @property
    def problem_text(self) -> str | None:
        """The one line that explains a Problem state, if there is one."""
        if self.last_error:
            return self.last_error
        if self.failed:
            noun = "update was" if self.failed == 1 else "updates were"
            return f"{self.failed:,} {noun} refused by {self.name}"
        return None


def _channel_state(enabled: bool, ever_synced: bool, last_failed: bool, failed: int) -> str:
    if not enabled:
        return STATE_PAUSED
    if last_failed or failed:
        return STATE_PROBLEM
    if not ever_synced:
        return STATE_NEVER
    return STATE_OK


def sync_health(db: Database, now: float | None = None) -> list[ChannelHealth]:
    """One entry per channel (by name): last success, last error, waiting and refused updates.

    ``now`` decides whether an unfinished sync is still running or was cut short.
    """
    now = time.time() if now is None else now
    queue: dict[tuple[int, str], int] = {
        (r["channel_id"], r["state"]): int(r["n"])
        for r in db.all(
            "SELECT channel_id, state, COUNT(*) AS n FROM outbox"
            " WHERE channel_id IN (SELECT id FROM channels) AND state IN ('pending', 'failed')"
            " GROUP BY channel_id, state"
        )
    }
    out = []
    for ch in db.all(
        "SELECT id, name, platform, enabled FROM channels ORDER BY name COLLATE NOCASE"
    ):
        cid = ch["id"]
        # Each lookup walks sync_log_channel backwards from the newest run and stops at
        # the first match, so a long sync history costs nothing.
        last = db.one(
            "SELECT finished_at, ok, error FROM sync_log WHERE channel_id = ?"
            " AND finished_at IS NOT NULL ORDER BY started_at DESC LIMIT 1",
            (cid,),
        )
        last_ok = db.scalar(
            "SELECT finished_at FROM sync_log WHERE channel_id = ? AND ok = 1"
            " AND finished_at IS NOT NULL ORDER BY started_at DESC LIMIT 1",
            (cid,),
        )
        running = db.scalar(
            "SELECT 1 FROM sync_log WHERE channel_id = ? AND finished_at IS NULL"
            " AND started_at >= ? LIMIT 1",
            (cid, now - RUNNING_SYNC_MAX_AGE),
        )
        last_failed = last is not None and not last["ok"]
        error = (last["error"] or "The last sync did not finish.") if last_failed else None
        failed = queue.get((cid, "failed"), 0)
        out.append(
            ChannelHealth(
                name=ch["name"],
                platform=ch["platform"],
                enabled=bool(ch["enabled"]),
                state=_channel_state(bool(ch["enabled"]), last is not None, last_failed, failed),
                last_success=None if last_ok is None else float(last_ok),
                last_attempt=None if last is None else float(last["finished_at"]),
                last_error=error,
                queued=queue.get((cid, "pending"), 0),
                failed=failed,
                syncing=running is not None,
            )
        )
    return out


__all__ = [
    "STATE_NEVER",
    "STATE_OK",
    "STATE_PAUSED",
    "STATE_PROBLEM",
    "ChannelHealth",
    "DailyOrders",
    "LowStockItem",
    "OrderCounts",
    "low_stock",
    "order_counts",
    "orders_per_day",
    "sync_health",
]
