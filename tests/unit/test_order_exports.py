"""The export queue in the store (app/store/exports.py): which orders of the other
channels are queued for TradeGecko, and which mirrored steps follow, in which order."""

from __future__ import annotations

import json
import time

import pytest

from app.core.models import OrderStatus, PaymentStatus
from app.core.rules import ChannelRules
from app.store.catalog import Catalog
from app.store.channels import ChannelRepo
from app.store.orders import OrderBook
from tests.conftest import make_order


@pytest.fixture
def gecko(db):
    Catalog(db).add_product("KEG", "Keg")  # the orders' lines map to it by SKU
    return ChannelRepo(db).add(
        "Gecko",
        "tradegecko",
        "http://127.0.0.1:1",
        account="",
        warehouse_id=Catalog(db).default_warehouse_id(),
        settings={"export_orders": True, "export_since": time.time() - 60},
    )


def steps(db, gecko) -> list[dict]:
    return [
        json.loads(r["payload"])
        for r in db.all(
            "SELECT payload FROM outbox WHERE channel_id = ? AND kind = 'order' ORDER BY id",
            (gecko.id,),
        )
    ]


def test_a_new_order_is_queued_once_and_its_own_channel_is_not_held_up(db, channel, gecko):
    book = OrderBook(db)
    book.ingest(channel, [make_order("A1")], first_import=False)
    book.ingest(channel, [make_order("A1")], first_import=False)  # the same page again
    assert steps(db, gecko) == [
        {"kind": "export_order"},
        {"kind": "progress", "target": "confirmed"},  # paid: invoiced, then paid
        {"kind": "paid"},
    ]
    (row,) = db.all("SELECT * FROM order_exports")
    assert row["reference"].startswith(f"SB-{row['order_id']}-SM-A1")
    # The shop's own pushes for the order are due although the export waits.
    order_id = book.find("SM-A1")
    book.act(order_id, "confirm", rules=ChannelRules())
    due = book.outbox.due(channel.id)
    assert [r.payload["kind"] for r in due] == ["progress"]


def test_history_closed_and_older_orders_are_not_exported(db, channel, gecko):
    book = OrderBook(db)
    book.ingest(channel, [make_order("H1", status=OrderStatus.DELIVERED)], first_import=True)
    book.ingest(channel, [make_order("C1", status=OrderStatus.CANCELLED)], first_import=False)
    ChannelRepo(db).update("Gecko", settings={"export_since": time.time() + 3600})
    book.ingest(channel, [make_order("L1")], first_import=False)
    assert steps(db, gecko) == []


def test_the_merchants_actions_are_mirrored_in_lifecycle_order(db, channel, gecko):
    book = OrderBook(db)
    unpaid = make_order("B1")
    unpaid.payment_status = PaymentStatus.UNPAID
    book.ingest(channel, [unpaid], first_import=False)
    order_id = book.find("SM-B1")
    rules = ChannelRules()
    book.act(order_id, "confirm", rules=rules)
    book.act(order_id, "dispatch", tracking_code="TRK1", rules=rules)
    book.act(order_id, "deliver", rules=rules)
    book.act(order_id, "return", reason="damaged", rules=rules)
    assert steps(db, gecko) == [
        {"kind": "export_order"},
        {"kind": "progress", "target": "confirmed"},
        {
            "kind": "progress",
            "target": "dispatched",
            "tracking_code": "TRK1",
            "tracking_url": "",
        },
        {"kind": "progress", "target": "delivered", "tracking_code": "TRK1", "tracking_url": ""},
        {"kind": "return", "reason": "damaged"},
    ]
    events = [e["message"] for e in book.get(order_id)["events"]]
    assert any("queued for Gecko" in m for m in events)


def test_a_cancellation_reported_by_the_shop_voids_the_export(db, channel, gecko):
    book = OrderBook(db)
    book.ingest(channel, [make_order("D1")], first_import=False)
    book.ingest(
        channel,
        [make_order("D1", status=OrderStatus.CANCELLED, updated=2000.0)],
        first_import=False,
    )
    assert steps(db, gecko)[-1] == {"kind": "cancel", "reason": ""}
    book.ingest(
        channel,
        [make_order("D1", status=OrderStatus.CANCELLED, updated=3000.0)],
        first_import=False,
    )
    assert [s["kind"] for s in steps(db, gecko)].count("cancel") == 1


def test_a_switched_off_or_disabled_channel_gets_nothing(db, channel, gecko):
    ChannelRepo(db).update("Gecko", settings={"export_orders": False})
    OrderBook(db).ingest(channel, [make_order("E1")], first_import=False)
    assert steps(db, gecko) == []
