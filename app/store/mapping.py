"""Product mapping: which local product each channel listing gets its stock from.

Every change goes through ``MappingRepo.apply``: one transaction that writes the links,
moves the reservations of open orders whose listing changed product, releases the
orders waiting for a product, sets opening stock for products made from listings,
queues the stock pushes, and records the previous mapping of every listing it touched
as a batch, so ``undo`` can put back exactly what was there.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app.core.catalog_csv import RowProblem
from app.core.mapping import EMPTY_SKU, ListingView, plan_sku_links
from app.core.mapping_csv import listing_words, plan_product_import, write_product_mappings
from app.core.models import LinkMethod
from app.core.stock import normalise_sku
from app.core.suggest import ListingFacts, ProductFacts, ProductIndex, Suggestion
from app.store.catalog import Catalog
from app.store.channels import Channel, ChannelRepo
from app.store.db import Database
from app.store.exports import is_stock_master
from app.store.ledger import Ledger
from app.store.orders import OrderBook

NO_SKU = "no_sku"
DUPLICATE_LISTINGS = "duplicate_listings"
SEVERAL_PRODUCTS = "several_products"
STALE_LINK = "stale_link"


@dataclass(slots=True)
class MappingOutcome:
    linked: int = 0
    conflicts: list[dict] = field(default_factory=list)
    unmapped: list[dict] = field(default_factory=list)
    released: int = 0
    created: int = 0
    batch_id: int | None = None


class MappingError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ListingChange:
    """What to do to one listing. Unset fields leave that part of its mapping alone."""

    listing_id: int
    product_id: int | None = None  # link to this product
    unlink: bool = False
    create: bool = False  # make a product from the listing (or use the one with its SKU)
    ignored: bool | None = None
    method: LinkMethod | None = None  # how the link was decided; default from the channel


@dataclass(slots=True)
class BatchOutcome:
    batch_id: int | None = None
    linked: int = 0
    unlinked: int = 0
    ignored: int = 0
    unignored: int = 0
    created: int = 0
    unchanged: int = 0
    released: int = 0  # held orders whose stock is now reserved
    reheld: int = 0  # orders waiting again: their listing lost its product
    skipped: list[str] = field(default_factory=list)  # undo: listings changed since
    buyers: int = 0  # undo: buyer links put back

    def text(self) -> str:
        """What the batch did, in a sentence or two."""
        parts = [
            f"{verb} {n:,} {noun}{'' if n == 1 else 's'}"
            for verb, n, noun in (
                ("linked", self.linked, "listing"),
                ("created", self.created, "product"),
                ("unlinked", self.unlinked, "listing"),
                ("ignored", self.ignored, "listing"),
                ("stopped ignoring", self.unignored, "listing"),
            )
            if n
        ]
        if self.buyers:
            parts.append(f"put back the links of {_n(self.buyers, 'buyer')}")
        text = (", ".join(parts) or "nothing changed").capitalize() + "."
        if self.released:
            text += f" {_n(self.released, 'waiting order')} released and stock reserved."
        if self.reheld:
            text += f" {_n(self.reheld, 'order')} wait for a product again."
        if self.skipped:
            text += f" {_n(len(self.skipped), 'listing')} changed since and were left as they are."
        return text


@dataclass(slots=True)
class Conflict:
    listing: dict
    kind: str
    reason: str
    suggestions: list[Suggestion]


@dataclass(slots=True)
class MappingPlan:
    """What the wizard shows for one channel before anything is written."""

    channel: str
    mode: str
    auto: list[tuple[dict, ProductFacts]]  # exact, unique SKUs: the automatic links
    conflicts: list[Conflict]
    unmapped: list[dict]
    held_orders: int
    index: ProductIndex

    def suggest(self, listing: dict, limit: int = 5) -> list[Suggestion]:
        return self.index.suggest(_facts(listing), limit=limit)


@dataclass(slots=True)
class CsvImport:
    dry_run: bool
    rows: int = 0
    changes: list[dict] = field(default_factory=list)  # line, listing, name, before, after
    unchanged: int = 0
    refused: list[RowProblem] = field(default_factory=list)
    outcome: Any = None  # the applied batch (BatchOutcome, or CustomerOutcome for buyers)


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _facts(row: dict) -> ListingFacts:
    return ListingFacts(row["sku"], row["name"], row.get("mpn") or "", row.get("barcode") or "")


def links_only(channel: Channel) -> Channel:
    """The channel as the order book should see it when only stored links may map lines.

    ``release_held`` otherwise also links listings by exact SKU on 'sku' channels, which
    would quietly undo an unlink or an undo the merchant just made.
    """
    return dataclasses.replace(channel, mapping_mode="id")


# -- reads the screens share (any connection) ---------------------------------------------
def new_listings(
    db: Database, *, channel_id: int | None = None, since: float | None = None
) -> list[dict]:
    """Listings that appeared after their channel was set up and still need a product.

    ``since`` keeps only those first seen after that time (for "3 new listings" notices).
    """
    sql = (
        "SELECT l.id, l.channel_id, c.name AS channel, l.external_id, l.sku, l.name,"
        " l.first_seen FROM listings l JOIN channels c ON c.id = l.channel_id"
        " LEFT JOIN product_links pl ON pl.listing_id = l.id"
        " WHERE l.is_new = 1 AND l.ignored = 0 AND pl.listing_id IS NULL"
    )
    args: list = []
    if channel_id is not None:
        sql += " AND l.channel_id = ?"
        args.append(channel_id)
    if since is not None:
        sql += " AND l.first_seen > ?"
        args.append(since)
    return [dict(r) for r in db.all(sql + " ORDER BY l.first_seen, l.id", tuple(args))]


def undoable_batch(db: Database, channel_id: int | None = None) -> dict | None:
    """The latest change that can still be undone (optionally of one channel)."""
    where = " AND b.channel_id = ?" if channel_id is not None else ""
    row = db.one(
        "SELECT b.*, c.name AS channel FROM mapping_batches b JOIN channels c"
        f" ON c.id = b.channel_id WHERE b.undone_at IS NULL{where} ORDER BY b.id DESC LIMIT 1",
        (channel_id,) if channel_id is not None else (),
    )
    return None if row is None else dict(row)


def orders_released_by(
    db: Database, channel_id: int, will_link: set[str], will_ignore: Iterable[str] = ()
) -> int:
    """How many waiting orders would be released if the listings ``will_link`` got a product
    and the listings ``will_ignore`` were ignored (an ignored listing holds no stock)."""
    linked = {
        r[0]
        for r in db.all(
            "SELECT l.external_id FROM listings l LEFT JOIN product_links pl"
            " ON pl.listing_id = l.id WHERE l.channel_id = ?"
            " AND (pl.listing_id IS NOT NULL OR l.ignored = 1)",
            (channel_id,),
        )
    }
    linked |= set(will_ignore)
    waiting: dict[int, bool] = {}
    for order_id, ref in db.all(
        "SELECT o.id, ln.listing_ref FROM orders o JOIN order_lines ln ON ln.order_id = o.id"
        " WHERE o.channel_id = ? AND o.needs_mapping = 1 AND ln.product_id IS NULL"
        " AND ln.fulfil = 1 AND ln.quantity > 0",
        (channel_id,),
    ):
        covered = ref in will_link or ref in linked
        waiting[order_id] = waiting.get(order_id, True) and covered
    return sum(waiting.values())


def start_batch(db: Database, channel_id: int, source: str) -> int:
    """A new batch row inside the caller's transaction."""
    return int(
        db.conn.execute(
            "INSERT INTO mapping_batches (channel_id, source, created_at) VALUES (?, ?, ?)",
            (channel_id, source, time.time()),
        ).lastrowid
    )


