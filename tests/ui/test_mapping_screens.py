"""The mapping screens against the Selldone sandbox (seed 1): the table picker, bulk
actions, the wizard, the spreadsheet round trip, undo, and the customers queue.

Seed 1 lists 43 products; two listings share SKU WASH-250 and "Gift Wrapping" has no
SKU. The merchant's catalogue below matches some listings exactly, some only apart
from case, and one SKU twice apart from case. Syncs the screens ask for are recorded,
not run, so the held orders stay exactly as these tests leave them.
"""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QWizard

from app.channels.selldone.sandbox import SelldoneSandbox
from app.hub import Hub
from app.store.customers import CustomerRepo
from app.store.mapping import new_listings, orders_released_by
from app.ui.customers_page import CustomersPage
from app.ui.products_page import PRODUCT_COLUMN, ProductsPage
from tests.ui.helpers import CHANNEL, connected_bridge, on_engine

WAIT = 8000
CATALOGUE = [  # sku, name, barcode, on hand
    ("NECK-MER", "Merino neck gaiter", "", 10),
    ("SOCK-MER-BLK-39", "Merino crew socks black 39-42", "", 10),
    ("sock-mer-gry-39", "Merino crew socks grey 39-42", "", 10),
    ("WASH-250", "Wool wash 250 ml", "4269302585387", 10),
    ("GIFT", "Gift wrapping", "", 100),
    ("bl-top-m", "Base layer top M", "", 5),
    ("Bl-Top-M", "Base layer top M (old)", "", 0),
    ("BLANKET-HL", "Highland wool blanket", "", 4),
    ("MUG-ENA-CRM", "Enamel camp mug, cream", "", 6),
    ("VEST-DWN-S", "Down vest S", "", 3),
]


def add_catalogue(hub: Hub) -> None:
    wid = hub.catalog.default_warehouse_id()
    for sku, name, barcode, on_hand in CATALOGUE:
        product = hub.catalog.add_product(sku, name, barcode=barcode)
        hub.ledger.record(product.id, wid, on_hand=on_hand, reason="stock count")


@pytest.fixture(scope="module")
def box():
    sandbox = SelldoneSandbox(seed=1)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def bridge(tmp_path, box, monkeypatch):
    b = connected_bridge(tmp_path, box, adopt=False)
    on_engine(b, add_catalogue)
    synced: list[str] = []
    monkeypatch.setattr(b, "sync_channel", lambda name: synced.append(name))
    b.synced = synced  # type: ignore[attr-defined]
    yield b
    b.stop()


def shown(qtbot: Any, page: Any) -> Any:
    qtbot.addWidget(page)
    page.resize(1300, 800)
    page.show()
    return page


@pytest.fixture
def products(qtbot, bridge):
    return shown(qtbot, ProductsPage(bridge))


def held_orders(bridge) -> int:
    return int(bridge.reader.scalar("SELECT COUNT(*) FROM orders WHERE needs_mapping = 1"))


def linked(bridge) -> dict[str, tuple[str, str]]:
    """Listing external id → (product SKU, method) for every link."""
    return {
        r[0]: (r[1], r[2])
        for r in bridge.reader.all(
            "SELECT l.external_id, p.sku, pl.method FROM product_links pl"
            " JOIN listings l ON l.id = pl.listing_id JOIN products p ON p.id = pl.product_id"
        )
    }


def row_of(page, listing: str) -> int:
    model = page.model
    return next(i for i in range(model.rowCount()) if model.row(i)["external_id"] == listing)


def select(page, listings: list[str]) -> None:
    view = page.table.view
    view.clearSelection()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for listing in listings:
        view.selectionModel().select(page.table.proxy.index(row_of(page, listing), 0), flags)


def pick_first(qtbot, editor) -> None:
    """Choose the first entry of the picker's popup, as a merchant would with Enter."""
    popup = editor.completer_.popup()
    qtbot.waitUntil(popup.isVisible, timeout=WAIT)
    popup.setCurrentIndex(editor.completer_.completionModel().index(0, 0))
    qtbot.keyClick(popup, Qt.Key.Key_Return)


