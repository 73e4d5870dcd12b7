"""The Stock, Products and Customers screens over a real Bridge and store.

Data is built on the engine thread through the store's own APIs; syncs are recorded
instead of run, since these screens only have to ask for them.
"""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from app.core.models import ChannelCustomer, ChannelListing
from app.hub import Hub
from app.ui.bridge import Bridge
from app.ui.customers_page import CustomersPage
from app.ui.products_page import ProductsPage
from app.ui.stock_page import StockPage
from tests.conftest import make_order

CHANNEL = "Web shop"
WAIT = 5000
OK_BUTTON = QDialogButtonBox.StandardButton.Ok


def build_shop(hub: Hub) -> None:
    """KEG: 10 on hand, an order reserves 2. MUG: sold before it existed here (held).
    DUP: two listings share a SKU, one of them sold (held). TEE and CAP: nothing available."""
    wid = hub.catalog.default_warehouse_id()
    channel = hub.channels.add(
        CHANNEL, "selldone", "http://127.0.0.1:1", account="1", warehouse_id=wid
    )
    keg = hub.catalog.add_product("KEG", "Beer keg")
    hub.ledger.record(keg.id, wid, on_hand=10, reason="stock count", at=1000.0)
    hub.channels.upsert_listings(
        channel.id,
        [
            ChannelListing("P-KEG", "P-KEG", None, "KEG", "Keg 50 l", 8),
            ChannelListing("P-MUG", "P-MUG", None, "MUG", "Mug, red", 5),
            ChannelListing("P-DUP-A", "P-DUP-A", None, "DUP", "Cap, blue", 2),
            ChannelListing("P-DUP-B", "P-DUP-B", None, "DUP", "Cap, green", 1),
            ChannelListing("P-NOSKU", "P-NOSKU", None, "", "Gift card", None),
            ChannelListing("P-NEW", "P-NEW", None, "GLASS", "Beer glass", 12),
        ],
    )
    hub.link(CHANNEL, "P-KEG", "KEG")
    anna = ChannelCustomer(ref="user:1", name="Anna", email="anna@example.org")
    first = make_order("1", lines=(("L1", "KEG", 2),), updated=2000.0)
    first.customer = anna
    held = make_order("2", lines=(("L1", "MUG", 1),), updated=3000.0)
    held.customer = anna
    dup = make_order("3", lines=(("L1", "DUP-A", 1),), updated=4000.0)
    dup.lines[0].listing_id, dup.lines[0].sku = "P-DUP-A", "DUP"
    dup.customer = ChannelCustomer(ref="guest:3", name="Ben", guest=True)
    hub.orders.ingest(channel, [first, held, dup], first_import=False)
    mug = hub.catalog.add_product("MUG", "Red mug", safety_buffer=2)
    hub.ledger.record(mug.id, wid, on_hand=3, reason="stock count", at=1000.0)
    hub.catalog.add_product("TEE", "T-shirt")
    hub.catalog.add_product("CAP", "Cap")
    for push in hub.outbox.due(channel.id):  # as if the last sync sent everything
        hub.outbox.mark_done(push)


@pytest.fixture
def bridge(tmp_path, monkeypatch):
    b = Bridge(tmp_path / "data")
    synced: list[str] = []
    monkeypatch.setattr(b, "sync_now", lambda channel=None: synced.append(channel or "all"))
    monkeypatch.setattr(b, "sync_channel", lambda name: synced.append(name))
    b.synced = synced  # type: ignore[attr-defined]
    b.engine.submit(build_shop).result(timeout=10)
    yield b
    b.stop()


def shown(qtbot: Any, page: Any) -> Any:
    qtbot.addWidget(page)
    page.resize(1200, 760)
    page.show()
    return page


def cells(model, key: str) -> dict[str, dict[str, str]]:
    """Every row as {column title: text shown}, keyed by the text of column ``key``."""
    titles = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    rows = {}
    for r in range(model.rowCount()):
        row = {t: model.data(model.index(r, c)) for c, t in enumerate(titles)}
        rows[row[key]] = row
    return rows


def outbox_stock(bridge: Bridge, listing: str) -> int:
    return int(
        bridge.reader.scalar(
            "SELECT COUNT(*) FROM outbox o JOIN listings l ON o.target = CAST(l.id AS TEXT)"
            " WHERE o.kind = 'stock' AND o.state = 'pending' AND l.external_id = ?",
            (listing,),
        )
    )


