"""Ignored listings release the orders that only waited for them; SKU links made at import
are an undoable batch. Both restore exactly on undo."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.core.models import ChannelListing, LinkMethod, OrderStatus
from app.store.catalog import Catalog
from app.store.channels import ChannelRepo
from app.store.db import Database
from app.store.ledger import Ledger
from app.store.mapping import (
    ListingChange,
    MappingRepo,
    orders_released_by,
    undoable_batch,
)
from app.store.orders import ActionRefused, OrderBook
from tests.conftest import make_order


def listing(ext: str, sku: str) -> ChannelListing:
    return ChannelListing(ext, ext, None, sku, ext, 5)


def gift_shop(db: Database, *, mode: str = "id"):
    """A channel whose keg listing is linked and whose gift wrapping is not a product."""
    channel = ChannelRepo(db).add(
        "Web shop", "selldone", "http://127.0.0.1:1", warehouse_id=1, mapping_mode=mode
    )
    ChannelRepo(db).mark_first_import_done(channel.id)
    keg = Catalog(db).add_product("KEG", "Beer keg")
    Ledger(db).record(keg.id, 1, on_hand=10, reason="stock count")
    ChannelRepo(db).upsert_listings(channel.id, [listing("P-KEG", "KEG"), listing("P-GIFT", "")])
    ids = {r["external_id"]: r["id"] for r in ChannelRepo(db).listings(channel.id)}
    ChannelRepo(db).link(ids["P-KEG"], keg.id, LinkMethod.ID)
    return channel, keg.id, ids


def needs_mapping(db: Database, number: str) -> int:
    return int(db.scalar("SELECT needs_mapping FROM orders WHERE number = ?", (number,)))


def test_ignoring_gift_wrapping_releases_the_orders_waiting_only_for_it(db):
    channel, keg, ids = gift_shop(db)
    book = OrderBook(db)
    book.ingest(
        channel,
        [
            make_order("1", lines=(("L1", "KEG", 2), ("L2", "GIFT", 1))),
            make_order("2", lines=(("L1", "GIFT", 1), ("L2", "MUG", 1))),  # a mug: still waits
        ],
        first_import=False,
    )
    assert (needs_mapping(db, "SM-1"), needs_mapping(db, "SM-2")) == (1, 1)
    # What the wizard's summary says before anything is written.
    assert orders_released_by(db, channel.id, set(), {"P-GIFT"}) == 1
    assert orders_released_by(db, channel.id, set()) == 0
    repo = MappingRepo(db)
    outcome = repo.apply(channel, [ListingChange(ids["P-GIFT"], ignored=True)], source="table")
    assert (outcome.ignored, outcome.released, outcome.reheld) == (1, 1, 0)
    assert (needs_mapping(db, "SM-1"), needs_mapping(db, "SM-2")) == (0, 1)
    assert undoable_batch(db)["released"] == 1
    assert "1 waiting order released" in outcome.text()
    order = book.get(book.find("SM-1"))
    assert "Listing P-GIFT is ignored; the order no longer waits for it" in [
        e["message"] for e in order["events"]
    ]
    # The needs-mapping queue everywhere reads the flag: the dashboard, the filter, the tray.
    assert [o["number"] for o in book.list(status="needs_mapping")] == ["SM-2"]
    # A later order with gift wrapping does not wait at all, and can be confirmed.
    book.ingest(
        channel, [make_order("3", lines=(("L1", "KEG", 1), ("L2", "GIFT", 1)))], first_import=False
    )
    assert needs_mapping(db, "SM-3") == 0
    book.act(book.find("SM-1"), "confirm")
    try:
        book.act(book.find("SM-2"), "confirm")
    except ActionRefused as exc:
        assert "MUG" in str(exc) and "GIFT" not in str(exc)
    else:
        raise AssertionError("an order waiting for a mug was confirmed")
    # Undo: the gift wrapping waits again, on the orders that were and the one since.
    undone = repo.undo()
    assert undone.unignored == 1 and undone.reheld == 2
    assert [needs_mapping(db, n) for n in ("SM-1", "SM-2", "SM-3")] == [1, 1, 1]


def test_linking_an_ignored_listing_still_maps_its_lines(db):
    channel, keg, ids = gift_shop(db)
    MappingRepo(db).apply(channel, [ListingChange(ids["P-GIFT"], ignored=True)], source="table")
    OrderBook(db).ingest(channel, [make_order("1", lines=(("L1", "GIFT", 1),))], first_import=False)
    assert needs_mapping(db, "SM-1") == 0
    outcome = MappingRepo(db).apply(
        channel, [ListingChange(ids["P-GIFT"], product_id=keg)], source="table"
    )
    # Ignored and linked: its stock is not sent, but its orders take the product.
    assert outcome.linked == 1
    line = db.one("SELECT product_id, committed FROM order_lines")
    assert (line[0], line[1]) == (keg, 1)
    MappingRepo(db).undo()
    assert db.one("SELECT product_id, committed FROM order_lines")[0] is None
    assert needs_mapping(db, "SM-1") == 0 and Ledger(db).level(keg).committed == 0


# -- property: apply + undo is exact with ignores, and the wizard's count is right ----------------
def snapshot(db: Database) -> tuple:
    queries = (
        "SELECT listing_id, product_id, method, created_at FROM product_links ORDER BY listing_id",
        "SELECT id, ignored, is_new FROM listings ORDER BY id",
        "SELECT product_id, on_hand, committed FROM stock_levels ORDER BY product_id",
        "SELECT id, product_id, committed, deducted FROM order_lines ORDER BY id",
        "SELECT id, needs_mapping FROM orders ORDER BY id",
    )
    return tuple([tuple(r) for r in db.all(q)] for q in queries)


listings_st = st.lists(
    st.tuples(st.sampled_from([None, 1, 2]), st.booleans()),  # linked product, ignored
    min_size=1,
    max_size=5,
)
orders_st = st.lists(
    st.tuples(
        st.lists(st.integers(0, 4), min_size=1, max_size=3, unique=True),  # its listings
        st.sampled_from([OrderStatus.REQUESTED, OrderStatus.CONFIRMED, OrderStatus.DISPATCHED]),
    ),
    max_size=5,
)
# The wizard's kinds of decision: link, ignore (plus un-ignore and unlink, checked for undo).
decision_st = st.one_of(
    st.builds(lambda p: {"product_id": p}, st.sampled_from([1, 2])),
    st.just({"ignored": True}),
    st.just({"ignored": False}),
    st.just({"unlink": True}),
    st.builds(lambda p: {"product_id": p, "ignored": True}, st.sampled_from([1, 2])),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(listings_st, orders_st, st.lists(st.tuples(st.integers(0, 4), decision_st), max_size=6))
@example([(None, False)], [([0], OrderStatus.REQUESTED)], [(0, {"ignored": True})])
@example([(None, True)], [([0], OrderStatus.REQUESTED)], [(0, {"ignored": False})])
@example([(1, True)], [([0], OrderStatus.REQUESTED)], [(0, {"unlink": True})])
def test_apply_then_undo_is_exact_including_ignores(states, orders, decisions):
    db = Database(":memory:")
    channel = ChannelRepo(db).add("Shop", "selldone", "http://x", warehouse_id=1, mapping_mode="id")
    ChannelRepo(db).mark_first_import_done(channel.id)
    for sku in ("P-A", "P-B"):
        product = Catalog(db).add_product(sku, sku)
        Ledger(db).record(product.id, 1, on_hand=20, reason="stock count")
    n = len(states)
    ChannelRepo(db).upsert_listings(channel.id, [listing(f"P-L{i}", f"L{i}") for i in range(n)])
    for i, (product, ignored) in enumerate(states):
        if product is not None:
            ChannelRepo(db).link(i + 1, product, LinkMethod.MANUAL)
        db.execute("UPDATE listings SET ignored = ? WHERE id = ?", (ignored, i + 1))
    book = OrderBook(db)
    book.ingest(
        channel,
        [
            make_order(
                str(k), status=status, lines=[(f"X{j}", f"L{j % n}", 1) for j in sorted(set(refs))]
            )
            for k, (refs, status) in enumerate(orders)
        ],
        first_import=False,
    )
    changes = [ListingChange(i % n + 1, **kw) for i, kw in decisions]
    final = {c.listing_id: c for c in changes}.values()  # the last decision per listing wins
    will_link = {f"P-L{c.listing_id - 1}" for c in final if c.product_id}
    will_ignore = {f"P-L{c.listing_id - 1}" for c in final if c.ignored}
    wizard_like = all(not c.unlink and c.ignored is not False for c in final) and all(
        states[c.listing_id - 1][0] is None for c in final
    )
    predicted = orders_released_by(db, channel.id, will_link, will_ignore)
    before = snapshot(db)
    repo = MappingRepo(db)
    outcome = repo.apply(channel, changes, source="wizard")
    if wizard_like:  # only unmapped listings linked or ignored: what the summary page shows
        assert outcome.released == predicted
    # Every order waits exactly when one of its lines has no product and is not excused.
    for order_id, flag in db.all("SELECT id, needs_mapping FROM orders"):
        waiting = db.scalar(
            "SELECT COUNT(*) FROM order_lines ln JOIN orders o ON o.id = ln.order_id"
            " LEFT JOIN listings l ON l.channel_id = o.channel_id AND l.external_id = ln.listing_ref"
            " LEFT JOIN product_links pl ON pl.listing_id = l.id"
            " WHERE ln.order_id = ? AND ln.product_id IS NULL AND o.status = 'requested'"
            " AND NOT (l.ignored = 1 AND pl.listing_id IS NULL)",
            (order_id,),
        )
        status = db.scalar("SELECT status FROM orders WHERE id = ?", (order_id,))
        if status == "requested":
            assert flag == (waiting > 0)
    if outcome.batch_id is not None:
        repo.undo(outcome.batch_id)
    assert snapshot(db) == before
    db.close()


# -- links made at import ---------------------------------------------------------------------------
def test_sku_links_made_at_import_are_one_undoable_batch_per_pass(db):
    channel = ChannelRepo(db).add(
        "Web shop", "selldone", "http://127.0.0.1:1", warehouse_id=1, mapping_mode="sku"
    )
    ChannelRepo(db).mark_first_import_done(channel.id)
    catalog = Catalog(db)
    keg = catalog.add_product("KEG", "Beer keg")
    catalog.add_product("MUG", "Red mug")
    Ledger(db).record(keg.id, 1, on_hand=10, reason="stock count")
    ChannelRepo(db).upsert_listings(channel.id, [listing("P-KEG", "KEG"), listing("P-MUG", "MUG")])
    book = OrderBook(db)
    # Two pages of one pass: two listings linked by their SKU, one batch.
    book.ingest(channel, [make_order("1", lines=(("L1", "KEG", 2),))], first_import=False)
    book.ingest(channel, [make_order("2", lines=(("L1", "MUG", 1),))], first_import=False)
    batches = db.all("SELECT id, source, summary FROM mapping_batches")
    assert [(b["source"], b["summary"]) for b in batches] == [
        ("import", "Linked 2 listings by SKU as their orders arrived.")
    ]
    assert Ledger(db).level(keg.id).committed == 2
    # An order of an already linked listing records nothing more.
    book.ingest(channel, [make_order("3", lines=(("L1", "KEG", 1),))], first_import=False)
    assert db.scalar("SELECT COUNT(*) FROM mapping_batch_items") == 2
    undone = MappingRepo(db).undo()
    assert undone.unlinked == 2 and undone.reheld == 3
    assert db.scalar("SELECT COUNT(*) FROM product_links") == 0
    assert Ledger(db).level(keg.id).committed == 0
    # After the merchant's change, the next import's links start a new batch.
    book.ingest(channel, [make_order("4", lines=(("L1", "MUG", 1),))], first_import=False)
    assert db.scalar("SELECT COUNT(*) FROM mapping_batches WHERE undone_at IS NULL") == 1


def test_links_the_sku_rule_makes_while_releasing_join_the_merchants_batch(db):
    channel = ChannelRepo(db).add(
        "Web shop", "selldone", "http://127.0.0.1:1", warehouse_id=1, mapping_mode="sku"
    )
    ChannelRepo(db).mark_first_import_done(channel.id)
    ChannelRepo(db).upsert_listings(channel.id, [listing("P-KEG", "KEG")])
    book = OrderBook(db)
    book.ingest(channel, [make_order("1", lines=(("L1", "KEG", 2),))], first_import=False)
    assert needs_mapping(db, "SM-1") == 1  # no product KEG yet
    Catalog(db).add_product("KEG", "Beer keg")
    outcome = MappingRepo(db).auto_link(channel)
    assert (outcome.linked, outcome.released) == (1, 1)
    assert db.scalar("SELECT COUNT(*) FROM mapping_batches") == 1
    MappingRepo(db).undo()
    assert needs_mapping(db, "SM-1") == 1 and db.scalar("SELECT COUNT(*) FROM product_links") == 0


def test_upgrading_releases_orders_that_waited_only_for_ignored_listings(tmp_path, monkeypatch):
    from app.store import db as dbmod

    every = dbmod.migrations()
    (mine,) = [m for m in every if m[1].endswith("_ignored_listings_release_orders.sql")]
    monkeypatch.setattr(dbmod, "migrations", lambda: [m for m in every if m[0] < mine[0]])
    path = tmp_path / "stockbridge.db"
    old = Database(path)
    channel = ChannelRepo(old).add("Shop", "selldone", "http://x", warehouse_id=1)
    ChannelRepo(old).upsert_listings(channel.id, [listing("P-GIFT", ""), listing("P-MUG", "MUG")])
    old.execute(
        "INSERT INTO orders (channel_id, external_id, number, status, payment_status,"
        " needs_mapping, imported_at, updated_at) VALUES"
        " (?, '1', 'SM-1', 'requested', 'paid', 1, 0, 0),"
        " (?, '2', 'SM-2', 'requested', 'paid', 1, 0, 0)",
        (channel.id, channel.id),
    )
    old.execute(
        "INSERT INTO order_lines (order_id, external_id, listing_ref, quantity) VALUES"
        " (1, 'A', 'P-GIFT', 1), (2, 'A', 'P-GIFT', 1), (2, 'B', 'P-MUG', 1)"
    )
    old.execute("UPDATE listings SET ignored = 1 WHERE external_id = 'P-GIFT'")
    old.close()
    monkeypatch.setattr(dbmod, "migrations", lambda: every)
    new = Database(path)
    assert (needs_mapping(new, "SM-1"), needs_mapping(new, "SM-2")) == (0, 1)
    new.close()
