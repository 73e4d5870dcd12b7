"""The mapping reason the store keeps on each listing (listings.why, and the linked
product's SKU, listings.linked_sku) against the live ones.

The triggers of migration listing_why recompute ``why`` for the listings a change can
affect; the Products screen reads it instead of working it out. After every step of a
random sequence of changes, made through the store's own code (catalogue reads, links,
ignores, automatic linking, adopting, undo, order import) and through raw SQL (inserts,
SKU changes, deletes, links written directly, listings moved between channels), every
listing's stored reason and linked SKU must be exactly what the live query
(LISTING_SELECT, with _WHY, in app/ui/products_page.py) says. Each kind of change the
triggers handle is also made on its own, and must change exactly the listings it affects.
"""

from __future__ import annotations

import contextlib
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.models import ChannelListing, LinkMethod
from app.store.catalog import Catalog
from app.store.channels import ChannelRepo
from app.store.db import Database
from app.store.mapping import ListingChange, MappingError, MappingRepo
from app.store.orders import OrderBook
from app.ui.products_page import LISTING_SELECT
from tests.conftest import make_order

# Few SKUs, with case variants and an empty one: duplicates, "several" and stale links
# happen often.
LISTING_SKUS = ["KEG", "keg", "Keg", "CAP", "cap", "MUG", "PAN", "", "ZZZ"]
PRODUCT_SKUS = ["KEG", "keg", "Keg", "CAP", "cap", "MUG", "PAN", "TEE", "ZZZ"]
EXTERNAL_IDS = [f"P-{i}" for i in range(6)]
WHYS = {"linked", "stale", "ignored", "no_sku", "duplicate", "several", "exact", "none"}


def mismatches(db: Database) -> list[tuple]:
    """(listing, stored why and linked SKU, live ones) for every listing where they differ."""
    rows = db.all(
        "SELECT x.id, l.why, l.linked_sku, x.why, x.product_sku"
        f" FROM ({LISTING_SELECT}) x JOIN listings l ON l.id = x.id"
        " WHERE l.why IS NOT x.why OR l.linked_sku IS NOT x.product_sku"
    )
    count = db.scalar("SELECT COUNT(*) FROM listings")
    assert db.scalar(f"SELECT COUNT(*) FROM ({LISTING_SELECT})") == count
    return [tuple(r) for r in rows]


