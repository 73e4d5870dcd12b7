"""The bulk path for new orders writes exactly what the general one-by-one path writes."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.models import ChannelListing, ChannelOrder, ChannelOrderLine, OrderStatus
from app.store import payloads
from app.store.catalog import Catalog
from app.store.channels import ChannelRepo
from app.store.db import Database
from app.store.ledger import Ledger
from app.store.orders import OrderBook
from tests.conftest import make_order

# KEG and CUP are products linked through their listings; MUG's listing has no product;
# WRAP's listing is ignored; NEW has no listing (its SKU matches a product: auto-link).
SKUS = ["KEG", "CUP", "MUG", "WRAP", "NEW", "GONE"]

line = st.tuples(st.sampled_from(SKUS), st.sampled_from([0.0, 1.0, 2.0, 2.5]))
order = st.tuples(
    st.sampled_from(list(OrderStatus)),
    st.lists(line, min_size=1, max_size=4),
    st.sampled_from(["", "tracking-1"]),
)


def _store(tmp_path, name: str) -> tuple[Database, OrderBook, object]:
    db = Database(tmp_path / f"{name}.db")
    catalog = Catalog(db)
    warehouse = catalog.default_warehouse_id()
    channel = ChannelRepo(db).add(
        "Web shop", "selldone", "http://127.0.0.1:1", account="1", warehouse_id=warehouse
    )
    channels = ChannelRepo(db)
    channels.upsert_listings(
        channel.id,
        [
            ChannelListing(f"P-{sku}", f"P-{sku}", None, sku, sku, 5)
            for sku in ("KEG", "CUP", "MUG", "WRAP")
        ],
    )
    for sku in ("KEG", "CUP", "NEW"):
        product = catalog.add_product(sku, sku)
        Ledger(db).record(product.id, warehouse, on_hand=7.5, reason="count")
    book = OrderBook(db)
    db.execute(
        "UPDATE listings SET ignored = 1 WHERE channel_id = ? AND external_id = 'P-WRAP'",
        (channel.id,),
    )
    return db, book, channels.get("Web shop")


def _general_path(book: OrderBook):
    """Route every order through _ingest_one, as before the bulk path existed."""

    def route(channel, co, first_import, resolver, result, batch, stored):
        batch.flush_rows()
        return book._ingest_one(channel, co, first_import, resolver, result)

    book._ingest_order = route


def _snapshot(db: Database) -> dict[str, list]:
    def rows(sql: str) -> list[tuple]:
        return [tuple(r) for r in db.all(sql)]

    return {
        "orders": rows(
            "SELECT id, channel_id, external_id, number, status, payment_status, needs_mapping,"
            " history_only, total, currency, customer_ref, customer_name, customer_email,"
            " receiver, tracking_code, tracking_url, invoice_number, channel_state,"
            " channel_updated_at, fingerprint, placed_at, payment_method FROM orders ORDER BY id"
        ),
        "lines": rows("SELECT * FROM order_lines ORDER BY id"),
        "movements": rows(
            "SELECT id, product_id, warehouse_id, on_hand_delta, committed_delta, reason, note,"
            " order_line_id FROM stock_movements ORDER BY id"
        ),
        "levels": rows("SELECT * FROM stock_levels ORDER BY product_id, warehouse_id"),
        "events": rows("SELECT id, order_id, kind, message FROM order_events ORDER BY id"),
        # Read through the store: the bulk path keeps a batch's payloads as one page.
        "payloads": [
            (r[0], payloads.read(db.conn, r[0]))
            for r in db.all("SELECT order_id FROM order_payloads ORDER BY order_id")
        ],
        "links": rows("SELECT listing_id, product_id, method FROM product_links ORDER BY 1"),
        "outbox": rows("SELECT channel_id, kind, dedupe_key, state FROM outbox ORDER BY id"),
    }


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pages=st.lists(st.lists(order, min_size=1, max_size=5), min_size=1, max_size=3),
    first_import=st.booleans(),
)
def test_bulk_rows_equal_the_general_path(tmp_path_factory, pages, first_import):
    tmp_path = tmp_path_factory.mktemp("paths")
    bulk_db, bulk, bulk_channel = _store(tmp_path, "bulk")
    one_db, one, one_channel = _store(tmp_path, "one")
    _general_path(one)
    number = 0
    for page in pages:
        batch: list[ChannelOrder] = []
        for status, lines, tracking in page:
            number += 1
            co = make_order(
                str(number),
                status=status,
                lines=[(f"L{i}", sku, q) for i, (sku, q) in enumerate(lines)],
                tracking_code=tracking,
                receiver={"name": "Jörg", "location": {"lat": 47.26, "lng": 11.4}},
                raw={"id": number, "items": [sku for sku, _ in lines]},
            )
            co.lines = [
                ChannelOrderLine(ln.external_id, ln.listing_id, ln.sku, ln.name, ln.quantity, 1.5)
                for ln in co.lines
            ]
            batch.append(co)
        outcome_bulk = bulk.ingest(bulk_channel, batch, first_import=first_import)
        outcome_one = one.ingest(one_channel, batch, first_import=first_import)
        assert (outcome_bulk.created, outcome_bulk.needs_mapping) == (
            outcome_one.created,
            outcome_one.needs_mapping,
        )
        assert outcome_bulk.committed_products == outcome_one.committed_products
    assert _snapshot(bulk_db) == _snapshot(one_db)
    assert Ledger(bulk_db).verify() == []
    bulk_db.close()
    one_db.close()


def test_stored_json_and_fingerprint_are_what_json_dumps_gives(tmp_path):
    """Fingerprints stored by earlier versions must still match an unchanged order."""
    import hashlib
    import json

    from app.store.orders import fingerprint

    db, book, channel = _store(tmp_path, "json")
    receiver = {"name": "Jörg „Ö“", "no": None, "pickup": False, "at": {"lat": 47.2692}, "n": 3}
    co = make_order("1", receiver=receiver, tracking_url="https://t.example/?a=1&b=ü")
    book.ingest(channel, [co], first_import=False)
    stored = db.one("SELECT receiver, fingerprint FROM orders")
    assert stored["receiver"] == json.dumps(receiver, default=str)
    parts = [
        co.status,
        co.payment_status,
        f"{co.total:.4f}",
        co.currency,
        co.tracking_code,
        co.tracking_url,
        co.invoice_number,
        co.channel_state,
        [(ln.external_id, ln.listing_id, ln.sku, ln.quantity) for ln in co.lines],
        co.customer.ref,
    ]
    expected = hashlib.sha1(json.dumps(parts, default=str).encode()).hexdigest()
    assert stored["fingerprint"] == fingerprint(co) == expected
    db.close()


def test_the_cycle_collector_resumes_after_an_import_even_a_failed_one(tmp_path):
    import gc

    import pytest

    db = Database(tmp_path / "x.db")
    warehouse = Catalog(db).default_warehouse_id()
    channel = ChannelRepo(db).add(
        "Shop", "selldone", "http://127.0.0.1:1", account="1", warehouse_id=warehouse
    )
    book = OrderBook(db)
    seen = []
    original = book._ingest_order

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return original(*args, **kwargs)

    book._ingest_order = spy
    book.ingest(channel, [make_order("1")], first_import=False)
    assert seen == [False] and gc.isenabled()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    book._ingest_order = broken
    with pytest.raises(RuntimeError):
        book.ingest(channel, [make_order("2")], first_import=False)
    assert gc.isenabled()
    gc.disable()  # a caller that turned it off keeps it off
    try:
        book._ingest_order = original
        book.ingest(channel, [make_order("3")], first_import=False)
        assert not gc.isenabled()
    finally:
        gc.enable()
    db.close()
