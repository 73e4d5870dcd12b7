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


def with_shop(hub: Hub, shop: SelldoneSandbox, tg: TradeGeckoSandbox) -> None:
    tg.add_currency("EUR", 0.55, "€")  # the shop sells in euros
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
    basket = shop.create_order(
        [{"product_id": int(listing["listing"]), "variant_id": None, "count": quantity}], **kw
    )
    sync(hub, SHOP)
    return hub.order_detail(f"{SHOP}:{basket['id']}")


def gecko_orders(tg: TradeGeckoSandbox, reference: str) -> list[dict]:
    return [
        tg.present("orders", o["id"])
        for o in list(tg.orders.values())
        if o.get("reference_number") == reference
    ]


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
    reasons = {r[0] for r in hub.db.all("SELECT DISTINCT reason FROM stock_movements")}
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


# --- orders from the other channels -------------------------------------------------


def test_an_order_from_the_shop_becomes_one_sales_order_despite_a_lost_answer(hub, tg, shop):
    with_shop(hub, shop, tg)
    # The first POST /orders is applied, then its answer is lost (connection reset).
    tg.set_fault_plan(FaultPlan.parse("reset=1,lost=1,methods=POST,paths=/orders,max=1,seed=1"))
    created = tg.creates_applied
    order = sell_on_shop(hub, shop, "HP-MH-250", 2)
    reference = reference_of(hub, order)
    for _ in range(4):  # bounded: the retry is due at once or after a short backoff
        hub.outbox.retry_failed(hub.channels.get(GECKO).id)
        sync(hub, GECKO)
        if exports.export_row(hub.db, hub.channels.get(GECKO).id, order["id"])["remote_id"]:
            break
    (sales_order,) = gecko_orders(tg, reference)
    assert tg.creates_applied == created + 1
    faults = [e for e in tg.request_log if e["path"] == "/orders" and e["fault"]]
    assert len(faults) == 1
    variant = variant_of(hub, "HP-MH-250")
    lines = [li for li in tg.order_line_items.values() if li["order_id"] == sales_order["id"]]
    assert [(li["variant_id"], float(li["quantity"])) for li in lines if li.get("variant_id")] == [
        (variant, 2.0)
    ]
    assert tg.state.currencies[sales_order["currency_id"]]["iso"] == "EUR"
    row = exports.export_row(hub.db, hub.channels.get(GECKO).id, order["id"])
    assert row["state"] == "sent" and row["remote_id"] == str(sales_order["id"])
    # Later syncs send nothing more.
    sync(hub, GECKO)
    assert tg.creates_applied == created + 1


def test_a_crash_between_create_and_mark_done_creates_no_second_order(hub, tg, shop):
    with_shop(hub, shop, tg)
    order = sell_on_shop(hub, shop, "HP-MH-500", 1)
    channel = hub.channels.get(GECKO)
    reference = reference_of(hub, order)
    # The create went out and TradeGecko made the order, then Stockbridge died before
    # it wrote anything down: the export row and the outbox row are still pending.
    export, problems = gecko.build_export(hub.db, channel, hub.orders.get(order["id"]), reference)
    assert not problems

    async def create() -> str:
        client = default_client_factory(channel)
        try:
            return await client.export_order(export)
        finally:
            await client.aclose()

    first = asyncio.run(create())
    created = tg.creates_applied
    sync(hub, GECKO)
    assert tg.creates_applied == created
    assert [str(o["id"]) for o in gecko_orders(tg, reference)] == [first]
    assert exports.export_row(hub.db, channel.id, order["id"])["remote_id"] == first


def test_the_lifecycle_goes_invoice_pay_pack_fulfil_in_order(hub, tg, shop):
    with_shop(hub, shop, tg)
    order = sell_on_shop(hub, shop, "HP-KB-50", 1)  # card-paid on the shop
    sync(hub, GECKO)
    hub.order_action(order["number"], "confirm")
    hub.order_action(
        order["number"],
        "dispatch",
        tracking_code="NZ123456789",
        tracking_url="https://track.example/NZ123456789",
    )
    sync(hub, GECKO)
    (sales_order,) = gecko_orders(tg, reference_of(hub, order))
    assert actions(tg, sales_order["id"]) == ["invoice", "pay", "pack", "fulfil"]
    assert sales_order["payment_status"] == "paid"
    assert sales_order["fulfillment_status"] == "shipped"
    shipped = [f for f in tg.fulfillments.values() if f["order_id"] == sales_order["id"]]
    assert shipped and all(f.get("tracking_number") == "NZ123456789" for f in shipped)
    history = [e["message"] for e in hub.order_detail(order["number"])["history"]]
    assert any(f"Sent to {GECKO} as sales order {sales_order['id']}" in m for m in history)
    assert not hub.outbox.rows(order_id=order["id"], channel_id=hub.channels.get(GECKO).id)