# -- Stock ---------------------------------------------------------------------------------
@pytest.fixture
def stock(qtbot, bridge):
    return shown(qtbot, StockPage(bridge))


def test_stock_table_shows_on_hand_reserved_available(stock):
    rows = cells(stock.model, "SKU")
    assert set(rows) == {"KEG", "MUG", "TEE", "CAP"}
    keg = rows["KEG"]
    assert (keg["On hand"], keg["Reserved"], keg["Available"], keg["Safety buffer"]) == (
        "10",
        "2",
        "8",
        "0",
    )
    assert keg["Sent to channels"] == "8"
    assert (rows["MUG"]["Available"], rows["MUG"]["Sent to channels"]) == ("1", "Not listed")
    colour = stock.model.data(
        stock.model.index(_row_of(stock, "MUG"), 4), Qt.ItemDataRole.ForegroundRole
    )
    assert colour.color().name() == "#b45309"  # under the buffer: amber
    colour = stock.model.data(
        stock.model.index(_row_of(stock, "TEE"), 4), Qt.ItemDataRole.ForegroundRole
    )
    assert colour.color().name() == "#b91c1c"  # nothing available: red
    assert (
        stock.model.data(
            stock.model.index(_row_of(stock, "KEG"), 4), Qt.ItemDataRole.ForegroundRole
        )
        is None
    )


def _listing_row(page, listing: str) -> int:
    return next(
        i for i in range(page.model.rowCount()) if page.model.row(i)["external_id"] == listing
    )


def _row_of(page, sku: str) -> int:
    return next(i for i in range(page.model.rowCount()) if page.model.row(i)["sku"] == sku)


def test_ledger_explains_the_number(stock):
    assert stock.show_sku("KEG")
    detail = stock.detail
    assert detail.title.text() == "Beer keg"
    assert [detail.numbers[k].text() for k in ("on_hand", "committed", "available")] == [
        "10",
        "2",
        "8",
    ]
    assert detail.sentence.text() == "Available 8 = on hand 10 − reserved 2 − safety buffer 0"
    ledger = detail.movements
    shown_rows = [
        [ledger.data(ledger.index(r, c)) for c in range(1, 5)] for r in range(ledger.rowCount())
    ]
    assert shown_rows == [["", "+2", "10", "Order SM-1 new"], ["+10", "", "10", "Stock count"]]
    assert "Web shop order SM-1" in ledger.data(ledger.index(0, 4), Qt.ItemDataRole.ToolTipRole)


def test_adjust_stock_dialog_changes_numbers_and_queues_a_push(qtbot, stock, bridge):
    stock.show_sku("KEG")
    assert outbox_stock(bridge, "P-KEG") == 0
    dialog = stock.open_adjust_dialog()
    ok = dialog.buttons.button(OK_BUTTON)
    dialog.take.setChecked(True)
    dialog.quantity.setValue(3)
    assert not ok.isEnabled()  # a reason is required
    dialog.reason.setCurrentText("broken in store")
    assert dialog.preview.text() == "On hand in Main warehouse: 10 → 7"
    assert ok.isEnabled()
    ok.click()
    qtbot.waitUntil(lambda: cells(stock.model, "SKU")["KEG"]["On hand"] == "7", timeout=WAIT)
    keg = cells(stock.model, "SKU")["KEG"]
    assert (keg["Available"], keg["Sent to channels"]) == ("5", "8 · sending")
    assert outbox_stock(bridge, "P-KEG") == 1
    assert bridge.synced == ["all"]
    assert (
        stock.detail.movements.data(stock.detail.movements.index(0, 4))
        == "Adjustment: broken in store"
    )
    assert stock.detail.numbers["on_hand"].text() == "7"


def test_count_and_safety_buffer_dialogs(qtbot, stock, bridge):
    stock.show_sku("KEG")
    count = stock.open_count_dialog()
    assert count.counted.value() == 10  # starts from what the records say
    count.counted.setValue(12)
    count.note.setText("monthly count")
    count.buttons.button(OK_BUTTON).click()
    qtbot.waitUntil(lambda: cells(stock.model, "SKU")["KEG"]["On hand"] == "12", timeout=WAIT)
    assert (
        stock.detail.movements.data(stock.detail.movements.index(0, 4))
        == "Stock count (monthly count)"
    )
    buffer = stock.open_buffer_dialog()
    buffer.buffer.setValue(4)
    assert buffer.preview.text() == "With 12 on hand and 2 reserved, the channels are offered 6."
    buffer.buttons.button(OK_BUTTON).click()
    qtbot.waitUntil(lambda: cells(stock.model, "SKU")["KEG"]["Available"] == "6", timeout=WAIT)
    assert stock.detail.sentence.text() == "Available 6 = on hand 12 − reserved 2 − safety buffer 4"
    assert outbox_stock(bridge, "P-KEG") == 1  # both changes coalesce into one push
    assert bridge.synced == ["all", "all"]