# Links the import makes by exact SKU go into one automatic batch per import pass: pages
# read within this long of the batch's start, with no other mapping change in between.
IMPORT_PASS_SECONDS = 900.0


def record_automatic_links(
    db: Database,
    channel_id: int,
    links: list[tuple[int, int, int]],
    *,
    batch_id: int | None = None,
) -> int:
    """Record links made by exact SKU (listing id, product id, was new) as an undoable batch.

    Into ``batch_id`` when given (the merchant's change that made them), else the channel's
    open import batch of this pass, else a new one. Returns the batch id.
    """
    with db.transaction() as conn:
        if batch_id is None:
            latest = db.one(
                "SELECT id, source, created_at, undone_at FROM mapping_batches"
                " WHERE channel_id = ? ORDER BY id DESC LIMIT 1",
                (channel_id,),
            )
            if (
                latest is not None
                and latest["source"] == "import"
                and latest["undone_at"] is None
                and time.time() - latest["created_at"] < IMPORT_PASS_SECONDS
            ):
                batch_id = int(latest["id"])
            else:
                batch_id = start_batch(db, channel_id, "import")
        # The listing had no link and was not ignored, or the SKU would not have linked it.
        conn.executemany(
            "INSERT INTO mapping_batch_items (batch_id, listing_id, old_product_id, old_method,"
            " old_linked_at, old_ignored, old_is_new, new_product_id, new_method, new_ignored)"
            " VALUES (?, ?, NULL, NULL, NULL, 0, ?, ?, ?, 0) ON CONFLICT (batch_id, listing_id)"
            " DO UPDATE SET new_product_id = excluded.new_product_id,"
            " new_method = excluded.new_method",
            [
                (batch_id, listing_id, was_new, product_id, str(LinkMethod.SKU))
                for listing_id, product_id, was_new in links
            ],
        )
        source = db.scalar("SELECT source FROM mapping_batches WHERE id = ?", (batch_id,))
        if source == "import":
            count = int(
                db.scalar(
                    "SELECT COUNT(*) FROM mapping_batch_items WHERE batch_id = ?", (batch_id,)
                )
            )
            conn.execute(
                "UPDATE mapping_batches SET summary = ? WHERE id = ?",
                (f"Linked {_n(count, 'listing')} by SKU as their orders arrived.", batch_id),
            )
    return batch_id


