"""What a channel sent for each order: kept in order_payloads, read back whole."""

import datetime
import json
import pickle
import zlib
from decimal import Decimal

import pytest

from app.core.models import RawPage
from app.store import db as dbmod
from app.store import payloads
from app.store.catalog import Catalog
from app.store.channels import ChannelRepo
from app.store.db import Database
from app.store.orders import OrderBook
from tests.conftest import make_order

BASKET = {
    "id": 48215,
    "status": "Payed",
    "price": 113.05,
    "receiver_info": {"name": "Jürgen Groß", "location": {"lat": 47.26, "lng": 11.4}},
    "items": [{"id": 1, "count": 2, "product": {"title": "Merino Socks", "sku": None}}],
    "flags": [True, False, None],
}


def test_ingested_orders_keep_their_payload_apart_from_the_order_row(db, channel):
    book = OrderBook(db)
    book.ingest(channel, [make_order("7", raw=BASKET), make_order("8")], first_import=False)
    order_id = book.find("SM-7")
    assert "raw" not in {r[1] for r in db.all("PRAGMA table_info(orders)")}
    assert book.payload(order_id) == BASKET
    assert json.loads(book.get(order_id)["raw"]) == BASKET
    assert book.payload(book.find("SM-8")) == {}
    assert db.scalar("SELECT COUNT(*) FROM order_payloads") == 2


def test_a_changed_order_keeps_the_channels_latest_payload(db, channel):
    book = OrderBook(db)
    book.ingest(channel, [make_order("7", raw=BASKET)], first_import=False)
    newer = dict(BASKET, status="Canceled")
    book.ingest(
        channel,
        [make_order("7", raw=newer, updated=2000, channel_state="Canceled")],
        first_import=False,
    )
    assert book.payload(book.find("SM-7")) == newer
    assert db.scalar("SELECT COUNT(*) FROM order_payloads") == 1


def test_the_same_order_twice_in_a_page_keeps_the_second_copy(db, channel):
    book = OrderBook(db)
    second = dict(BASKET, status="Canceled")
    book.ingest(
        channel,
        [
            make_order("7", raw=BASKET),
            make_order("7", raw=second, updated=2000, channel_state="Canceled"),
        ],
        first_import=False,
    )
    assert book.payload(book.find("SM-7")) == second


def test_values_json_cannot_hold_are_kept_as_text_like_before():
    body = payloads.encode({"paid": Decimal("12.50"), "at": datetime.date(2026, 11, 3)})
    assert isinstance(body, str)
    assert payloads.decode(body) == {"paid": "12.50", "at": "2026-11-03"}


def test_plain_payloads_round_trip_exactly():
    body = payloads.encode(BASKET)
    assert isinstance(body, bytes)
    assert payloads.decode(body) == BASKET
    assert payloads.decode(payloads.encode({"pair": (1, "a")})) == {"pair": (1, "a")}
    assert json.loads(payloads.as_text(body)) == BASKET
    assert payloads.as_text(None) == "{}"


def test_a_tampered_payload_naming_a_function_is_refused():
    evil = pickle.dumps(datetime.date(2026, 1, 1), 5)  # names datetime.date
    with pytest.raises(ValueError, match="cannot be read"):
        payloads.decode(evil)
    with pytest.raises(ValueError, match="cannot be read"):
        payloads.decode(b"\x80\x05garbage")


def test_existing_payloads_move_out_of_the_orders_table(tmp_path, monkeypatch):
    path = tmp_path / "stockbridge.db"
    every = dbmod.migrations()
    moved_at = next(m[0] for m in every if "order_payloads" in m[1])
    before = [m for m in every if m[0] < moved_at]
    monkeypatch.setattr(dbmod, "migrations", lambda: before)
    old = Database(path)
    warehouse = Catalog(old).default_warehouse_id()
    channel = ChannelRepo(old).add(
        "Web shop", "selldone", "http://127.0.0.1:1", account="1", warehouse_id=warehouse
    )
    for n, raw in ((1, json.dumps(BASKET)), (2, "{}")):
        old.execute(
            "INSERT INTO orders (channel_id, external_id, number, status, payment_status,"
            " imported_at, updated_at, raw) VALUES (?, ?, ?, 'requested', 'paid', 0, 0, ?)",
            (channel.id, str(n), f"SM-{n}", raw),
        )
    old.close()
    monkeypatch.setattr(dbmod, "migrations", lambda: every)
    upgraded = Database(path)
    book = OrderBook(upgraded)
    assert book.payload(book.find("SM-1")) == BASKET
    assert book.payload(book.find("SM-2")) is None
    assert book.get(book.find("SM-2"))["raw"] == "{}"
    upgraded.close()