def test_a_return_becomes_a_fulfillment_return(hub, tg, shop):
    with_shop(hub, shop, tg)
    order = sell_on_shop(hub, shop, "HP-BW-S", 3)
    hub.order_action(order["number"], "dispatch", tracking_code="RT1")
    sync(hub, GECKO)
    hub.order_action(order["number"], "return", reason="wrong size")
    sync(hub, GECKO)
    (sales_order,) = gecko_orders(tg, reference_of(hub, order))
    (returned,) = [r for r in tg.fulfillment_returns.values() if r["order_id"] == sales_order["id"]]
    assert returned.get("notes") == "wrong size"
    sync(hub, GECKO)  # nothing more
    assert (
        len([r for r in tg.fulfillment_returns.values() if r["order_id"] == sales_order["id"]]) == 1
    )


def test_a_cancelled_order_is_voided(hub, tg, shop):
    with_shop(hub, shop, tg)
    order = sell_on_shop(hub, shop, "HP-BW-S", 1)
    sync(hub, GECKO)
    hub.order_action(order["number"], "cancel", reason="buyer asked")
    sync(hub, GECKO)
    (sales_order,) = gecko_orders(tg, reference_of(hub, order))
    assert sales_order["status"] == "void"


def test_no_double_count_while_the_shipment_is_on_its_way(hub, tg, shop):
    first, _second = locations(tg)
    with_shop(hub, shop, tg)
    variant = variant_of(hub, "HP-MH-250")
    counted = tg.stock(variant, first)[0]
    order = sell_on_shop(hub, shop, "HP-MH-250", 4)
    sync(hub, GECKO)  # exported: TradeGecko commits it, its stock on hand is unchanged
    assert on_hand(hub, "HP-MH-250", AKL) == counted
    hub.order_action(order["number"], "dispatch")  # taken off here at once
    assert on_hand(hub, "HP-MH-250", AKL) == counted - 4
    # A count arrives before the shipment reached TradeGecko (the fulfil is still queued).
    tg.set_stock(variant, first, counted)  # touched: the next pull reads it again
    channel = hub.channels.get(GECKO)

    async def pull() -> None:
        client = default_client_factory(channel)
        try:
            await gecko.pull_stock(hub.engine, client, channel, None)
        finally:
            await client.aclose()

    asyncio.run(pull())
    assert tg.stock(variant, first)[0] == counted
    assert on_hand(hub, "HP-MH-250", AKL) == counted - 4  # not counted twice
    sync(hub, GECKO)  # the pack and fulfil go out; TradeGecko takes the 4 off
    assert tg.stock(variant, first)[0] == counted - 4
    sync(hub, GECKO)
    assert on_hand(hub, "HP-MH-250", AKL) == counted - 4
    assert hub.ledger.verify() == []


def test_max_online_caps_what_the_shop_is_sent(hub, tg, shop):
    with_shop(hub, shop, tg)
    capped = tg.variants[variant_of(hub, "HP-MH-1000")]
    assert capped["max_online"] is not None
    cap = float(capped["max_online"])
    listing = shop_listing(hub)
    hub.link(SHOP, listing["listing"], "HP-MH-1000")
    sync(hub, SHOP)
    sellable = hub.stock("HP-MH-1000")[0]["sellable"]
    assert sellable > cap
    assert shop.product_quantity(int(listing["listing"])) == cap
    # Unlimited products get their whole sellable stock.
    other = shop_listing(hub, 1)
    hub.link(SHOP, other["listing"], "HP-MH-250")
    sync(hub, SHOP)
    assert shop.product_quantity(int(other["listing"])) == hub.stock("HP-MH-250")[0]["sellable"]