@dataclass(frozen=True, slots=True)
class _State:
    product_id: int | None
    method: str | None
    linked_at: float | None
    ignored: int


class MappingRepo:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.channels = ChannelRepo(db)
        self.catalog = Catalog(db)
        self.book = OrderBook(db)

    # -- reading ----------------------------------------------------------------------
    def _views(self, channel: Channel) -> tuple[list[dict], list[ListingView]]:
        rows = self.channels.listings(channel.id)
        views = [
            ListingView(
                r["id"], r["external_id"], r["sku"], r["product_id"] is not None, bool(r["ignored"])
            )
            for r in rows
        ]
        return rows, views

    def product_index(self) -> ProductIndex:
        rows = self.db.all("SELECT id, sku, name, barcode FROM products")
        return ProductIndex(ProductFacts(r[0], r[1], r[2], r[3]) for r in rows)

    def plan(self, channel: Channel) -> MappingPlan:
        """What links automatically, what conflicts (with ranked suggestions), what is left."""
        rows, views = self._views(channel)
        index = self.product_index()
        by_id = {r["id"]: r for r in rows}
        base = plan_sku_links(views, index.by_sku)
        per_sku = Counter(r["sku"] for r in rows if r["sku"])
        conflicts: list[Conflict] = []

        def conflict(row: dict, kind: str, reason: str) -> None:
            conflicts.append(Conflict(row, kind, reason, index.suggest(_facts(row))))

        for listing_id, reason in base.conflicts:
            row = by_id[listing_id]
            if reason == EMPTY_SKU:
                conflict(row, NO_SKU, "The listing has no SKU on the channel.")
            else:
                conflict(
                    row,
                    DUPLICATE_LISTINGS,
                    f"{per_sku[row['sku']]} listings on this channel use SKU {row['sku']}.",
                )
        unmapped = []
        for listing_id, _ in base.unmapped:
            row = by_id[listing_id]
            several = index.loose_matches(row["sku"])
            if len(several) > 1:
                skus = ", ".join(sorted(p.sku for p in several))
                conflict(
                    row,
                    SEVERAL_PRODUCTS,
                    f"SKU {row['sku']} matches several of your products apart from case"
                    f" or spaces ({skus}).",
                )
            else:
                unmapped.append(row)
        for row in rows:
            other = index.by_sku.get(row["sku"]) if row["sku"] else None
            if row["ignored"] or row["product_id"] is None:
                continue
            if other is not None and other != row["product_id"]:
                conflict(
                    row,
                    STALE_LINK,
                    f"Linked to {row['product_sku']}, but its SKU {row['sku']} is the SKU of your"
                    f" product {index.products[other].label}. Was the SKU changed on the channel?",
                )
        held = self.db.scalar(
            "SELECT COUNT(*) FROM orders WHERE channel_id = ? AND needs_mapping = 1", (channel.id,)
        )
        auto = [(by_id[lid], index.products[pid]) for lid, pid in base.links]
        return MappingPlan(
            channel.name, channel.mapping_mode, auto, conflicts, unmapped, int(held), index
        )

    # -- the existing entry points (CLI, sync engine, demo) -----------------------------
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
        changes = [
            ListingChange(lid, product_id=pid, method=LinkMethod.SKU) for lid, pid in plan.links
        ]
        batch = self.apply(channel, changes, source="auto", sku_fallback=True)
        return MappingOutcome(
            linked=batch.linked,
            conflicts=[_describe(by_id[i], reason) for i, reason in plan.conflicts],
            unmapped=[_describe(by_id[i], reason) for i, reason in plan.unmapped],
            released=batch.released,
            batch_id=batch.batch_id,
        )

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
        change = ListingChange(listing["id"], product_id=product.id)
        batch = self.apply(channel, [change], source="table", sku_fallback=True)
        return MappingOutcome(linked=1, released=batch.released, batch_id=batch.batch_id)

    def adopt(self, channel: Channel) -> MappingOutcome:
        """Create local products from the channel's unlinked listings.

        The channel's quantity is what it offers for sale now: a shop has already
        taken its open orders off it. So the opening stock is set, after those orders
        are processed, to make available equal the channel's quantity — on hand then
        still includes what new orders have reserved.
        """
        rows, views = self._views(channel)
        plan = plan_sku_links(views, {})
        by_id = {r["id"]: r for r in rows}
        changes = [ListingChange(i, create=True, method=LinkMethod.SKU) for i, _ in plan.unmapped]
        batch = self.apply(channel, changes, source="adopt", sku_fallback=True)
        return MappingOutcome(
            linked=batch.linked,
            conflicts=[_describe(by_id[i], reason) for i, reason in plan.conflicts],
            released=batch.released,
            created=batch.created,
            batch_id=batch.batch_id,
        )

    # -- the merchant's changes -----------------------------------------------------------
    def set_mode(self, channel: Channel, mode: str) -> Channel:
        """Link this channel's listings by SKU (automatic) or by listing id (by hand)."""
        if mode not in ("sku", "id"):
            raise MappingError("Mapping must be 'sku' or 'id'.")
        return self.channels.update(channel.name, mapping_mode=mode)

    def link_by_sku(self, channel: Channel, listing_ids: Iterable[int]) -> BatchOutcome:
        """Link the chosen listings whose SKU is exact and unique on both sides; not the rest."""
        wanted = set(listing_ids)
        rows, views = self._views(channel)
        index = self.product_index()
        plan = plan_sku_links(views, index.by_sku)
        changes = [
            ListingChange(lid, product_id=pid, method=LinkMethod.SKU)
            for lid, pid in plan.links
            if lid in wanted
        ]
        outcome = self.apply(channel, changes, source="bulk")
        outcome.unchanged += len(wanted) - len(changes)
        return outcome

    def apply(
        self,
        channel: Channel,
        changes: Iterable[ListingChange],
        *,
        source: str,
        sku_fallback: bool = False,
    ) -> BatchOutcome:
        """Apply mapping changes to ``channel``'s listings as one undoable batch.

        ``sku_fallback`` lets held orders also be mapped by exact SKU (the automatic rule
        of 'sku' channels); the merchant's own changes map by their links only.
        """
        # A listing named twice: the last change wins, as it would one after the other.
        changes = list({c.listing_id: c for c in changes}.values())
        out = BatchOutcome()
        if not changes:
            return out
        conn = self.db.conn
        default_method = LinkMethod.ID if channel.mapping_mode == "id" else LinkMethod.MANUAL
        now = time.time()
        with self.db.transaction():
            current = self._states(channel.id, {c.listing_id for c in changes})
            missing = {c.listing_id for c in changes} - set(current)
            if missing:
                raise MappingError(f"{channel.name} has no listing with id {min(missing)}.")
            self._check_products({c.product_id for c in changes if c.product_id is not None})
            held_before = self._held(channel.id)
            opening: dict[int, float] = {}
            items: list[tuple] = []
            moved: dict[str, int] = {}
            touched_products: set[int] = set()
            for change in changes:
                row, old = current[change.listing_id]
                product, method, linked_at, created = old.product_id, old.method, old.linked_at, 0
                if change.create:
                    product, created = self._product_for(row, opening)
                elif change.unlink:
                    product = None
                elif change.product_id is not None:
                    product = change.product_id
                if product != old.product_id:
                    method = None if product is None else str(change.method or default_method)
                    linked_at = None if product is None else now
                ignored = old.ignored if change.ignored is None else int(change.ignored)
                new = _State(product, method, linked_at, ignored)
                if new == old:
                    out.unchanged += 1
                    if row["is_new"]:  # only seen: recorded so an undo marks it new again
                        items.append((change.listing_id, old, new, 0, row))
                    continue
                items.append((change.listing_id, old, new, created, row))
                if product != old.product_id:
                    if product is None:
                        out.unlinked += 1
                    else:
                        out.linked += 1
                    if old.product_id is not None:
                        moved[row["external_id"]] = old.product_id
                if ignored != old.ignored:
                    out.ignored += ignored
                    out.unignored += 1 - ignored
                out.created += created
                touched_products.update(p for p in (product, old.product_id) if p is not None)
            if items:
                out.batch_id = start_batch(self.db, channel.id, source)
                self._record(out.batch_id, items)
            # The merchant has decided on every listing named, changed or not: none is new.
            conn.executemany(
                "UPDATE listings SET is_new = 0 WHERE id = ? AND is_new = 1",
                [(c.listing_id,) for c in changes],
            )
            if not items:
                return out
            self._write([(lid, new) for lid, _, new, _, _ in items])
            touched_products |= self._move_reservations(channel, moved)
            # An ignored listing without a product holds no stock: orders stop (or start)
            # waiting for it. Recorded per order so an undo puts the queue back exactly.
            excused = {
                row["external_id"]
                for _, old, new, _, row in items
                if _excused(old) != _excused(new)
            }
            self._requeue(channel, out.batch_id, excused)
            waiting = self._waiting_lines(channel.id)
            self.book.release_held(
                channel if sku_fallback else links_only(channel), batch_id=out.batch_id
            )
            # Listings the SKU rule linked on the way are in the batch too.
            out.linked += int(
                self.db.scalar(
                    "SELECT COUNT(*) FROM mapping_batch_items WHERE batch_id = ?",
                    (out.batch_id,),
                )
            ) - len(items)
            # Lines this batch gave a product: an undo takes exactly these back.
            conn.executemany(
                "INSERT INTO mapping_batch_lines (batch_id, order_line_id)"
                " SELECT ?, id FROM order_lines WHERE id = ? AND product_id IS NOT NULL",
                [(out.batch_id, line_id) for line_id in waiting],
            )
            held_after = self._held(channel.id)
            out.released = len(held_before - held_after)
            out.reheld = len(held_after - held_before)
            self._opening_stock(channel, opening)
            self._push(touched_products | set(opening))
            conn.execute(
                "UPDATE mapping_batches SET summary = ?, released = ? WHERE id = ?",
                (out.text(), out.released, out.batch_id),
            )
        return out

    def undo(self, batch_id: int | None = None, *, channel: Channel | None = None) -> BatchOutcome:
        """Put back the mapping a batch replaced, exactly, and re-settle the orders.

        Listings (or buyers) changed since the batch keep their newer mapping; a later
        batch that touched the same listings must be undone first.
        """
        with self.db.transaction() as conn:
            if batch_id is None:
                latest = undoable_batch(self.db, channel.id if channel else None)
                if latest is None:
                    raise MappingError("There is no mapping change to undo.")
                batch_id = int(latest["id"])
            batch = self.db.one("SELECT * FROM mapping_batches WHERE id = ?", (batch_id,))
            if batch is None:
                raise MappingError(f"There is no mapping change {batch_id}.")
            if batch["undone_at"] is not None:
                raise MappingError("That change was undone already.")
            later = self.db.scalar(
                "SELECT MIN(b.id) FROM mapping_batches b WHERE b.id > ? AND b.undone_at IS NULL"
                " AND (EXISTS (SELECT 1 FROM mapping_batch_items i JOIN mapping_batch_items mine"
                " ON mine.listing_id = i.listing_id AND mine.batch_id = ? WHERE i.batch_id = b.id)"
                " OR EXISTS (SELECT 1 FROM mapping_batch_customers i JOIN mapping_batch_customers"
                " mine ON mine.channel_id = i.channel_id AND mine.external_ref = i.external_ref"
                " AND mine.batch_id = ? WHERE i.batch_id = b.id))",
                (batch_id, batch_id, batch_id),
            )
            if later is not None:
                raise MappingError(
                    "A later change touched the same records; undo that one first"
                    f" ({self.db.scalar('SELECT summary FROM mapping_batches WHERE id = ?', (later,))})."
                )
            target = self.channels.by_id(batch["channel_id"])
            out = BatchOutcome(batch_id=batch_id)
            held_before = self._held(target.id)
            items = self.db.all(
                "SELECT i.*, l.external_id, l.ignored, pl.product_id, pl.method, pl.created_at"
                " FROM mapping_batch_items i JOIN listings l ON l.id = i.listing_id"
                " LEFT JOIN product_links pl ON pl.listing_id = i.listing_id WHERE i.batch_id = ?",
                (batch_id,),
            )
            restore: list[tuple[int, _State]] = []
            moved: dict[str, int] = {}
            touched: set[int] = set()
            for it in items:
                now_state = (it["product_id"], it["method"], it["ignored"])
                if now_state != (it["new_product_id"], it["new_method"], it["new_ignored"]):
                    out.skipped.append(it["external_id"])
                    continue
                old = _State(
                    it["old_product_id"], it["old_method"], it["old_linked_at"], it["old_ignored"]
                )
                restore.append((it["listing_id"], old))
                if it["new_product_id"] != old.product_id:
                    if it["new_product_id"] is not None:
                        moved[it["external_id"]] = it["new_product_id"]
                    out.linked += old.product_id is not None
                    out.unlinked += old.product_id is None
                if it["new_ignored"] != old.ignored:
                    out.ignored += old.ignored
                    out.unignored += 1 - old.ignored
                touched.update(p for p in (it["new_product_id"], old.product_id) if p is not None)
            self._write(restore)
            skipped = set(out.skipped)
            conn.executemany(
                "UPDATE listings SET is_new = ? WHERE id = ?",
                [
                    (it["old_is_new"], it["listing_id"])
                    for it in items
                    if it["external_id"] not in skipped
                ],
            )
            restored = {it["external_id"] for it in items} - skipped
            lines = [
                ln
                for ln in self.db.all(
                    f"SELECT {_LINE} FROM mapping_batch_lines bl JOIN order_lines ln"
                    " ON ln.id = bl.order_line_id WHERE bl.batch_id = ?"
                    " AND ln.product_id IS NOT NULL",
                    (batch_id,),
                )
                if ln["listing_ref"] in restored
            ]
            touched |= self._unhold(target, lines)
            touched |= self._move_reservations(target, moved)
            recorded = self._restore_queue(batch_id, exact=not skipped)
            # Orders imported since the batch, waiting or not for a listing it (un)ignored.
            unexcused = {
                it["external_id"]
                for it in items
                if it["external_id"] not in skipped
                and _excused(_State(it["new_product_id"], None, None, it["new_ignored"]))
                != _excused(_State(it["old_product_id"], None, None, it["old_ignored"]))
            }
            self._requeue(target, None, unexcused, skip=recorded)
            self.book.release_held(links_only(target))
            held_after = self._held(target.id)
            out.released = len(held_before - held_after)
            out.reheld = len(held_after - held_before)
            out.buyers, skipped_buyers = _restore_customer_links(self.db, batch_id)
            out.skipped += skipped_buyers
            self._push(touched)
            conn.execute(
                "UPDATE mapping_batches SET undone_at = ? WHERE id = ?", (time.time(), batch_id)
            )
        return out

    # -- spreadsheets ----------------------------------------------------------------------
    def export_csv(self, channel: Channel, *, unmapped_only: bool = False) -> str:
        """The channel's listings and their links; with ``unmapped_only`` the template to fill."""
        rows = []
        where = " AND pl.listing_id IS NULL AND l.ignored = 0" if unmapped_only else ""
        for r in self.db.all(
            "SELECT l.*, p.sku AS product_sku, p.name AS product_name FROM listings l"
            " LEFT JOIN product_links pl ON pl.listing_id = l.id"
            " LEFT JOIN products p ON p.id = pl.product_id"
            f" WHERE l.channel_id = ?{where} ORDER BY l.sku, l.external_id",
            (channel.id,),
        ):
            r = dict(r)
            rows.append(
                {
                    "channel": channel.name,
                    "listing": r["external_id"],
                    "listing_sku": r["sku"],
                    "listing_name": r["name"],
                    "barcode": r["barcode"] or r["mpn"],
                    "channel_quantity": r["quantity"],
                    "product_sku": r["product_sku"] or "",
                    "product_name": r["product_name"] or "",
                    "state": listing_words(r["product_sku"], bool(r["ignored"])),
                    "action": "ignore" if r["ignored"] else "",
                }
            )
        return write_product_mappings(rows)

    def import_csv(self, channel: Channel, data: bytes, *, dry_run: bool) -> CsvImport:
        """Check a filled mapping file; unless ``dry_run``, apply the good rows as one batch.

        A file that cannot be read at all raises ``MappingFileError``.
        """
        listings = {
            r["external_id"]: r
            for r in self.db.all(
                "SELECT l.id, l.external_id, l.name, l.ignored, p.sku AS product_sku FROM listings l"
                " LEFT JOIN product_links pl ON pl.listing_id = l.id"
                " LEFT JOIN products p ON p.id = pl.product_id WHERE l.channel_id = ?",
                (channel.id,),
            )
        }
        products = dict(self.db.all("SELECT sku, id FROM products"))
        plan = plan_product_import(data, channel.name, listings, products)
        result = CsvImport(dry_run, plan.rows, plan.changes, plan.unchanged, plan.refused)
        if not dry_run and plan.edits:
            changes = [
                ListingChange(
                    e.listing_id, product_id=e.product_id, unlink=e.unlink, ignored=e.ignored
                )
                for e in plan.edits
            ]
            result.outcome = self.apply(channel, changes, source="csv")
        return result

    # -- internals --------------------------------------------------------------------------
    def _states(self, channel_id: int, ids: set[int]) -> dict[int, tuple[dict, _State]]:
        found: dict[int, tuple[dict, _State]] = {}
        sql = (
            "SELECT l.id, l.external_id, l.sku, l.name, l.barcode, l.quantity, l.ignored,"
            " l.is_new, pl.product_id, pl.method, pl.created_at FROM listings l"
            " LEFT JOIN product_links pl ON pl.listing_id = l.id WHERE l.channel_id = ?"
        )
        if len(ids) < 500:
            sql += f" AND l.id IN ({','.join(str(int(i)) for i in ids)})"
        for r in self.db.all(sql, (channel_id,)):
            if r["id"] in ids:
                state = _State(r["product_id"], r["method"], r["created_at"], r["ignored"])
                found[r["id"]] = (dict(r), state)
        return found

    def _check_products(self, ids: set[int]) -> None:
        known = {
            r[0]
            for chunk in _chunks(sorted(ids))
            for r in self.db.all(
                f"SELECT id FROM products WHERE id IN ({','.join('?' * len(chunk))})", tuple(chunk)
            )
        }
        if ids - known:
            raise MappingError(f"There is no product with id {min(ids - known)}.")

    def _product_for(self, row: dict, opening: dict[int, float]) -> tuple[int, int]:
        """The product made from a listing (its SKU, name, barcode); an existing one if any."""
        sku = normalise_sku(row["sku"])
        if not sku:
            raise MappingError(
                f"Listing {row['external_id']} has no SKU, so no product can be made from it;"
                " link it to one of your products instead."
            )
        product = self.catalog.by_sku(sku)
        if product is not None:
            return product.id, 0
        product = self.catalog.add_product(sku, row["name"], barcode=row["barcode"])
        opening[product.id] = float(row["quantity"] or 0)
        return product.id, 1

    def _record(self, batch_id: int, items: list[tuple]) -> None:
        self.db.conn.executemany(
            "INSERT INTO mapping_batch_items (batch_id, listing_id, old_product_id, old_method,"
            " old_linked_at, old_ignored, old_is_new, new_product_id, new_method, new_ignored,"
            " created_product) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    batch_id,
                    lid,
                    *_tuple(old),
                    row["is_new"],
                    new.product_id,
                    new.method,
                    new.ignored,
                    created,
                )
                for lid, old, new, created, row in items
            ],
        )

    def _write(self, states: list[tuple[int, _State]]) -> None:
        conn = self.db.conn
        conn.executemany(
            "INSERT INTO product_links (listing_id, product_id, method, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (listing_id) DO UPDATE SET"
            " product_id = excluded.product_id, method = excluded.method,"
            " created_at = excluded.created_at",
            [(lid, s.product_id, s.method, s.linked_at) for lid, s in states if s.product_id],
        )
        conn.executemany(
            "DELETE FROM product_links WHERE listing_id = ?",
            [(lid,) for lid, s in states if s.product_id is None],
        )
        conn.executemany(
            "UPDATE listings SET ignored = ? WHERE id = ? AND ignored != ?",
            [(s.ignored, lid, s.ignored) for lid, s in states],
        )

    def _held(self, channel_id: int) -> set[int]:
        return {
            r[0]
            for r in self.db.all(
                "SELECT id FROM orders WHERE channel_id = ? AND needs_mapping = 1", (channel_id,)
            )
        }

    def _waiting_lines(self, channel_id: int) -> list[int]:
        return [
            r[0]
            for r in self.db.all(
                "SELECT ln.id FROM order_lines ln JOIN orders o ON o.id = ln.order_id"
                " WHERE o.channel_id = ? AND o.needs_mapping = 1 AND ln.product_id IS NULL",
                (channel_id,),
            )
        ]

    def _requeue(
        self,
        channel: Channel,
        batch_id: int | None,
        refs: set[str],
        *,
        skip: frozenset[int] = frozenset(),
    ) -> None:
        """Re-check the needs-mapping flag of orders with unmapped lines of listings ``refs``
        (just ignored, or no longer ignored) and record the flags that changed in the batch.

        ``skip``: orders whose flag was already put back.
        """
        if not refs:
            return
        conn = self.db.conn
        orders: dict[int, tuple[int, str]] = {}
        for r in self.db.all(
            "SELECT o.id, o.needs_mapping, ln.listing_ref FROM orders o JOIN order_lines ln"
            " ON ln.order_id = o.id WHERE o.channel_id = ? AND ln.product_id IS NULL",
            (channel.id,),
        ):
            if r["listing_ref"] in refs and r["id"] not in skip:
                orders.setdefault(r["id"], (r["needs_mapping"], r["listing_ref"]))
        changed = []
        for order_id, (old, ref) in orders.items():
            new = int(self.book._refresh_needs_mapping(order_id))
            if new == old:
                continue
            changed.append((batch_id, order_id, old, new))
            self.book.add_event(
                order_id,
                "mapping",
                f"Listing {ref} is ignored; the order no longer waits for it"
                if not new
                else f"Listing {ref} is no longer ignored; the order waits for its product",
            )
        if batch_id is not None:
            conn.executemany(
                "INSERT INTO mapping_batch_orders (batch_id, order_id, old_needs_mapping,"
                " new_needs_mapping) VALUES (?, ?, ?, ?)",
                changed,
            )

    def _restore_queue(self, batch_id: int, *, exact: bool) -> frozenset[int]:
        """Undo ``_requeue``: give the orders it released or held their previous flag.

        An order changed since (its flag is not what the batch left), or any listing of
        the batch left as it is, gets its flag worked out again instead. Returns the orders.
        """
        rows = self.db.all(
            "SELECT bo.order_id, bo.old_needs_mapping, bo.new_needs_mapping, o.needs_mapping"
            " FROM mapping_batch_orders bo JOIN orders o ON o.id = bo.order_id"
            " WHERE bo.batch_id = ?",
            (batch_id,),
        )
        for r in rows:
            if exact and r["needs_mapping"] == r["new_needs_mapping"]:
                self.db.conn.execute(
                    "UPDATE orders SET needs_mapping = ? WHERE id = ?",
                    (r["old_needs_mapping"], r["order_id"]),
                )
            else:
                self.book._refresh_needs_mapping(r["order_id"])
        return frozenset(r["order_id"] for r in rows)

    def _move_reservations(self, channel: Channel, moved: dict[str, int]) -> set[int]:
        """Take open orders' stock off the product a listing no longer links to.

        Orders not yet dispatched (reserved, or confirmed and still on the shelf) follow
        their listing: their lines wait for its new product, which ``release_held`` then
        reserves or deducts. Goods already sent stay recorded against what was sent.
        """
        if not moved:
            return set()
        lines = [
            ln
            for ln in self.db.all(
                f"SELECT {_LINE} FROM order_lines ln JOIN orders o ON o.id = ln.order_id"
                " WHERE o.channel_id = ? AND o.status IN ('requested', 'confirmed')"
                " AND o.history_only = 0 AND ln.product_id IS NOT NULL",
                (channel.id,),
            )
            if moved.get(ln["listing_ref"]) == ln["product_id"]
        ]
        return self._unhold(channel, lines)

    def _unhold(self, channel: Channel, lines: list) -> set[int]:
        """Give lines back their "waiting for a product" state, reversing what they hold."""
        conn = self.db.conn
        ledger = Ledger(self.db)
        orders: dict[int, str] = {}
        for ln in lines:
            ledger.record(
                ln["product_id"],
                ln["warehouse_id"],
                on_hand=ln["deducted"],
                committed=-ln["committed"],
                reason="mapping changed",
                note=f"{channel.name} listing {ln['listing_ref']} changed product",
                order_line_id=ln["id"],
            )
            conn.execute(
                "UPDATE order_lines SET product_id = NULL, committed = 0, deducted = 0"
                " WHERE id = ?",
                (ln["id"],),
            )
            orders[ln["order_id"]] = ln["listing_ref"]
        for order_id, ref in orders.items():
            conn.execute("UPDATE orders SET needs_mapping = 1 WHERE id = ?", (order_id,))
            self.book.add_event(
                order_id, "mapping", f"Listing {ref} changed product; its stock was released"
            )
        return {ln["product_id"] for ln in lines}

    def _opening_stock(self, channel: Channel, opening: dict[int, float]) -> None:
        if is_stock_master(channel):
            return  # its own per-location count sets the stock at the next sync
        ledger = Ledger(self.db)
        for product_id, quantity in opening.items():
            delta = quantity - ledger.level(product_id).available
            ledger.record(
                product_id,
                channel.warehouse_id,
                on_hand=delta,
                reason="opening stock",
                note=f"adopted from {channel.name}",
            )

    def _push(self, product_ids: set[int]) -> None:
        for chunk in _chunks(sorted(product_ids)):
            self.book.enqueue_stock_pushes(chunk)


