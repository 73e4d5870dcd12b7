"""Importing orders once, opening balance, needs-mapping queue, outbox atomicity."""

import pytest

from app.core.models import ChannelListing
from app.core.models import OrderStatus as S
from app.store.catalog import Catalog
from app.store.channels import ChannelRepo
from app.store.ledger import Ledger
from app.store.mapping import MappingRepo
from app.store.orders import ActionRefused, OrderBook, merged_status
from tests.conftest import make_order


@pytest.fixture
def keg(db):
    catalog = Catalog(db)
    product = catalog.add_product("KEG", "Beer keg")
    Ledger(db).record(product.id, catalog.default_warehouse_id(), on_hand=10, reason="count")
    return product


def levels(db, product):
    lv = Ledger(db).level(product.id)
    return lv.on_hand, lv.committed


def test_same_order_imported_twice_is_one_order(db, channel, keg):
    book = OrderBook(db)
    first = book.ingest(channel, [make_order("7")], first_import=False)
    again = book.ingest(channel, [make_order("7"), make_order("7")], first_import=False)
    assert (first.created, again.created, again.unchanged) == (1, 0, 2)
    assert db.scalar("SELECT COUNT(*) FROM orders") == 1
    assert db.scalar("SELECT COUNT(*) FROM order_lines") == 1
    assert levels(db, keg) == (10, 2)


def test_reimport_changes_only_what_the_channel_changed(db, channel, keg):
    book = OrderBook(db)
    book.ingest(channel, [make_order("7")], first_import=False)
    book.ingest(
        channel, [make_order("7", lines=(("L1", "KEG", 3),), updated=2000)], first_import=False
    )
    assert levels(db, keg) == (10, 3)
    book.ingest(
        channel,
        [make_order("7", status=S.CANCELLED, lines=(("L1", "KEG", 3),), updated=3000)],
        first_import=False,
    )
    assert levels(db, keg) == (10, 0)
    assert book.get(book.find("SM-7"))["status"] == "cancelled"


def test_channel_never_moves_local_progress_backwards(db, channel, keg):
    book = OrderBook(db)
    book.ingest(channel, [make_order("7")], first_import=False)
    book.act(book.find("SM-7"), "dispatch")
    # The channel has not seen our push yet and still says requested, with a new timestamp.
    book.ingest(channel, [make_order("7", updated=5000, channel_state="x")], first_import=False)
    assert book.get(book.find("SM-7"))["status"] == "dispatched"
    assert levels(db, keg) == (8, 0)
    assert merged_status(S.DISPATCHED, S.CANCELLED) is S.CANCELLED
    assert merged_status(S.RETURNED, S.CONFIRMED) is S.RETURNED


def test_first_import_records_history_without_moving_stock(db, channel, keg):
    book = OrderBook(db)
    book.ingest(
        channel,
        [
            make_order("1", status=S.DISPATCHED),
            make_order("2", status=S.DELIVERED),
            make_order("3", status=S.CANCELLED),
            make_order("4", status=S.RETURNED),
            make_order("5", status=S.REQUESTED),
            make_order("6", status=S.CONFIRMED),
        ],
        first_import=True,
    )
    # Only the requested order commits and only the confirmed-not-dispatched one deducts.
    assert levels(db, keg) == (8, 2)
    history = {o["number"]: o["history_only"] for o in book.list()}
    assert history == {"SM-1": 1, "SM-2": 1, "SM-3": 1, "SM-4": 1, "SM-5": 0, "SM-6": 0}
    # A historical dispatched order that comes back puts its goods back on the shelf.
    book.act(book.find("SM-1"), "return")
    assert levels(db, keg) == (10, 2)


def test_later_imports_move_stock_for_every_status(db, channel, keg):
    book = OrderBook(db)
    book.ingest(channel, [make_order("1", status=S.DISPATCHED)], first_import=False)
    assert levels(db, keg) == (8, 0)


def test_unmapped_line_waits_then_commits_when_linked(db, channel, keg):
    repo = ChannelRepo(db)
    repo.upsert_listings(
        channel.id, [ChannelListing("P-MUG-RED", "P-MUG-RED", None, "MUG-RED", "Mug", 5)]
    )
    book = OrderBook(db)
    book.ingest(
        channel, [make_order("9", lines=(("A", "KEG", 1), ("B", "MUG-RED", 2)))], first_import=False
    )
    order = book.get(book.find("SM-9"))
    assert order["needs_mapping"] == 1
    assert levels(db, keg) == (10, 1)  # the mapped line commits at once
    with pytest.raises(ActionRefused, match="not mapped"):
        book.act(order["id"], "confirm")
    mug = Catalog(db).add_product("MUG-1", "Red mug")
    Ledger(db).record(mug.id, 1, on_hand=4, reason="count")
    outcome = MappingRepo(db).link(channel, "P-MUG-RED", "MUG-1")
    assert outcome.released == 1
    assert book.get(order["id"])["needs_mapping"] == 0
    assert levels(db, mug) == (4, 2)


