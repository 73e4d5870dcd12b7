"""RetailCRM in the window: the store table and the stock check, work on the engine thread."""

from __future__ import annotations

import pytest

from app.channels.retailcrm.sandbox import RetailCrmSandbox
from app.ui.bridge import Bridge
from app.ui.channels_page import ChannelsPage
from tests.ui.helpers import on_engine

NAME = "CRM"
NORTH = "North depot"


@pytest.fixture
def box():
    with RetailCrmSandbox(seed=1) as sandbox:
        yield sandbox


@pytest.fixture
def bridge(tmp_path, box):
    b = Bridge(tmp_path / "data")

    async def setup(hub):
        await hub.add_channel(
            "retailcrm", NAME, account="", secret=box.token, base_url=box.base_url
        )
        await hub.sync(NAME)
        hub.adopt(NAME)
        hub.catalog.warehouse_id(NORTH, create=True)
        for n, row in enumerate(r for r in hub.listings(NAME) if r["product_sku"]):
            hub.count_stock(row["product_sku"], n + 1, warehouse=NORTH)

    on_engine(b, setup)
    yield b
    b.stop()


def sync(bridge):
    async def work(hub):
        (report,) = await hub.sync(NAME)
        return report

    report = on_engine(bridge, work)
    assert report.ok, report.error


def test_the_merchant_maps_two_stores_to_two_warehouses(qtbot, bridge, box):
    page = ChannelsPage(bridge)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: NAME in page.cards, timeout=10000)
    card = page.cards[NAME]
    assert card.stores_button.text() == "Stores…"
    assert card.drift_button.text() == "Check stock in RetailCRM…"
    dialog = page.edit_stores(NAME)
    qtbot.waitUntil(lambda: bool(dialog.combos), timeout=10000)
    assert set(dialog.combos) == {s["code"] for s in box.stores}
    # The single store chosen at connection shows all warehouses; the dialog says so.
    assert "all your warehouses together" in dialog.note.text()
    assert dialog.combos["main"].currentText() == "Main warehouse"
    north = dialog.combos["north"]
    north.setCurrentIndex(north.findText(NORTH))
    dialog.combos["main"].setCurrentIndex(dialog.combos["main"].findText(NORTH))
    dialog.save()  # the same warehouse twice: refused in words, nothing saved
    qtbot.waitUntil(lambda: "one RetailCRM store only" in dialog.message.text(), timeout=10000)
    assert dialog.isVisible()
    dialog.combos["main"].setCurrentIndex(dialog.combos["main"].findText("Main warehouse"))
    dialog.save()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10000)
    saved = on_engine(bridge, lambda hub: hub.channels.get(NAME).settings["store_map"])
    warehouses = on_engine(
        bridge, lambda hub: {w["name"]: w["id"] for w in hub.catalog.warehouses()}
    )
    assert saved == {"main": warehouses["Main warehouse"], "north": warehouses[NORTH]}
    sync(bridge)
    rows = on_engine(bridge, lambda hub: [r for r in hub.listings(NAME) if r["product_sku"]])
    for n, row in enumerate(rows):
        assert box.stock(int(row["listing"]), "north")[0] == n + 1


def test_the_stock_check_lists_a_difference_and_sends_the_correct_number(qtbot, bridge, box):
    sync(bridge)
    rows = on_engine(bridge, lambda hub: [r for r in hub.listings(NAME) if r["product_sku"]])
    offer = int(rows[1]["listing"])
    store = on_engine(bridge, lambda hub: hub.channels.get(NAME).settings["store_code"])
    right = box.stock(offer, store)[0]
    with box.lock:
        box.inventories[offer][store]["available"] = right + 9
    page = ChannelsPage(bridge)
    qtbot.addWidget(page)
    dialog = page.check_drift(NAME)
    # The check runs on the engine thread: its answer can only arrive through the event
    # loop, so right after opening the dialog is busy and shows it.
    assert dialog.report is None and dialog.busy and not dialog.progress.isHidden()
    assert not dialog.fix_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.report is not None and not dialog.busy, timeout=15000)
    assert dialog.model.rowCount() == 1
    assert dialog.model.index(0, 2).data() == store
    assert dialog.model.index(0, 3).data() == f"{right + 9:g}"
    assert dialog.model.index(0, 4).data() == f"{right:g}"
    assert dialog.fix_button.isEnabled()
    uploads = len(box.upload_requests)
    dialog.fix()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 0 and not dialog.busy, timeout=15000)
    assert box.upload_requests[uploads:] == [1]  # only the one offer went out
    assert box.stock(offer, store)[0] == right
    assert "Stockbridge's numbers for all" in dialog.summary.text()
    assert not dialog.fix_button.isEnabled()