def _restore_customer_links(db: Database, batch_id: int) -> tuple[int, list[str]]:
    """Put back the buyer links a batch replaced: how many, and the buyers changed since."""
    skipped: list[str] = []
    restored = 0
    conn = db.conn
    for it in db.all(
        "SELECT i.*, cl.customer_id AS now_id FROM mapping_batch_customers i"
        " LEFT JOIN customer_links cl ON cl.channel_id = i.channel_id"
        " AND cl.external_ref = i.external_ref WHERE i.batch_id = ?",
        (batch_id,),
    ):
        key = (it["channel_id"], it["external_ref"])
        if it["now_id"] != it["new_customer_id"]:
            skipped.append(it["external_ref"])
            continue
        if it["old_customer_id"] is None:
            conn.execute(
                "DELETE FROM customer_links WHERE channel_id = ? AND external_ref = ?", key
            )
        else:
            conn.execute(
                "INSERT INTO customer_links (channel_id, external_ref, customer_id, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (channel_id, external_ref) DO UPDATE SET"
                " customer_id = excluded.customer_id, created_at = excluded.created_at",
                (*key, it["old_customer_id"], it["old_linked_at"]),
            )
        restored += 1
        if it["created_customer"]:
            # Made by this batch and linked to nothing else now: it goes with the batch.
            conn.execute(
                "DELETE FROM customers WHERE id = ? AND NOT EXISTS"
                " (SELECT 1 FROM customer_links WHERE customer_id = ?)",
                (it["new_customer_id"], it["new_customer_id"]),
            )
    return restored, skipped


_LINE = (
    "ln.id, ln.order_id, ln.listing_ref, ln.product_id, ln.warehouse_id, ln.committed, ln.deducted"
)


def _excused(state: _State) -> bool:
    """Ignored and without a product: the listing's order lines wait for nothing."""
    return bool(state.ignored) and state.product_id is None


def _tuple(state: _State) -> tuple:
    return (state.product_id, state.method, state.linked_at, state.ignored)


def _chunks(values: list[int], size: int = 5000) -> Iterable[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _describe(row: dict, reason: str) -> dict:
    return {"listing": row["external_id"], "sku": row["sku"], "name": row["name"], "reason": reason}