class Store:
    """Two channels and a catalogue, changed by the operations the test draws."""

    def __init__(self) -> None:
        self.db = Database(":memory:")
        self.channels = ChannelRepo(self.db)
        self.catalog = Catalog(self.db)
        self.mapping = MappingRepo(self.db)
        self.book = OrderBook(self.db)
        wid = self.catalog.default_warehouse_id()
        for name in ("Web shop", "Market"):
            channel = self.channels.add(name, "selldone", "http://127.0.0.1:1", warehouse_id=wid)
            self.channels.mark_first_import_done(channel.id)
        self.orders = 0

    def seed(self) -> None:
        """Every reason at once, so that each drawn change meets listings it can alter."""
        for sku in ("KEG", "keg", "CAP", "MUG"):
            self.catalog.add_product(sku, sku)
        self.read_catalogue(0, [("P-0", "KEG"), ("P-1", "CAP"), ("P-2", "CAP"), ("P-3", "")])
        self.read_catalogue(
            1, [("P-0", "MUG"), ("P-1", "ZZZ"), ("P-2", "CAP"), ("P-4", "Keg"), ("P-5", "KEG")]
        )
        products = {sku: self.catalog.by_sku(sku).id for sku in ("KEG", "CAP", "MUG")}
        self.channels.link(self.seeded(0, "P-0"), products["MUG"], LinkMethod.MANUAL)  # stale
        self.channels.link(self.seeded(1, "P-2"), products["CAP"], LinkMethod.SKU)  # linked
        self.db.execute("UPDATE listings SET ignored = 1 WHERE id = ?", (self.seeded(1, "P-5"),))

    def seeded(self, pick: int, external_id: str) -> int:
        return int(
            self.db.scalar(
                "SELECT id FROM listings WHERE channel_id = ? AND external_id = ?",
                (self.channel(pick).id, external_id),
            )
        )

    def channel(self, pick: int):
        every = self.channels.all()
        return every[pick % len(every)]

    def listing_id(self, pick: int) -> int | None:
        ids = [r[0] for r in self.db.all("SELECT id FROM listings ORDER BY id")]
        return ids[pick % len(ids)] if ids else None

    def product_id(self, pick: int) -> int | None:
        ids = [r[0] for r in self.db.all("SELECT id FROM products ORDER BY id")]
        return ids[pick % len(ids)] if ids else None

    def raw(self, sql: str, args: tuple = ()) -> None:
        """A statement the schema may refuse (a SKU taken, a linked product): then nothing
        it or its triggers did stays."""
        with contextlib.suppress(sqlite3.IntegrityError), self.db.transaction() as conn:
            conn.execute(sql, args)

    # -- the operations -------------------------------------------------------------------
    def read_catalogue(self, pick: int, items: list[tuple[str, str]]) -> None:
        listings = [ChannelListing(ext, ext, None, sku, f"Listing {ext}", 3) for ext, sku in items]
        self.channels.upsert_listings(self.channel(pick).id, listings)

    def add_product(self, sku: str) -> None:
        if self.catalog.by_sku(sku) is None:
            self.catalog.add_product(sku, f"Product {sku}")

    def link(self, pick: int, product: int) -> None:
        lid, pid = self.listing_id(pick), self.product_id(product)
        if lid is None or pid is None:
            return
        channel = self.channels.by_id(self.listing_channel(lid))
        self.mapping.apply(channel, [ListingChange(lid, product_id=pid)], source="bulk")

    def listing_channel(self, lid: int) -> int:
        return int(self.db.scalar("SELECT channel_id FROM listings WHERE id = ?", (lid,)))

    def change(self, pick: int, **change) -> None:
        lid = self.listing_id(pick)
        if lid is not None:
            channel = self.channels.by_id(self.listing_channel(lid))
            self.mapping.apply(channel, [ListingChange(lid, **change)], source="bulk")

    def auto_link(self, pick: int) -> None:
        self.mapping.auto_link(self.channel(pick))

    def adopt(self, pick: int) -> None:
        self.mapping.adopt(self.channel(pick))

    def undo(self) -> None:
        with contextlib.suppress(MappingError):  # nothing to undo, or a later batch first
            self.mapping.undo()

    def import_order(self, pick: int, sku: str) -> None:
        channel = self.channels.update(self.channel(pick).name, mapping_mode="sku")
        self.orders += 1
        order = make_order(str(self.orders), lines=(("L1", sku, 1),))
        self.book.ingest(channel, [order], first_import=False)

    def set_mode(self, pick: int, mode: str) -> None:
        self.mapping.set_mode(self.channel(pick), mode)


OPERATIONS = st.one_of(
    st.tuples(
        st.just("read_catalogue"),
        st.integers(0, 1),
        st.lists(
            st.tuples(st.sampled_from(EXTERNAL_IDS), st.sampled_from(LISTING_SKUS)), max_size=4
        ),
    ),
    st.tuples(st.just("add_product"), st.sampled_from(PRODUCT_SKUS)),
    st.tuples(st.just("link"), st.integers(0, 30), st.integers(0, 30)),
    st.tuples(st.just("unlink"), st.integers(0, 30)),
    st.tuples(st.just("ignore"), st.integers(0, 30), st.booleans()),
    st.tuples(st.just("create"), st.integers(0, 30)),
    st.tuples(st.just("auto_link"), st.integers(0, 1)),
    st.tuples(st.just("adopt"), st.integers(0, 1)),
    st.tuples(st.just("undo")),
    st.tuples(st.just("import_order"), st.integers(0, 1), st.sampled_from(LISTING_SKUS[:-2])),
    st.tuples(st.just("set_mode"), st.integers(0, 1), st.sampled_from(["sku", "id"])),
    # Raw SQL, as another program (or a later version's code) might write.
    st.tuples(
        st.just("sql_insert_listing"),
        st.integers(0, 1),
        st.sampled_from(EXTERNAL_IDS),
        st.sampled_from(LISTING_SKUS),
    ),
    st.tuples(st.just("sql_listing_sku"), st.integers(0, 30), st.sampled_from(LISTING_SKUS)),
    st.tuples(st.just("sql_listing_channel"), st.integers(0, 30), st.integers(0, 1)),
    st.tuples(st.just("sql_ignored"), st.integers(0, 30), st.booleans()),
    st.tuples(st.just("sql_delete_listing"), st.integers(0, 30)),
    st.tuples(st.just("sql_insert_product"), st.sampled_from(PRODUCT_SKUS)),
    st.tuples(st.just("sql_product_sku"), st.integers(0, 30), st.sampled_from(PRODUCT_SKUS)),
    st.tuples(st.just("sql_delete_product"), st.integers(0, 30)),
    st.tuples(st.just("sql_link"), st.integers(0, 30), st.integers(0, 30)),
    st.tuples(st.just("sql_relink"), st.integers(0, 30), st.integers(0, 30)),
    st.tuples(st.just("sql_unlink"), st.integers(0, 30)),
    st.tuples(st.just("sql_delete_channel_listings"), st.integers(0, 1)),
)