def test_warehouse_filter_shows_that_warehouse_only(stock, bridge):
    def second_warehouse(hub) -> None:
        shop = hub.catalog.warehouse_id("Shop", create=True)
        hub.ledger.record(hub.catalog.by_sku("KEG").id, shop, on_hand=4, reason="stock count")

    bridge.engine.submit(second_warehouse).result(timeout=10)
    stock.refresh()
    options = [stock.warehouse_filter.itemText(i) for i in range(stock.warehouse_filter.count())]
    assert options == ["All warehouses", "Main warehouse", "Shop"]

    def keg() -> tuple[str, str, str]:
        row = cells(stock.model, "SKU")["KEG"]
        return row["On hand"], row["Reserved"], row["Available"]

    assert keg() == ("14", "2", "12")
    stock.warehouse_filter.setCurrentIndex(1)
    assert keg() == ("10", "2", "8")
    stock.warehouse_filter.setCurrentIndex(2)
    assert keg() == ("4", "0", "4")
    stock.show_sku("KEG")
    assert stock.detail.sentence.text().startswith("In Shop: available 4 = on hand 4")
    assert stock.detail.movements.rowCount() == 1


def test_running_low_filter(stock):
    stock.level_filter.setCurrentIndex(1)
    assert set(cells(stock.model, "SKU")) == {"MUG", "TEE", "CAP"}
    stock.level_filter.setCurrentIndex(2)
    assert set(cells(stock.model, "SKU")) == {"TEE", "CAP"}


def test_stock_list_shows_a_page_with_one_query(stock, bridge):
    """Sums and channel quantities come with the page: nothing is read per row."""
    roles = (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.ToolTipRole,
    )
    statements: list[str] = []
    bridge.reader.conn.set_trace_callback(statements.append)
    try:
        stock.model.refresh()
        for r in range(stock.model.rowCount()):
            for c in range(stock.model.columnCount()):
                for role in roles:
                    stock.model.data(stock.model.index(r, c), role)
    finally:
        bridge.reader.conn.set_trace_callback(None)
    assert len(statements) == 2, statements  # the row count, then the one page


def test_hidden_page_catches_up_when_shown(qtbot, stock, bridge):
    stock.hide()
    bridge.engine.submit(lambda hub: hub.adjust_stock("KEG", 5, "delivery")).result(timeout=10)
    bridge.data_changed.emit()
    qtbot.wait(50)
    assert cells(stock.model, "SKU")["KEG"]["On hand"] == "10"  # not re-read while hidden
    stock.show()
    qtbot.waitUntil(lambda: cells(stock.model, "SKU")["KEG"]["On hand"] == "15", timeout=WAIT)


# -- Products ------------------------------------------------------------------------------
@pytest.fixture
def products(qtbot, bridge):
    return shown(qtbot, ProductsPage(bridge))


def needs_mapping(bridge: Bridge, number: str) -> int:
    return int(bridge.reader.scalar("SELECT needs_mapping FROM orders WHERE number = ?", (number,)))


def test_products_lists_listings_with_their_state(products):
    rows = cells(products.model, "Listing")
    assert {k: v["State"] for k, v in rows.items()} == {
        "P-KEG": "Linked",
        "P-MUG": "Unmapped · SKU match",
        "P-DUP-A": "Conflict",
        "P-DUP-B": "Conflict",
        "P-NOSKU": "Conflict",
        "P-NEW": "Unmapped",
    }
    why = {
        k: products.model.data(
            products.model.index(_listing_row(products, k), 8), Qt.ItemDataRole.ToolTipRole
        )
        for k in ("P-MUG", "P-NEW", "P-DUP-A", "P-NOSKU")
    }
    assert why["P-MUG"].startswith("Your product MUG has this SKU")
    assert why["P-NEW"].startswith("None of your products has this SKU")
    assert why["P-DUP-A"].startswith("Several listings on this channel use this SKU")
    assert why["P-NOSKU"].startswith("The listing has no SKU")
    assert (rows["P-KEG"]["Your product"], rows["P-KEG"]["Linked by"]) == (
        "KEG — Beer keg",
        "By hand",
    )
    assert rows["P-NOSKU"]["SKU"] == "no SKU"
    assert rows["P-MUG"]["Your product"] == "Choose…"
    products.state_filter.setCurrentIndex(1)
    assert set(cells(products.model, "Listing")) == {"P-DUP-A", "P-DUP-B", "P-NOSKU"}
    assert products.state_filter.itemText(1) == "Needs you (3)"


