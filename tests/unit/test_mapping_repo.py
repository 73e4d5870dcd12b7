"""Product and customer mapping in the store: batches, undo, held orders, CSV round trips."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.core.models import ChannelCustomer, ChannelListing, LinkMethod, OrderStatus
from app.store.catalog import Catalog
from app.store.channels import ChannelRepo
from app.store.customers import CustomerRepo
from app.store.db import Database
from app.store.ledger import Ledger
from app.store.mapping import (
    DUPLICATE_LISTINGS,
    NO_SKU,
    SEVERAL_PRODUCTS,
    STALE_LINK,
    ListingChange,
    MappingError,
    MappingRepo,
    new_listings,
    orders_released_by,
    undoable_batch,
)
from app.store.orders import OrderBook
from tests.conftest import make_order


def listing(ext: str, sku: str, name: str = "", qty: float | None = 5) -> ChannelListing:
    return ChannelListing(ext, ext, None, sku, name or ext, qty)


def shop(db: Database, *, mode: str = "sku"):
    """A channel with a keg (10 on hand) and a mug (5 on hand)."""
    channel = ChannelRepo(db).add(
        "Web shop", "selldone", "http://127.0.0.1:1", warehouse_id=1, mapping_mode=mode
    )
    catalog = Catalog(db)
    keg = catalog.add_product("KEG", "Beer keg")
    mug = catalog.add_product("MUG", "Red mug")
    Ledger(db).record(keg.id, 1, on_hand=10, reason="stock count")
    Ledger(db).record(mug.id, 1, on_hand=5, reason="stock count")
    return channel, keg.id, mug.id


def ids(db: Database, channel) -> dict[str, int]:
    return {r["external_id"]: r["id"] for r in ChannelRepo(db).listings(channel.id)}


def links(db: Database) -> dict[int, tuple]:
    return {
        r[0]: tuple(r[1:])
        for r in db.all("SELECT listing_id, product_id, method, created_at FROM product_links")
    }


def level(db: Database, product_id: int) -> tuple[float, float]:
    lv = Ledger(db).level(product_id)
    return lv.on_hand, lv.committed


def held(db: Database, number: str) -> int:
    return int(db.scalar("SELECT needs_mapping FROM orders WHERE number = ?", (number,)))


# -- automatic linking ----------------------------------------------------------------------
SKU_CHOICES = st.sampled_from(["A", "a", "A ", "B", "B", "C", "", "D", " d", "E"])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SKU_CHOICES, max_size=10), st.sets(st.sampled_from(["A", "a", "B", "C", "d"])))
def test_auto_linking_never_links_an_ambiguous_sku(listing_skus, product_skus):
    db = Database(":memory:")
    channel = ChannelRepo(db).add("Shop", "selldone", "http://x", warehouse_id=1)
    products = {sku: Catalog(db).add_product(sku, sku).id for sku in product_skus}
    ChannelRepo(db).upsert_listings(
        channel.id, [listing(f"L{i}", sku) for i, sku in enumerate(listing_skus)]
    )
    outcome = MappingRepo(db).auto_link(channel)
    rows = ChannelRepo(db).listings(channel.id)
    per_sku: dict[str, int] = {}
    for r in rows:
        per_sku[r["sku"]] = per_sku.get(r["sku"], 0) + 1
    for r in rows:
        unique_exact = r["sku"] != "" and per_sku[r["sku"]] == 1 and r["sku"] in products
        if r["product_id"] is not None:
            assert unique_exact, r  # a link exists only for an exact SKU used once per side
            assert r["product_id"] == products[r["sku"]] and r["method"] == "sku"
        else:
            assert not unique_exact, r  # and every such SKU is linked
    assert outcome.linked == sum(r["product_id"] is not None for r in rows)
    db.close()


def test_plan_sorts_listings_with_reasons_and_ranked_suggestions(db):
    channel, keg, mug = shop(db)
    catalog = Catalog(db)
    catalog.add_product("CAP-1", "Blue cap")
    catalog.add_product("cap-1", "Blue cap (old)")
    wash = catalog.add_product("WASH-250", "Wool wash 250 ml", barcode="4006381333931")
    ChannelRepo(db).upsert_listings(
        channel.id,
        [
            listing("P-KEG", "KEG", "Keg 50 l"),
            listing("P-W1", "WASH-250", "Wool wash 250 ml"),
            listing("P-W2", "WASH-250", "Wool wash 250 ml (outlet)"),
            listing("P-GIFT", "", "Gift wrapping"),
            listing("P-CAP", "Cap-1", "Blue cap"),
            listing("P-MUG", "mug", "Red mug"),
            listing("P-NEW", "GLASS", "Beer glass"),
            listing("P-OLD", "MUG", "Mug, renamed"),
        ],
    )
    ChannelRepo(db).link(ids(db, channel)["P-OLD"], keg, LinkMethod.MANUAL)
    plan = MappingRepo(db).plan(channel)
    assert [(row["external_id"], p.sku) for row, p in plan.auto] == [("P-KEG", "KEG")]
    kinds = {c.listing["external_id"]: c.kind for c in plan.conflicts}
    assert kinds == {
        "P-GIFT": NO_SKU,
        "P-W1": DUPLICATE_LISTINGS,
        "P-W2": DUPLICATE_LISTINGS,
        "P-CAP": SEVERAL_PRODUCTS,
        "P-OLD": STALE_LINK,
    }
    by_ext = {c.listing["external_id"]: c for c in plan.conflicts}
    assert by_ext["P-W1"].suggestions[0].id == wash.id  # the SKU both listings claim
    assert by_ext["P-CAP"].reason.endswith("(CAP-1, cap-1).")
    assert [s.label for s in by_ext["P-CAP"].suggestions[:2]] == [
        "CAP-1 — Blue cap",
        "cap-1 — Blue cap (old)",
    ]
    assert "Linked to KEG, but its SKU MUG is the SKU of your product MUG" in by_ext["P-OLD"].reason
    assert [r["external_id"] for r in plan.unmapped] == ["P-NEW", "P-MUG"]
    top = plan.suggest(next(r for r in plan.unmapped if r["external_id"] == "P-MUG"))[0]
    assert (top.id, top.reasons[0]) == (mug, "same SKU apart from case or spaces")


# -- batches, held orders and undo --------------------------------------------------------------
def test_mapping_a_product_releases_its_held_orders_and_queues_the_pushes(db):
    channel, keg, mug = shop(db, mode="id")
    ChannelRepo(db).upsert_listings(channel.id, [listing("P-MUG", "MUG"), listing("P-KEG", "KEG")])
    book = OrderBook(db)
    book.ingest(channel, [make_order("1", lines=(("L1", "MUG", 2),))], first_import=False)
    assert held(db, "SM-1") == 1 and level(db, mug) == (5, 0)  # 'id' channels never guess
    listing_ids = ids(db, channel)
    assert orders_released_by(db, channel.id, {"P-MUG"}) == 1
    assert orders_released_by(db, channel.id, {"P-KEG"}) == 0
    outcome = MappingRepo(db).apply(
        channel, [ListingChange(listing_ids["P-MUG"], product_id=mug)], source="wizard"
    )
    assert (outcome.linked, outcome.released) == (1, 1)
    assert held(db, "SM-1") == 0 and level(db, mug) == (5, 2)
    assert links(db)[listing_ids["P-MUG"]][:2] == (mug, "id")
    pushes = db.all("SELECT target FROM outbox WHERE kind = 'stock' AND state = 'pending'")
    assert [int(r[0]) for r in pushes] == [listing_ids["P-MUG"]]
    batch = undoable_batch(db, channel.id)
    assert (batch["source"], batch["released"]) == ("wizard", 1)
    assert batch["summary"] == "Linked 1 listing. 1 waiting order released and stock reserved."


def test_relinking_moves_orders_still_on_the_shelf_but_not_goods_sent(db):
    channel, keg, mug = shop(db)
    ChannelRepo(db).upsert_listings(channel.id, [listing("P-KEG", "KEG")])
    book = OrderBook(db)
    book.ingest(
        channel,
        [
            make_order("1", lines=(("L1", "KEG", 2),)),
            make_order("2", status=OrderStatus.CONFIRMED, lines=(("L1", "KEG", 1),)),
            make_order("3", status=OrderStatus.DISPATCHED, lines=(("L1", "KEG", 4),)),
        ],
        first_import=False,
    )
    assert level(db, keg) == (5, 2)
    repo = MappingRepo(db)
    outcome = repo.apply(
        channel, [ListingChange(ids(db, channel)["P-KEG"], product_id=mug)], source="table"
    )
    assert (outcome.linked, outcome.released, outcome.reheld) == (1, 0, 0)
    # The new and the confirmed order now take mugs; the dispatched parcel left as kegs.
    assert level(db, keg) == (6, 0) and level(db, mug) == (4, 2)
    events = [e["message"] for e in book.get(book.find("SM-1"))["events"]]
    assert "Listing P-KEG changed product; its stock was released" in events
    repo.undo()
    assert level(db, keg) == (5, 2) and level(db, mug) == (5, 0)


def test_unlinking_puts_new_orders_back_in_the_queue(db):
    channel, keg, _ = shop(db)
    ChannelRepo(db).upsert_listings(channel.id, [listing("P-KEG", "KEG")])
    OrderBook(db).ingest(channel, [make_order("1")], first_import=False)
    repo = MappingRepo(db)
    outcome = repo.apply(
        channel, [ListingChange(ids(db, channel)["P-KEG"], unlink=True)], source="bulk"
    )
    assert (outcome.unlinked, outcome.reheld) == (1, 1)
    assert held(db, "SM-1") == 1 and level(db, keg) == (10, 0)  # the SKU did not re-link it
    undone = repo.undo()
    assert (undone.linked, undone.released) == (1, 1)
    assert held(db, "SM-1") == 0 and level(db, keg) == (10, 2)


def snapshot(db: Database) -> tuple:
    queries = (
        "SELECT id, ignored, is_new FROM listings ORDER BY id",
        "SELECT product_id, on_hand, committed FROM stock_levels WHERE product_id <= 3"
        " ORDER BY product_id",
        "SELECT id, product_id, committed, deducted FROM order_lines ORDER BY id",
        "SELECT id, needs_mapping FROM orders ORDER BY id",
    )
    return (links(db), *([tuple(r) for r in db.all(q)] for q in queries))


SENT_LINES = (
    "SELECT ln.id, ln.product_id, ln.committed, ln.deducted FROM order_lines ln"
    " JOIN orders o ON o.id = ln.order_id"
    " WHERE o.status IN ('dispatched', 'delivered') AND ln.product_id IS NOT NULL"
)


def assert_orders_follow_links(db: Database, sent: dict[int, tuple]) -> None:
    """Orders still on the shelf take their listing's product, or wait without one;
    goods already sent stay recorded against the product that was sent."""
    linked = {
        ext: product
        for ext, product in db.all(
            "SELECT l.external_id, pl.product_id FROM listings l"
            " JOIN product_links pl ON pl.listing_id = l.id"
        )
    }
    excused = {  # ignored listings without a product: their lines wait for nothing
        r[0]
        for r in db.all(
            "SELECT l.external_id FROM listings l LEFT JOIN product_links pl"
            " ON pl.listing_id = l.id WHERE l.ignored = 1 AND pl.listing_id IS NULL"
        )
    }
    for ln in db.all(
        "SELECT ln.id, ln.listing_ref, ln.product_id, ln.quantity, ln.committed, ln.deducted,"
        " o.needs_mapping, o.status FROM order_lines ln JOIN orders o ON o.id = ln.order_id"
    ):
        product = linked.get(ln["listing_ref"])
        if ln["id"] in sent:
            now = (ln["id"], ln["product_id"], ln["committed"], ln["deducted"])
            assert now == sent[ln["id"]]
            continue
        holding = (ln["committed"], ln["deducted"])
        if ln["status"] in ("cancelled", "returned"):
            assert holding == (0, 0)
            continue
        assert ln["product_id"] == product
        assert ln["needs_mapping"] == (product is None and ln["listing_ref"] not in excused)
        if product is None:
            assert holding == (0, 0)
        elif ln["status"] == "requested":
            assert holding == (ln["quantity"], 0)
        else:
            assert holding == (0, ln["quantity"])


listing_states = st.lists(
    st.tuples(
        st.sampled_from([None, 1, 2, 3]),  # linked product
        st.sampled_from(["sku", "id", "manual"]),
        st.booleans(),  # ignored
        st.booleans(),  # is new
        st.integers(0, 3),  # quantity ordered (0: no order)
        st.sampled_from(list(OrderStatus)),
    ),
    min_size=1,
    max_size=6,
)
change_choices = st.one_of(
    st.builds(lambda p: {"product_id": p}, st.sampled_from([1, 2, 3])),
    st.just({"unlink": True}),
    st.just({"create": True}),
    st.builds(lambda b: {"ignored": b}, st.booleans()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(listing_states, st.lists(st.tuples(st.integers(0, 5), change_choices), max_size=8))
# A parcel sent while its listing had no product: linking it deducts; undo must give it back.
@example([(None, "sku", False, False, 2, OrderStatus.DISPATCHED)], [(0, {"product_id": 2})])
def test_undo_restores_the_exact_previous_mapping(states, changes):
    db = Database(":memory:")
    channel = ChannelRepo(db).add("Shop", "selldone", "http://x", warehouse_id=1)
    ChannelRepo(db).mark_first_import_done(channel.id)
    for sku in ("P-A", "P-B", "P-C"):
        product = Catalog(db).add_product(sku, sku)
        Ledger(db).record(product.id, 1, on_hand=20, reason="stock count")
    ChannelRepo(db).upsert_listings(
        channel.id, [listing(f"P-L{i}", f"L{i}") for i in range(len(states))]
    )
    for i, (product, method, ignored, is_new, *_) in enumerate(states):
        if product is not None:
            ChannelRepo(db).link(i + 1, product, LinkMethod(method))
        db.execute(
            "UPDATE listings SET ignored = ?, is_new = ? WHERE id = ?", (ignored, is_new, i + 1)
        )
    orders = [
        make_order(str(i), status=status, lines=(("A", f"L{i}", q),))
        for i, (*_, q, status) in enumerate(states)
        if q
    ]
    OrderBook(db).ingest(channel, orders, first_import=False)
    before = snapshot(db)
    sent = {r[0]: tuple(r) for r in db.all(SENT_LINES)}
    repo = MappingRepo(db)
    edits = [ListingChange(i % len(states) + 1, **kw) for i, kw in changes]
    outcome = repo.apply(channel, edits, source="wizard")
    assert_orders_follow_links(db, sent)
    if outcome.batch_id is not None:
        repo.undo(outcome.batch_id)
    assert snapshot(db) == before
    db.close()


def test_undo_goes_newest_first_and_keeps_what_changed_since(db):
    channel, keg, mug = shop(db, mode="id")
    ChannelRepo(db).upsert_listings(channel.id, [listing("P-1", "X1"), listing("P-2", "X2")])
    one, two = ids(db, channel)["P-1"], ids(db, channel)["P-2"]
    repo = MappingRepo(db)
    first = repo.apply(
        channel,
        [ListingChange(one, product_id=keg), ListingChange(two, product_id=keg)],
        source="wizard",
    )
    second = repo.apply(channel, [ListingChange(one, product_id=mug)], source="table")
    with pytest.raises(MappingError, match="undo that one first"):
        repo.undo(first.batch_id)
    repo.undo(second.batch_id)
    assert links(db)[one][0] == keg
    ChannelRepo(db).link(two, mug, LinkMethod.MANUAL)  # changed outside any batch
    undone = repo.undo()
    assert undone.batch_id == first.batch_id and undone.skipped == ["P-2"]
    assert one not in links(db) and links(db)[two][0] == mug
    assert "1 listing changed since and were left as they are" in undone.text()
    with pytest.raises(MappingError, match="no mapping change to undo"):
        repo.undo()


def test_products_made_from_listings_get_opening_stock_and_survive_undo(db):
    channel, *_ = shop(db)
    ChannelRepo(db).upsert_listings(
        channel.id, [listing("P-GLASS", "GLASS", "Beer glass", 12), listing("P-GIFT", "")]
    )
    OrderBook(db).ingest(
        channel, [make_order("1", lines=(("L1", "GLASS", 2),))], first_import=False
    )
    repo = MappingRepo(db)
    glass_listing = ids(db, channel)["P-GLASS"]
    with pytest.raises(MappingError, match="has no SKU"):
        repo.apply(
            channel, [ListingChange(ids(db, channel)["P-GIFT"], create=True)], source="wizard"
        )
    outcome = repo.apply(channel, [ListingChange(glass_listing, create=True)], source="wizard")
    assert (outcome.created, outcome.linked, outcome.released) == (1, 1, 1)
    glass = Catalog(db).by_sku("GLASS")
    assert glass.name == "Beer glass"
    lv = Ledger(db).level(glass.id)
    assert (lv.on_hand, lv.committed, lv.available) == (14, 2, 12)  # available = the channel's
    repo.undo()
    assert Catalog(db).by_sku("GLASS") is not None and glass_listing not in links(db)
    assert held(db, "SM-1") == 1


def test_new_listings_are_the_ones_that_appear_after_setup(db):
    channel, keg, _ = shop(db)
    repo = ChannelRepo(db)
    repo.upsert_listings(channel.id, [listing("P-OLD", "OLD")])
    assert new_listings(db) == []  # the first sync's catalogue is mapped with the wizard
    repo.mark_first_import_done(channel.id)
    cutoff = time.time()
    repo.upsert_listings(channel.id, [listing("P-NEW", "NEW"), listing("P-KEG", "KEG")])
    MappingRepo(db).auto_link(channel)  # P-KEG links by SKU: nothing to ask about
    found = new_listings(db)
    assert [(r["external_id"], r["channel"]) for r in found] == [("P-NEW", "Web shop")]
    assert new_listings(db, channel_id=channel.id, since=cutoff - 1) == found
    assert new_listings(db, since=time.time() + 1) == []
    MappingRepo(db).apply(channel, [ListingChange(found[0]["id"], ignored=True)], source="bulk")
    assert new_listings(db) == []


# -- spreadsheets -------------------------------------------------------------------------------
def test_export_then_import_changes_nothing_and_the_template_lists_the_unmapped(db):
    channel, keg, _ = shop(db)
    ChannelRepo(db).upsert_listings(
        channel.id, [listing("P-KEG", "KEG"), listing("P-X", "X"), listing("P-Y", "Y")]
    )
    repo = MappingRepo(db)
    repo.auto_link(channel)
    repo.apply(channel, [ListingChange(ids(db, channel)["P-Y"], ignored=True)], source="bulk")
    exported = repo.export_csv(channel)
    result = repo.import_csv(channel, exported.encode(), dry_run=False)
    assert (result.rows, result.unchanged, result.changes, result.refused) == (3, 3, [], [])
    assert result.outcome is None
    template = repo.export_csv(channel, unmapped_only=True).splitlines()
    assert len(template) == 2 and template[1].startswith("Web shop,P-X,X,")


def test_ten_thousand_rows_import_in_one_undoable_batch_with_errors_per_row(db, capsys):
    channel, *_ = shop(db, mode="id")
    catalog = Catalog(db)
    with db.transaction():
        for i in range(10_000):
            catalog.add_product(f"SKU-{i:05d}", f"Product {i}")
    ChannelRepo(db).upsert_listings(
        channel.id, [listing(f"L{i:05d}", f"CH-{i:05d}") for i in range(10_000)]
    )
    lines = ["listing,product_sku"]
    for i in range(10_000):
        lines.append(f"L{i:05d},SKU-{i:05d}")
    lines[101] = "L00100,NO-SUCH-SKU"
    lines[202] = "L99999,SKU-00201"
    lines[303] = "L00001,SKU-00302"  # L00001 is on line 3 already
    data = ("\n".join(lines) + "\n").encode()
    repo = MappingRepo(db)
    started = time.perf_counter()
    preview = repo.import_csv(channel, data, dry_run=True)
    checked = time.perf_counter()
    result = repo.import_csv(channel, data, dry_run=False)
    done = time.perf_counter()
    with capsys.disabled():
        print(
            f"\n10,000-row mapping CSV: preview {checked - started:.2f} s,"
            f" import {done - checked:.2f} s"
        )
    assert len(preview.changes) == 9_997 and len(links(db)) == 9_997
    assert [(p.line, p.reason) for p in result.refused] == [
        (102, "no product has SKU NO-SUCH-SKU"),
        (203, "Web shop has no listing L99999"),
        (304, "listing L00001 already appears on line 3"),
    ]
    assert result.outcome.linked == 9_997
    assert db.scalar("SELECT COUNT(*) FROM mapping_batch_items") == 9_997
    repo.undo()
    assert links(db) == {}


def test_a_dry_run_writes_nothing(db):
    channel, *_ = shop(db)
    ChannelRepo(db).upsert_listings(channel.id, [listing("P-X", "X")])
    result = MappingRepo(db).import_csv(channel, b"listing,product_sku\nP-X,MUG\n", dry_run=True)
    assert result.changes[0]["after"] == "linked to MUG" and result.outcome is None
    assert links(db) == {} and undoable_batch(db) is None


# -- customers ------------------------------------------------------------------------------
def buyer_order(ext: str, ref: str, name: str, **receiver) -> object:
    order = make_order(ext, receiver=receiver)
    order.customer = ChannelCustomer(ref=ref, name=name, email=f"{name.lower()}@example.org")
    return order


def test_map_to_existing_applies_to_the_buyers_later_orders(db):
    channel, *_ = shop(db)
    customers = CustomerRepo(db)
    anna = customers.add("Anna Schmidt", email="anna@example.org", postcode="10115")
    OrderBook(db).ingest(channel, [buyer_order("1", "retailer:7", "Anna")], first_import=False)
    assert [b["ref"] for b in customers.buyers(channel, unlinked_only=True)] == ["retailer:7"]
    suggestion = customers.suggest(channel, "retailer:7")[0]
    assert (suggestion.id, suggestion.reasons[0]) == (anna, "same email")
    outcome = customers.link(channel, "retailer:7", anna)
    assert outcome.linked == 1 and customers.buyers(channel, unlinked_only=True) == []
    OrderBook(db).ingest(channel, [buyer_order("2", "retailer:7", "Anna")], first_import=False)
    assert customers.customer_for(channel.id, "retailer:7") == anna
    assert [b["orders"] for b in customers.buyers(channel)] == [2]
    with pytest.raises(MappingError, match="no orders from customer user:404"):
        customers.link(channel, "user:404", anna)


def test_create_from_the_orders_details_and_undo_removes_it(db):
    channel, *_ = shop(db)
    OrderBook(db).ingest(
        channel,
        [buyer_order("5", "guest:5", "Ben", postal="80331", phone="+49 89 123456")],
        first_import=False,
    )
    customers = CustomerRepo(db)
    order_id = OrderBook(db).find("SM-5")
    outcome = customers.create_from_order(order_id)
    assert (outcome.created, outcome.linked) == (1, 1)
    made = customers.get(outcome.customer_ids[0])
    assert (made["name"], made["email"], made["phone"], made["postcode"]) == (
        "Ben",
        "ben@example.org",
        "+49 89 123456",
        "80331",
    )
    undone = MappingRepo(db).undo()
    assert undone.buyers == 1
    assert db.scalar("SELECT COUNT(*) FROM customers") == 0
    assert customers.customer_for(channel.id, "guest:5") is None


def test_an_order_without_a_buyer_reference_is_its_own_buyer(db):
    channel, *_ = shop(db)
    order = make_order("9", receiver={"name": "Walk-in"})
    order.customer = None
    OrderBook(db).ingest(channel, [order], first_import=False)
    customers = CustomerRepo(db)
    assert [(b["ref"], b["name"]) for b in customers.buyers(channel)] == [("order:9", "Walk-in")]
    customers.create_from_order(OrderBook(db).find("SM-9"))
    assert customers.customer_for(channel.id, "order:9") is not None


def test_customer_csv_round_trip_and_import(db):
    channel, *_ = shop(db)
    customers = CustomerRepo(db)
    lion = customers.add("The Red Lion", email="lion@example.org")
    OrderBook(db).ingest(
        channel,
        [buyer_order("1", "retailer:1", "Lion"), buyer_order("2", "retailer:2", "Crown")],
        first_import=False,
    )
    exported = customers.export_csv(channel)
    assert customers.import_csv(channel, exported.encode(), dry_run=False).unchanged == 2
    data = (
        b"customer_ref,customer_id,customer_email,action\n"
        b"retailer:1,,LION@example.org,\n"
        b"retailer:2,,,create\n"
        b"retailer:3,1,,\n"
    )
    result = customers.import_csv(channel, data, dry_run=False)
    assert [(c["record"], c["after"]) for c in result.changes] == [
        ("retailer:1", f"linked to The Red Lion (#{lion})"),
        ("retailer:2", "new customer Crown"),
    ]
    assert [(p.line, p.reason) for p in result.refused] == [
        (4, "no orders from customer retailer:3 on Web shop")
    ]
    assert customers.customer_for(channel.id, "retailer:1") == lion
    assert result.outcome.created == 1
