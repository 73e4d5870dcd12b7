"""Sending stock to a channel: one by one, in batches, or spread over a rate limit.

The quantity is worked out when the push is sent (available stock, minus the channel's
own buffer, never below zero), so a queued push always carries the latest value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from app.channels.base import CAP_STOCK_BATCH, CAP_STOCK_PUSH, ChannelClient
from app.core.models import ChannelListing
from app.core.stock import channel_quantity
from app.settings import channel_setting
from app.store.channels import Channel
from app.store.db import Database
from app.store.exports import online_cap
from app.store.orders import OrderBook
from app.store.outbox import OutboxRow

log = logging.getLogger(__name__)
# Calls a spread-out push leaves free in each rate-limit window for pulling orders.
RESERVED_CALLS = 5


@dataclass(slots=True)
class DrainOutcome:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class StockTarget:
    row: OutboxRow
    listing_id: int
    record: ChannelListing
    quantity: float
    changed_at: float | None
    cost: float | None = None
    product_id: int | None = None


class StockPusher:
    def __init__(self, db: Database, book: OrderBook) -> None:
        self.db = db
        self.book = book

    def targets(
        self, channel: Channel, rows: list[OutboxRow]
    ) -> tuple[list[StockTarget], list[tuple[OutboxRow, str]]]:
        """What each stock row should send now; rows with nothing to send, with the reason."""
        skipped: list[tuple[OutboxRow, str]] = []
        if not channel_setting(channel.settings, "push_stock"):
            return [], [(row, "sending stock to this channel is switched off") for row in rows]
        buffer = float(channel_setting(channel.settings, "stock_buffer"))
        targets = []
        for row in rows:
            listing = self.db.one(
                "SELECT l.*, pl.product_id FROM listings l JOIN product_links pl ON pl.listing_id = l.id"
                " WHERE l.id = ? AND l.ignored = 0",
                (int(row.target),),
            )
            if listing is None:
                skipped.append((row, "listing no longer linked"))
                continue
            level = self.book.ledger.level(listing["product_id"])
            cost = self.db.scalar(
                "SELECT cost_price FROM products WHERE id = ?", (listing["product_id"],)
            )
            changed = self.db.scalar(
                "SELECT MAX(created_at) FROM stock_movements WHERE product_id = ?",
                (listing["product_id"],),
            )
            quantity = max(0.0, level.sellable - buffer)
            cap = online_cap(self.db, listing["product_id"])  # a stock master's max_online
            if cap is not None:
                quantity = min(quantity, cap)
            targets.append(
                StockTarget(
                    row=row,
                    listing_id=listing["id"],
                    record=self.book.channels.listing_as_record(dict(listing)),
                    quantity=quantity,
                    changed_at=changed,
                    cost=cost,
                    product_id=listing["product_id"],
                )
            )
        return targets, skipped

    async def push(
        self,
        client: ChannelClient,
        channel: Channel,
        rows: list[OutboxRow],
        outcome: DrainOutcome,
        on_error: Callable[[OutboxRow, BaseException], None],
        progress: Callable[[], None],
    ) -> None:
        outbox = self.book.outbox
        if CAP_STOCK_PUSH not in client.capabilities and CAP_STOCK_BATCH not in client.capabilities:
            for row in rows:
                outbox.mark_done(row, note="stock is not pushed to this channel")
            return
        targets, skipped = self.targets(channel, rows)
        for row, why in skipped:
            outbox.mark_done(row, note=why)
        if not targets:
            return
        if CAP_STOCK_BATCH in client.capabilities and hasattr(client, "push_stock_batch"):
            await self._batch(client, targets, outcome, on_error, progress, channel)
            return
        planner = getattr(client, "plan_stock", None)
        now_targets = targets
        if planner is not None and len(targets) > 1:
            now_targets = self._spread(planner, targets)
        for target in now_targets:
            try:
                await client.push_stock(target.record, target.quantity)
            except Exception as exc:  # ChannelError subclasses; the caller sorts them
                on_error(target.row, exc)
                continue
            self._sent(target, outcome, progress)

    def _spread(self, planner, targets: list[StockTarget]) -> list[StockTarget]:
        """Ask the client's planner which pushes go now; postpone the rest by whole windows."""
        by_listing = {t.record.external_id: t for t in targets}
        waves, window = planner(
            [(t.record, t.quantity, t.changed_at) for t in targets], RESERVED_CALLS
        )
        planned: set[str] = set()
        now: list[StockTarget] = []
        for index, wave in enumerate(waves):
            for record, _quantity in wave:
                target = by_listing.get(record.external_id)
                if target is None:
                    continue
                planned.add(record.external_id)
                if index == 0:
                    now.append(target)
                else:
                    self.book.outbox.postpone(target.row, delay=index * window)
        for external_id, target in by_listing.items():
            if external_id not in planned:
                # The channel already shows this quantity: nothing to send.
                self.book.channels.set_listing_quantity(target.listing_id, target.quantity)
                self.book.outbox.mark_done(
                    target.row, note="the channel already shows this quantity"
                )
        return now

    def per_store(
        self, product_id: int, store_map: dict[str, int | None], buffer: float
    ) -> dict[str, float]:
        """What each store of ``store_map`` ({store: warehouse id}) should show of a product:
        that warehouse's available stock less the buffers, never below zero (a store
        standing for every warehouse, None, gets the product's whole available stock)."""
        product = self.book.ledger.level(product_id)
        rows = self.db.all(
            "SELECT warehouse_id, on_hand, committed FROM stock_levels WHERE product_id = ?",
            (product_id,),
        )
        levels = {r["warehouse_id"]: (r["on_hand"], r["committed"]) for r in rows}
        result = {}
        for store, warehouse in store_map.items():
            if warehouse is None:
                result[store] = max(0.0, product.sellable - buffer)
                continue
            on_hand, committed = levels.get(warehouse, (0.0, 0.0))
            # The product's safety buffer is held back in every store: a store never
            # shows what could oversell, whichever store the next order picks.
            quantity = channel_quantity(on_hand, committed, product.safety_buffer)
            result[store] = max(0.0, quantity - buffer)
        return result

    async def _batch(
        self,
        client,
        targets: list[StockTarget],
        outcome: DrainOutcome,
        on_error,
        progress,
        channel: Channel | None = None,
    ) -> None:
        try:
            by_store = getattr(client, "push_stock_by_store", None)
            with_costs = getattr(client, "push_stock_with_costs", None)
            store_map = getattr(client, "store_map", None)
            if by_store is not None and store_map and channel is not None:
                # RetailCRM with mapped stores: each store gets its warehouse's stock.
                buffer = float(channel_setting(channel.settings, "stock_buffer"))
                answer = await by_store(
                    [
                        (t.record, self.per_store(t.product_id, store_map, buffer), t.cost)
                        for t in targets
                        if t.product_id is not None
                    ]
                )
            elif with_costs is not None:  # RetailCRM keeps purchase prices beside stock
                answer = await with_costs([(t.record, t.quantity, t.cost) for t in targets])
            else:
                answer = await client.push_stock_batch([(t.record, t.quantity) for t in targets])
            unknown = set(answer)
        except Exception as exc:
            for target in targets:
                on_error(target.row, exc)
            return
        for target in targets:
            if target.record.external_id in unknown:
                self.book.outbox.mark_failed(
                    target.row,
                    error=f"{target.record.sku or target.record.external_id} is unknown on the channel",
                )
                outcome.failed += 1
            else:
                self._sent(target, outcome, progress)

    def _sent(self, target: StockTarget, outcome: DrainOutcome, progress) -> None:
        self.book.channels.set_listing_quantity(target.listing_id, target.quantity)
        if self.book.outbox.mark_done(target.row):
            outcome.sent += 1
            progress()