def test_an_unknown_variant_blocks_that_order_until_it_is_mapped(hub, tg, shop):
    with_shop(hub, shop, tg)
    hub.import_catalog(b"sku,name,barcode,cost_price,on_hand\nLOCAL-1,Local jar,,,10\n")
    blocked = sell_on_shop(hub, shop, "LOCAL-1", 1)
    fine = sell_on_shop(hub, shop, "HP-MH-250", 1)
    sync(hub, GECKO)
    channel = hub.channels.get(GECKO)
    row = exports.export_row(hub.db, channel.id, blocked["id"])
    assert row["state"] == "blocked" and "LOCAL-1 has no TradeGecko variant" in row["reason"]
    assert not gecko_orders(tg, row["reference"])
    assert gecko_orders(tg, reference_of(hub, fine))  # the other order is not held up
    history = [e["message"] for e in hub.order_detail(blocked["number"])["history"]]
    assert any("Not sent to Gecko yet" in m and "LOCAL-1" in m for m in history)
    waiting = [r for r in hub.outbox.rows(channel_id=channel.id) if r["order_id"] == blocked["id"]]
    assert waiting and "LOCAL-1" in waiting[0]["last_error"]
    # The shop still gets its own updates for that order.
    hub.order_action(blocked["number"], "confirm")
    sync(hub, SHOP)
    assert not [r for r in hub.outbox.rows(channel_id=hub.channels.get(SHOP).id)]
    # The merchant links a TradeGecko variant (the one adopt left out: its SKU is shared).
    spare = next(r for r in hub.listings(GECKO) if not r["product_sku"] and r["sku"] == "HP-BW-M")
    hub.link(GECKO, spare["listing"], "LOCAL-1")
    sync(hub, GECKO)
    row = exports.export_row(hub.db, channel.id, blocked["id"])
    assert row["state"] == "sent"
    (sales_order,) = gecko_orders(tg, row["reference"])
    assert actions(tg, sales_order["id"])[:2] == ["invoice", "pay"]
    assert sales_order["status"] != "void"


def test_stock_webhooks_are_registered_and_a_delivery_re_reads_that_variant(hub, tg):
    hub.channels.update(GECKO, settings={"webhook_public_url": "https://hooks.example.com"})
    sync(hub, GECKO)
    hooks = list(tg.state.webhooks.values())
    assert {h["event"] for h in hooks} >= {"variant.stock_level_update"}
    assert all(h["address"].startswith("https://hooks.example.com/hooks/Gecko?key=") for h in hooks)
    first, _second = locations(tg)
    variant = variant_of(hub, "HP-MH-500")
    tg.set_stock(variant, first, 3)
    (event,) = [
        e
        for e in tg.webhook_events
        if e["event"] == "variant.stock_level_update" and e["object_id"] == variant
    ][-1:]
    before = len(tg.request_log)
    report = asyncio.run(hub.engine.apply_hint(GECKO, event["body"]))
    assert report.ok and report.stock_counted == 1
    assert on_hand(hub, "HP-MH-500", AKL) == 3
    reads = [e for e in tg.request_log[before:] if e["method"] == "GET"]
    assert [e["path"] for e in reads] == ["/variants"]
    assert str(variant) in str(reads[0]["query"])


def test_a_renewed_sign_in_is_kept_in_the_channels_keyring_entry(tmp_path, tg):
    import threading

    import httpx

    from app.channels.tradegecko import oauth

    app = oauth.OAuthApp(tg.client_id, tg.client_secret, base_url=tg.base_url)

    def browser(url: str) -> None:
        threading.Thread(target=lambda: httpx.get(url, follow_redirects=True)).start()

    creds = asyncio.run(oauth.sign_in(app, open_browser=browser, timeout=10))
    h = Hub(tmp_path / "oauth")
    try:
        asyncio.run(
            h.add_channel(
                "tradegecko",
                GECKO,
                account="",
                secret=creds.to_secret(),
                base_url=tg.base_url,
                mapping_mode="id",
                settings={"stock_master": True},
            )
        )
        tg.expire_access_tokens()
        sync(h, GECKO)  # 401 → refresh → the new sign-in is stored, then used
        stored = oauth.OAuthCredentials.from_secret(secrets.load(GECKO))
        assert stored.refresh_token != creds.refresh_token
        assert stored.access_token != creds.access_token
        tg.expire_access_tokens()
        sync(h, GECKO)  # renews again with the stored (rotated) refresh token
        again = oauth.OAuthCredentials.from_secret(secrets.load(GECKO))
        assert again.refresh_token not in (stored.refresh_token, creds.refresh_token)
        log = h.db.all("SELECT error FROM sync_log")
        assert all(creds.refresh_token not in (r[0] or "") for r in log)
    finally:
        h.close()