def test_sku_auto_link_refuses_duplicates_and_empty(db, channel, keg):
    repo = ChannelRepo(db)
    repo.upsert_listings(
        channel.id,
        [
            ChannelListing("1", "1", None, "KEG", "Keg", 3),
            ChannelListing("2", "2", None, "DUP", "A", 1),
            ChannelListing("3", "3", None, "DUP", "B", 1),
            ChannelListing("4", "4", None, "", "No SKU", 1),
            ChannelListing("5", "5", None, "NEW", "New", 1),
        ],
    )
    Catalog(db).add_product("DUP", "Duplicate")
    outcome = MappingRepo(db).auto_link(channel)
    assert outcome.linked == 1
    reasons = sorted(c["reason"] for c in outcome.conflicts)
    assert reasons == ["the SKU is used by several listings on this channel"] * 2 + [
        "the listing has no SKU"
    ]
    assert [u["sku"] for u in outcome.unmapped] == ["NEW"]
    # the linked listing gets a stock push queued
    assert db.scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'stock' AND state = 'pending'") == 1


def test_partial_confirm_drops_unchosen_lines(db, channel, keg):
    mug = Catalog(db).add_product("MUG", "Mug")
    Ledger(db).record(mug.id, 1, on_hand=5, reason="count")
    book = OrderBook(db)
    book.ingest(
        channel, [make_order("3", lines=(("A", "KEG", 2), ("B", "MUG", 1)))], first_import=False
    )
    oid = book.find("SM-3")
    with pytest.raises(ActionRefused, match="has no line Z"):
        book.act(oid, "confirm", items=["Z"])
    book.act(oid, "confirm", items=["A"])
    assert levels(db, keg) == (8, 0)
    assert levels(db, mug) == (5, 0)
    push = db.one("SELECT payload FROM outbox WHERE kind = 'order'")
    assert '"fulfil_line_ids": ["A"]' in push["payload"]


def test_action_and_outbox_are_one_transaction(db, channel, keg, monkeypatch):
    book = OrderBook(db)
    book.ingest(channel, [make_order("1")], first_import=False)
    oid = book.find("SM-1")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(book.outbox, "enqueue_order", broken)
    with pytest.raises(RuntimeError):
        book.act(oid, "dispatch", tracking_code="X1")
    assert book.get(oid)["status"] == "requested"
    assert levels(db, keg) == (10, 2)
    assert db.scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'order'") == 0


def test_stock_pushes_coalesce_per_listing(db, channel, keg):
    repo = ChannelRepo(db)
    repo.upsert_listings(channel.id, [ChannelListing("1", "1", None, "KEG", "Keg", 3)])
    MappingRepo(db).auto_link(channel)
    book = OrderBook(db)
    for i in range(5):
        book.ingest(channel, [make_order(str(i))], first_import=False)
    assert db.scalar("SELECT COUNT(*) FROM outbox WHERE kind = 'stock' AND state = 'pending'") == 1


def test_dispatch_queues_progress_then_tracking(db, channel, keg):
    book = OrderBook(db)
    book.ingest(channel, [make_order("1")], first_import=False)
    book.act(
        book.find("SM-1"), "dispatch", tracking_code="00340434", tracking_url="https://t.example/1"
    )
    kinds = [
        r["payload"] for r in db.all("SELECT payload FROM outbox WHERE kind='order' ORDER BY id")
    ]
    assert '"progress"' in kinds[0] and '"dispatched"' in kinds[0]
    assert '"tracking"' in kinds[1] and "00340434" in kinds[1]
    with pytest.raises(ActionRefused, match="http"):
        book.act(book.find("SM-1"), "deliver", tracking_url="ftp://nope")


def test_find_by_number_channel_ref_and_id(db, channel, keg):
    book = OrderBook(db)
    book.ingest(channel, [make_order("55")], first_import=False)
    oid = book.find("SM-55")
    assert book.find("Web shop:55") == oid
    assert book.find("55") == oid


def test_adopt_makes_available_equal_the_channel_quantity(db, channel):
    """The shop already took its open orders off its quantity: adopting must not count them twice."""
    repo = ChannelRepo(db)
    repo.upsert_listings(channel.id, [ChannelListing("P-KEG", "P-KEG", None, "KEG", "Keg", 5)])
    book = OrderBook(db)
    book.ingest(
        channel,
        [
            make_order("1", lines=(("A", "KEG", 2),)),
            make_order("2", status=S.CONFIRMED, lines=(("A", "KEG", 1),)),
            make_order("3", status=S.DISPATCHED, lines=(("A", "KEG", 4),)),
        ],
        first_import=True,
    )
    outcome = MappingRepo(db).adopt(channel)
    assert (outcome.created, outcome.released) == (1, 2)
    level = Ledger(db).levels(sku="KEG")[0]
    # physically: 5 for sale + 2 reserved for the new order + the confirmed one already deducted
    assert (level.on_hand, level.committed, level.available) == (7, 2, 5)