def test_link_automatically_links_the_unique_sku_and_releases_the_order(qtbot, products, bridge):
    assert needs_mapping(bridge, "SM-2") == 1
    products.auto_button.click()
    qtbot.waitUntil(
        lambda: cells(products.model, "Listing")["P-MUG"]["State"] == "Linked", timeout=WAIT
    )
    assert needs_mapping(bridge, "SM-2") == 0
    text = products.banner_text.text()
    assert text.startswith("Linked 1 listing by SKU.")
    assert "3 listings need you" in text and "1 waiting order released" in text
    assert cells(products.model, "Listing")["P-DUP-A"]["State"] == "Conflict"  # never guessed
    assert bridge.synced == [CHANNEL]
    assert outbox_stock(bridge, "P-MUG") == 1


def test_link_to_product_by_hand_releases_the_order(qtbot, products, bridge):
    assert needs_mapping(bridge, "SM-3") == 1
    assert products.table.select_where(lambda r: r["external_id"] == "P-DUP-A")
    editor = products.open_link_dialog()  # the picker, in the listing's "Your product" cell
    assert editor is not None and editor.text() == ""  # "DUP" is no product's SKU
    qtbot.keyClicks(editor, "t-sh")
    assert [editor.matches.index(r, 0).data() for r in range(editor.matches.rowCount())] == [
        "TEE — T-shirt"
    ]
    popup = editor.completer_.popup()
    popup.setCurrentIndex(editor.completer_.completionModel().index(0, 0))
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: cells(products.model, "Listing")["P-DUP-A"]["State"] == "Linked", timeout=WAIT
    )
    row = cells(products.model, "Listing")["P-DUP-A"]
    assert (row["Your product"], row["Linked by"]) == ("TEE — T-shirt", "By hand")
    assert needs_mapping(bridge, "SM-3") == 0
    assert products.banner_text.text() == (
        "Linked 1 listing. 1 waiting order released and stock reserved."
    )
    # Only what was asked: SM-2's listing is left for "Link by SKU" or the next sync.
    assert needs_mapping(bridge, "SM-2") == 1
    assert bridge.synced == [CHANNEL]


def test_create_products_from_listings(qtbot, products, bridge, monkeypatch):
    asked = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes,
    )
    products.create_products()
    assert "Create 1 new product from the listings on Web shop?" in asked[0]
    qtbot.waitUntil(
        lambda: cells(products.model, "Listing")["P-NEW"]["State"] == "Linked", timeout=WAIT
    )
    assert products.banner_text.text().startswith("Created 1 product and linked 2 listings.")
    glass = bridge.reader.one(
        "SELECT p.name, l.on_hand FROM products p JOIN stock_levels l"
        " ON l.product_id = p.id WHERE p.sku = 'GLASS'"
    )
    assert (glass["name"], glass["on_hand"]) == ("Beer glass", 12)  # the channel's quantity


# -- Customers -----------------------------------------------------------------------------
def test_customers_groups_orders_per_buyer(qtbot, bridge):
    page = shown(qtbot, CustomersPage(bridge))
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=WAIT)  # grouped when first shown
    rows = cells(page.model, "Customer")
    assert set(rows) == {"Anna", "Guest · Ben"}
    anna = rows["Anna"]
    assert (anna["Orders"], anna["Spent"], anna["Email"], anna["Your customer"]) == (
        "2",
        "20.00 EUR",
        "anna@example.org",
        "Choose…",  # not linked yet: double-click to choose
    )
    assert rows["Guest · Ben"]["Your customer"] == "Choose…"
    assert page.table.select_where(lambda r: r["name"] == "Anna")
    orders = page.detail.orders
    assert [orders.data(orders.index(r, 0)) for r in range(orders.rowCount())] == ["SM-2", "SM-1"]
    assert orders.data(orders.index(0, 1)) == "Needs mapping"
    page.table.search.setText("ben")
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=WAIT)