# -- the products table --------------------------------------------------------------------------
def test_picker_opens_with_ranked_suggestions_and_links_the_listing(qtbot, products, bridge):
    waiting = held_orders(bridge)
    expected = orders_released_by(bridge.reader, 1, {"6103"})
    view = products.table.view
    index = products.table.proxy.index(row_of(products, "6103"), PRODUCT_COLUMN)
    view.setCurrentIndex(index)
    view.edit(index)
    editor = view.indexWidget(index)
    qtbot.waitUntil(lambda: editor.matches.rowCount() > 0, timeout=WAIT)
    first = editor.matches.index(0, 0).data()
    assert first.startswith("WASH-250 — Wool wash 250 ml   ·   100%: same SKU")
    pick_first(qtbot, editor)
    qtbot.waitUntil(lambda: "6103" in linked(bridge), timeout=WAIT)
    assert linked(bridge)["6103"] == ("WASH-250", "manual")
    assert held_orders(bridge) == waiting - expected
    assert products.banner_text.text().startswith("Linked 1 listing.")
    assert bridge.synced == [CHANNEL]
    pushes = bridge.reader.scalar(
        "SELECT COUNT(*) FROM outbox o JOIN listings l ON o.target = CAST(l.id AS TEXT)"
        " WHERE o.kind = 'stock' AND o.state = 'pending' AND l.external_id = '6103'"
    )
    assert pushes == 1  # the linked listing is sent its stock


def test_typing_in_the_picker_searches_every_product(qtbot, products, bridge):
    assert products.table.select_where(lambda r: r["external_id"] == "6121")  # Raw fleece
    editor = products.open_link_dialog()
    editor.clear()
    qtbot.keyClicks(editor, "blank")
    assert [editor.matches.index(r, 0).data() for r in range(editor.matches.rowCount())] == [
        "BLANKET-HL — Highland wool blanket"
    ]
    pick_first(qtbot, editor)
    qtbot.waitUntil(lambda: "6121" in linked(bridge), timeout=WAIT)
    assert linked(bridge)["6121"][0] == "BLANKET-HL"


def test_bulk_actions_work_on_the_selected_rows_and_undo(qtbot, products, bridge):
    waiting = held_orders(bridge)
    select(products, ["6118:18026", "6120:18030", "6117", "6104:18006"])
    assert products.auto_button.text() == "Link 4 by SKU"
    products.auto_button.click()
    qtbot.waitUntil(
        lambda: products.banner_text.text().startswith("Linked 2 listings."), timeout=WAIT
    )
    # Exact and unique only: WASH-250 is on two listings, BL-TOP-M matches two products.
    assert set(linked(bridge)) == {"6118:18026", "6120:18030"}
    assert {m for _, m in linked(bridge).values()} == {"sku"}
    released = waiting - held_orders(bridge)
    assert released > 1

    select(products, ["6118:18026", "6120:18030"])
    products.unlink_button.click()
    qtbot.waitUntil(
        lambda: (
            products.banner_text.text()
            == f"Unlinked 2 listings. {released} orders wait for a product again."
        ),
        timeout=WAIT,
    )
    assert linked(bridge) == {}
    assert held_orders(bridge) == waiting  # their orders wait again, reservations released

    select(products, ["6116"])
    assert products.ignore_button.text() == "Ignore"
    products.ignore_button.click()
    qtbot.waitUntil(
        lambda: products.model.row(row_of(products, "6116"))["state"] == "ignored", timeout=WAIT
    )
    select(products, ["6116"])
    assert products.ignore_button.text() == "Stop ignoring"

    products.undo_button.click()  # the ignore
    qtbot.waitUntil(
        lambda: products.model.row(row_of(products, "6116"))["state"] == "conflict", timeout=WAIT
    )
    products.undo_button.click()  # the unlink
    qtbot.waitUntil(lambda: set(linked(bridge)) == {"6118:18026", "6120:18030"}, timeout=WAIT)
    assert held_orders(bridge) == waiting - released
    assert products.banner_text.text().startswith("Undone.")


def test_create_products_from_selected_listings(qtbot, products, bridge):
    select(products, ["6121", "6122", "6116"])
    products.create_products()
    assert "have no SKU" in products.banner_text.text()  # Gift Wrapping has none
    select(products, ["6121", "6122"])
    assert products.adopt_button.text() == "Create 2 products"
    products.adopt_button.click()
    qtbot.waitUntil(lambda: {"6121", "6122"} <= set(linked(bridge)), timeout=WAIT)
    fleece = bridge.reader.one(
        "SELECT p.name, s.on_hand - s.committed FROM products p JOIN stock_levels s"
        " ON s.product_id = p.id WHERE p.sku = 'FLEECE-RAW'"
    )
    # What the shop offers now becomes what is available (open orders stay reserved).
    assert (fleece[0], round(fleece[1], 2)) == ("Raw Fleece (per kg)", 26.8)


