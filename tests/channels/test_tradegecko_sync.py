"""TradeGecko wired into the engine, over loopback HTTP against the TradeGecko and
Selldone sandboxes: per-location stock master, order export (exactly once), the
lifecycle, returns, max_online and blocked exports."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app import secrets
from app.channels.faults import FaultPlan
from app.channels.selldone.sandbox import SelldoneSandbox
from app.channels.tradegecko import sync as gecko
from app.channels.tradegecko.sandbox import TradeGeckoSandbox
from app.hub import Hub
from app.store import exports
from app.sync.engine import default_client_factory

GECKO = "Gecko"
SHOP = "Web shop"
AKL, WLG = "Auckland", "Wellington"


@pytest.fixture
def tg():
    box = TradeGeckoSandbox(seed=3)
    box.start()
    yield box
    box.stop()


@pytest.fixture
def shop():
    box = SelldoneSandbox(seed=7)
    box.start()
    yield box
    box.stop()


def locations(tg: TradeGeckoSandbox) -> tuple[int, int]:
    first, second = sorted(tg.stock_locations())[:2]
    return first, second


def add_gecko(hub: Hub, tg: TradeGeckoSandbox, **settings: Any) -> None:
    first, second = locations(tg)
    settings.setdefault("location_warehouses", {str(first): AKL, str(second): WLG})
    asyncio.run(
        hub.add_channel(
            "tradegecko",
            GECKO,
            account="",
            secret=tg.token,
            base_url=tg.base_url,
            mapping_mode="id",
            warehouse=AKL,
            settings=settings,
        )
    )


def sync(hub: Hub, name: str):
    (report,) = asyncio.run(hub.sync(name))
    assert report.ok, report.error
    return report


@pytest.fixture
def hub(tmp_path, tg):
    h = Hub(tmp_path / "data")
    add_gecko(h, tg, stock_master=True, export_orders=True)
    sync(h, GECKO)  # the variants become listings
    h.adopt(GECKO)  # local products from them (the shared SKU is left out)
    sync(h, GECKO)  # their stock, location by location
    yield h
    h.close()


def with_shop(hub: Hub, shop: SelldoneSandbox) -> None:
    asyncio.run(
        hub.add_channel(
            "selldone",
            SHOP,
            account=str(shop.shop_id),
            secret=shop.token,
            base_url=shop.base_url,
            mapping_mode="id",
            warehouse=AKL,
        )
    )
    sync(hub, SHOP)


def on_hand(hub: Hub, sku: str, warehouse: str) -> float:
    product = hub.catalog.by_sku(sku)
    return hub.ledger.on_hand(product.id, hub.catalog.warehouse_id(warehouse))


def variant_of(hub: Hub, sku: str) -> int:
    row = next(r for r in hub.listings(GECKO) if r["product_sku"] == sku)
    return int(row["listing"])


def shop_listing(hub: Hub, index: int = 0) -> dict:
    plain = [r for r in hub.listings(SHOP) if ":" not in r["listing"]]
    return plain[index]


def sell_on_shop(hub: Hub, shop: SelldoneSandbox, sku: str, quantity: int, **kw: Any) -> dict:
    """Link a shop listing to local ``sku``, buy it on the shop, import the order."""
    listing = next(
        (r for r in hub.listings(SHOP) if r["product_sku"] == sku and ":" not in r["listing"]),
        None,
    )
    if listing is None:
        listing = next(
            r for r in hub.listings(SHOP) if not r["product_sku"] and ":" not in r["listing"]
        )
        hub.link(SHOP, listing["listing"], sku)
    shop.create_order(
        [{"product_id": int(listing["listing"]), "variant_id": None, "count": quantity}], **kw
    )
    sync(hub, SHOP)
    return hub.order_list(channel=SHOP, limit=1)[0]


def gecko_orders(tg: TradeGeckoSandbox, reference: str) -> list[dict]:
    return [o for o in tg.orders.values() if o.get("reference_number") == reference]


def reference_of(hub: Hub, order: dict) -> str:
    channel = hub.channels.get(GECKO)
    return exports.export_row(hub.db, channel.id, order["id"])["reference"]


def actions(tg: TradeGeckoSandbox, order_id: int) -> list[str]:
    prefix = f"/orders/{order_id}/actions/"
    return [
        e["path"][len(prefix) :]
        for e in tg.request_log
        if e["method"] == "POST" and e["path"].startswith(prefix) and e.get("status", 200) < 400
    ]


# --- stock master -------------------------------------------------------------------


def test_per_location_stock_becomes_local_on_hand_of_two_warehouses(hub, tg):
    first, second = locations(tg)
    checked = 0
    for listing in hub.listings(GECKO):
        if not listing["product_sku"]:
            continue
        variant = tg.variants[int(listing["listing"])]
        sku = listing["product_sku"]
        if not variant["manage_stock"]:
            assert on_hand(hub, sku, AKL) == 0 and on_hand(hub, sku, WLG) == 0
            continue
        for location, warehouse in ((first, AKL), (second, WLG)):
            counted = tg.stock(variant["id"], location)[0]
            if not variant["keep_selling"]:
                counted = max(0.0, counted)
            assert on_hand(hub, sku, warehouse) == counted, (sku, warehouse)
            checked += 1
    assert checked >= 16
    # keep_selling lets an oversold variant stay below zero locally too
    assert on_hand(hub, "HP-KB-100", WLG) == tg.stock(variant_of(hub, "HP-KB-100"), second)[0] < 0
    reasons = {
        r[0] for r in hub.db.all("SELECT DISTINCT reason FROM stock_movements")
    }
    assert reasons == {gecko.STOCK_REASON}  # no "opening stock" counted besides
    assert hub.ledger.verify() == []


def test_a_count_in_tradegecko_arrives_incrementally(hub, tg):
    first, _second = locations(tg)
    variant = variant_of(hub, "HP-MH-250")
    tg.set_stock(variant, first, 77)
    before = len(tg.request_log)
    report = sync(hub, GECKO)
    assert on_hand(hub, "HP-MH-250", AKL) == 77
    assert report.stock_counted == 1
    reads = [e for e in tg.request_log[before:] if e["path"] == "/variants"]
    assert reads and all("updated_at_min" in str(e["query"]) for e in reads)
    note = hub.db.scalar(
        "SELECT note FROM stock_movements WHERE reason = ? ORDER BY id DESC LIMIT 1",
        (gecko.STOCK_REASON,),
    )
    assert "77 on hand" in note


def test_untracked_variants_are_not_counted(hub, tg):
    untracked = [v for v in tg.variants.values() if not v["manage_stock"]]
    assert untracked
    for variant in untracked:
        row = hub.db.one(
            "SELECT r.manage_stock, pl.product_id FROM listings l"
            " LEFT JOIN listing_stock_rules r ON r.listing_id = l.id"
            " LEFT JOIN product_links pl ON pl.listing_id = l.id"
            " WHERE l.external_id = ?",
            (str(variant["id"]),),
        )
        if row is None or row["product_id"] is None:
            continue
        assert row["manage_stock"] == 0
        moves = hub.db.scalar(
            "SELECT COUNT(*) FROM stock_movements WHERE product_id = ?", (row["product_id"],)
        )
        assert moves == 0
