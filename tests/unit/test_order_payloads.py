"""What a channel sent for each order: kept in order_payloads, read back whole."""

import datetime
import json
import pickle
from decimal import Decimal

import pytest

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
    before = every[: next(i for i, m in enumerate(every) if "order_payloads" in m[1])]
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