def test_mapping_mode_and_new_listings(qtbot, products, bridge):
    assert products.mode_combo.currentData() == "sku"
    products.mode_combo.setCurrentIndex(1)
    products.mode_combo.activated.emit(1)
    qtbot.waitUntil(
        lambda: bridge.reader.scalar("SELECT mapping_mode FROM channels") == "id", timeout=WAIT
    )
    # The banner follows when the engine's answer reaches the window, just after the write.
    qtbot.waitUntil(lambda: "now links by listing ID" in products.banner_text.text(), timeout=WAIT)

    def new_listing(hub: Hub) -> None:
        from app.core.models import ChannelListing

        channel = hub.channels.get(CHANNEL)
        hub.channels.upsert_listings(
            channel.id, [ChannelListing("6199", "6199", None, "NECK-MER-2", "Neck gaiter v2", 4)]
        )

    on_engine(bridge, new_listing)
    assert [r["external_id"] for r in new_listings(bridge.reader)] == ["6199"]
    products.refresh()
    products.show_new(CHANNEL)
    assert products.state_filter.currentText() == "New on the channel (1)"
    assert [products.model.row(i)["external_id"] for i in range(products.model.rowCount())] == [
        "6199"
    ]
    assert products.model.data(products.model.index(0, 8)) == "Unmapped · new"