def run(store: Store, op: tuple) -> None:  # noqa: C901 - one branch per operation
    name, *args = op
    db = store.db
    if name == "read_catalogue":
        store.read_catalogue(*args)
    elif name == "add_product":
        store.add_product(*args)
    elif name == "link":
        store.link(*args)
    elif name == "unlink":
        store.change(args[0], unlink=True)
    elif name == "ignore":
        store.change(args[0], ignored=args[1])
    elif name == "create":
        lid = store.listing_id(args[0])
        if lid is not None and db.scalar("SELECT sku FROM listings WHERE id = ?", (lid,)):
            store.change(args[0], create=True)
    elif name == "auto_link":
        store.auto_link(*args)
    elif name == "adopt":
        store.adopt(*args)
    elif name == "undo":
        store.undo()
    elif name == "import_order":
        store.import_order(*args)
    elif name == "set_mode":
        store.set_mode(*args)
    elif name == "sql_insert_listing":
        channel, ext, sku = store.channel(args[0]).id, args[1], args[2]
        store.raw(
            "INSERT INTO listings (channel_id, external_id, product_ref, sku, name, first_seen,"
            " updated_at) VALUES (?, ?, ?, ?, ?, 0, 0)",
            (channel, f"S{ext}", f"S{ext}", sku, ext),
        )
    elif name == "sql_listing_sku":
        store.raw("UPDATE listings SET sku = ? WHERE id = ?", (args[1], store.listing_id(args[0])))
    elif name == "sql_listing_channel":
        store.raw(  # a listing moved to another channel, under a new listing id there
            "UPDATE listings SET channel_id = ?, external_id = 'M' || id WHERE id = ?",
            (store.channel(args[1]).id, store.listing_id(args[0])),
        )
    elif name == "sql_ignored":
        store.raw(
            "UPDATE listings SET ignored = ? WHERE id = ?", (args[1], store.listing_id(args[0]))
        )
    elif name == "sql_delete_listing":
        store.raw("DELETE FROM listings WHERE id = ?", (store.listing_id(args[0]),))
    elif name == "sql_insert_product":
        store.raw(
            "INSERT INTO products (sku, name, created_at, updated_at) VALUES (?, ?, 0, 0)",
            (args[0], args[0]),
        )
    elif name == "sql_product_sku":
        store.raw("UPDATE products SET sku = ? WHERE id = ?", (args[1], store.product_id(args[0])))
    elif name == "sql_delete_product":
        pid = store.product_id(args[0])
        for table in ("stock_levels", "stock_movements"):  # what stock the tests gave it
            store.raw(f"DELETE FROM {table} WHERE product_id = ?", (pid,))
        store.raw("DELETE FROM products WHERE id = ?", (pid,))
    elif name == "sql_link":
        store.raw(
            "INSERT INTO product_links (listing_id, product_id, method, created_at)"
            " VALUES (?, ?, 'manual', 0) ON CONFLICT (listing_id) DO UPDATE SET"
            " product_id = excluded.product_id",
            (store.listing_id(args[0]), store.product_id(args[1])),
        )
    elif name == "sql_relink":  # a link moved to another listing
        store.raw(
            "UPDATE product_links SET listing_id = ? WHERE listing_id = ?",
            (store.listing_id(args[1]), store.listing_id(args[0])),
        )
    elif name == "sql_unlink":
        store.raw("DELETE FROM product_links WHERE listing_id = ?", (store.listing_id(args[0]),))
    elif name == "sql_delete_channel_listings":
        store.raw("DELETE FROM listings WHERE channel_id = ?", (store.channel(args[0]).id,))
    else:  # pragma: no cover - a strategy without a branch
        raise AssertionError(name)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(OPERATIONS, min_size=1, max_size=30))
