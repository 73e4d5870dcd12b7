"""RetailCRM through the engine: Stockbridge as the CRM's warehouse system."""

import asyncio
import math

import pytest

from app import secrets
from app.channels.retailcrm.sandbox import RetailCrmSandbox
from app.hub import Hub

NAME = "CRM"


@pytest.fixture
def box():
    sandbox = RetailCrmSandbox(seed=1, extra_offers=1000)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def hub(tmp_path, box):
    h = Hub(tmp_path / "data")
    asyncio.run(
        h.add_channel("retailcrm", NAME, account="", secret=box.token, base_url=box.base_url)
    )
    yield h
    h.close()


def sync(hub):
    (report,) = asyncio.run(hub.sync(NAME))
    assert report.ok, report.error
    return report


def test_connecting_registers_the_warehouse_module_and_picks_a_store(hub, box):
    assert box.module and box.module.get("active")
    store = hub.channels.get(NAME).settings["store_code"]
    assert store in {
        s["code"] if isinstance(s, dict) else s.code
        for s in (box.stores.values() if isinstance(box.stores, dict) else box.stores)
    }
    assert secrets.load(f"{NAME}:client_id")


def test_stock_and_cost_prices_go_up_in_batches_and_only_when_changed(hub, box):
    sync(hub)
    hub.adopt(NAME)
    for row in hub.stock()[:5]:  # a few products get a cost price and a new count
        product = hub.catalog.by_sku(row["sku"])
        hub.catalog.update_product(product.id, cost_price=12.5)
    sync(hub)
    uploads = list(box.upload_requests)
    linked = [r for r in hub.listings(NAME) if r["product_sku"]]
    assert uploads and max(uploads) <= 250
    assert len(uploads) == math.ceil(len(linked) / 250)
    store = hub.channels.get(NAME).settings["store_code"]
    for row in linked[:50]:
        available, _cost = box.stock(int(row["listing"]), store)
        assert available == hub.stock(row["product_sku"])[0]["sellable"]
    sync(hub)
    assert list(box.upload_requests) == uploads  # nothing changed, nothing sent
    first = linked[0]
    hub.count_stock(first["product_sku"], 77)
    sync(hub)
    assert list(box.upload_requests)[len(uploads) :] == [1]  # just the one that changed
    assert box.stock(int(first["listing"]), store)[0] == 77


def test_dispatch_sets_shipped_and_history_cursor_moves(hub, box):
    sync(hub)
    hub.adopt(NAME)
    sync(hub)
    offer = int(next(r for r in hub.listings(NAME) if r["product_sku"])["listing"])
    order = box.create_order([(offer, 1)], status="assembling")
    sync(hub)
    cursor = hub.channels.cursor(hub.channels.get(NAME).id, "orders-history")
    assert cursor is not None
    ref = f"{NAME}:{order['id']}"
    assert hub.order_detail(ref)["status"] == "confirmed"
    hub.order_action(ref, "dispatch")
    sync(hub)
    shipped = box.orders[order["id"]]
    assert shipped["shipped"] is True and shipped["shipmentStore"] and shipped["shipmentDate"]
    assert int(hub.channels.cursor(hub.channels.get(NAME).id, "orders-history")) >= int(cursor)