# -- the wizard -----------------------------------------------------------------------------------
def test_wizard_settles_a_channel_in_one_undoable_run(qtbot, products, bridge):
    waiting = held_orders(bridge)
    wizard = products.open_wizard()
    qtbot.waitUntil(lambda: wizard.plan is not None, timeout=WAIT)
    auto = wizard.auto
    assert "5 listings link by SKU" in auto.count.text()
    assert [row[1] for row in auto.sample.rows] == [
        "BLANKET-HL",
        "MUG-ENA-CRM",
        "NECK-MER",
        "SOCK-MER-BLK-39",
        "VEST-DWN-S",
    ]
    assert f"{waiting} orders from {CHANNEL} wait for a product" in auto.held.text()

    wizard.next()
    page = wizard.conflicts
    assert wizard.currentPage() is page
    model = page.model
    reasons = {model.rows[r]["external_id"]: model.reasons[r] for r in range(model.rowCount())}
    assert reasons == {
        "6103": "2 listings on this channel use SKU WASH-250.",
        "6117": "2 listings on this channel use SKU WASH-250.",
        "6116": "The listing has no SKU on the channel.",
        "6104:18006": "SKU BL-TOP-M matches several of your products apart from case or"
        " spaces (Bl-Top-M, bl-top-m).",
    }
    rows = {model.rows[r]["external_id"]: r for r in range(model.rowCount())}
    assert model.data(model.index(rows["6103"], 4)) == "100%  WASH-250 — Wool wash 250 ml"
    assert "same SKU; same barcode" in model.data(
        model.index(rows["6103"], 4), Qt.ItemDataRole.ToolTipRole
    )
    page.view.selectRow(rows["6103"])
    page.buttons["best"].click()
    page.view.selectRow(rows["6117"])
    page.buttons["ignore"].click()
    # The gift wrapping: choose with the picker, which opens on the ranked suggestions.
    index = model.index(rows["6116"], model.DECISION)
    page.view.setCurrentIndex(index)
    page.view.edit(index)
    editor = page.view.indexWidget(index)
    qtbot.waitUntil(lambda: editor.matches.rowCount() > 0, timeout=WAIT)
    assert editor.matches.index(0, 0).data().startswith("GIFT — Gift wrapping")
    pick_first(qtbot, editor)
    qtbot.waitUntil(lambda: "Link to GIFT" in model.data(index), timeout=WAIT)
    assert wizard.currentPage() is page  # Enter in the list chose; it did not turn the page
    assert model.data(model.index(rows["6103"], 5)) == "Link to WASH-250 — Wool wash 250 ml"
    assert model.data(model.index(rows["6104:18006"], 5)) == "Leave for later"

    wizard.next()
    page = wizard.unmapped
    model = page.model
    rows = {model.rows[r]["external_id"]: r for r in range(model.rowCount())}
    page.view.selectAll()
    page.buttons["create"].click()
    assert model.decision_text(rows["6121"]) == "Create product FLEECE-RAW"
    page.buttons["strong"].click()  # a near-certain suggestion beats making a twin product
    assert model.decision_text(rows["6102:18003"]) == (
        "Link to sock-mer-gry-39 — Merino crew socks grey 39-42"
    )
    assert model.decision_text(rows["6102:18002"]) == "Create product SOCK-MER-BLK-43"
    created = model.rowCount() - 1

    wizard.next()
    linking = {"6101", "6102:18001", "6108", "6118:18026", "6120:18030", "6103", "6116"} | {
        row["external_id"] for row in model.rows
    }
    expected = orders_released_by(bridge.reader, 1, linking, {"6117"})
    # The ignored listing (6117) holds no stock: orders waiting only for it are released too.
    assert 0 < orders_released_by(bridge.reader, 1, linking) < expected <= waiting
    text = wizard.summary.text.text()
    assert f"Releases {expected} of the {waiting} waiting orders" in text
    assert "Link <b>8 listings</b>" in text and f"Create <b>{created} products</b>" in text
    assert "Ignore <b>1 listing</b>" in text and "Leave <b>1 listing</b> for later" in text
    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: wizard.outcome is not None, timeout=WAIT)
    assert wizard.outcome.released == expected
    assert held_orders(bridge) == waiting - expected
    links = linked(bridge)
    assert set(links) == linking
    assert links["6101"] == ("NECK-MER", "sku") and links["6116"] == ("GIFT", "manual")
    assert links["6121"] == ("FLEECE-RAW", "manual")
    ignored = bridge.reader.scalar("SELECT ignored FROM listings WHERE external_id = '6117'")
    assert ignored == 1
    qtbot.waitUntil(
        lambda: products.banner_text.text().startswith(
            f"Linked {8 + created} listings, created {created} products, ignored 1 listing."
        ),
        timeout=WAIT,
    )
    assert bridge.synced == [CHANNEL]

    products.undo_button.click()
    qtbot.waitUntil(lambda: linked(bridge) == {}, timeout=WAIT)
    assert held_orders(bridge) == waiting
    assert bridge.reader.scalar("SELECT ignored FROM listings WHERE external_id = '6117'") == 0
    committed = bridge.reader.scalar("SELECT SUM(committed) FROM stock_levels")
    assert committed == 0  # every reservation the run made is released again


# -- the spreadsheet round trip -----------------------------------------------------------------
def test_import_shows_a_preview_refuses_bad_rows_and_applies_the_rest(
    qtbot, products, bridge, tmp_path
):
    template = tmp_path / "to fill.csv"
    products.export_mappings(str(template), unmapped_only=True)
    qtbot.waitUntil(template.exists, timeout=WAIT)
    lines = template.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("channel,listing,listing_sku")
    assert len(lines) == 1 + 43  # nothing is linked yet: every listing is in the template
    filled = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        if cells[1] == "6101":
            cells[6] = "NECK-MER"
        elif cells[1] == "6108":
            cells[6] = "BLANKET-HL"
        elif cells[1] == "6110":
            cells[6] = "NO-SUCH-SKU"
        elif cells[1] == "6116":
            cells[9] = "ignore"
        filled.append(",".join(cells))
    filled.append(filled[1])  # a repeated row
    template.write_text("\n".join(filled) + "\n", encoding="utf-8")
    products.import_mappings(str(template))
    qtbot.waitUntil(lambda: products.sheet_button.preview is not None, timeout=WAIT)
    preview = products.sheet_button.preview
    # In the file's order, which is by SKU (the gift wrapping has none).
    assert [r[1] for r in preview.changes.rows] == ["6116", "6108", "6101"]
    assert [r[4] for r in preview.changes.rows] == [
        "ignored",
        "linked to BLANKET-HL",
        "linked to NECK-MER",
    ]
    refused = preview.refused.rows
    assert [r[1] for r in refused] == [
        "no product has SKU NO-SUCH-SKU",
        f"listing {filled[1].split(',')[1]} already appears on line 2",
    ]
    assert refused[1][0] == len(filled)
    assert preview.tabs.tabText(1) == "Refused (2)"
    assert linked(bridge) == {}  # nothing written before Apply
    preview.buttons.button(preview.buttons.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: set(linked(bridge)) == {"6101", "6108"}, timeout=WAIT)
    qtbot.waitUntil(
        lambda: products.banner_text.text().startswith("Linked 2 listings, ignored 1 listing."),
        timeout=WAIT,
    )
    assert "2 rows were refused" in products.banner_text.text()
    assert products.undo_button.toolTip().startswith(f"Undo on {CHANNEL}: Linked 2 listings")