def test_stored_reason_is_the_live_reason_after_every_change(ops):
    store = Store()
    try:
        store.seed()
        assert {r[0] for r in store.db.all("SELECT why FROM listings")} == WHYS
        for step, op in enumerate(ops):
            run(store, op)
            assert mismatches(store.db) == [], f"after step {step}: {op}"
    finally:
        store.db.close()


def test_every_reason_happens_and_is_kept(db, channel):
    """One store with each of the eight reasons, built by the store's own code."""
    store_channels, catalog, mapping = ChannelRepo(db), Catalog(db), MappingRepo(db)
    for sku in ("KEG", "ab-cap", "AB-CAP", "TEE", "MUG"):
        catalog.add_product(sku, sku)
    store_channels.upsert_listings(
        channel.id,
        [
            ChannelListing(ext, ext, None, sku, ext, 1)
            for ext, sku in [
                ("linked", "KEG"),
                ("stale", "TEE"),
                ("ignored", "XYZ"),
                ("no_sku", ""),
                ("dup-a", "DUP"),
                ("dup-b", "DUP"),
                ("several", "Ab-Cap"),
                ("exact", "MUG"),
                ("none", "ZZZ"),
            ]
        ],
    )
    ids = {r["external_id"]: r["id"] for r in store_channels.listings(channel.id)}
    keg = catalog.by_sku("KEG").id
    store_channels.link(ids["linked"], keg, LinkMethod.MANUAL)
    store_channels.link(ids["stale"], keg, LinkMethod.MANUAL)
    mapping.apply(channel, [ListingChange(ids["ignored"], ignored=True)], source="bulk")
    stored = {r["external_id"]: r["why"] for r in db.all("SELECT external_id, why FROM listings")}
    assert stored == {
        "linked": "linked",
        "stale": "stale",
        "ignored": "ignored",
        "no_sku": "no_sku",
        "dup-a": "duplicate",
        "dup-b": "duplicate",
        "several": "several",
        "exact": "exact",
        "none": "none",
    }
    assert set(stored.values()) == WHYS
    assert mismatches(db) == []
    # Rank is worked out from the stored reason: conflict 0, unmapped 1, linked 2, ignored 3.
    ranks = {r[0]: r[1] for r in db.all("SELECT why, why_rank FROM listings")}
    assert ranks == {
        "no_sku": 0,
        "duplicate": 0,
        "several": 0,
        "stale": 0,
        "exact": 1,
        "none": 1,
        "linked": 2,
        "ignored": 3,
    }


def test_a_catalogue_read_that_changes_nothing_writes_no_reason(db, channel):
    """Re-reading the same SKUs (every sync does) must not recompute anything."""
    ChannelRepo(db).upsert_listings(
        channel.id, [ChannelListing(f"P-{i}", f"P-{i}", None, f"S{i}", "x", 1) for i in range(50)]
    )
    db.execute("UPDATE listings SET why = 'none'")  # what a recompute would change back
    db.execute("UPDATE listings SET why = 'exact' WHERE external_id = 'P-1'")
    ChannelRepo(db).upsert_listings(
        channel.id, [ChannelListing(f"P-{i}", f"P-{i}", None, f"S{i}", "y", 2) for i in range(50)]
    )
    assert db.scalar("SELECT why FROM listings WHERE external_id = 'P-1'") == "exact"
    ChannelRepo(db).upsert_listings(channel.id, [ChannelListing("P-1", "P-1", None, "S1b", "y", 2)])
    assert db.scalar("SELECT why FROM listings WHERE external_id = 'P-1'") == "none"