def test_a_location_map_naming_an_unknown_location_is_refused_and_stock_kept(hub, tg):
    before = on_hand(hub, "HP-MH-250", AKL)
    hub.channels.update(GECKO, settings={"location_warehouses": {"999999": AKL}})
    (report,) = asyncio.run(hub.sync(GECKO))
    assert not report.ok
    assert "TradeGecko has no location 999999" in report.error
    assert on_hand(hub, "HP-MH-250", AKL) == before


def test_a_known_buyer_is_the_existing_company_and_address_a_new_one_is_embedded(hub, tg, shop):
    with_shop(hub, shop, tg)
    company = next(c for c in tg.companies.values() if c["email"] == "orders@kauricove.example")
    address = next(
        a
        for a in tg.addresses.values()
        if a["company_id"] == company["id"] and a["address1"] == "12 Wharf Road"
    )
    companies_before = len(tg.companies)
    known = sell_on_shop(
        hub,
        shop,
        "HP-MH-250",
        1,
        buyer={"name": "Kauri Cove Café", "email": "orders@kauricove.example"},
        receiver={
            "name": "Kauri Cove Café",
            "address": "12 Wharf Road",
            "city": "Russell",
            "postal": "0202",
            "country": "New Zealand",
        },
    )
    stranger = sell_on_shop(
        hub,
        shop,
        "HP-MH-250",
        1,
        buyer={"name": "Aroha Ngata", "email": "aroha@example.org"},
        receiver={"name": "Aroha Ngata", "address": "5 Rata Lane", "city": "Nelson"},
    )
    sync(hub, GECKO)
    creates = [e for e in tg.request_log if e["method"] == "POST" and e["path"] == "/orders"]
    body = {e["json"]["order"]["reference_number"]: e["json"]["order"] for e in creates}
    first = body[reference_of(hub, known)]
    assert first["company_id"] == company["id"]
    assert first["shipping_address_id"] == address["id"]
    assert "company" not in first and "shipping_address" not in first
    second = body[reference_of(hub, stranger)]
    assert "company_id" not in second
    assert second["company"]["name"] == "Aroha Ngata"
    assert second["shipping_address"]["address1"] == "5 Rata Lane"
    assert second["shipping_address"]["first_name"] == "Aroha"
    assert len(tg.companies) == companies_before + 1


def test_a_create_that_timed_out_is_retried_without_a_second_order(tmp_path, tg, shop):
    from app.channels.tradegecko.client import TradeGeckoClient

    def factory(channel):
        if channel.platform != "tradegecko":
            return default_client_factory(channel)
        return TradeGeckoClient(
            channel.base_url, channel.account, secrets.load(channel.name), timeout=0.5
        )

    h = Hub(tmp_path / "timeout", client_factory=factory)
    try:
        add_gecko(h, tg, stock_master=True, export_orders=True)
        sync(h, GECKO)
        h.adopt(GECKO)
        sync(h, GECKO)
        with_shop(h, shop, tg)
        # The create is applied, but its answer comes after the client gave up waiting.
        tg.set_fault_plan(
            FaultPlan.parse("timeout=1,lost=1,timeout_s=2,methods=POST,paths=/orders,max=1")
        )
        created = tg.creates_applied
        order = sell_on_shop(h, shop, "HP-MH-500", 1)
        channel = h.channels.get(GECKO)
        for _ in range(4):
            h.outbox.retry_failed(channel.id)
            sync(h, GECKO)
            if exports.export_row(h.db, channel.id, order["id"])["remote_id"]:
                break
        timed_out = [e for e in tg.request_log if e["fault_kind"] == "timeout"]
        assert len(timed_out) == 1 and timed_out[0]["path"] == "/orders"
        assert len(gecko_orders(tg, reference_of(h, order))) == 1
        assert tg.creates_applied == created + 1
    finally:
        h.close()