def test_a_damaged_payload_does_not_hide_the_order(db, channel):
    book = OrderBook(db)
    book.ingest(channel, [make_order("7", raw=BASKET)], first_import=False)
    order_id = book.find("SM-7")
    db.execute("UPDATE order_payloads SET body = x'8005ff' WHERE order_id = ?", (order_id,))
    order = book.get(order_id)
    assert order["number"] == "SM-7" and order["raw"] == "{}"
    assert "cannot be read" in order["raw_error"]
    with pytest.raises(ValueError, match="cannot be read"):
        book.payload(order_id)


def _basket(n: int, **change) -> dict:
    return dict(BASKET, id=n, code=f"G{n}", **change)


def _page(first: int, count: int, **change) -> list:
    return [make_order(str(n), raw=_basket(n, **change)) for n in range(first, first + count)]


def test_a_batch_of_orders_keeps_its_payloads_as_one_compressed_page(db, channel):
    book = OrderBook(db)
    book.ingest(channel, _page(1, 40), first_import=False)
    assert db.scalar("SELECT COUNT(*) FROM payload_pages") == 1
    assert db.scalar("SELECT COUNT(*) FROM order_payloads WHERE page_id IS NULL") == 0
    for n in range(1, 41):
        order_id = book.find(f"SM-{n}")
        assert book.payload(order_id) == _basket(n)
        assert json.loads(book.get(order_id)["raw"]) == _basket(n)
    page = db.scalar("SELECT body FROM payload_pages")
    separate = sum(len(payloads.encode(_basket(n))) for n in range(1, 41))
    assert len(page) * 5 < separate  # what the page is for: far fewer bytes written


def test_fewer_orders_than_a_page_is_worth_are_kept_one_by_one(db, channel):
    book = OrderBook(db)
    book.ingest(channel, _page(1, payloads.PAGE_MIN - 1), first_import=False)
    assert db.scalar("SELECT COUNT(*) FROM payload_pages") == 0
    assert book.payload(book.find("SM-2")) == _basket(2)


def test_a_page_goes_when_no_order_points_at_it_any_more(db, channel):
    book = OrderBook(db)
    book.ingest(channel, _page(1, 5), first_import=False)
    book.ingest(channel, _page(6, 5), first_import=False)
    assert db.scalar("SELECT COUNT(*) FROM payload_pages") == 2
    # Four of the first five change: the first page still holds order 5's payload.
    changed = [
        make_order(str(n), raw=_basket(n, status="Canceled"), updated=2000, channel_state="X")
        for n in range(1, 5)
    ]
    book.ingest(channel, changed, first_import=False)
    assert db.scalar("SELECT COUNT(*) FROM payload_pages") == 3
    assert book.payload(book.find("SM-5")) == _basket(5)
    assert book.payload(book.find("SM-1")) == _basket(1, status="Canceled")
    # The fifth changes on its own: nobody points at the first page now.
    book.ingest(
        channel,
        [make_order("5", raw=_basket(5, status="Canceled"), updated=2000, channel_state="X")],
        first_import=False,
    )
    assert db.scalar("SELECT COUNT(*) FROM payload_pages") == 2
    assert book.payload(book.find("SM-5")) == _basket(5, status="Canceled")
    assert [book.payload(book.find(f"SM-{n}"))["id"] for n in range(1, 11)] == list(range(1, 11))


def test_the_second_copy_of_an_order_in_a_paged_batch_wins(db, channel):
    book = OrderBook(db)
    page = _page(1, 6)
    page.append(make_order("3", raw=_basket(3, status="Canceled"), updated=2000, channel_state="X"))
    book.ingest(channel, page, first_import=False)
    assert book.payload(book.find("SM-3")) == _basket(3, status="Canceled")
    assert book.payload(book.find("SM-4")) == _basket(4)
    assert db.scalar("SELECT COUNT(*) FROM order_payloads") == 6