def test_an_older_store_gets_every_reason_when_it_is_upgraded(tmp_path, monkeypatch):
    """The migration fills in the reason of the listings already there."""
    import app.store.db as dbmod

    path = tmp_path / "stockbridge.db"
    every = dbmod.migrations()
    mine = next(i for i, m in enumerate(every) if m[1].endswith("_listing_why.sql"))
    monkeypatch.setattr(dbmod, "migrations", lambda: every[:mine])
    old = Database(path)
    wid = Catalog(old).default_warehouse_id()
    shop = ChannelRepo(old).add("Web shop", "selldone", "http://127.0.0.1:1", warehouse_id=wid)
    for sku in ("KEG", "keg", "MUG"):
        Catalog(old).add_product(sku, sku)
    ChannelRepo(old).upsert_listings(
        shop.id,
        [
            ChannelListing(ext, ext, None, sku, ext, 1)
            for ext, sku in [("a", "KEG"), ("b", "MUG"), ("c", "MUG"), ("d", ""), ("e", "X")]
        ],
    )
    old.close()
    monkeypatch.setattr(dbmod, "migrations", lambda: every)
    db = Database(path)
    try:
        stored = dict(db.all("SELECT external_id, why FROM listings ORDER BY external_id"))
        assert stored == {
            "a": "several",
            "b": "duplicate",
            "c": "duplicate",
            "d": "no_sku",
            "e": "none",
        }
        assert mismatches(db) == []
    finally:
        db.close()


@pytest.mark.parametrize("sku", ["keg", "Keg"])
def test_a_product_changing_its_sku_updates_the_listings_of_both(db, channel, sku):
    catalog = Catalog(db)
    catalog.add_product("KEG", "Keg")
    cap = catalog.add_product("CAP", "Cap")
    ChannelRepo(db).upsert_listings(
        channel.id,
        [
            ChannelListing("a", "a", None, "KEG", "a", 1),
            ChannelListing("b", "b", None, "CAP", "b", 1),
        ],
    )
    db.execute("UPDATE products SET sku = ? WHERE id = ?", (sku, cap.id))
    stored = dict(db.all("SELECT external_id, why FROM listings ORDER BY external_id"))
    # Two products have KEG apart from case now; CAP has none.
    assert stored == {"a": "several", "b": "none"}
    assert mismatches(db) == []


def whys(db: Database) -> dict[int, tuple]:
    return {r[0]: (r[1], r[2]) for r in db.all("SELECT id, why, linked_sku FROM listings")}