# -- customers ----------------------------------------------------------------------------------
@pytest.fixture
def customers(qtbot, bridge):
    on_engine(
        bridge,
        lambda hub: CustomerRepo(hub.db).add(
            "Jonas Becker", email="Jonas.Becker@example.de", postcode="20357"
        ),
    )
    page = shown(qtbot, CustomersPage(bridge))
    qtbot.waitUntil(lambda: page.model.rowCount() > 0, timeout=WAIT)
    return page


def buyer_row(page, ref: str) -> int:
    return next(i for i in range(page.model.rowCount()) if page.model.row(i)["ext_ref"] == ref)


def test_customer_queue_map_to_existing_with_suggestions(qtbot, customers, bridge, box):
    page = customers
    buyers = page.model.rowCount()
    assert page.link_filter.itemText(1) == f"Needs a customer ({buyers})"
    page.table.view.selectRow(buyer_row(page, "user:902102"))
    suggested = page.detail.suggested
    assert suggested.count() == 1
    assert suggested.item(0).text().startswith("Jonas Becker · Jonas.Becker@example.de")
    assert "100%: same email" in suggested.item(0).text()
    suggested.setCurrentRow(0)
    page.detail.link_button.click()
    qtbot.waitUntil(
        lambda: page.model.row(buyer_row(page, "user:902102"))["local_name"] == "Jonas Becker",
        timeout=WAIT,
    )
    assert page.link_filter.itemText(1) == f"Needs a customer ({buyers - 1})"
    # Mapped once: the buyer's next order belongs to the same customer.
    box.create_order(
        [{"product_id": 6101, "variant_id": None, "count": 1}],
        buyer={"name": "Jonas Becker", "email": "jonas.becker@example.de"},
    )
    before = page.model.row(buyer_row(page, "user:902102"))["orders"]
    on_engine(bridge, lambda hub: hub.sync(CHANNEL))
    page.refresh()
    row = page.model.row(buyer_row(page, "user:902102"))
    assert (row["local_name"], row["orders"]) == ("Jonas Becker", before + 1)


def test_customer_created_from_the_orders_details_and_picker(qtbot, customers, bridge):
    page = customers
    page.table.view.selectRow(buyer_row(page, "guest:48102"))
    page.create_button.click()
    qtbot.waitUntil(
        lambda: page.model.row(buyer_row(page, "guest:48102"))["local_name"] == "Julia Braun",
        timeout=WAIT,
    )
    made = bridge.reader.one("SELECT * FROM customers WHERE name = 'Julia Braun'")
    assert (made["email"], made["phone"], made["postcode"]) == (
        "guest1@example.org",
        "+4317700001",
        "6020",
    )
    assert page.banner.text().startswith("Created 1 customer, linked 1 buyer.")
    # Another buyer, linked through the picker in "Your customer".
    view = page.table.view
    index = page.table.proxy.index(buyer_row(page, "guest:48104"), 6)
    view.setCurrentIndex(index)
    view.edit(index)
    editor = view.indexWidget(index)
    editor.clear()
    qtbot.keyClicks(editor, "julia")
    assert editor.matches.rowCount() == 1
    pick_first(qtbot, editor)
    qtbot.waitUntil(
        lambda: page.model.row(buyer_row(page, "guest:48104"))["local_name"] == "Julia Braun",
        timeout=WAIT,
    )
    page.undo_button.click()
    qtbot.waitUntil(
        lambda: page.model.row(buyer_row(page, "guest:48104"))["local_name"] is None,
        timeout=WAIT,
    )
    assert page.model.row(buyer_row(page, "guest:48102"))["local_name"] == "Julia Braun"