def test_a_batch_with_a_value_json_cannot_hold_is_kept_one_by_one(db, channel):
    book = OrderBook(db)
    page = _page(1, 6)
    page[2].raw["paid"] = Decimal("12.50")
    book.ingest(channel, page, first_import=False)
    assert db.scalar("SELECT COUNT(*) FROM payload_pages") == 0
    assert book.payload(book.find("SM-3"))["paid"] == "12.50"
    assert book.payload(book.find("SM-4")) == _basket(4)


def test_a_damaged_page_does_not_hide_its_orders(db, channel):
    book = OrderBook(db)
    book.ingest(channel, _page(1, 6), first_import=False)
    db.execute("UPDATE payload_pages SET body = ?", (b"SBP1" + b"not zlib",))
    order = book.get(book.find("SM-2"))
    assert order["number"] == "SM-2" and order["raw"] == "{}"
    assert "payload page cannot be read" in order["raw_error"]
    db.execute("UPDATE payload_pages SET body = ?", (b"\x80\x05]\x94.",))
    with pytest.raises(ValueError, match="not one Stockbridge wrote"):
        book.payload(book.find("SM-2"))


def test_a_page_naming_a_function_is_refused():
    evil = b"SBP1" + zlib.compress(pickle.dumps([print]))
    with pytest.raises(ValueError, match="may not name"):
        payloads.decode_page(evil)


def _sent(first: int, count: int, **change) -> list:
    """Orders with the page they came in, as a client that keeps the answer gives them."""
    baskets = [_basket(n, **change) for n in range(first, first + count)]
    page = RawPage(json.dumps({"orders": baskets, "total": 99}).encode(), ("orders",))
    orders = []
    for index, basket in enumerate(baskets):
        extra = {"updated": 2000, "channel_state": "X"} if change else {}
        order = make_order(str(first + index), raw=basket, **extra)
        order.source = (page, index)
        orders.append(order)
    return orders


def test_orders_keep_the_page_as_the_channel_sent_it(db, channel):
    book = OrderBook(db)
    book.ingest(channel, _sent(1, 30), first_import=False)
    (body,) = [r[0] for r in db.all("SELECT body FROM payload_pages")]
    assert body.startswith(b"SBJ1")
    for n in range(1, 31):
        assert book.payload(book.find(f"SM-{n}")) == _basket(n)
        assert json.loads(book.get(book.find(f"SM-{n}"))["raw"]) == _basket(n)


def test_pages_as_sent_and_decoded_payloads_mix_in_one_import(db, channel):
    book = OrderBook(db)
    book.ingest(channel, _sent(1, 10) + _sent(11, 10) + _page(21, 5), first_import=False)
    assert db.scalar("SELECT COUNT(*) FROM payload_pages") == 3
    assert [book.payload(book.find(f"SM-{n}"))["id"] for n in range(1, 26)] == list(range(1, 26))


def test_a_later_copy_of_an_order_replaces_its_place_in_the_page_as_sent(db, channel):
    book = OrderBook(db)
    orders = _sent(1, 6)
    orders.append(
        make_order("3", raw=_basket(3, status="Canceled"), updated=2000, channel_state="X")
    )
    book.ingest(channel, orders, first_import=False)
    assert book.payload(book.find("SM-3")) == _basket(3, status="Canceled")
    assert book.payload(book.find("SM-2")) == _basket(2)
    # All of page 1 changes later: nobody points at it, it goes.
    book.ingest(channel, _sent(1, 6, status="Canceled"), first_import=False)
    assert book.payload(book.find("SM-2")) == _basket(2, status="Canceled")
    assert db.scalar("SELECT COUNT(*) FROM payload_pages") == 1


def test_a_page_whose_orders_are_all_known_is_not_stored_again(db, channel):
    book = OrderBook(db)
    book.ingest(channel, _sent(1, 8), first_import=False)
    book.ingest(channel, _sent(1, 8), first_import=False)
    assert db.scalar("SELECT COUNT(*) FROM payload_pages") == 1


def test_a_page_as_sent_that_is_damaged_names_the_problem(db, channel):
    book = OrderBook(db)
    book.ingest(channel, _sent(1, 6), first_import=False)
    db.execute("UPDATE payload_pages SET body = ?", (b'SBJ1["baskets"]\n' + zlib.compress(b"{}"),))
    order = book.get(book.find("SM-2"))
    assert order["raw"] == "{}" and "no list of orders where it says" in order["raw_error"]