# Each change the triggers handle, on the seeded store: (what, statement, its arguments
# from the store, the listings whose reason or linked SKU it must change).
# Channel 0: P-0 KEG linked to MUG (stale), P-1 and P-2 CAP (duplicate), P-3 (no SKU).
# Channel 1: P-0 MUG (exact), P-1 ZZZ (none), P-2 CAP linked to CAP, P-4 Keg (several),
# P-5 KEG (ignored). Products: KEG, keg, CAP, MUG.
CHANGES = [
    ("a listing added twice on its channel", "INSERT INTO listings (channel_id, external_id,"
     " product_ref, sku, first_seen, updated_at) VALUES (?, 'N', 'N', 'MUG', 0, 0)",
     lambda s: (s.channel(1).id,), [(1, "P-0"), (1, "N")]),
    ("a listing's twin removed", "DELETE FROM listings WHERE id = ?",
     lambda s: (s.seeded(0, "P-1"),), [(0, "P-2")]),
    ("a listing's SKU changed away from its twin", "UPDATE listings SET sku = 'ZZZ' WHERE id = ?",
     lambda s: (s.seeded(0, "P-1"),), [(0, "P-1"), (0, "P-2")]),
    ("a listing's SKU changed to another listing's", "UPDATE listings SET sku = 'ZZZ'"
     " WHERE id = ?", lambda s: (s.seeded(1, "P-0"),), [(1, "P-0"), (1, "P-1")]),
    ("a listing moved to another channel", "UPDATE listings SET channel_id = ?,"
     " external_id = 'M' WHERE id = ?", lambda s: (s.channel(1).id, s.seeded(0, "P-1")),
     [(0, "P-2")]),  # still a duplicate there: of the linked P-2
    ("a listing moved with another SKU", "UPDATE listings SET channel_id = ?,"
     " external_id = 'M', sku = 'MUG' WHERE id = ?",
     lambda s: (s.channel(1).id, s.seeded(0, "P-1")), [(0, "P-2"), (1, "P-0")]),
    ("a listing ignored", "UPDATE listings SET ignored = 1 WHERE id = ?",
     lambda s: (s.seeded(1, "P-1"),), [(1, "P-1")]),
    ("a listing no longer ignored", "UPDATE listings SET ignored = 0 WHERE id = ?",
     lambda s: (s.seeded(1, "P-5"),), [(1, "P-5")]),
    ("a link made", "INSERT INTO product_links (listing_id, product_id, method, created_at)"
     " SELECT ?, id, 'manual', 0 FROM products WHERE sku = 'CAP'",
     lambda s: (s.seeded(1, "P-1"),), [(1, "P-1")]),
    ("a link removed", "DELETE FROM product_links WHERE listing_id = ?",
     lambda s: (s.seeded(0, "P-0"),), [(0, "P-0")]),
    ("a link moved to another listing", "UPDATE product_links SET listing_id = ?"
     " WHERE listing_id = ?", lambda s: (s.seeded(0, "P-3"), s.seeded(0, "P-0")),
     [(0, "P-0"), (0, "P-3")]),
    ("a link given another product", "UPDATE product_links SET product_id ="
     " (SELECT id FROM products WHERE sku = 'KEG') WHERE listing_id = ?",
     lambda s: (s.seeded(0, "P-0"),), [(0, "P-0")]),
    ("a product added with a listing's SKU", "INSERT INTO products (sku, name, created_at,"
     " updated_at) VALUES ('ZZZ', 'z', 0, 0)", lambda s: (), [(1, "P-1")]),
    ("a product added in another case", "INSERT INTO products (sku, name, created_at,"
     " updated_at) VALUES ('mug', 'm', 0, 0)", lambda s: (), [(1, "P-0")]),
    ("a product removed", "DELETE FROM products WHERE sku = 'keg'", lambda s: (),
     [(1, "P-4")]),
    ("a product's SKU changed to a listing's", "UPDATE products SET sku = 'ZZZ'"
     " WHERE sku = 'keg'", lambda s: (), [(1, "P-4"), (1, "P-1")]),
    ("a linked product's SKU changed", "UPDATE products SET sku = 'TEE' WHERE sku = 'MUG'",
     lambda s: (), [(0, "P-0"), (1, "P-0")]),
]  # fmt: skip


@pytest.mark.parametrize(("what", "sql", "args", "changed"), CHANGES, ids=[c[0] for c in CHANGES])
def test_each_kind_of_change_updates_exactly_the_listings_it_affects(what, sql, args, changed):
    store = Store()
    try:
        store.seed()
        before = whys(store.db)
        with store.db.transaction() as conn:
            conn.execute(sql, args(store))
        after = whys(store.db)
        assert mismatches(store.db) == []
        moved = {lid for lid in after if before.get(lid) != after[lid]}
        assert moved == {store.seeded(pick, ext) for pick, ext in changed}
    finally:
        store.db.close()


def test_the_bench_store_fills_in_every_reason_and_keeps_the_triggers(tmp_path):
    """The bench fixture writes listings in bulk without the triggers, then fills in."""
    from app.bench.fixtures import build_store

    build_store(tmp_path, orders=20, products=1000, sync_runs=5, raw_bytes=10)
    db = Database.in_dir(tmp_path)
    try:
        assert mismatches(db) == []
        assert {r[0] for r in db.all("SELECT why FROM listings")} == {"linked", "exact", "no_sku"}
        # The triggers are back: a product in another case makes its listings "several".
        sku = db.scalar("SELECT sku FROM listings WHERE why = 'exact' LIMIT 1")
        db.execute(
            "INSERT INTO products (sku, name, created_at, updated_at) VALUES (?, 'x', 0, 0)",
            (sku.lower(),),
        )
        assert db.scalar("SELECT why FROM listings WHERE sku = ?", (sku,)) == "several"
        assert mismatches(db) == []
    finally:
        db.close()
