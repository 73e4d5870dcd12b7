"""RetailCRM stores ↔ local warehouses, drift checks and offer linking, over loopback."""

from __future__ import annotations

import asyncio
import json

import pytest

from app import cli
from app.channels.retailcrm import service
from app.channels.retailcrm.sandbox import RetailCrmSandbox
from app.channels.retailcrm.stores import StoreMapError
from app.hub import Hub

NAME = "CRM"
NORTH = "North depot"


@pytest.fixture
def box():
    sandbox = RetailCrmSandbox(seed=3)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def hub(tmp_path, box):
    h = Hub(tmp_path / "data")
    # The channel sells from the North depot: its orders ship from there.
    asyncio.run(
        h.add_channel(
            "retailcrm", NAME, account="", secret=box.token, base_url=box.base_url, warehouse=NORTH
        )
    )
    yield h
    h.close()


def sync(hub):
    (report,) = asyncio.run(hub.sync(NAME))
    assert report.ok, report.error
    return report


def linked(hub):
    return [r for r in hub.listings(NAME) if r["product_sku"]]


def committed(hub, sku: str, warehouse: int) -> float:
    product = hub.catalog.by_sku(sku)
    row = hub.db.one(
        "SELECT on_hand, committed FROM stock_levels WHERE product_id = ? AND warehouse_id = ?",
        (product.id, warehouse),
    )
    return (0.0, 0.0) if row is None else (row["on_hand"], row["committed"])


def mapped_hub(hub):
    """Products adopted from the offers; Main and North hold different counts; two pairs."""
    sync(hub)
    hub.adopt(NAME)
    main = hub.catalog.warehouse_id("Main warehouse")
    north = hub.catalog.warehouse_id(NORTH)
    for n, row in enumerate(linked(hub)):
        hub.count_stock(row["product_sku"], 10 + n, warehouse="Main warehouse")
        hub.count_stock(row["product_sku"], 2 * n + 1, warehouse=NORTH)
    saved = asyncio.run(service.save_store_map(hub, NAME, {"main": main, "north": north}))
    assert saved == {"main": main, "north": north}
    return main, north


def test_the_single_store_of_older_channels_keeps_receiving_every_warehouse(hub, box):
    store = hub.channels.get(NAME).settings["store_code"]
    assert "store_map" not in hub.channels.get(NAME).settings
    table = asyncio.run(service.store_table(hub, NAME))
    assert [r.warehouse_name for r in table if r.store == store] == ["All warehouses together"]
    sync(hub)
    hub.adopt(NAME)
    sync(hub)
    for row in linked(hub)[:5]:
        assert box.stock(int(row["listing"]), store)[0] == hub.stock(row["product_sku"])[0]["sellable"]  # fmt: skip


def test_two_stores_receive_their_own_warehouses_stock(hub, box):
    main, north = mapped_hub(hub)
    before = len(box.upload_requests)
    sync(hub)
    assert len(box.upload_requests) == before + 1  # both stores of every offer, one upload
    rows = linked(hub)
    assert rows
    for row in rows:
        offer = int(row["listing"])
        on_main, held_main = committed(hub, row["product_sku"], main)
        on_north, held_north = committed(hub, row["product_sku"], north)
        assert box.stock(offer, "main")[0] == max(0, on_main - held_main)
        assert box.stock(offer, "north")[0] == max(0, on_north - held_north)
    # The sandbox's inventories read back through the API equal what was computed.
    report = asyncio.run(service.check_drift(hub, NAME))
    assert report.checked == 2 * len(rows) and report.drifts == []
    sync(hub)
    assert len(box.upload_requests) == before + 1  # nothing changed, nothing sent


def test_dispatch_names_the_store_of_the_warehouse_the_order_ships_from(hub, box):
    mapped_hub(hub)
    sync(hub)
    offer = int(linked(hub)[0]["listing"])
    order = box.create_order([(offer, 1)], status="assembling")
    box.orders[order["id"]]["shipmentStore"] = "main"  # a manager's guess
    sync(hub)
    ref = f"{NAME}:{order['id']}"
    hub.order_action(ref, "dispatch")
    sync(hub)
    shipped = box.orders[order["id"]]
    assert shipped["shipped"] is True and shipped["shipmentStore"] == "north"


