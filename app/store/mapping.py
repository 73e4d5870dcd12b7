"""Applying product mapping: automatic SKU links, manual links, adopting listings."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.mapping import ListingView, plan_sku_links
from app.core.models import LinkMethod
from app.core.stock import normalise_sku
from app.store.catalog import Catalog
from app.store.channels import Channel, ChannelRepo
from app.store.db import Database
from app.store.ledger import Ledger
from app.store.orders import OrderBook


@dataclass(slots=True)
class MappingOutcome:
    linked: int = 0
    conflicts: list[dict] = field(default_factory=list)
    unmapped: list[dict] = field(default_factory=list)
    released: int = 0
    created: int = 0


class MappingError(ValueError):
    pass


class MappingRepo:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.channels = ChannelRepo(db)
        self.catalog = Catalog(db)
        self.book = OrderBook(db)

    def _views(self, channel: Channel) -> tuple[list[dict], list[ListingView]]:
        rows = self.channels.listings(channel.id)
        views = [
            ListingView(
                r["id"], r["external_id"], r["sku"], r["product_id"] is not None, bool(r["ignored"])
            )
            for r in rows
        ]
        return rows, views

    def auto_link(self, channel: Channel) -> MappingOutcome:
        """Link every listing whose SKU is exact and unique on both sides; release held orders."""
        rows, views = self._views(channel)
        by_id = {r["id"]: r for r in rows}
        skus = {normalise_sku(v.sku) for v in views if v.sku}
        products = {}
        for sku in skus:
            product = self.catalog.by_sku(sku)
            if product is not None:
                products[sku] = product.id
        plan = plan_sku_links(views, products)
        outcome = MappingOutcome()
        with self.db.transaction():
            for listing_id, product_id in plan.links:
                self.channels.link(listing_id, product_id, LinkMethod.SKU)
            self.book.enqueue_stock_pushes({p for _, p in plan.links})
        outcome.linked = len(plan.links)
        outcome.conflicts = [_describe(by_id[i], reason) for i, reason in plan.conflicts]
        outcome.unmapped = [_describe(by_id[i], reason) for i, reason in plan.unmapped]
        outcome.released = self.book.release_held(channel)
        return outcome

    def link(self, channel: Channel, listing_external_id: str, sku: str) -> MappingOutcome:
        """The merchant links one listing to the local product with ``sku``."""
        listing = self.channels.listing(channel.id, listing_external_id)
        if listing is None:
            raise MappingError(
                f"{channel.name} has no listing '{listing_external_id}'. Run a sync first, or see"
                f" `stockbridge mapping list --channel {channel.name}`."
            )
        product = self.catalog.by_sku(sku)
        if product is None:
            raise MappingError(f"No local product has SKU '{sku}'.")
        method = LinkMethod.ID if channel.mapping_mode == "id" else LinkMethod.MANUAL
        with self.db.transaction():
            self.channels.link(listing["id"], product.id, method)
            self.book.enqueue_stock_pushes({product.id})
        outcome = MappingOutcome(linked=1)
        outcome.released = self.book.release_held(channel)
        return outcome

    def adopt(self, channel: Channel) -> MappingOutcome:
        """Create local products from the channel's unlinked listings.

        The channel's quantity is what it offers for sale now: a shop has already
        taken its open orders off it. So the opening stock is set, after those orders
        are processed, to make available equal the channel's quantity — on hand then
        still includes what new orders have reserved.
        """
        rows, views = self._views(channel)
        plan = plan_sku_links(views, {})
        outcome = MappingOutcome()
        by_id = {r["id"]: r for r in rows}
        ledger = Ledger(self.db)
        opening: dict[int, float] = {}
        with self.db.transaction():
            for listing_id, reason in plan.conflicts:
                outcome.conflicts.append(_describe(by_id[listing_id], reason))
            for listing_id, _ in plan.unmapped:
                row = by_id[listing_id]
                sku = normalise_sku(row["sku"])
                product = self.catalog.by_sku(sku)
                if product is None:
                    product = self.catalog.add_product(sku, row["name"], barcode=row["barcode"])
                    opening[product.id] = float(row["quantity"] or 0)
                    outcome.created += 1
                self.channels.link(listing_id, product.id, LinkMethod.SKU)
                outcome.linked += 1
            outcome.released = self.book.release_held(channel)
            for product_id, quantity in opening.items():
                delta = quantity - ledger.level(product_id).available
                ledger.record(
                    product_id,
                    channel.warehouse_id,
                    on_hand=delta,
                    reason="opening stock",
                    note=f"adopted from {channel.name}",
                )
            self.book.enqueue_stock_pushes(set(opening))
        return outcome


def _describe(row: dict, reason: str) -> dict:
    return {"listing": row["external_id"], "sku": row["sku"], "name": row["name"], "reason": reason}
