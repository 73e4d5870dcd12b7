"""The Products screen's rows (ROWS_SELECT) against the live listing query.

The screen reads each listing's ``why`` as the store keeps it (listings.why, kept up to
date by triggers) and works state and rank out from it; what the screen shows must stay
exactly what LISTING_SELECT works out live: every row, the first page in the order the
screen opens in, and the counts in the state filter. The store
has linked, stale, unmapped (SKU match and none), conflicting (no SKU, a SKU twice on a
channel, a SKU several products share apart from case), ignored, new and seen listings
on two channels, and an order held for one of them.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.core.models import ChannelListing
from app.hub import Hub
from app.ui.bridge import Bridge
from app.ui.products_page import (
    LISTING_SELECT,
    ROWS_SELECT,
    STATE_FILTERS,
    STATE_RANK,
    ProductsPage,
)
from tests.conftest import make_order

SHOP, MARKET = "Web shop", "Alpine market"
REFERENCE = f"SELECT * FROM (SELECT x.*, {STATE_RANK} AS rank FROM ({LISTING_SELECT}) x) x"
OPENING_ORDER = " ORDER BY rank, x.sku, x.channel, x.id"


def seed(hub: Hub) -> None:
    wid = hub.catalog.default_warehouse_id()
    shop = hub.channels.add(SHOP, "selldone", "http://127.0.0.1:1", account="1", warehouse_id=wid)
    market = hub.channels.add(
        MARKET, "selldone", "http://127.0.0.1:2", account="2", warehouse_id=wid
    )
    for sku, name in [
        ("KEG", "Beer keg"),
        ("ab-cap", "Cap"),
        ("AB-CAP", "Cap (old)"),
        ("PAN", "Pan"),
        ("TEE", "T-shirt"),
    ]:
        hub.catalog.add_product(sku, name)
    hub.channels.upsert_listings(
        shop.id,
        [
            ChannelListing("P-KEG", "P-KEG", None, "KEG", "Keg 50 l", 8),
            ChannelListing("P-PAN", "P-PAN", None, "PAN", "Pan, linked to the tee", 2),
            ChannelListing("P-MUG", "P-MUG", None, "MUG", "Mug, red", 5),
            ChannelListing("P-NONE", "P-NONE", None, "ZZZ", "Nobody's", 1),
            ChannelListing("P-NOSKU", "P-NOSKU", None, "", "Gift card", None),
            ChannelListing("P-DUP-A", "P-DUP-A", None, "DUP", "Cap, blue", 2),
            ChannelListing("P-DUP-B", "P-DUP-B", None, "DUP", "Cap, green", 1),
            ChannelListing("P-CAP", "P-CAP", None, "Ab-Cap", "Cap, either", 3),
            ChannelListing("P-IGN", "P-IGN", None, "XYZ", "Left alone", 4),
            ChannelListing("P-IGN-KEG", "P-IGN-KEG", None, "KEG", "Old keg", 0),
        ],
    )
    hub.channels.upsert_listings(
        market.id,
        [
            ChannelListing("M-KEG", "M-KEG", None, "KEG", "Keg", 1),
            ChannelListing("M-DUP", "M-DUP", None, "DUP", "Cap, once here", 1),
            ChannelListing("M-TEE", "M-TEE", None, "TEE", "Tee", 6),
        ],
    )
    hub.link(SHOP, "P-KEG", "KEG")
    hub.link(SHOP, "P-PAN", "TEE")  # its SKU is another product's: stale
    hub.link(MARKET, "M-TEE", "TEE")
    # Held: no product had its SKU when it came in (the product is made after).
    hub.orders.ingest(shop, [make_order("1", lines=(("L1", "MUG", 1),))], first_import=False)
    hub.catalog.add_product("MUG", "Red mug")
    hub.db.execute("UPDATE listings SET ignored = 1 WHERE external_id IN ('P-IGN', 'P-IGN-KEG')")
    hub.db.execute(  # new on the channel: unmapped, conflicting, ignored and linked ones
        "UPDATE listings SET is_new = 1"
        " WHERE external_id IN ('P-MUG', 'M-DUP', 'P-NOSKU', 'P-DUP-A', 'P-IGN', 'P-KEG')"
    )


@pytest.fixture
def bridge(tmp_path, monkeypatch):
    b = Bridge(tmp_path / "data")
    monkeypatch.setattr(b, "sync_now", lambda channel=None: None)
    monkeypatch.setattr(b, "sync_channel", lambda name: None)
    b.engine.submit(seed).result(timeout=10)
    yield b
    b.stop()


@pytest.fixture
def products(qtbot, bridge):
    page = ProductsPage(bridge)
    qtbot.addWidget(page)
    page.resize(1200, 760)
    page.show()
    return page


def reference_rows(bridge: Bridge, where: str = "", params: tuple = ()) -> list[dict[str, Any]]:
    sql = f"{REFERENCE}{f' WHERE {where}' if where else ''}{OPENING_ORDER}"
    return [dict(r) for r in bridge.reader.all(sql, params)]


def shown_rows(page: ProductsPage) -> list[dict[str, Any]]:
    return [page.model.row(i) for i in range(page.model.rowCount())]


def expected_counts(bridge: Bridge, channel: str | None = None) -> list[str]:
    texts = []
    for text, clause, _ in STATE_FILTERS:
        parts = [p for p in (clause, "x.channel = ?" if channel else None) if p]
        where = f" WHERE {' AND '.join(parts)}" if parts else ""
        n = bridge.reader.scalar(
            f"SELECT COUNT(*) FROM ({REFERENCE}) x{where}", (channel,) if channel else ()
        )
        texts.append(f"{text} ({int(n):,})")
    return texts


def shown_counts(page: ProductsPage) -> list[str]:
    return [page.state_filter.itemText(i) for i in range(page.state_filter.count())]


def test_the_store_has_every_kind_of_listing(bridge):
    whys = {r["external_id"]: r["why"] for r in reference_rows(bridge)}
    assert whys == {
        "P-KEG": "linked",
        "M-TEE": "linked",
        "P-PAN": "stale",
        "P-MUG": "exact",
        "M-KEG": "exact",
        "P-NONE": "none",
        "M-DUP": "none",
        "P-NOSKU": "no_sku",
        "P-DUP-A": "duplicate",
        "P-DUP-B": "duplicate",
        "P-CAP": "several",
        "P-IGN": "ignored",
        "P-IGN-KEG": "ignored",
    }
    news = {r["external_id"] for r in reference_rows(bridge) if r["is_new"]}
    assert news == {"P-MUG", "M-DUP", "P-NOSKU", "P-DUP-A", "P-IGN", "P-KEG"}


def test_the_rows_read_hold_exactly_what_the_live_query_says(bridge):
    db = bridge.reader
    rows = [dict(r) for r in db.all(ROWS_SELECT + OPENING_ORDER)]
    assert rows == reference_rows(bridge)
    assert list(rows[0]) == list(reference_rows(bridge)[0])  # same columns, same order
    for _, clause, params in STATE_FILTERS[1:]:
        picked = db.all(f"{ROWS_SELECT} WHERE {clause}{OPENING_ORDER}", params)
        assert [r["id"] for r in picked] == [
            r["id"] for r in reference_rows(bridge, clause, params)
        ]
    # The opening order and the state filters read the stored rank's index, not every
    # listing.
    plan = " ".join(r[3] for r in db.all(f"EXPLAIN QUERY PLAN {ROWS_SELECT}{OPENING_ORDER}"))
    assert "USING INDEX listings_why_rank" in plan


def test_screen_shows_the_live_first_page_and_counts(qtbot, products, bridge):
    assert shown_rows(products) == reference_rows(bridge)
    assert [r["external_id"] for r in shown_rows(products)][:5] == [
        "P-NOSKU",  # conflicts first, by SKU
        "P-CAP",
        "P-DUP-A",
        "P-DUP-B",
        "P-PAN",
    ]
    assert shown_counts(products) == expected_counts(bridge)
    assert shown_counts(products)[3:5] == ["New on the channel (4)", "Holding orders (1)"]
    products.channel_filter.setCurrentIndex(products.channel_filter.findText(MARKET))
    assert shown_counts(products) == expected_counts(bridge, MARKET)
    assert {r["external_id"] for r in shown_rows(products)} == {"M-KEG", "M-DUP", "M-TEE"}
    for i, (_, clause, params) in enumerate(STATE_FILTERS):
        products.state_filter.setCurrentIndex(i)
        where = " AND ".join(p for p in (clause, "x.channel = ?") if p)
        assert shown_rows(products) == reference_rows(bridge, where, (*params, MARKET))


def test_screen_follows_a_change_after_refresh(qtbot, products, bridge):
    bridge.engine.submit(lambda hub: hub.link(SHOP, "P-MUG", "MUG")).result(timeout=10)
    bridge.engine.submit(
        lambda hub: hub.db.execute("UPDATE listings SET ignored = 0 WHERE external_id = 'P-IGN'")
    ).result(timeout=10)
    products.refresh()
    assert shown_rows(products) == reference_rows(bridge)
    assert shown_counts(products) == expected_counts(bridge)
    assert shown_counts(products)[4] == "Holding orders (0)"

    def more(hub: Hub) -> None:
        hub.catalog.add_product("Keg", "Keg, other case")  # KEG listings: several now
        # P-DUP-A's SKU is its own now; P-DUP-B's is linked P-PAN's too.
        hub.db.execute("UPDATE listings SET sku = 'PAN' WHERE external_id = 'P-DUP-B'")
        hub.db.execute("DELETE FROM product_links WHERE listing_id ="
                       " (SELECT id FROM listings WHERE external_id = 'M-TEE')")  # fmt: skip

    bridge.engine.submit(more).result(timeout=10)
    products.refresh()
    assert shown_rows(products) == reference_rows(bridge)
    assert shown_counts(products) == expected_counts(bridge)
    whys = {r["external_id"]: r["why"] for r in shown_rows(products)}
    assert (whys["M-KEG"], whys["P-DUP-A"], whys["P-DUP-B"], whys["M-TEE"]) == (
        "several",
        "none",
        "duplicate",
        "exact",
    )


@pytest.mark.parametrize("page_size", [200, 2])  # 2: the count is a query of its own
@pytest.mark.parametrize("text", ["TEE", "alpine", "keg", "P-DUP", "cap blue", "zzz"])
def test_search_finds_and_counts_what_the_live_query_finds(
    qtbot, products, bridge, text, page_size
):
    products.model.page_size = page_size
    products.model.set_search(text)
    columns = ("x.channel", "x.external_id", "x.sku", "x.barcode", "x.name", "x.product_sku")
    where = " AND ".join(
        "(" + " OR ".join(f"{c} LIKE ?" for c in columns) + ")" for _ in text.split()
    )
    params = tuple(f"%{word}%" for word in text.split() for _ in columns)
    expected = reference_rows(bridge, where, params)
    assert products.model.rowCount() == len(expected)
    assert shown_rows(products) == expected
    products.state_filter.setCurrentIndex(1)  # and with a filter: conflicts only
    expected = reference_rows(bridge, f"{where} AND x.state = 'conflict'", params)
    assert products.model.rowCount() == len(expected)
    assert shown_rows(products) == expected