def test_drift_finds_a_change_made_in_retailcrm_and_the_fix_sends_only_that_offer(hub, box):
    mapped_hub(hub)
    sync(hub)
    offer = int(linked(hub)[2]["listing"])
    right = box.stock(offer, "north")[0]
    with box.lock:
        box.inventories[offer]["north"]["available"] = right + 40
    report = asyncio.run(service.check_drift(hub, NAME))
    assert [(d.offer_id, d.store, d.crm_quantity, d.quantity) for d in report.drifts] == [
        (str(offer), "north", right + 40, right)
    ]
    assert "instead of" in report.drifts[0].what
    box.clear_request_log()
    sent = asyncio.run(service.fix_drift(hub, NAME, report.drifts))
    assert sent == 1
    uploads = box.requests_to("/store/inventories/upload")
    assert len(uploads) == 1
    (only,) = json.loads(uploads[0]["form"]["offers"])
    assert only["id"] == offer and {s["code"] for s in only["stores"]} == {"main", "north"}
    assert box.stock(offer, "north")[0] == right
    assert asyncio.run(service.check_drift(hub, NAME)).drifts == []


def test_a_cost_price_changed_in_retailcrm_is_drift_too(hub, box):
    mapped_hub(hub)
    row = linked(hub)[0]
    product = hub.catalog.by_sku(row["product_sku"])
    hub.catalog.update_product(product.id, cost_price=55.5)
    hub.orders.enqueue_stock_pushes({product.id})
    sync(hub)
    offer = int(row["listing"])
    assert box.stock(offer, "main")[1] == 55.5
    with box.lock:
        box.inventories[offer]["main"]["purchasePrice"] = 60
    (drift,) = asyncio.run(service.check_drift(hub, NAME)).drifts
    assert (drift.store, drift.crm_cost, drift.cost) == ("main", 60, 55.5)
    assert "cost price 60 instead of 55.5" in drift.what


def test_store_maps_that_cannot_work_are_refused_in_words(hub, box):
    main = hub.catalog.warehouse_id("Main warehouse")
    with pytest.raises(StoreMapError, match="no store 'attic'"):
        asyncio.run(service.save_store_map(hub, NAME, {"attic": main}))
    with pytest.raises(StoreMapError, match="one RetailCRM store only"):
        asyncio.run(service.save_store_map(hub, NAME, {"main": main, "north": main}))
    with pytest.raises(StoreMapError, match="no local warehouse 'Loft'"):
        service.warehouse_ref(hub, "Loft")
    assert "store_map" not in hub.channels.get(NAME).settings  # nothing saved


def test_headless_stores_and_drift(hub, box, tmp_path, capsys):
    sync(hub)
    hub.adopt(NAME)
    data = ["--data-dir", str(tmp_path / "data")]
    code = cli.main(
        ["channel", "stores", NAME, "--map", "main=Main warehouse", f"north={NORTH}", *data]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "main" in out and NORTH in out and "Saved" in out
    north = hub.catalog.warehouse_id(NORTH)
    assert hub.channels.get(NAME).settings["store_map"]["north"] == north
    assert cli.main(["channel", "stores", NAME, "--map", "north", *data]) == 2
    assert "STORE=WAREHOUSE" in capsys.readouterr().err
    sync(hub)
    offer = int(linked(hub)[0]["listing"])
    with box.lock:
        box.inventories[offer]["main"]["available"] += 5
    assert cli.main(["channel", "drift", NAME, "--json", *data]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(d["offer_id"], d["store"]) for d in report["differences"]] == [(str(offer), "main")]
    assert cli.main(["channel", "drift", NAME, "--fix", *data]) == 0
    assert "Sent the correct numbers" in capsys.readouterr().out
    assert cli.main(["channel", "drift", NAME, *data]) == 0
    assert "the same stock" in capsys.readouterr().out
